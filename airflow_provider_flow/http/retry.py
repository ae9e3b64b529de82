"""The in-task retry loop: exponential backoff with jitter, bounded by attempts and time, honouring Retry-After.

Retrying inside the task is cheap for short blips (a 503 for a second); anything longer is handed to Airflow. A
``Retry-After`` that does not fit what is left of the budget is not waited for: the error is raised at once,
carrying ``retry_after``, and the operators' retry policy makes it the delay of the Airflow retry, so no worker
slot is held while an API asks to wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from airflow_provider_flow.core.state import ExecutionState, LoggerLike
from airflow_provider_flow.errors import FlowError
from airflow_provider_flow.http.settings import RetrySettings

T = TypeVar("T")


def retry_budget(retry: RetrySettings, state: ExecutionState | None) -> float:
    """Seconds of in-task retrying allowed: the retry budget, capped by the task's deadline."""
    budget = retry.max_elapsed
    if state is not None and state.remaining() is not None:
        budget = min(budget, max(0.0, state.remaining() or 0.0))
    return budget


def _wait(retry: RetrySettings) -> Callable[[tenacity.RetryCallState], float]:
    def wait(retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        n = retry_state.attempt_number
        backoff = min(retry.max_backoff, retry.initial_backoff * (2 ** (n - 1)))
        return backoff + random.uniform(0, retry.jitter)

    return wait


def call_with_retries(
    fn: Callable[[], T],
    *,
    retry: RetrySettings,
    state: ExecutionState | None,
    log: LoggerLike,
    label: str | Callable[[], str],
) -> T:
    """Run ``fn``, retrying retryable flow errors within the budget; ``label`` (method and safe URL) names it.

    The first attempt is a plain call: no retry state is built and no label is rendered (``label`` may be a
    callable, so redacting a URL is paid only when a retry is logged) until it fails retryably. A sink sending
    thousands of batches that all succeed pays one function call per batch here."""
    started = time.monotonic()
    budget = retry_budget(retry, state)
    try:
        return fn()
    except FlowError as err:
        if not err.is_retryable:
            raise
        first_failure = err
    return _retry_after_failure(fn, first_failure, retry=retry, log=log, label=label, budget=budget, started=started)


def _retry_after_failure(
    fn: Callable[[], T],
    first_failure: FlowError,
    *,
    retry: RetrySettings,
    log: LoggerLike,
    label: str | Callable[[], str],
    budget: float,
    started: float,
) -> T:
    """The retry loop after a first attempt failed retryably: tenacity sees that failure as its own attempt 1 (so
    attempts are counted, waited for and logged exactly as if it had made it), and the time it took counts
    against the budget."""
    pending = [first_failure]

    def attempt() -> T:
        if pending:
            raise pending.pop()
        return fn()

    def name() -> str:
        return label() if callable(label) else label

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "%s failed on attempt %d of %d (%s); retrying in %.1fs",
            name(),
            retry_state.attempt_number,
            retry.max_attempts,
            exc,
            retry_state.upcoming_sleep,
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: isinstance(e, FlowError) and e.is_retryable),
        stop=tenacity.stop_after_attempt(max(1, retry.max_attempts))
        | tenacity.stop_before_delay(max(0.0, budget - (time.monotonic() - started))),
        wait=_wait(retry),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        result: T = retrying(attempt)
        return result
    except FlowError as err:
        if err.is_retryable:
            retry_after = getattr(err, "retry_after", None)
            left = max(0.0, budget - (time.monotonic() - started))  # what stop_before_delay compared against
            if retry_after is not None and retry_after > left:
                log.warning(
                    "%s: server asked to retry after %.1fs, more than the %.1fs left of the in-task retry "
                    "budget; handing over to an Airflow retry",
                    name(),
                    retry_after,
                    left,
                )
            err.details.setdefault("in_task_attempts", retrying.statistics.get("attempt_number"))
        raise
