from __future__ import annotations

from datetime import timedelta

from airflow.sdk import RetryAction

from airflow_provider_flow.errors import FlowTimeoutError, FlowValidationError, HttpError
from airflow_provider_flow.operators.base import RetryableFlowFailure
from airflow_provider_flow.operators.retry_policy import FlowRetryPolicy


def _wrapped(err):
    try:
        try:
            raise err
        except Exception as inner:
            raise RetryableFlowFailure(str(inner), inner) from inner
    except RetryableFlowFailure as outer:
        return outer


def test_retry_after_becomes_the_airflow_retry_delay() -> None:
    policy = FlowRetryPolicy()
    decision = policy.evaluate(_wrapped(HttpError(status_code=429, method="GET", url="http://h", retry_after=42)), 1, 3)
    assert decision.action is RetryAction.RETRY and decision.retry_delay == timedelta(seconds=42)


def test_retry_after_is_capped() -> None:
    policy = FlowRetryPolicy(max_delay=timedelta(minutes=5))
    err = HttpError(status_code=503, method="GET", url="http://h", retry_after=86400)
    assert policy.evaluate(err, 1, 3).retry_delay == timedelta(minutes=5)


def test_retryable_without_hint_uses_task_delay_and_fatal_fails() -> None:
    policy = FlowRetryPolicy()
    retry = policy.evaluate(_wrapped(FlowTimeoutError("t", phase="read")), 1, 3)
    assert retry.action is RetryAction.RETRY and retry.retry_delay is None
    fail = policy.evaluate(FlowValidationError("x", field="f"), 1, 3)
    assert fail.action is RetryAction.FAIL
    assert policy.evaluate(KeyError("other"), 1, 3).action is RetryAction.DEFAULT


def test_serialization_round_trip() -> None:
    policy = FlowRetryPolicy(max_delay=timedelta(seconds=90))
    assert FlowRetryPolicy.deserialize(policy.serialize()) == policy
