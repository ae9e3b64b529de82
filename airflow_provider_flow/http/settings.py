"""How to talk to one HTTP service: base URL, credentials, timeouts, TLS and the in-task retry budget.

:class:`HttpSettings` is resolved from an Airflow ``http`` connection by ``hooks/http.py`` (or built directly in
tests and scripts) and read by runtimes through ``state.settings.get(HTTP, conn_id)``. A node may override the
connection's timeouts and retry budget (:class:`HttpTimeoutConfig`, :class:`HttpRetryConfig` in its config);
:meth:`HttpSettings.with_overrides` applies them, the same way for every HTTP runtime.

Timeouts: httpx's are per phase, and its read timeout is per chunk, so a server trickling one byte a second would
hold a worker forever; ``total`` is an overall deadline per request, body included (see ``http/client.py``).
Every credential a service uses is listed by :meth:`HttpSettings.secret_values`, so messages can be scrubbed of
it whatever part of a request or reply it turns up in. A secret is decided by where a value comes from, not by
the name of the header carrying it: every header of the connection (except the content-negotiation headers in
:data:`PUBLIC_HEADERS`), its password and tokens, and every node header the node lists in ``sensitive_headers``.
Those are also the headers a redirect to another origin drops (``http/redirects.py``). With :class:`OAuth2Settings`
the client secret is one of them, and each access token fetched at run time joins them in the client
(``http/oauth2.py``) and goes to ``on_secret``. Header values are checked
for CR, LF and NUL when the settings are built: such a value is a configuration error, never a network one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated
from urllib.parse import quote_plus

import httpx
from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.settings import SettingsKind
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.redaction import is_secret_name, redact_text, redact_url

_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

#: Connection headers whose values are standard content negotiation, never credentials: not scrubbed or masked
#: (masking "application/json" everywhere would garble every log), though still dropped on a cross-origin hop.
PUBLIC_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "content-type", "user-agent"})

_BREAKS_HEADER = re.compile(r"[\r\n\x00]")


def check_header_value(name: str, value: str, *, field: str, where: str = "") -> None:
    """Refuse a header value holding CR, LF or NUL: HTTP cannot carry it (httpx would fail on every try) and it
    could smuggle a second header. The message names the header, never the value (it is usually a credential)."""
    if _BREAKS_HEADER.search(value):
        prefix = f"{where}: " if where else ""
        raise FlowValidationError(
            f"{prefix}the value of header {name!r} contains a line break (CR/LF) or NUL, which HTTP headers cannot "
            "carry; remove the trailing newline or stray whitespace from the value (value not shown: it may be a "
            "credential)",
            field=field,
            value=None,
        )


@dataclass(frozen=True)
class TimeoutSettings:
    """Per-phase timeouts (seconds) plus ``total``, the overall deadline of one request including its body."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 10.0
    total: float | None = 300.0

    @classmethod
    def uniform(cls, seconds: float, *, total: float | None = None) -> TimeoutSettings:
        """Every phase ``seconds``; ``total`` defaults to ten times that (enough for a few slow chunks)."""
        return cls(seconds, seconds, seconds, seconds, total if total is not None else seconds * 10)

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetrySettings:
    """In-task retry budget. ``max_attempts=1`` disables in-task retries (Airflow retries still apply)."""

    max_attempts: int = 4
    max_elapsed: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    jitter: float = 0.5


#: How an OAuth2 client authenticates to the token endpoint (RFC 6749 section 2.3.1).
TOKEN_AUTH_METHODS = ("client_secret_post", "client_secret_basic")


