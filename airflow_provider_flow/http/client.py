"""The one HTTP client every runtime uses (``http.source``, ``http.sink``, ``ai.transform``), so retries, timeouts,
redirect rules and error mapping are identical everywhere, and the HTTP library (httpx) is touched in ``http/``
only.

Deadlines: each request has an overall deadline (the settings' ``total`` and the task's own deadline from
``execution_timeout``, whichever comes first) that covers reading the body, and each phase timeout of a request
is clipped to the time left before it, so a server that sends nothing at all is cut off at the deadline too, not
only after a full read timeout. Retries: :mod:`.retry` (in-task, bounded; longer waits become Airflow retries).
Failures: :mod:`.failures` (always flow errors, never a credential in a message). Opening a stream is retried;
a failure *after* body bytes were handed out is raised to the caller (it may have consumed partial data), as a
retryable error for an Airflow retry. Every method is retried alike: a sink that must not resend a batch the
server already took sets an idempotency key. Thread-safe: the sink sends batches through one client from a pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from airflow_provider_flow.core.state import ExecutionState, LoggerLike
from airflow_provider_flow.http.failures import FailureMapper
from airflow_provider_flow.http.redirects import refuse_body_dropping_redirects, refuse_credential_redirects
from airflow_provider_flow.http.response import HttpResponse, StreamedResponse
from airflow_provider_flow.http.retry import call_with_retries
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.redaction import redact_text, redact_url

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Default guard on one response body (bytes). Large data should be paginated or streamed to a file.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


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
        event_hooks={"response": [refuse_credential_redirects(settings), refuse_body_dropping_redirects(settings)]},
    )


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
        self._client = build_client(settings, max_connections=max_connections)

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

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
                streamed = StreamedResponse(self.failures, response, deadline, max_response_bytes)
                body = streamed.read()
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
    ) -> Iterator[StreamedResponse]:
        """Open a streamed 2xx response (opening is retried); read it with ``iter_bytes``/``iter_lines``."""
        full_url = self.url_for(url)
        holder: dict[str, Any] = {}

        def attempt() -> StreamedResponse:
            deadline = self._request_deadline()
            cm = self._open(method, full_url, params, headers, json, content, data, deadline)
            response = cm.__enter__()
            holder["cm"] = cm
            return StreamedResponse(self.failures, response, deadline, max_response_bytes)

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
            self.failures.mapped(method, url, deadline),
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
                raise self.failures.from_response(response, deadline)
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

    def _retrying(self, fn: Callable[[], T], method: str, url: str) -> T:
        label = f"{method.upper()} {redact_text(redact_url(url), self.failures.secrets)}"
        return call_with_retries(fn, retry=self.settings.retry, state=self.state, log=self.log, label=label)
