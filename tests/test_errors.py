from __future__ import annotations

import pickle

import pytest

from airflow_provider_flow import errors
from airflow_provider_flow.errors import (
    BODY_EXCERPT_LIMIT,
    FileError,
    FlowConnectionError,
    FlowError,
    FlowFileError,
    FlowLoadError,
    FlowTimeoutError,
    FlowValidationError,
    HttpError,
    InvalidResponseError,
    LlmOutputError,
    NestingTooDeepError,
    PaginationLoopError,
    PartialDeliveryError,
    PathTraversalError,
    ResponseTooLargeError,
)

ERRORS = [
    FlowError("boom", details={"a": 1}, retryable=True),
    FlowValidationError("must be positive", field="config.batch_size", value=-1, details={"hint": "use 100"}),
    FlowTimeoutError("read took too long", phase="read", timeout_seconds=2.5),
    FlowConnectionError("connection reset", url="https://user:pw@api.example.com/x?token=abc"),
    HttpError(
        status_code=429,
        method="get",
        url="https://user:secret@api.example.com/items?api_key=K123&page=2",
        body_excerpt="slow down",
        retry_after=7.0,
        details={"attempts": 3},
    ),
    FileError("disk full", path="out/a.json", operation="write", retryable=True),
    PathTraversalError(requested_path="../../etc/passwd", base="/data/base"),
    ResponseTooLargeError("response body exceeds max_response_bytes=10", details={"limit": 10}),
    InvalidResponseError("body is not JSON", details={"url": "http://api/x"}),
    PartialDeliveryError(
        "batch 3 failed",
        cause=HttpError(status_code=503, method="POST", url="http://api/x", retry_after=2.0),
        details={"accepted_batches": [1, 2]},
    ),
    LlmOutputError("reply still invalid after 2 repairs", details={"record": 4}),
    FlowFileError("flows/a.yaml", ["nodes.x: unknown runtime 'nope'"]),
    FlowLoadError([FlowFileError("flows/a.yaml", ["bad"]), FlowFileError("flows/b.yaml", ["worse"])]),
    PaginationLoopError("page 3 repeats page 1", details={"rule": "repeated_page"}),
    NestingTooDeepError("the response of GET http://api/x", details={"url": "http://api/x"}),
    errors.DeliveryUnknownError("no reply", cause=FlowConnectionError("reset"), details={"u": [1]}, retryable=False),
    errors.OAuth2TokenError("token refused", status_code=400, method="POST", url="http://auth/token", retry_after=None),
]


def comparable(value: object) -> object:
    """An error's state with nested errors (FlowLoadError.errors) as their own state: exceptions compare by id."""
    if isinstance(value, FlowError):
        return (type(value), str(value), {k: comparable(v) for k, v in value.__dict__.items()})
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def test_every_error_class_is_a_flow_error_and_round_trips_here() -> None:
    """A new error class joins ERRORS above, so its pickling (Airflow moves errors between processes) is tested."""
    classes = {getattr(errors, name) for name in errors.__all__} - {errors.BODY_EXCERPT_LIMIT}
    assert all(issubclass(cls, FlowError) for cls in classes)
    assert classes == {type(err) for err in ERRORS}


@pytest.mark.parametrize("err", ERRORS, ids=lambda e: type(e).__name__)
def test_pickle_round_trip_keeps_every_attribute(err: FlowError) -> None:
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert comparable(clone) == comparable(err)
    assert str(clone) == str(err)
    assert clone.is_retryable == err.is_retryable
    assert clone.code == err.code
    assert clone.to_dict() == err.to_dict()


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (422, False),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
    ],
)
def test_http_error_retryability_by_status(status: int, retryable: bool) -> None:
    assert HttpError(status_code=status, method="GET", url="http://x/").is_retryable is retryable


def test_http_error_redacts_url_and_bounds_excerpt() -> None:
    err = HttpError(
        status_code=500,
        method="post",
        url="https://alice:hunter22@api.example.com/v1/items?token=SECRET1&page=3",
        body_excerpt="x" * 5000,
    )
    assert "hunter22" not in err.url and "alice" not in err.url and "SECRET1" not in err.url
    assert "page=3" in err.url and "api.example.com/v1/items" in err.url
    assert len(err.body_excerpt) < BODY_EXCERPT_LIMIT + 50
    assert "SECRET1" not in str(err) and "hunter22" not in str(err)
    assert str(err).startswith("HTTP 500 from POST https://***@api.example.com/v1/items")


def test_messages_name_what_to_fix() -> None:
    err = PathTraversalError(requested_path="../x", base="/base")
    assert "../x" in str(err) and "/base" in str(err) and "relative path" in str(err)
    assert not err.is_retryable and isinstance(err, FileError)
    v = FlowValidationError("must be >= 1", field="config.limit", value=0)
    assert str(v) == "config.limit: must be >= 1" and isinstance(v, ValueError)
    t = FlowTimeoutError("x", phase="connect")
    assert isinstance(t, TimeoutError) and t.is_retryable


def test_retryable_overrides() -> None:
    assert FileError("x", path="p", operation="write").is_retryable is False
    assert FileError("x", path="p", operation="write", retryable=True).is_retryable is True
    assert HttpError(status_code=404, method="GET", url="http://x", retryable=True).is_retryable is True