@dataclass(frozen=True)
class OAuth2Settings:
    """OAuth2 client credentials (RFC 6749 section 4.4): where to get a token and who asks for it.

    The token itself is fetched at run time by ``http/oauth2.py``, once per client and shared by its requests."""

    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    token_auth_method: str = "client_secret_post"

    def basic_credentials(self) -> str:
        """The ``Authorization: Basic`` value for ``client_secret_basic``: id and secret form-encoded first, as
        RFC 6749 section 2.3.1 asks (a secret holding ``:`` or ``%`` would be misread otherwise)."""
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return base64.b64encode(pair.encode()).decode()

    def secret_values(self) -> list[str]:
        """The client secret and the header value carrying it (an endpoint may echo either)."""
        return [self.client_secret, self.basic_credentials()]

    def __repr__(self) -> str:  # never the secret
        return f"OAuth2Settings(token_url={redact_url(self.token_url)!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class HttpSettings:
    """Everything needed to talk to one HTTP service; resolved from an Airflow connection by ``FlowHttpHook``."""

    base_url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    bearer_token: str | None = None
    timeout: TimeoutSettings = field(default_factory=TimeoutSettings)
    verify: bool | str = True
    retry: RetrySettings = field(default_factory=RetrySettings)
    extra_secrets: tuple[str, ...] = ()
    follow_redirects: bool = True
    #: Lower-case names of node headers marked sensitive (:meth:`with_overrides`); their values are in
    #: ``extra_secrets``.
    sensitive_headers: tuple[str, ...] = ()
    #: OAuth2 client credentials: every request then carries a bearer token fetched at run time.
    oauth2: OAuth2Settings | None = None
    #: Called with every secret learnt at run time (a fetched OAuth2 access token). The hook layer passes Airflow's
    #: masker here (``http/`` must not import Airflow); None in tests and scripts.
    on_secret: Callable[[str], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, value in self.headers.items():
            check_header_value(name, value, field=f"headers.{name}")
        if self.bearer_token:
            check_header_value("Authorization", self.bearer_token, field="bearer_token")

    def secret_values(self) -> list[str]:
        """Every credential this service uses: passwords, tokens, every connection header value (but content
        negotiation), sensitive node headers, secret URL parts."""
        values: list[str] = list(self.extra_secrets)
        if self.auth:
            values.append(self.auth[1])
            # the header value an API might echo back in an error body
            values.append(base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode())
        if self.bearer_token:
            values.append(self.bearer_token)
        if self.oauth2 is not None:
            values.extend(self.oauth2.secret_values())
        values.extend(v for k, v in self.headers.items() if k.lower() not in PUBLIC_HEADERS and v)
        parts = httpx.URL(self.base_url) if self.base_url else None
        if parts is not None and parts.password:
            values.append(parts.password)
        if parts is not None:
            values.extend(v for k, v in parts.params.multi_items() if is_secret_name(k) and v)
        return [v for v in dict.fromkeys(values) if v]

    def safe_url(self, url: str) -> str:
        """``url`` fit for logs and messages: credentials and secret query values removed, and every known secret
        value of this connection scrubbed (a secret in an innocent-looking parameter included)."""
        return redact_text(redact_url(url), self.secret_values())

    def url_for(self, endpoint: str) -> str:
        """``base_url`` joined with ``endpoint``; an absolute ``endpoint`` (next-page links) is used as is.

        Absolute means *starting* with a scheme: ``/search?next=https://x`` is a relative endpoint."""
        if _ABSOLUTE_URL.match(endpoint):
            return endpoint
        if not self.base_url:
            raise FlowValidationError(
                f"relative endpoint {endpoint!r} needs a base URL; set the connection's host or pass an absolute URL",
                field="endpoint",
                value=endpoint,
            )
        if not endpoint:
            return self.base_url
        return self.base_url.rstrip("/") + "/" + endpoint.lstrip("/")

    def credential_headers(self) -> frozenset[str]:
        """Lower-case names of the headers a redirect to another origin must not carry: every connection header,
        ``Authorization`` (basic or bearer) and the node headers marked sensitive."""
        return frozenset({"authorization", *(k.lower() for k in self.headers), *self.sensitive_headers})

    def with_overrides(
        self,
        *,
        timeout: float | HttpTimeoutConfig | None = None,
        retry: HttpRetryConfig | None = None,
        headers: Mapping[str, str] | None = None,
        sensitive_headers: list[str] | tuple[str, ...] | None = None,
    ) -> HttpSettings:
        """These settings with a node's overrides: a number sets every phase (total = 10x), a model only its keys.

        ``headers`` are the node's own request headers: checked for CR/LF here, before anything is sent, and the
        values of those named in ``sensitive_headers`` become secrets of these settings (scrubbed from messages,
        dropped on a cross-origin redirect)."""
        node_headers = dict(headers or {})
        for name, value in node_headers.items():
            check_header_value(name, value, field=f"headers.{name}")
        by_name = {k.lower(): v for k, v in node_headers.items()}
        unknown = [name for name in sensitive_headers or () if name.lower() not in by_name]
        if unknown:
            raise FlowValidationError(
                f"names {', '.join(map(repr, unknown))}, which is not one of the node's headers "
                f"({', '.join(map(repr, node_headers)) or 'none'}); list names of 'headers' only",
                field="sensitive_headers",
                value=unknown,
            )
        sensitive = tuple(name.lower() for name in sensitive_headers or ())
        timeouts = self.timeout
        if isinstance(timeout, (int, float)):
            timeouts = TimeoutSettings.uniform(float(timeout))
        elif timeout is not None:
            timeouts = replace(timeouts, **{k: v for k, v in timeout.model_dump().items() if v is not None})
        retries = self.retry
        if retry is not None:
            retries = replace(retries, **{k: v for k, v in retry.model_dump().items() if v is not None})
        return replace(
            self,
            timeout=timeouts,
            retry=retries,
            sensitive_headers=(*self.sensitive_headers, *sensitive),
            extra_secrets=(*self.extra_secrets, *(by_name[name] for name in sensitive if by_name[name])),
        )

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        return headers

    def __repr__(self) -> str:  # never print credentials, even by accident
        return f"HttpSettings(base_url={redact_url(self.base_url)!r}, timeout={self.timeout}, verify={self.verify!r})"


#: The one description of the ``sensitive_headers`` config key, shared by every node that sends ``headers``.
SENSITIVE_HEADERS_HELP = (
    "Names of 'headers' whose values are secrets (e.g. filled from a Variable): masked in logs and rendered "
    "fields, scrubbed from errors and XCom, never sent to another origin on a redirect."
)

#: Settings kind of an ``http`` connection.
HTTP = SettingsKind("http", HttpSettings)


#: Longest timeout a node may ask for: a day. Beyond it a number is a typo (milliseconds for seconds), and ``inf``
#: or ``nan`` would turn the deadline arithmetic into a worker held forever.
MAX_TIMEOUT_SECONDS = 86_400.0

#: A node's timeout in seconds: positive, finite, at most a day.
TimeoutSeconds = Annotated[float, Field(gt=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)]


class HttpTimeoutConfig(ConfigModel):
    """Per-phase timeouts (seconds) and ``total``: the overall deadline of one request, body included."""

    connect: TimeoutSeconds | None = None
    read: TimeoutSeconds | None = None
    write: TimeoutSeconds | None = None
    pool: TimeoutSeconds | None = None
    total: TimeoutSeconds | None = None


class HttpRetryConfig(ConfigModel):
    """Overrides of the connection's in-task retry budget (``max_attempts=1`` disables in-task retries)."""

    max_attempts: int | None = Field(None, ge=1, le=20)
    max_elapsed: float | None = Field(None, ge=0, le=3600)
    initial_backoff: float | None = Field(None, ge=0, le=60)
    max_backoff: float | None = Field(None, ge=0, le=600)
