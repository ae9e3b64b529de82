"""HTTP plumbing shared by every runtime that talks HTTP: settings, the one client factory, retries, deadlines.

Why one module: the retry policy, the timeout rules and the mapping of transport failures onto flow errors must
be identical for ``http.source``, ``http.sink`` and ``ai.transform`` (an OpenAI-compatible endpoint), and the HTTP
library (httpx today) should be swappable by editing this file only. No Airflow import here.

Public API
----------
``HttpSettings``
    Frozen dataclass resolved from a connection (``hooks/http.py``) or built directly in tests:
    ``base_url``, ``headers``, ``auth`` (basic ``(login, password)``), ``bearer_token``, ``timeout``
    (:class:`TimeoutSettings`), ``verify`` (bool or CA bundle path), ``retry`` (:class:`RetrySettings`),
    ``extra_secrets``. :meth:`HttpSettings.secret_values` lists every credential value (to mask in logs and
    scrub from error text); :meth:`HttpSettings.url_for` joins ``base_url`` and an endpoint (absolute URLs pass).
``TimeoutSettings(connect=10, read=30, write=30, pool=10, total=300)``
    Per-phase httpx timeouts plus ``total``: an overall deadline per request *including reading the body*. httpx's
    read timeout is per chunk, so a server trickling one byte a second would otherwise hold the worker forever.
    The task's own deadline (``ExecutionState.deadline``, from ``execution_timeout``) bounds it further. Each
    phase timeout of a request is clipped to the time left before that deadline, so a server that sends nothing
    at all is cut off at the deadline too, not only after a full read timeout.
``RetrySettings(max_attempts=4, max_elapsed=60, initial_backoff=0.5, max_backoff=10, jitter=0.5)``
    The in-task retry budget (tenacity): exponential backoff with jitter on retryable failures (connect errors,
    timeouts, dropped connections, 408/429/5xx), bounded by attempts and by total time. ``Retry-After`` (seconds
    or HTTP-date) is honoured when it fits the remaining budget; when it does not, the :class:`HttpError` is raised
    at once carrying ``retry_after``, and the foundation's ``FlowRetryPolicy`` turns it into the delay of the
    Airflow retry, so no worker slot is held while the API asks to wait.
``build_client(settings, *, max_connections=None) -> httpx.Client``
    The ONLY place an ``httpx.Client`` is constructed.
``HttpClient(settings, *, state=None, retry=None, timeout=None, max_connections=None)``
    Context manager wrapping one ``httpx.Client`` with the policy above. Thread-safe (the sink sends batches
    from a thread pool through one instance).

    * ``request(method, url, *, params, headers, json, content, data, max_response_bytes) -> HttpResponse`` —
      body fully read (bounded), non-2xx raised as :class:`HttpError`, retried per policy (every method alike:
      a sink that must not resend a batch the server already took sets an idempotency key).
    * ``post_json(url, payload, *, headers=None, max_response_bytes=None) -> Any`` — JSON POST with retry,
      returns the parsed JSON body (what an OpenAI-compatible client needs).
    * ``stream(method, url, ...)`` — context manager yielding a :class:`StreamedResponse` whose
      ``iter_bytes()`` / ``iter_lines()`` enforce the overall deadline and ``max_response_bytes`` while reading.
      Opening the stream (connect + status) is retried; a failure *after* body bytes were handed out is raised
      to the caller (it may have consumed partial data), as a retryable error for an Airflow retry.

Failures are always flow errors: :class:`FlowTimeoutError` (``phase`` = connect/read/write/pool/deadline),
:class:`FlowConnectionError` (refused, reset, dropped mid-body), :class:`HttpError` (non-2xx; redacted URL,
bounded body excerpt), :class:`ResponseTooLargeError` and :class:`InvalidResponseError` (not retryable).
No message ever contains a credential: URLs go through ``redact_url`` and text through ``redact_text``.
"""

from __future__ import annotations

import base64
import email.utils
import json as jsonlib
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import httpx
import tenacity

from airflow_provider_flow.errors import (
    BODY_EXCERPT_LIMIT,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    FlowValidationError,
    HttpError,
)
from airflow_provider_flow.redaction import is_secret_name, redact_text, redact_url
from airflow_provider_flow.runtimes.state import ExecutionState, LoggerLike

log = logging.getLogger(__name__)

_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

