"""An Airflow retry policy that understands flow errors (Airflow >= 3.3).

Exception translation in the base operator already decides retry-or-fail on every Airflow 3 version. This
policy adds what translation alone cannot: the *delay* of the Airflow retry. When an API answered 429 with a
``Retry-After`` longer than the in-task retry budget, the runtime gives up the worker slot and this policy makes
Airflow wait exactly that long before the next try, instead of the task's fixed ``retry_delay``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_flow.airflow_compat import RetryDecision, RetryPolicy
from airflow_provider_flow.errors import FlowError

if TYPE_CHECKING:
    from airflow.sdk import Context


def find_flow_error(exception: BaseException | None) -> FlowError | None:
    """The FlowError behind an exception: itself, or one in its ``__cause__``/``__context__`` chain."""
    seen: set[int] = set()
    while exception is not None and id(exception) not in seen:
        if isinstance(exception, FlowError):
            return exception
        seen.add(id(exception))
        exception = exception.__cause__ or exception.__context__
    return None


class FlowRetryPolicy(RetryPolicy):
    """Fail non-retryable flow errors at once; delay retryable ones by the server's ``Retry-After``.

    Errors that are not flow errors fall through to the task's standard retry settings.
    ``max_delay`` bounds a hostile or mistaken ``Retry-After`` (a day-long value would otherwise park the task).
    """

    def __init__(self, max_delay: timedelta = timedelta(hours=1)) -> None:
        self.max_delay = max_delay

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        error = find_flow_error(exception)
        if error is None:
            return RetryDecision.default()
        if not error.is_retryable:
            return RetryDecision.fail(reason=f"{error.code} is not retryable: {error.message}"[:500])
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = min(timedelta(seconds=float(retry_after)), self.max_delay)
            return RetryDecision.retry(
                delay=delay, reason=f"{error.code}: server asked to retry after {delay.total_seconds():g}s"
            )
        return RetryDecision.retry(reason=f"{error.code} is retryable: {error.message}"[:500])

    def serialize(self) -> dict[str, Any]:
        return {"__type": "FlowRetryPolicy", "max_delay": self.max_delay.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> FlowRetryPolicy:
        return cls(max_delay=timedelta(seconds=float(data.get("max_delay", 3600))))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FlowRetryPolicy) and other.max_delay == self.max_delay

    def __hash__(self) -> int:
        return hash(("FlowRetryPolicy", self.max_delay))
