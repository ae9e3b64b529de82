"""The one HTTP client every runtime uses (``http.source``, ``http.sink``, ``ai.transform``), so retries, timeouts,
redirect rules and error mapping are identical everywhere, and the HTTP library (httpx) is touched in ``http/``
only.

Deadlines: each request has an overall deadline (the settings' ``total`` and the task's own deadline from
``execution_timeout``, whichever comes first) that covers every phase: connecting, TLS, sending, waiting for and
reading the headers, and the body. Every network operation is cut to the time left (:mod:`.deadline`), so a server
trickling its headers a byte at a time is cut off at the deadline, not only one that sends nothing at all.
Bodies are decoded in bounded pieces with ``max_response_bytes`` checked while decoding (:mod:`.decoding`), so a
compressed bomb costs no memory, and the size error's hint fits the caller (:mod:`.body_limit`).
Retries: :mod:`.retry` (in-task, bounded; longer waits become Airflow retries). Failures: :mod:`.failures`
(always flow errors, never a credential in a message). Opening a stream is retried; a failure *after* body bytes
were handed out is raised to the caller (it may have consumed partial data), as a retryable error for an Airflow
retry. Every method is retried alike: a sink that must not resend a batch the server already took sets an
idempotency key. Thread-safe: the sink sends batches through one client from a pool.
OAuth2 client credentials (settings with ``oauth2``): every request carries a bearer token from
:mod:`.oauth2`, fetched once per client through a second client of its own and shared by all threads; each token
fetched joins the secrets this client scrubs from its messages and goes to the settings' ``on_secret``.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import httpx

from airflow_provider_flow.core.state import ExecutionState, LoggerLike
from airflow_provider_flow.http.body_limit import BODY_LIMIT_EXTENSION, BodyLimit
from airflow_provider_flow.http.deadline import RequestDeadline, deadline_scope, install_deadline_backend
from airflow_provider_flow.http.decoding import ACCEPT_ENCODING, decode_within_limits
from airflow_provider_flow.http.failures import FailureMapper
from airflow_provider_flow.http.oauth2 import (
    MAX_TOKEN_REPLY_BYTES,
    AccessToken,
    OAuth2ClientCredentials,
    fetch_token,
    token_endpoint_settings,
)
from airflow_provider_flow.http.redirects import refuse_body_dropping_redirects, refuse_credential_redirects
from airflow_provider_flow.http.response import HttpResponse, StreamedResponse
from airflow_provider_flow.http.retry import call_with_retries
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.redaction import redact_text, redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Default guard on one response body (bytes). Large data should be paginated or streamed to a file.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

#: Redacted URLs a client remembers (see ``HttpClient._safe_url``) before it starts over.
_MAX_CACHED_URLS = 256


def build_client(
    settings: HttpSettings, *, max_connections: int | None = None, auth: httpx.Auth | None = None
) -> httpx.Client:
    """The one place an ``httpx.Client`` is built (swap the HTTP library here).

    It asks only for the encodings :mod:`.decoding` decodes (httpx would add ``br``/``zstd`` whenever their
    libraries happen to be installed) unless the connection sets its own ``Accept-Encoding``. ``auth`` replaces
    the settings' basic auth (the OAuth2 bearer flow)."""
    limits = httpx.Limits(max_connections=max_connections or 10, max_keepalive_connections=max_connections or 10)
    headers = httpx.Headers(settings.all_headers())
    headers.setdefault("Accept-Encoding", ACCEPT_ENCODING)
    client = httpx.Client(
        headers=headers,
        auth=auth or (httpx.BasicAuth(*settings.auth) if settings.auth else None),
        timeout=settings.timeout.to_httpx(),
        verify=shared_ssl_context(settings.verify, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")),
        follow_redirects=settings.follow_redirects,
        limits=limits,
        event_hooks={
            "response": [
                decode_within_limits,
                refuse_credential_redirects(settings),
                refuse_body_dropping_redirects(settings),
            ]
        },
    )
    install_deadline_backend(client)
    return client


@functools.lru_cache(maxsize=8)
def shared_ssl_context(verify: bool | str, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The TLS context httpx would build for ``verify``, built once per process and setting.

    Loading the CA bundle costs ~80 ms of CPU, and httpx pays it for every client, even one that only ever talks
    plain HTTP; each task (and each OAuth2 token client) builds a client. ``cert_file``/``cert_dir`` are the
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` httpx reads, so a changed environment gets its own context. Sharing is
    safe: httpcore only sets ALPN on it, always to HTTP/1.1 here."""
    return httpx.create_ssl_context(verify=verify)


class HttpClient:
    """One httpx client plus the shared retry, timeout and error-mapping policy. Use as a context manager."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        state: ExecutionState | None = None,
        max_connections: int | None = None,
        logger: LoggerLike | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.log: LoggerLike = logger or (state.log if state is not None else log)
        self.failures = FailureMapper(settings, settings.secret_values())
        self._token_client: HttpClient | None = None
        self.oauth2: OAuth2ClientCredentials | None = None
        if settings.oauth2 is not None:
            self._token_client = HttpClient(token_endpoint_settings(settings), state=state, logger=self.log)
            self.oauth2 = OAuth2ClientCredentials(self._fetch_token, self._learn_token)
        self._client = build_client(settings, max_connections=max_connections, auth=self.oauth2)
        self._safe_urls: dict[tuple[str, int], str] = {}

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        if self._token_client is not None:
            self._token_client.close()

    def url_for(self, endpoint: str) -> str:
        return self.settings.url_for(endpoint)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        streams_to_file: bool | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> HttpResponse:
        """Send a request and read the whole (bounded) body, retrying retryable failures within the budget.

        ``streams_to_file`` tells whether the caller already streams its records to a file (True), could (False),
        or has no such option (None): the hint of a :class:`ResponseTooLargeError` depends on it. ``on_bytes``
        hears the body's bytes read so far after every chunk (from 0 again on a retry): a slow body still shows
        progress in the task log."""
        full_url = self.url_for(url)
        limit = self._body_limit(method, full_url, max_response_bytes, streams_to_file)

        def attempt() -> HttpResponse:
            deadline = self._request_deadline(method, full_url)
            with self._open(method, full_url, params, headers, json, content, data, deadline, limit) as response:
                streamed = StreamedResponse(self.failures, response, deadline)
                if on_bytes is None:
                    body = streamed.read()
                else:
                    chunks = []
                    for chunk in streamed.iter_bytes():
                        chunks.append(chunk)
                        on_bytes(streamed.bytes_read)
                    body = b"".join(chunks)
                return HttpResponse(
                    response.status_code,
                    response.headers,
                    body,
                    str(response.url),
                    method.upper(),
                    tuple(self.failures.secrets),
                )

        return self._retrying(attempt, method, full_url)

    def post_json(
        self,
        url: str,
        payload: Any,
        *,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> Any:
        """POST ``payload`` as JSON with the retry policy; return the parsed JSON response."""
        return self.request("POST", url, json=payload, headers=headers, max_response_bytes=max_response_bytes).json()

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        streams_to_file: bool | None = None,
    ) -> Iterator[StreamedResponse]:
        """Open a streamed 2xx response (opening is retried); read it with ``iter_bytes``/``iter_lines``.
        ``streams_to_file``: as for :meth:`request`."""
        full_url = self.url_for(url)
        limit = self._body_limit(method, full_url, max_response_bytes, streams_to_file)
        holder: dict[str, Any] = {}

        def attempt() -> StreamedResponse:
            deadline = self._request_deadline(method, full_url)
            cm = self._open(method, full_url, params, headers, json, content, data, deadline, limit)
            response = cm.__enter__()
            holder["cm"] = cm
            return StreamedResponse(self.failures, response, deadline)

        streamed = self._retrying(attempt, method, full_url)
        try:
            yield streamed
        finally:
            holder["cm"].__exit__(None, None, None)

    # -- internals ------------------------------------------------------------------------------------------

    def _fetch_token(self) -> AccessToken:
        """One token request to the OAuth2 token endpoint, through the token client (see :mod:`.oauth2`)."""
        assert self._token_client is not None and self.settings.oauth2 is not None
        token_client = self._token_client

        def post(url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> HttpResponse:
            limit = MAX_TOKEN_REPLY_BYTES
            return token_client.request("POST", url, data=form, headers=headers, max_response_bytes=limit)

        return fetch_token(self.settings.oauth2, post)

    def _learn_token(self, token: str) -> None:
        """A fetched token is a secret from now on: scrubbed from this client's messages (the mapper's list is
        shared by reference with every message it builds) and handed to ``on_secret`` (Airflow's masker)."""
        if token not in self.failures.secrets:
            self.failures.secrets.append(token)
        if self.settings.on_secret is not None:
            self.settings.on_secret(token)

    def _label(self, method: str, url: str) -> str:
        """Method and URL as messages may show them: no credential, no secret query value."""
        return f"{method.upper()} {self._safe_url(url)}"

    def _safe_url(self, url: str) -> str:
        """``url`` redacted, computed once per URL and set of secrets: a sink posts thousands of batches to one URL,
        and redacting it for every request cost more than the request's own bookkeeping."""
        key = (url, len(self.failures.secrets))  # a learned token adds a secret: the key changes with it
        safe = self._safe_urls.get(key)
        if safe is None:
            if len(self._safe_urls) >= _MAX_CACHED_URLS:  # paginated sources visit many URLs once each
                self._safe_urls.clear()
            safe = self._safe_urls[key] = redact_text(redact_url(url), self.failures.secrets)
        return safe

    def _body_limit(
        self, method: str, url: str, max_bytes: int | None, streams_to_file: bool | None
    ) -> BodyLimit | None:
        if max_bytes is None:
            return None
        return BodyLimit(max_bytes, method, self._safe_url(url), to_file=streams_to_file)

    def _request_deadline(self, method: str, url: str) -> RequestDeadline | None:
        """When this request (every phase, body included) must be done: per-request total or task deadline."""
        candidates: list[tuple[float, str, float | None]] = []
        total = self.settings.timeout.total
        if total is not None:
            candidates.append((time.monotonic() + total, f"total_timeout={total}s per request", total))
        if self.state is not None and self.state.deadline is not None:
            candidates.append((self.state.deadline, "the task's execution_timeout", self.state.remaining()))
        if not candidates:
            return None
        at, source, seconds = min(candidates, key=lambda candidate: candidate[0])
        return RequestDeadline(at, self._label(method, url), source, seconds)

    @contextmanager
    def _open(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        json: Any,
        content: bytes | str | None,
        data: Mapping[str, Any] | None,
        deadline: RequestDeadline | None,
        limit: BodyLimit | None,
    ) -> Iterator[httpx.Response]:
        """Send one request; yield the open 2xx response, raise HttpError for anything else.

        The deadline scope covers only the blocking calls made here (see :func:`.deadline.deadline_scope`)."""
        if self.state is not None:
            self.state.check_deadline(self._label(method, url))
        deadline_at = deadline.at if deadline is not None else None
        with self.failures.mapped(method, url, deadline_at), ExitStack() as stack:
            with deadline_scope(deadline, "request"):
                response = stack.enter_context(
                    self._client.stream(
                        method.upper(),
                        url,
                        params=params,
                        headers=headers,
                        json=json,
                        content=content,
                        data=data,
                        timeout=self._clipped_timeout(deadline_at),
                        extensions={BODY_LIMIT_EXTENSION: limit} if limit is not None else None,
                    )
                )
            if not response.is_success:
                with deadline_scope(deadline, "body"):
                    error = self.failures.from_response(response, deadline_at)
                raise error
            yield response

    def _clipped_timeout(self, deadline: float | None) -> httpx.Timeout:
        """The phase timeouts, none longer than the time left before ``deadline`` (pool waits included)."""
        phases = self.settings.timeout
        if deadline is None:
            return phases.to_httpx()
        left = max(0.001, deadline - time.monotonic())
        return httpx.Timeout(
            connect=min(phases.connect, left),
            read=min(phases.read, left),
            write=min(phases.write, left),
            pool=min(phases.pool, left),
        )

    def _retrying(self, fn: Callable[[], T], method: str, url: str) -> T:
        def label() -> str:  # rendered only if a retry is logged
            return self._label(method, url)

        return call_with_retries(fn, retry=self.settings.retry, state=self.state, log=self.log, label=label)
