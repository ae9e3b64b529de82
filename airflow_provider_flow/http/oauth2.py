"""OAuth2 client credentials (RFC 6749 section 4.4): one access token per client, shared, refreshed, never shown.

:class:`OAuth2ClientCredentials` is the ``httpx.Auth`` of an :class:`~airflow_provider_flow.http.client.HttpClient`
whose settings carry :class:`~airflow_provider_flow.http.settings.OAuth2Settings`:

* One token per client (= per task): the first request fetches it, every later request reuses it. ``http.sink``
  sends batches from several threads through one client, so fetching holds a lock: one fetch at a time, the
  other threads wait for it and reuse its token instead of asking the endpoint again.
* Refreshed before it expires: at ``expires_in`` minus a margin (:func:`refresh_margin`), so a long pagination
  never sends a token the API is about to reject. A reply without ``expires_in`` is used until the API says 401.
* A 401 to a request that carried the current token fetches a new one (once, shared as above) and resends that
  request once; a second 401 is the API's answer and is raised as such. A 401 after a redirect to another origin
  (which got no token) is not the token's fault and is not retried.
* The token request goes through an ``HttpClient`` of its own (:func:`token_endpoint_settings`): the same
  timeouts, overall deadline, body size limit and error mapping as every request, no redirects (a 307 would
  resend the client secret to wherever it points), and one attempt: the request that needed the token is
  retried as a whole by its own retry policy, so a 5xx or 429 of the token endpoint is retried like any other.
* Errors (:func:`token_error`): 5xx, 429 (with ``Retry-After``), timeouts and dropped connections stay
  retryable; 400/401/403 (a wrong client id or secret) fail at once, naming the redacted token URL, the
  endpoint's ``error``/``error_description`` and the fix. A reply that is not JSON or has no ``access_token`` is
  a non-retryable :class:`InvalidResponseError`. No message ever holds the client secret or a token.
* The connection form's "Test" button (``hooks/http.py``, which must not reach the client) fetches one token with
  :func:`check_token`: the same form, reply parsing and errors over a bare client with the same timeouts, no
  redirects, no compression and the same size limit.
* Every fetched token is handed to ``on_token`` before it is used: the client adds it to the secrets its
  messages are scrubbed of, and the settings' ``on_secret`` (Airflow's masker, passed by the hook) masks it in
  logs and XCom.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from airflow_provider_flow.errors import FlowError, HttpError, InvalidResponseError, OAuth2TokenError
from airflow_provider_flow.http.failures import FailureMapper
from airflow_provider_flow.http.response import HttpResponse
from airflow_provider_flow.http.settings import HttpSettings, OAuth2Settings
from airflow_provider_flow.redaction import redact_text, redact_url

#: Longest token reply read: a token reply is a few hundred bytes; anything near this is not one.
MAX_TOKEN_REPLY_BYTES = 256 * 1024

#: Longest margin before expiry at which a token is refreshed (seconds).
MAX_REFRESH_MARGIN = 60.0

#: Statuses by which a token endpoint says the client itself is wrong (RFC 6749 section 5.2).
_CLIENT_REFUSED = (400, 401, 403)

#: ``details`` key set on every error of a token request: the request that needed the token was never sent (a
#: sink must not count its batch as maybe delivered when the token endpoint dropped the connection).
TOKEN_REQUEST_DETAIL = "oauth2_token_request"

#: Sends the token request: ``(url, form, headers) -> response`` (an ``HttpClient.request`` POST).
TokenPost = Callable[[str, Mapping[str, str], Mapping[str, str]], HttpResponse]


@dataclass(frozen=True)
class AccessToken:
    """A fetched token and when to fetch the next one (``refresh_at``, monotonic; None = only on a 401)."""

    value: str
    refresh_at: float | None

    def __repr__(self) -> str:  # never the token
        return f"AccessToken(refresh_at={self.refresh_at!r})"


def refresh_margin(lifetime: float) -> float:
    """How long before expiry a token is replaced: 10 % of its lifetime, at most a minute (a 1 h token is
    refreshed after 59 min, a 2 s token after 1.8 s)."""
    return min(MAX_REFRESH_MARGIN, 0.1 * lifetime)


def token_endpoint_settings(settings: HttpSettings) -> HttpSettings:
    """Settings of the client that talks to the token endpoint: the service's timeouts and TLS options, one
    attempt, no redirects, no connection headers (they are for the API), the client secret as its secret."""
    oauth2 = _oauth2(settings)
    return HttpSettings(
        timeout=settings.timeout,
        verify=settings.verify,
        retry=replace(settings.retry, max_attempts=1),
        extra_secrets=tuple(oauth2.secret_values()),
        follow_redirects=False,
    )


def token_form(oauth2: OAuth2Settings) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers of a client-credentials token request for ``oauth2``."""
    form = {"grant_type": "client_credentials"}
    headers = {"Accept": "application/json"}
    if oauth2.token_auth_method == "client_secret_basic":
        headers["Authorization"] = f"Basic {oauth2.basic_credentials()}"
    else:
        form.update(client_id=oauth2.client_id, client_secret=oauth2.client_secret)
    if oauth2.scopes:
        form["scope"] = " ".join(oauth2.scopes)
    if oauth2.audience:
        form["audience"] = oauth2.audience
    return form, headers