#: Default guard on one response body (bytes). Large data should be paginated or streamed to a file.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class ResponseTooLargeError(FlowError):
    """A response body grew past ``max_response_bytes``: the same request would do it again, so no retry."""

    code = "response_too_large"


class InvalidResponseError(FlowError):
    """A 2xx response whose body cannot be used (not JSON, wrong shape)."""

    code = "invalid_response"


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

    def secret_values(self) -> list[str]:
        """Every credential this service uses: passwords, tokens, secret header values, secret URL parts."""
        values: list[str] = list(self.extra_secrets)
        if self.auth:
            values.append(self.auth[1])
            # the header value an API might echo back in an error body
            values.append(base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode())
        if self.bearer_token:
            values.append(self.bearer_token)
        values.extend(v for k, v in self.headers.items() if is_secret_name(k) and v)
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

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        return headers

    def __repr__(self) -> str:  # never print credentials, even by accident
        return f"HttpSettings(base_url={redact_url(self.base_url)!r}, timeout={self.timeout}, verify={self.verify!r})"


def build_client(settings: HttpSettings, *, max_connections: int | None = None) -> httpx.Client:
    """The one place an ``httpx.Client`` is built (swap the HTTP library here)."""
    limits = httpx.Limits(max_connections=max_connections or 10, max_keepalive_connections=max_connections or 10)
    return httpx.Client(
        headers=settings.all_headers(),
        auth=httpx.BasicAuth(*settings.auth) if settings.auth else None,
        timeout=settings.timeout.to_httpx(),
        verify=settings.verify,
        follow_redirects=settings.follow_redirects,
        limits=limits,
        event_hooks={"response": [_refuse_credential_redirects(settings), _refuse_body_dropping_redirects(settings)]},
    )


def _secret_header_values(headers: httpx.Headers) -> list[str]:
    """Values of credential headers actually sent (the connection's and a node's own ``headers``)."""
    return [v for k, v in headers.items() if is_secret_name(k) and v]


def _refuse_credential_redirects(settings: HttpSettings) -> Callable[[httpx.Response], None]:
    """httpx drops ``Authorization`` and ``Cookie`` on a redirect to another origin but keeps custom headers such
    as ``X-API-Key``; following such a redirect would hand the key to a foreign host, so it is refused. The headers
    are read from the request that was sent, so a node's own ``headers`` are covered, not only the connection's."""

    def check(response: httpx.Response) -> None:
        if not (response.is_redirect and settings.follow_redirects):
            return
        secret_headers = [
            k.decode("latin-1")
            for k, v in response.request.headers.raw
            if is_secret_name(k.decode("latin-1")) and v and k.lower() not in (b"authorization", b"cookie")
        ]
        if not secret_headers:
            return
        target = response.request.url.join(response.headers.get("location", ""))
        source = response.request.url
        if (target.scheme, target.host, target.port) != (source.scheme, source.host, source.port):
            raise FlowError(
                f"{response.request.method} {settings.safe_url(str(source))} redirects to another origin "
                f"({settings.safe_url(str(target))}); refusing to send the credential headers "
                f"({', '.join(secret_headers)}) there. Call the final URL directly or set follow_redirects=false",
                details={"status_code": response.status_code},
                retryable=False,
            )

    return check


def _refuse_body_dropping_redirects(settings: HttpSettings) -> Callable[[httpx.Response], None]:
    """httpx follows browser rules: a 302/303 turns any method but HEAD into a bodiless GET, and so does a 301
    for POST. A sink would then take the GET's 2xx as "batch accepted" although the batch was never delivered."""

    def check(response: httpx.Response) -> None:
        method = response.request.method
        if not (response.is_redirect and settings.follow_redirects) or method in ("GET", "HEAD"):
            return
        if not (response.status_code in (302, 303) or (response.status_code == 301 and method == "POST")):
            return  # 307/308 (and a 301 of PUT/PATCH/DELETE) resend the same method with the same body
        target = response.request.url.join(response.headers.get("location", ""))
        raise FlowError(
            f"{method} {settings.safe_url(str(response.request.url))} answered {response.status_code} to "
            f"{settings.safe_url(str(target))}; following it would resend the request as a GET without its body. "
            "Use the final URL as the endpoint",
            details={"status_code": response.status_code, "location": settings.safe_url(str(target))},
            retryable=False,
        )

    return check


