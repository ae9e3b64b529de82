"""The one vocabulary of failure: every error the package raises on purpose is defined here.

Every runtime raises a :class:`FlowError` (or a subclass) and nothing else for failures it understands; anything
else is a bug. The base operator reads :attr:`FlowError.is_retryable` to decide, in one place, whether Airflow
should retry the task or fail it at once (``operators/base.py`` turns the decision into Airflow's exceptions; no
module below it imports Airflow). Errors are pickled when Airflow moves them between processes, so every class
here rebuilds itself from its attribute dict rather than from constructor arguments (the default ``Exception``
pickling replays only positional ``args`` and would drop keyword-only ones).

The hierarchy (retryable by default marked ``R``; ``is_retryable`` may still say otherwise per instance)::

    FlowError
    ├── FlowValidationError (ValueError)     bad config or input: same input, same failure
    │   ├── FlowFileError                    everything wrong with one flow file
    │   └── FlowLoadError                    every invalid flow file of one loader call (the DAG import error)
    ├── FlowTimeoutError (TimeoutError)   R  a phase or the task's deadline passed
    ├── FlowConnectionError (ConnectionError)  R  peer unreachable, connection dropped
    ├── HttpError                            non-2xx; R for 408, 429 and 5xx; carries ``retry_after``
    ├── ResponseTooLargeError                a body past ``max_response_bytes``
    ├── InvalidResponseError                 a 2xx body that cannot be used (not JSON, wrong shape)
    ├── PartialDeliveryError                 some sink batches accepted before one failed; as retryable as the cause
    │   └── DeliveryUnknownError             a sink batch was sent but no reply came; R only if resending is safe
    ├── LlmOutputError                       a model reply still invalid after every repair
    └── FileError                            a filesystem operation failed; R for ENOSPC, EIO and the like
        └── PathTraversalError               a path that would leave its base; never retryable
    Added since, below the classes above:
    ├── FlowValidationError
    │   └── NestingTooDeepError              JSON nested deeper than can be parsed or walked
    ├── InvalidResponseError
    │   └── PaginationLoopError              pagination went in a circle (a repeated request or page); never R
    └── HttpError
        └── OAuth2TokenError                 the OAuth2 token endpoint refused a token; R as its status says
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.redaction import redact_url

#: How much of a response body an HttpError keeps: enough to read an API's error message, never a whole payload.
BODY_EXCERPT_LIMIT = 500


def _rebuild(cls: type[FlowError], args: tuple[Any, ...], state: dict[str, Any]) -> FlowError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class FlowError(Exception):
    """Base of every failure a runtime reports.

    ``code`` is stable (safe to match on in callbacks and alerts); ``details`` carries structured context for
    logs and XCom (never secrets); ``retryable`` overrides the class default when the raiser knows better.
    """

    code: str = "flow_error"
    retryable_by_default: bool = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self._retryable = retryable

    @property
    def is_retryable(self) -> bool:
        """Whether running the same task again can plausibly succeed."""
        return self.retryable_by_default if self._retryable is None else self._retryable

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary for logs, callbacks and XCom."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "message": self.message,
            "retryable": self.is_retryable,
            "details": self.details,
        }


class FlowValidationError(FlowError, ValueError):
    """Invalid configuration or input: the same input fails the same way on every try."""

    code = "validation_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.field = field
        self.value = value
        prefix = f"{field}: " if field else ""
        super().__init__(f"{prefix}{message}", details=details, retryable=False)


class FlowTimeoutError(FlowError, TimeoutError):
    """A deadline passed (``phase`` says which: connect, read, write, pool, deadline, ...)."""

    code = "timeout"
    retryable_by_default = True

    def __init__(
        self,
        message: str,
        *,
        phase: str,
        timeout_seconds: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.phase = phase
        self.timeout_seconds = timeout_seconds
        super().__init__(message, details=details)


class FlowConnectionError(FlowError, ConnectionError):
    """The peer could not be reached or dropped the connection: the network may be fine on the next try."""

    code = "connection_error"
    retryable_by_default = True

    def __init__(self, message: str, *, url: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.url = redact_url(url) if url else None
        super().__init__(message, details=details)


class HttpError(FlowError):
    """An HTTP response with a non-success status.

    The URL is stored redacted and the body only as a bounded excerpt, so the error can be logged, pickled
    and pushed to XCom without leaking credentials or megabytes of payload.
    """

    code = "http_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        method: str,
        url: str,
        body_excerpt: str | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.status_code = status_code
        self.method = method.upper()
        self.url = redact_url(url)
        excerpt = body_excerpt or ""
        if len(excerpt) > BODY_EXCERPT_LIMIT:
            excerpt = excerpt[:BODY_EXCERPT_LIMIT] + f"... [{len(body_excerpt or '') - BODY_EXCERPT_LIMIT} more chars]"
        self.body_excerpt = excerpt
        self.retry_after = retry_after
        if message is None:
            message = f"HTTP {status_code} from {self.method} {self.url}"
            if excerpt:
                message += f": {excerpt}"
            if retry_after is not None:
                message += f" (Retry-After: {retry_after:g}s)"
        super().__init__(message, details=details, retryable=retryable)

    @property
    def is_retryable(self) -> bool:
        if self._retryable is not None:
            return self._retryable
        return self.status_code in (408, 429) or self.status_code >= 500


class FileError(FlowError):
    """A filesystem operation failed (``operation``: read, write, rename, mkdir, ...)."""

    code = "file_error"

    def __init__(
        self,
        message: str,
        *,
        path: str,
        operation: str,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.path = path
        self.operation = operation
        super().__init__(message, details=details, retryable=retryable)


class PathTraversalError(FileError):
    """A requested path would leave its base directory. Never retryable: the input itself is refused."""

    code = "path_traversal"

    def __init__(
        self,
        message: str | None = None,
        *,
        requested_path: str,
        base: str,
        reason: str = "resolves outside the base directory",
        operation: str = "resolve",
    ) -> None:
        self.requested_path = requested_path
        self.base = base
        self.reason = reason
        if message is None:
            message = (
                f"Refused path {requested_path!r}: {reason} (base directory {base!r}). "
                "Use a relative path that stays inside the base directory."
            )
        super().__init__(message, path=requested_path, operation=operation, retryable=False)

    @property
    def is_retryable(self) -> bool:
        return False


class ResponseTooLargeError(FlowError):
    """A response body grew past ``max_response_bytes``: the same request would do it again, so no retry."""

    code = "response_too_large"


class InvalidResponseError(FlowError):
    """A 2xx response whose body cannot be used (not JSON, wrong shape)."""

    code = "invalid_response"


class PartialDeliveryError(FlowError):
    """Some sink batches were accepted before one failed; ``details`` lists exactly which.

    Retryable when the failure behind it is; ``retry_after`` is carried over so the Airflow retry policy can wait
    as long as the API asked.
    """

    code = "partial_delivery"

    def __init__(self, message: str, *, cause: FlowError, details: dict[str, Any]) -> None:
        self.retry_after = getattr(cause, "retry_after", None)
        super().__init__(message, details=details, retryable=cause.is_retryable)


class LlmOutputError(FlowError):
    """The model's reply stayed invalid after every repair attempt (``on_invalid='fail'``)."""

    code = "llm_invalid_output"


