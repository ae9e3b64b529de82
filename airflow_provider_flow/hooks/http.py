"""``FlowHttpHook``: an Airflow ``http`` connection -> :class:`~airflow_provider_flow.http.settings.HttpSettings`.

It reads Airflow's standard ``http`` connection type, so connections made for ``HttpOperator``/``HttpHook`` work
unchanged:

* ``host``: with a scheme (``https://api.example.com/v1``) or without (then ``schema`` is the scheme, default
  ``http``); ``port`` is added when set.
* ``login``/``password``: HTTP basic auth. With extra ``"auth_type": "bearer"`` the password is sent as a bearer
  token instead (it then stays in the encrypted password field); with ``"oauth2_client_credentials"`` they are the
  OAuth2 client id and secret unless the extras below set them.
* ``extra`` (JSON): every key not listed below is a request header, as with ``HttpHook``; a nested ``"headers"``
  object is merged as well. A key whose value is null or ``""`` is not set (Airflow 3.3's connection form saves
  every empty field that way).

Extra keys this hook understands (all optional):

==========================  ================================================================================
``auth_type``               ``"none"``, ``"basic"`` (default when a login is set), ``"bearer"`` or
                            ``"oauth2_client_credentials"``
``bearer_token``            token sent as ``Authorization: Bearer ...`` (prefer ``auth_type=bearer`` + password)
``token_url``               OAuth2 token endpoint (required for oauth2)
``client_id``               OAuth2 client id (default: login); a header when auth_type is not oauth2
``client_secret``           OAuth2 client secret (default: password); a header when auth_type is not oauth2
``scopes``                  OAuth2 scopes: ``"read write"`` or ``["read", "write"]``
``audience``                OAuth2 audience (some identity providers need it)
``token_auth_method``       ``"client_secret_post"`` (default, in the form) or ``"client_secret_basic"``
``timeout``                 seconds for every phase (connect/read/write/pool); the per-request total is 10x
``connect_timeout``         seconds to connect; ``read_timeout``, ``write_timeout``, ``pool_timeout`` likewise
``total_timeout``           overall seconds for one request including its body (a trickling server stops here)
``verify`` / ``verify_ssl``  ``false`` to skip TLS verification, or a CA bundle path
``max_retries``             in-task attempts per request (1 = no in-task retry); default 4
``retry_max_elapsed``       seconds of in-task retrying per request; default 60
``follow_redirects``        default true (HttpHook's ``allow_redirects`` is read too)
==========================  ================================================================================

OAuth2 client credentials: the token is fetched at run time by ``http/oauth2.py`` (once per task, shared by its
requests, refreshed before expiry and once on a 401); each token is handed back through ``on_secret`` and masked
like the connection's own secrets. The "Test" button fetches one token and reports the endpoint's answer.

Every secret is registered with Airflow's secret masker, in every encoding it can take in a URL, a form or JSON
(``redaction.secret_variants``), so it is replaced by ``***`` in task logs: the password, the bearer token, the
OAuth2 client secret and every access token fetched with it, the basic-auth header value, the value of *every*
header from extra whatever its name (``X-Auth-Key``, ``Ocp-Apim-Subscription-Key``, ...; only content negotiation
such as ``Accept`` is not a secret) and secret query parameters in the host. A header value with a line break (a
token pasted with its newline) is refused here, naming the key and never the value; so is any bad option value,
naming the key, the value and an example.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.connections import connection_or_fail, register_secrets
from airflow_provider_flow.hooks.extras import (
    bad_extra,
    extra_attempts,
    extra_bool,
    extra_choice,
    extra_seconds,
    extra_text,
    extra_words,
    without_unset,
)
from airflow_provider_flow.http.oauth2 import check_token
from airflow_provider_flow.http.settings import (
    TOKEN_AUTH_METHODS,
    HttpSettings,
    OAuth2Settings,
    RetrySettings,
    TimeoutSettings,
    check_header_value,
)
from airflow_provider_flow.redaction import redact_url

#: The ``auth_type`` of OAuth2 client credentials.
OAUTH2 = "oauth2_client_credentials"

#: Every ``auth_type`` (the connection form offers the same); "" = basic when a login is set, else none.
AUTH_TYPES = ("", "none", "basic", "bearer", OAUTH2)

#: Extra keys that configure the hook rather than becoming headers (plus HttpHook's own, ignored here).
_OPTION_KEYS = frozenset(
    {
        "auth_type",
        "bearer_token",
        "timeout",
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "pool_timeout",
        "total_timeout",
        "verify",
        "verify_ssl",
        "max_retries",
        "retry_max_elapsed",
        "follow_redirects",
        "headers",
        # HttpHook options that are not headers either
        "stream",
        "cert",
        "proxies",
        "proxy",
        "allow_redirects",
        "max_redirects",
        "trust_env",
        "check_response",
        "srv_lookup",
    }
)

#: Extra keys of OAuth2 client credentials: options with ``auth_type`` oauth2, headers (as ever) without it.
_OAUTH2_KEYS = frozenset({"token_url", "client_id", "client_secret", "scopes", "audience", "token_auth_method"})


class FlowHttpHook(BaseHook):
    """Resolve an ``http`` connection into :class:`HttpSettings` for the flow runtimes (see the module docstring)."""

    conn_name_attr = "http_conn_id"
    default_conn_name = "http_default"
    conn_type = "http"
    hook_name = "HTTP (flow)"

    def __init__(self, http_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.http_conn_id = http_conn_id

    def get_settings(self) -> HttpSettings:
        """Read the connection, register its secrets with the log masker, and build the settings."""
        conn = connection_or_fail(
            self.http_conn_id,
            field="http_conn_id",
            fix=f"create an 'http' connection with that id (or set AIRFLOW_CONN_{self.http_conn_id.upper()}), "
            "or pass the right http_conn_id",
        )
        extra: dict[str, Any] = dict(conn.extra_dejson or {})
        where = f"http connection {self.http_conn_id!r}"
        settings = self.settings_from(
            host=conn.host,
            schema=conn.schema,
            port=conn.port,
            login=conn.login,
            password=conn.password,
            extra=extra,
            where=where,
        )
        register_secrets(settings.secret_values())
        return replace(settings, on_secret=register_secret)

    @staticmethod
    def settings_from(
        *,
        host: str | None,
        schema: str | None,
        port: int | None,
        login: str | None,
        password: str | None,
        extra: dict[str, Any],
        where: str = "http connection",
    ) -> HttpSettings:
        """Pure mapping from connection fields to settings (kept separate so it is testable without Airflow)."""
        host = (host or "").strip()
        if not host:
            base_url = ""
        elif "://" in host:
            base_url = host
        else:
            base_url = f"{schema or 'http'}://{host}"
        if port and base_url:
            scheme, _, rest = base_url.partition("://")
            authority, slash, path = rest.partition("/")
            if not re.search(r":\d+$", authority.rsplit("@", 1)[-1]):  # no port yet ("[::1]" has colons)
                base_url = f"{scheme}://{authority}:{port}{slash}{path}"

        extra = without_unset(extra)
        headers: dict[str, str] = {}
        nested = extra.get("headers")
        if nested is not None and not isinstance(nested, dict):
            raise FlowValidationError(f"{where}: extra 'headers' must be an object", field="extra.headers", value="...")
        for name, value in without_unset(nested or {}).items():
            check_header_value(str(name), str(value), field=f"extra.headers.{name}", where=where)
            headers[str(name)] = str(value)
        # the OAuth2 keys are options only when OAuth2 is on: elsewhere client_id & co. stay headers, as they were
        is_oauth2 = str(extra.get("auth_type", "")).strip().lower() == OAUTH2
        options = _OPTION_KEYS | _OAUTH2_KEYS if is_oauth2 else _OPTION_KEYS
        for name, value in extra.items():
            if name not in options:
                check_header_value(str(name), str(value), field=f"extra.{name}", where=where)
                headers[str(name)] = str(value)

        auth_type = extra_choice(extra.get("auth_type", ""), "auth_type", where, AUTH_TYPES)
        bearer = extra.get("bearer_token") or None
        if bearer:
            check_header_value("Authorization", str(bearer), field="extra.bearer_token", where=where)
        auth: tuple[str, str] | None = None
        oauth2: OAuth2Settings | None = None
        if auth_type == OAUTH2:
            if bearer:
                raise FlowValidationError(
                    f"{where}: extra 'bearer_token' conflicts with auth_type {OAUTH2!r}, which fetches its own token; "
                    "remove bearer_token, or set auth_type to 'bearer' to send that fixed token instead",
                    field="extra.bearer_token",
                    value=None,
                )
            oauth2 = _oauth2_settings(extra, login, password, where)
        elif auth_type == "bearer":
            if not bearer and password:
                check_header_value("Authorization", password, field="password", where=f"{where} (bearer token)")
            bearer = bearer or password
            if not bearer:
                raise FlowValidationError(
                    f"{where}: auth_type 'bearer' needs the token in the password field (or extra 'bearer_token')",
                    field="password",
                    value=None,
                )
        elif login and auth_type != "none":
            auth = (login, password or "")

        timeout = TimeoutSettings()
        if "timeout" in extra:
            timeout = TimeoutSettings.uniform(extra_seconds(extra["timeout"], "timeout", where))
        phases = {
            phase: extra_seconds(extra[f"{phase}_timeout"], f"{phase}_timeout", where)
            for phase in ("connect", "read", "write", "pool", "total")
            if extra.get(f"{phase}_timeout") is not None
        }
        timeout = replace(timeout, **phases)

        verify: bool | str = True
        raw_verify = extra.get("verify", extra.get("verify_ssl"))
        if raw_verify is not None:
            is_path = isinstance(raw_verify, str) and "/" in raw_verify
            verify = raw_verify if is_path else extra_bool(raw_verify, "verify", where)

        retry = RetrySettings()
        if extra.get("max_retries") is not None:
            retry = replace(retry, max_attempts=extra_attempts(extra["max_retries"], "max_retries", where))
        if extra.get("retry_max_elapsed") is not None:
            retry = replace(retry, max_elapsed=extra_seconds(extra["retry_max_elapsed"], "retry_max_elapsed", where))

        # HttpHook's own key is allow_redirects: an existing connection that turned redirects off keeps them off
        follow_key = "follow_redirects" if "follow_redirects" in extra else "allow_redirects"
        follow = extra_bool(extra.get(follow_key, True), follow_key, where)
        return HttpSettings(
            base_url=base_url,
            headers=headers,
            auth=auth,
            bearer_token=str(bearer) if bearer else None,
            timeout=timeout,
            verify=verify,
            retry=retry,
            extra_secrets=tuple(s for s in (password,) if s),
            follow_redirects=follow,
            oauth2=oauth2,
        )

    def test_connection(self) -> tuple[bool, str]:
        """Used by the Airflow UI's "Test" button: resolve the settings; with OAuth2 also fetch a token (one
        attempt), so a wrong secret shows here and not in the first task. Nothing is sent to the API itself."""
        try:
            settings = self.get_settings()
            if settings.oauth2 is None:
                return True, f"resolved {settings!r}"
            check_token(settings)
        except Exception as exc:  # the UI shows the message (flow errors are scrubbed of every secret)
            return False, str(exc)
        return True, f"fetched an OAuth2 token from {settings.safe_url(settings.oauth2.token_url)} ({settings!r})"


def register_secret(value: str) -> None:
    """Mask one secret learnt at run time (an OAuth2 access token) like the connection's own secrets."""
    register_secrets([value])