def fetch_token(oauth2: OAuth2Settings, post: TokenPost) -> AccessToken:
    """Ask the token endpoint for a token with ``post``; every failure as a classified, scrubbed flow error."""
    form, headers = token_form(oauth2)
    safe_url = redact_text(redact_url(oauth2.token_url), oauth2.secret_values())
    started = time.monotonic()
    try:
        try:
            response = post(oauth2.token_url, form, headers)
        except HttpError as err:
            raise token_error(err, oauth2, safe_url) from None
        return parse_token_reply(response, safe_url, started)
    except FlowError as err:
        err.details[TOKEN_REQUEST_DETAIL] = True
        raise


def parse_token_reply(response: HttpResponse, safe_url: str, fetched_at: float) -> AccessToken:
    """The token of a 2xx reply, or an :class:`InvalidResponseError` that shows the reply's keys, never values."""
    where = f"the OAuth2 token endpoint {safe_url}"
    try:
        body = json.loads(response.content)
    except ValueError:
        raise InvalidResponseError(
            f"{where} answered {response.status_code} with a body that is not JSON (Content-Type "
            f"{response.headers.get('content-type', 'none')!r}); check that token_url is the token endpoint "
            "itself, not a login page",
            details={"url": safe_url, "status_code": response.status_code},
        ) from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token.strip():
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise InvalidResponseError(
            f"{where} answered {response.status_code} without an 'access_token' (reply keys: {keys}); check that "
            "token_url is the token endpoint and that it issues client-credentials tokens",
            details={"url": safe_url, "status_code": response.status_code},
        )
    if any(c in token for c in "\r\n\x00"):
        raise InvalidResponseError(
            f"{where} issued an access token holding a line break or NUL, which an HTTP header cannot carry",
            details={"url": safe_url},
        )
    lifetime = _seconds(body.get("expires_in"))
    refresh_at = None if lifetime is None else fetched_at + lifetime - refresh_margin(lifetime)
    return AccessToken(token.strip(), refresh_at)


def token_error(err: HttpError, oauth2: OAuth2Settings, safe_url: str) -> OAuth2TokenError:
    """``err`` from the token endpoint as an :class:`OAuth2TokenError` that says what the endpoint said and what
    to change. The excerpt was already scrubbed of the secret by the client."""
    said = _oauth2_error(err.body_excerpt)
    if err.status_code in _CLIENT_REFUSED:
        fix = (
            "check the connection's client_id and client_secret (or login/password), the scopes and audience, and "
            "token_auth_method (client_secret_post or client_secret_basic: some endpoints accept only one)"
        )
    elif 300 <= err.status_code < 400:
        fix = "set token_url to the final token endpoint URL (token requests do not follow redirects)"
    elif err.is_retryable:
        fix = "the token endpoint is failing or throttling; retried like any request"
    else:
        fix = "check token_url"
    retry_after = f" (Retry-After: {err.retry_after:g}s)" if err.retry_after is not None else ""
    return OAuth2TokenError(
        f"OAuth2 token request to {safe_url} failed with HTTP {err.status_code}{said}{retry_after}; {fix}",
        status_code=err.status_code,
        method="POST",
        url=safe_url,
        body_excerpt=err.body_excerpt,
        retry_after=err.retry_after,
        details={"token_url": safe_url, "client_id": oauth2.client_id},
    )