class FlowFileError(FlowValidationError):
    """Everything wrong with one flow file, as one error; ``problems`` holds one line per problem."""

    code = "flow_file_invalid"

    def __init__(self, path: str, problems: list[str]) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"invalid flow file {path}: {len(problems)} {noun}\n{lines}", value=path)
        self.path = path
        self.problems = list(problems)


class FlowLoadError(FlowValidationError):
    """One or more flow files are invalid; the message lists every problem of every file."""

    code = "flow_load_failed"

    def __init__(self, errors: list[FlowFileError]) -> None:
        super().__init__("\n".join(err.message for err in errors))
        self.errors = list(errors)


class PaginationLoopError(InvalidResponseError):
    """Pagination went in a circle: a next request already made, or a page with the records of an earlier one.

    A server bug, not a transient condition: the same requests return the same pages, so retrying would loop
    again. Following the loop would duplicate records, so the task fails instead of stopping quietly.
    ``details["rule"]`` says which rule stopped it (``repeated_request`` or ``repeated_page``).
    """

    code = "pagination_loop"

    @property
    def is_retryable(self) -> bool:
        return False


class NestingTooDeepError(FlowValidationError):
    """JSON (or a value computed from it) nested deeper than Python can parse or walk (a plain RecursionError
    would be retried by Airflow as if it were a bug).

    Bad input: the same data nests as deeply on every try. The message names where the data came from (a redacted
    URL, a file and line, an LLM reply, a record and the expression walking it).
    """

    code = "nesting_too_deep"

    def __init__(self, source: str, *, field: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.source = source
        super().__init__(
            f"{source} nests JSON arrays/objects too deeply to process; flatten the data (or filter such records "
            "out at the source)",
            field=field,
            value=source,
            details={"source": source, **(details or {})},
        )


__all__ = [
    "BODY_EXCERPT_LIMIT",
    "FileError",
    "FlowConnectionError",
    "FlowError",
    "FlowFileError",
    "FlowLoadError",
    "FlowTimeoutError",
    "FlowValidationError",
    "HttpError",
    "InvalidResponseError",
    "LlmOutputError",
    "NestingTooDeepError",
    "PaginationLoopError",
    "PartialDeliveryError",
    "PathTraversalError",
    "ResponseTooLargeError",
]


class DeliveryUnknownError(PartialDeliveryError):
    """A sink batch was written to the API but its reply never came (dropped connection, read timeout).

    The API may hold it or not: it is reported as unknown, never as accepted or failed. Retryable only when
    resending is safe (each batch carries an idempotency key, or the user opted in to resending).
    """

    code = "delivery_unknown"

    def __init__(self, message: str, *, cause: FlowError, details: dict[str, Any], retryable: bool) -> None:
        super().__init__(message, cause=cause, details=details)
        self._retryable = retryable


__all__ += ["DeliveryUnknownError"]


class OAuth2TokenError(HttpError):
    """The OAuth2 token endpoint answered a token request with an error status.

    Retryable like any :class:`HttpError` of that status (5xx, 429 with ``Retry-After``, 408); a 400/401/403 (a
    wrong client id or secret, an unknown scope) fails the same way on every try. The message names the redacted
    token URL, the endpoint's OAuth2 ``error``/``error_description`` and the fix, never the secret or a token.
    """

    code = "oauth2_token_error"


__all__ += ["OAuth2TokenError"]