#: Longest ``Retry-After`` taken at face value: ``inf`` or ``1e20`` from a broken API would otherwise overflow the
#: ``timedelta`` of the Airflow retry delay downstream.
MAX_RETRY_AFTER = 86400.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), at most ``MAX_RETRY_AFTER``;
    None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


@dataclass
class HttpResponse:
    """A fully read 2xx response (body bounded by ``max_response_bytes``)."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str
    method: str
    secrets: tuple[str, ...] = ()
    """The connection's credential values, scrubbed from error text (a 2xx body may echo a key back)."""

    def __repr__(self) -> str:  # no body (megabytes, maybe an echoed key), no secrets, no secret query values
        safe_url = redact_text(redact_url(self.url), self.secrets)
        return f"HttpResponse({self.status_code} {self.method} {safe_url}, {len(self.content)} bytes)"

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return jsonlib.loads(self.content)
        except ValueError as exc:
            excerpt = redact_text(self.text[:200], self.secrets)
            safe_url = redact_text(redact_url(self.url), self.secrets)
            raise InvalidResponseError(
                f"{self.method} {safe_url} returned status {self.status_code} but the body is not JSON "
                f"({exc}); body starts with {excerpt!r}",
                details={"url": safe_url, "status_code": self.status_code},
            ) from None

    @property
    def links(self) -> dict[str, str]:
        """``rel -> absolute URL`` from the ``Link`` header."""
        result: dict[str, str] = {}
        header = self.headers.get("link")
        if not header:
            return result
        for link in httpx.Response(200, headers={"link": header}).links.values():
            rel, url = link.get("rel"), link.get("url")
            if rel and url:
                result[rel] = str(httpx.URL(self.url).join(url))
        return result


class StreamedResponse:
    """A 2xx response being read incrementally, under the overall deadline and the size guard."""

    def __init__(
        self, owner: HttpClient, response: httpx.Response, deadline: float | None, max_bytes: int | None
    ) -> None:
        self._owner = owner
        self._response = response
        self._deadline = deadline
        self._max_bytes = max_bytes
        self.bytes_read = 0
        self.status_code = response.status_code
        self.headers = response.headers
        self.url = str(response.url)
        self.method = response.request.method

    @property
    def links(self) -> dict[str, str]:
        return HttpResponse(self.status_code, self.headers, b"", self.url, self.method).links

    def iter_bytes(self) -> Iterator[bytes]:
        """Body chunks as they arrive from the network (never buffered up to a size, so deadlines are checked)."""
        with self._owner._mapped_errors(self.method, self.url, self._deadline):
            for chunk in self._response.iter_bytes():
                self.bytes_read += len(chunk)
                self._owner._check_limits(self.method, self.url, self._deadline, self.bytes_read, self._max_bytes)
                yield chunk

    def iter_lines(self) -> Iterator[bytes]:
        """Complete lines (without the newline); a partial trailing line is yielded at the end.

        Chunks without a newline are collected in a list and joined once, so a line spanning many chunks costs
        linear time (appending to one bytes object would copy it for every chunk)."""
        pending: list[bytes] = []
        for chunk in self.iter_bytes():
            if b"\n" not in chunk:
                pending.append(chunk)
                continue
            *lines, rest = b"".join([*pending, chunk]).split(b"\n")
            pending = [rest] if rest else []
            yield from lines
        if pending:
            yield b"".join(pending)

    def read(self) -> bytes:
        return b"".join(self.iter_bytes())