def _oauth2_settings(extra: dict[str, Any], login: str | None, password: str | None, where: str) -> OAuth2Settings:
    """The OAuth2 client credentials of a connection; a missing or bad key names itself and the fix."""
    token_url = extra.get("token_url")
    if token_url is None:
        raise FlowValidationError(
            f"{where}: auth_type {OAUTH2!r} needs extra 'token_url', the token endpoint, e.g. "
            '{"token_url": "https://auth.example.com/oauth2/token"}',
            field="extra.token_url",
            value=None,
        )
    token_url = extra_text(token_url, "token_url", where)
    if not re.match(r"^https?://[^/?#]+", token_url, re.IGNORECASE):
        raise bad_extra(
            where, "token_url", redact_url(token_url), "an absolute http(s) URL", '"https://auth.example.com/token"'
        )
    client_id = extra.get("client_id", login or None)
    if client_id is None:
        raise FlowValidationError(
            f"{where}: auth_type {OAUTH2!r} needs a client id: set extra 'client_id' or the connection's login",
            field="extra.client_id",
            value=None,
        )
    secret = extra.get("client_secret", password or None)
    if secret is None:
        raise FlowValidationError(
            f"{where}: auth_type {OAUTH2!r} needs a client secret: set extra 'client_secret' or the connection's "
            "password",
            field="extra.client_secret",
            value=None,
        )
    if not isinstance(secret, (str, int)) or isinstance(secret, bool):
        raise FlowValidationError(
            f"{where}: extra 'client_secret' must be a string (value not shown: it is a secret)",
            field="extra.client_secret",
            value=None,
        )
    method = extra_choice(
        extra.get("token_auth_method", TOKEN_AUTH_METHODS[0]), "token_auth_method", where, TOKEN_AUTH_METHODS
    )
    audience = extra.get("audience")
    return OAuth2Settings(
        token_url=token_url,
        client_id=extra_text(client_id, "client_id", where),
        client_secret=str(secret),
        scopes=extra_words(extra["scopes"], "scopes", where) if "scopes" in extra else (),
        audience=extra_text(audience, "audience", where) if audience is not None else None,
        token_auth_method=method,
    )


def http_settings(conn_id: str) -> HttpSettings:
    """The ``http`` settings resolver (entry point ``airflow_provider_flow.settings: http``)."""
    return FlowHttpHook(http_conn_id=conn_id).get_settings()
