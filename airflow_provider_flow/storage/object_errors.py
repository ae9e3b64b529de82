"""What an object store's failure means for the task: retry it, or fail at once.

Throttling (``SlowDown``, 503, 429), server errors (5xx), expired temporary credentials (the retry fetches new ones
from the connection) and network failures are transient: they become retryable errors. Access denied, unknown or
badly signed credentials, a missing bucket, an invalid request: the same request meets the same answer on every
try, so they fail the task at once (a missing object is not retryable either: whoever should have written it has
to run again first).

Messages are built from the store's error code and message only, never from the request: a signing error's
response carries the access key id and the string that was signed, so nothing of it is copied, and the
original exception is not chained (``from None``), so Airflow's traceback cannot print it either.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.errors import FileError, FlowConnectionError, FlowError

#: Error codes a later try can plausibly get past.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "ExpiredToken",
        "TokenRefreshRequired",
        "OperationAborted",
        # the body arrived other than it was sent (its checksum or payload hash did not match): send it again
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)

#: Codes that say the credentials or permissions are wrong: named in the message so the fix is obvious.
AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidSecurity",
    }
)

_HINTS = {
    "NoSuchBucket": "the bucket does not exist; create it or fix the base URI",
    "NoSuchKey": "no such object",
    "NoSuchUpload": "the multipart upload is gone (aborted by a cleanup or lifecycle rule?)",
    "PreconditionFailed": "the object already exists (conditional write refused)",
}


def error_code(exc: BaseException) -> tuple[str, int]:
    """``(code, http status)`` of a botocore ``ClientError`` (or ``("", 0)`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", 0
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode") or 0
    code = str(error.get("Code") or "")
    if not code and status:
        code = str(status)
    return code, int(status)


def _is_connection_failure(exc: BaseException) -> bool:
    try:
        from botocore import exceptions as bexc
    except ImportError:  # pragma: no cover - the backend cannot run without botocore
        return isinstance(exc, (ConnectionError, TimeoutError))
    connection_types: tuple[type[BaseException], ...] = (
        bexc.ConnectionError,
        bexc.HTTPClientError,
        ConnectionError,
        TimeoutError,
    )
    return isinstance(exc, connection_types)


def _is_credentials_failure(exc: BaseException) -> bool:
    try:
        from botocore import exceptions as bexc
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError, bexc.UnknownCredentialError))


def object_error(
    exc: BaseException, *, uri: str, operation: str, endpoint: str | None = None, **details: Any
) -> FlowError:
    """Turn a store failure into the package's error for ``operation`` on ``uri`` (see the module docstring)."""
    if isinstance(exc, FlowError):
        return exc
    code, status = error_code(exc)
    if code or status:
        retryable = code in RETRYABLE_CODES or status == 429 or status >= 500
        if code in AUTH_CODES:
            reason = f"the store refused the credentials or permissions of the connection ({code})"
        else:
            reason = _HINTS.get(code) or _store_message(exc) or code
        return FileError(
            f"cannot {operation} {uri!r}: {reason} [{code or status}]",
            path=uri,
            operation=operation,
            details={"code": code, "status": status, **details},
            retryable=retryable,
        )
    if _is_credentials_failure(exc):
        return FileError(
            f"cannot {operation} {uri!r}: no usable credentials; configure the connection's keys or role",
            path=uri,
            operation=operation,
            details={"code": type(exc).__name__, **details},
            retryable=False,
        )
    if _is_connection_failure(exc) or isinstance(exc, OSError):
        return FlowConnectionError(
            f"cannot {operation} {uri!r}: the object store could not be reached ({type(exc).__name__})",
            url=endpoint,
            details={"operation": operation, "path": uri, **details},
        )
    return FileError(
        f"cannot {operation} {uri!r}: {type(exc).__name__}",
        path=uri,
        operation=operation,
        details=details,
        retryable=False,
    )


def _store_message(exc: BaseException) -> str:
    """The store's own message, bounded (it never holds credentials: those are in other fields of the reply)."""
    response = getattr(exc, "response", None) or {}
    message = str((response.get("Error") or {}).get("Message") or "")
    return message[:200]