class HttpClient:
    """One httpx client plus the shared retry, timeout and error-mapping policy. Use as a context manager."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        state: ExecutionState | None = None,
        retry: RetrySettings | None = None,
        timeout: TimeoutSettings | None = None,
        max_connections: int | None = None,
        logger: LoggerLike | None = None,
    ) -> None:
        if timeout is not None:
            settings = replace(settings, timeout=timeout)
        self.settings = settings
        self.retry = retry or settings.retry
        self.state = state
        self.log: LoggerLike = logger or (state.log if state is not None else log)
        self._secrets = settings.secret_values()
        self._client = build_client(settings, max_connections=max_connections)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- public helpers -------------------------------------------------------------------------------------

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
    ) -> HttpResponse:
        """Send a request and read the whole (bounded) body, retrying retryable failures within the budget."""
        full_url = self.url_for(url)

        def attempt() -> HttpResponse:
            deadline = self._request_deadline()
            with self._open(method, full_url, params, headers, json, content, data, deadline) as response:
                streamed = StreamedResponse(self, response, deadline, max_response_bytes)
                body = streamed.read()
                return HttpResponse(
                    response.status_code,
                    response.headers,
                    body,
                    str(response.url),
                    method.upper(),
                    tuple(self._secrets),
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
    ) -> Iterator[StreamedResponse]:
        """Open a streamed 2xx response (opening is retried); read it with ``iter_bytes``/``iter_lines``."""
        full_url = self.url_for(url)
        holder: dict[str, Any] = {}

        def attempt() -> StreamedResponse:
            deadline = self._request_deadline()
            cm = self._open(method, full_url, params, headers, json, content, data, deadline)
            response = cm.__enter__()
            holder["cm"] = cm
            return StreamedResponse(self, response, deadline, max_response_bytes)

        streamed = self._retrying(attempt, method, full_url)
        try:
            yield streamed
        finally:
            holder["cm"].__exit__(None, None, None)

    # -- internals ------------------------------------------------------------------------------------------

    def _request_deadline(self) -> float | None:
        """Monotonic time by which this request (body included) must be done: per-request total and task deadline."""
        candidates = []
        if self.settings.timeout.total is not None:
            candidates.append(time.monotonic() + self.settings.timeout.total)
        if self.state is not None and self.state.deadline is not None:
            candidates.append(self.state.deadline)
        return min(candidates) if candidates else None

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
        deadline: float | None,
    ) -> Iterator[httpx.Response]:
        """Send one request; yield the open 2xx response, raise HttpError for anything else."""
        if self.state is not None:
            self.state.check_deadline(f"{method.upper()} {redact_url(url)}")
        with (
            self._mapped_errors(method, url, deadline),
            self._client.stream(
                method.upper(),
                url,
                params=params,
                headers=headers,
                json=json,
                content=content,
                data=data,
                timeout=self._clipped_timeout(deadline),
            ) as response,
        ):
            if not response.is_success:
                raise self._http_error(response, deadline)
            yield response

    def _clipped_timeout(self, deadline: float | None) -> httpx.Timeout:
        """The phase timeouts, none longer than the time left before ``deadline`` (see the module docstring)."""
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

    def _http_error(self, response: httpx.Response, deadline: float | None = None) -> HttpError:
        method = response.request.method
        url = str(response.request.url)
        excerpt = ""
        try:
            raw = b""
            for chunk in response.iter_bytes(BODY_EXCERPT_LIMIT + 1):
                raw += chunk
                if len(raw) > BODY_EXCERPT_LIMIT or (deadline is not None and time.monotonic() > deadline):
                    break  # the status is what matters: a trickling error body must not hold the worker
            # an API may echo any credential it was sent, including one from a node's own ``headers``
            secrets = [*self._secrets, *_secret_header_values(response.request.headers)]
            excerpt = redact_text(raw[: BODY_EXCERPT_LIMIT + 1].decode("utf-8", errors="replace"), secrets)
        except (httpx.HTTPError, OSError):
            excerpt = "<body unreadable>"
        return HttpError(
            status_code=response.status_code,
            method=method,
            url=redact_text(url, self._secrets),
            body_excerpt=excerpt,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    @contextmanager
    def _mapped_errors(self, method: str, url: str, deadline: float | None = None) -> Iterator[None]:
        """Turn httpx's exceptions into flow errors, with secrets scrubbed from their text."""
        safe_url = redact_text(redact_url(url), self._secrets)
        try:
            yield
        except httpx.TimeoutException as exc:
            if deadline is not None and time.monotonic() >= deadline - 0.01:  # a phase clipped to the deadline
                raise self._deadline_error(method, safe_url, None) from None
            phase = {
                httpx.ConnectTimeout: "connect",
                httpx.ReadTimeout: "read",
                httpx.WriteTimeout: "write",
                httpx.PoolTimeout: "pool",
            }.get(type(exc), "timeout")
            seconds = getattr(self.settings.timeout, phase, None)
            raise FlowTimeoutError(
                f"{method.upper()} {safe_url}: {phase} timeout after {seconds}s; raise the connection's or the "
                f"task's '{phase}' timeout if the service is just slow",
                phase=phase,
                timeout_seconds=seconds,
                details={"url": safe_url, "method": method.upper()},
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FlowValidationError(
                f"invalid URL {safe_url!r}: {redact_text(str(exc), self._secrets)}", field="endpoint", value=safe_url
            ) from None
        except UnicodeEncodeError as exc:  # httpx encodes header values as ASCII while building the request
            raise FlowValidationError(
                f"{method.upper()} {safe_url}: a header value is not ASCII ({exc.reason} at position {exc.start}); "
                "HTTP headers carry ASCII only: percent-encode the value or send it in the body",
                field="headers",
                value=None,
            ) from None
        except httpx.DecodingError as exc:  # e.g. a gzip body that does not inflate: the same bytes next time
            raise InvalidResponseError(
                f"{method.upper()} {safe_url}: the response body cannot be decoded "
                f"({redact_text(str(exc), self._secrets)})",
                details={"url": safe_url, "method": method.upper()},
            ) from None
        except httpx.TooManyRedirects:
            raise FlowError(
                f"{method.upper()} {safe_url}: too many redirects", details={"url": safe_url}, retryable=False
            ) from None
        except httpx.TransportError as exc:
            reason = redact_text(str(exc) or type(exc).__name__, self._secrets)
            err = FlowConnectionError(
                f"{method.upper()} {safe_url}: {type(exc).__name__}: {reason}",
                url=url,
                details={"url": safe_url, "method": method.upper()},
            )
            if "CERTIFICATE_VERIFY_FAILED" in reason:  # the same certificate fails the same way next time
                err._retryable = False
            err.url = safe_url
            raise err from None

    def _check_limits(
        self, method: str, url: str, deadline: float | None, bytes_read: int, max_bytes: int | None
    ) -> None:
        safe_url = redact_text(redact_url(url), self._secrets)
        if max_bytes is not None and bytes_read > max_bytes:
            raise ResponseTooLargeError(
                f"{method.upper()} {safe_url}: response exceeded max_response_bytes={max_bytes}; raise "
                "max_response_bytes, paginate, or stream to a file with output_path",
                details={"url": safe_url, "max_response_bytes": max_bytes},
            )
        if deadline is not None and time.monotonic() > deadline:
            raise self._deadline_error(method, safe_url, bytes_read)

    def _deadline_error(self, method: str, safe_url: str, bytes_read: int | None) -> FlowTimeoutError:
        total = self.settings.timeout.total
        progress = "before the response started" if bytes_read is None else f"after {bytes_read} bytes"
        return FlowTimeoutError(
            f"{method.upper()} {safe_url}: response not complete within the overall deadline "
            f"({total}s per request, or the task's execution_timeout) {progress}; the server is too slow",
            phase="deadline",
            timeout_seconds=total,
            details={"url": safe_url, "bytes_read": bytes_read or 0},
        )

    def _budget(self) -> float:
        """Seconds of in-task retrying allowed: the retry budget, capped by the task deadline."""
        budget = self.retry.max_elapsed
        if self.state is not None and self.state.remaining() is not None:
            budget = min(budget, max(0.0, self.state.remaining() or 0.0))
        return budget

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        n = retry_state.attempt_number
        backoff = min(self.retry.max_backoff, self.retry.initial_backoff * (2 ** (n - 1)))
        return backoff + random.uniform(0, self.retry.jitter)

    def _retrying(self, fn: Callable[[], Any], method: str, url: str) -> Any:
        budget = self._budget()
        started = time.monotonic()
        safe_url = redact_text(redact_url(url), self._secrets)

        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            self.log.warning(
                "%s %s failed on attempt %d of %d (%s); retrying in %.1fs",
                method.upper(),
                safe_url,
                retry_state.attempt_number,
                self.retry.max_attempts,
                exc,
                retry_state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, FlowError) and e.is_retryable),
            stop=tenacity.stop_after_attempt(max(1, self.retry.max_attempts)) | tenacity.stop_before_delay(budget),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except FlowError as err:
            if err.is_retryable:
                retry_after = getattr(err, "retry_after", None)
                left = max(0.0, budget - (time.monotonic() - started))  # what stop_before_delay compared against
                if retry_after is not None and retry_after > left:
                    self.log.warning(
                        "%s %s: server asked to retry after %.1fs, more than the %.1fs left of the in-task retry "
                        "budget; handing over to an Airflow retry",
                        method.upper(),
                        safe_url,
                        retry_after,
                        left,
                    )
                err.details.setdefault("in_task_attempts", retrying.statistics.get("attempt_number"))
            raise
