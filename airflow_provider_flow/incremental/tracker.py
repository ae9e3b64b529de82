"""One incremental run: where it starts, what it asks the API for, which records it keeps, what it proposes.

The tracker never stores anything. It starts from the watermark the operator read (``committed``), and its
:meth:`WatermarkTracker.outcome` is the *candidate* that travels with the run's output; the commit step after
the sinks makes it the committed watermark. So a run whose records never reach their destination moves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_flow.core.state import LoggerLike
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.expressions import compile_expression
from airflow_provider_flow.incremental.config import IncrementalConfig
from airflow_provider_flow.incremental.cursor import CursorValue, cursor_value, quick_key

#: The XCom key under which a source publishes its watermark outcome, next to its ``return_value``.
WATERMARK_XCOM_KEY = "flow_watermark"


class WatermarkTracker:
    """Follows the cursor over one run's records (see the module docstring)."""

    def __init__(self, config: IncrementalConfig, committed: Any, log: LoggerLike) -> None:
        self.config = config
        self.log = log
        self.cursor = compile_expression(config.cursor, field="incremental.cursor")
        self.window = config.end_value is not None
        self.committed = None if self.window else committed
        use_committed = committed is not None and not config.full_refresh and not self.window
        self.start: CursorValue | None = (
            cursor_value(committed, field="stored watermark") if use_committed else config.start_value()
        )
        self.since = self.start.shifted_back(config.lag, field="incremental.lag") if self.start else None
        self.end = cursor_value(config.end_value, field="incremental.end_value") if self.window else None
        self._highest: tuple[Any, Any] | None = None  # (raw, key) of the highest cursor so far
        known = self.start or self.end
        self._kind = known.kind if known is not None else None
        self.records = 0
        self.dropped_after_end = 0

    def request_params(self, params: dict[str, Any] | None) -> dict[str, Any] | None:
        """The configured query parameters plus the incremental ones (``param`` = since, ``end_param`` = end)."""
        merged = dict(params or {})
        if self.config.param and self.since is not None:
            merged[self.config.param] = self.since.raw
        if self.config.end_param and self.end is not None:
            merged[self.config.end_param] = self.end.raw
        return merged or None

    def announce(self) -> None:
        """The run's first log line about state: where it fetches from, and why."""
        if self.window:
            self.log.info(
                "incremental: fetching the window [%s, %s) (end_value set: the watermark is neither read nor moved)",
                self.since.raw if self.since else "the beginning",
                self.end.raw if self.end else None,
            )
        elif self.since is None:
            reason = "full refresh" if self.config.full_refresh else "no watermark committed yet"
            self.log.info("incremental: fetching everything (%s; cursor %s)", reason, self.config.cursor)
        else:
            origin = "full refresh from initial_value" if self.config.full_refresh else "committed watermark"
            if self.start is not None and self.committed is None and not self.config.full_refresh:
                origin = "initial_value, no watermark committed yet"
            lag = f", minus lag {self.config.lag:g}" if self.config.lag else ""
            start = self.start.raw if self.start else None
            self.log.info("incremental: fetching since %s (%s %s%s)", self.since.raw, origin, start, lag)

    def observe(self, records: Iterable[Any]) -> Iterator[Any]:
        """Pass records on, tracking the highest cursor; records at or after ``end_value`` are dropped."""
        search, end_key = self.cursor.search, self.end.key if self.end is not None else None
        for index, record in enumerate(records):
            raw = search(record, index=index)
            if raw is None:
                keys = sorted(record)[:20] if isinstance(record, dict) else type(record).__name__
                raise FlowValidationError(
                    f"record {index} has no value at cursor {self.config.cursor!r} (its keys: {keys}); every record "
                    "needs one to be loaded incrementally: fix cursor, or add the field in the API's response",
                    field="incremental.cursor",
                    value=self.config.cursor,
                )
            quick = quick_key(raw)
            if quick is None or (self._kind is not None and quick[0] != self._kind):
                self._refuse(raw, index)
            kind, key = quick  # type: ignore[misc]  # _refuse raised for None
            self._kind = kind
            if end_key is not None and key >= end_key:
                self.dropped_after_end += 1
                continue
            if self._highest is None or key > self._highest[1]:
                self._highest = (raw, key)
            self.records += 1
            yield record

    def _refuse(self, raw: Any, index: int) -> None:
        """Raise the error for a cursor value that is invalid, or of another kind than those seen before."""
        where = f"incremental.cursor (record {index})"
        value = cursor_value(raw, field=where)
        reference = self.highest or self.start or self.end
        assert reference is not None  # a valid value is refused only for differing from one seen before
        reference.check_comparable(value, field=where)

    @property
    def highest(self) -> CursorValue | None:
        """The highest cursor value passed on so far."""
        if self._highest is None:
            return None
        return CursorValue(self._highest[0], self._kind or "string", self._highest[1])

    def outcome(self) -> dict[str, Any]:
        """The candidate watermark and how it came about (the ``flow_watermark`` XCom; the commit step reads it).

        ``candidate`` is None when nothing should be committed: a window run, or no record beyond the start.
        """
        candidate = None
        moved = self.highest is not None and (
            self.config.full_refresh or self.start is None or self.highest.key > self.start.key
        )
        if moved and not self.window and self.highest is not None:
            candidate = self.highest.raw
        result = {
            "cursor": self.config.cursor,
            "previous": self.committed,
            "since": self.since.raw if self.since else None,
            "candidate": candidate,
            "records": self.records,
            "full_refresh": self.config.full_refresh,
            "window": self.window,
        }
        if self.dropped_after_end:
            result["dropped_after_end_value"] = self.dropped_after_end
        if candidate is None:
            self.log.info(
                "incremental: %d records; the watermark stays at %s",
                self.records,
                self.committed if not self.window else "(not used in a window run)",
            )
        else:
            self.log.info(
                "incremental: %d records; candidate watermark %s (committed after the sinks publish)",
                self.records,
                candidate,
            )
        return result
