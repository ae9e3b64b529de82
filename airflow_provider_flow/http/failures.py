"""The mapping of everything that can go wrong on the wire onto flow errors, with secrets scrubbed from the text.

One place decides what a transport failure means for retries: timeouts (``phase`` connect/read/write/pool, or
``deadline`` for the overall limit) and dropped connections are retryable; an invalid URL, a non-ASCII header,
a header value httpx refuses to send (CR/LF: its message would print the value, so it is never quoted), a
body that cannot be decoded, too many redirects and an untrusted certificate fail the same way on every try, so
they are not. Non-2xx responses become :class:`HttpError` (retryable for 408, 429 and 5xx, with ``Retry-After``).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx

from airflow_provider_flow.errors import (
    BODY_EXCERPT_LIMIT,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    FlowValidationError,
    HttpError,
    InvalidResponseError,
)
from airflow_provider_flow.http.redirects import secret_header_values
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.redaction import redact_text, redact_url

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


class FailureMapper:
    """Translates httpx's exceptions and non-2xx responses for one service (its settings and secrets)."""

    def __init__(self, settings: HttpSettings, secrets: list[str]) -> None:
        self.settings = settings
        self.secrets = secrets

    def from_response(self, response: httpx.Response, deadline: float | None = None) -> HttpError:
        """A non-2xx response as an :class:`HttpError`: status, redacted URL, a bounded and scrubbed body excerpt."""
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
            secrets = [*self.secrets, *secret_header_values(response.request.headers)]
            excerpt = redact_text(raw[: BODY_EXCERPT_LIMIT + 1].decode("utf-8", errors="replace"), secrets)
        except (httpx.HTTPError, OSError):
            excerpt = "<body unreadable>"
        return HttpError(
            status_code=response.status_code,
            method=method,
            url=redact_text(url, self.secrets),
            body_excerpt=excerpt,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )

    @contextmanager
    def mapped(self, method: str, url: str, deadline: float | None = None) -> Iterator[None]:
        """Turn httpx's exceptions into flow errors, with secrets scrubbed from their text."""
        safe_url = redact_text(redact_url(url), self.secrets)
        try:
            yield
        except httpx.TimeoutException as exc:
            if deadline is not None and time.monotonic() >= deadline - 0.01:  # a phase clipped to the deadline
                raise self.deadline_error(method, safe_url, None) from None
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
                f"invalid URL {safe_url!r}: {redact_text(str(exc), self.secrets)}", field="endpoint", value=safe_url
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
                f"({redact_text(str(exc), self.secrets)})",
                details={"url": safe_url, "method": method.upper()},
            ) from None
        except httpx.LocalProtocolError:  # h11 refused what we were about to send; its text holds the bad value
            raise FlowValidationError(
                f"{method.upper()} {safe_url}: the request cannot be sent as HTTP (a header name or value holds a "
                "line break, NUL or another forbidden character); fix the connection's extra headers, the password "
                "or token, or the node's headers (value not shown: it may be a credential)",
                field="headers",
                value=None,
            ) from None
        except httpx.TooManyRedirects:
            raise FlowError(
                f"{method.upper()} {safe_url}: too many redirects", details={"url": safe_url}, retryable=False
            ) from None
        except httpx.TransportError as exc:
            reason = redact_text(str(exc) or type(exc).__name__, self.secrets)
            err = FlowConnectionError(
                f"{method.upper()} {safe_url}: {type(exc).__name__}: {reason}",
                url=url,
                details={"url": safe_url, "method": method.upper()},
            )
            if "CERTIFICATE_VERIFY_FAILED" in reason:  # the same certificate fails the same way next time
                err._retryable = False
            err.url = safe_url
            raise err from None

    def deadline_error(self, method: str, safe_url: str, bytes_read: int | None) -> FlowTimeoutError:
        total = self.settings.timeout.total
        progress = "before the response started" if bytes_read is None else f"after {bytes_read} bytes"
        return FlowTimeoutError(
            f"{method.upper()} {safe_url}: response not complete within the overall deadline "
            f"({total}s per request, or the task's execution_timeout) {progress}; the server is too slow",
            phase="deadline",
            timeout_seconds=total,
            details={"url": safe_url, "bytes_read": bytes_read or 0},
        )