class OAuth2ClientCredentials(httpx.Auth):
    """Bearer tokens from a client-credentials grant, shared by every request of one client (module docstring).

    ``fetch`` gets a new token (:func:`fetch_token` over the token client); ``on_token`` learns each one before
    it is sent anywhere."""

    requires_request_body = True  # a request answered 401 is resent, body included

    def __init__(self, fetch: Callable[[], AccessToken], on_token: Callable[[str], None]) -> None:
        self._fetch = fetch
        self._on_token = on_token
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.fetches = 0

    def token(self, *, rejected: str | None = None) -> str:
        """The current token; a new one when there is none, it is due for refresh, or it is ``rejected`` (a 401
        answered it). Threads arriving during a fetch wait for it and use its token."""
        with self._lock:
            current = self._token
            due = current is None or current.value == rejected
            if current is not None and current.refresh_at is not None and time.monotonic() >= current.refresh_at:
                due = True
            if due:
                fresh = self._fetch()
                self.fetches += 1
                self._on_token(fresh.value)
                self._token = current = fresh
            assert current is not None
            return current.value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.token()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401 or response.request.headers.get("authorization") != f"Bearer {sent}":
            return  # not a 401, or a 401 from an origin a redirect took the request to (it carried no token)
        request.headers["Authorization"] = f"Bearer {self.token(rejected=sent)}"
        yield request  # whatever this answers, the API has spoken: no second refresh


def check_token(settings: HttpSettings) -> AccessToken:
    """Fetch one token for ``settings`` outside any task (the "Test" button): one attempt, classified errors."""
    oauth2 = _oauth2(settings)
    token_settings = token_endpoint_settings(settings)
    failures = FailureMapper(token_settings, token_settings.secret_values())
    with httpx.Client(timeout=token_settings.timeout.to_httpx(), verify=settings.verify) as client:

        def post(url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> HttpResponse:
            sent = {**headers, "Accept-Encoding": "identity"}  # no compression: the size cap holds on the wire
            with failures.mapped("POST", url), client.stream("POST", url, data=form, headers=sent) as response:
                if not response.is_success:
                    raise failures.from_response(response)
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_TOKEN_REPLY_BYTES:
                        raise InvalidResponseError(
                            f"the OAuth2 token endpoint {settings.safe_url(url)} sent more than "
                            f"{MAX_TOKEN_REPLY_BYTES} bytes; check that token_url is the token endpoint",
                            details={"url": settings.safe_url(url)},
                        )
                return HttpResponse(response.status_code, response.headers, body, url, "POST")

        return fetch_token(oauth2, post)


def _oauth2(settings: HttpSettings) -> OAuth2Settings:
    if settings.oauth2 is None:
        raise ValueError("these HttpSettings have no oauth2 settings")
    return settings.oauth2


def _seconds(value: Any) -> float | None:
    """``expires_in`` as positive seconds (a number or a numeric string, as some endpoints send), else None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 and seconds < float("inf") else None


def _oauth2_error(excerpt: str) -> str:
    """``: invalid_client (Client authentication failed)`` from an RFC 6749 error body, or ``""``."""
    try:
        body = json.loads(excerpt)
    except ValueError:
        return f": {excerpt[:200]}" if excerpt.strip() else ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return f": {excerpt[:200]}"
    description = body.get("error_description")
    return f": {body['error']}" + (f" ({description})" if isinstance(description, str) and description else "")
