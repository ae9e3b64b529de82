"""Where each record of a delivery ended up, by record index range: accepted, failed, unknown or never sent.

A sink that fails partway must tell its user exactly what the receiving API holds, or a rerun either duplicates
records or loses them. Four outcomes, because "sent" is not "accepted":

* **accepted**: the API answered 2xx.
* **failed**: the API answered and refused the batch (non-2xx), or it was refused on its way (a redirect).
* **unknown**: the request was written but no reply came (connection dropped, read timeout): the API may hold it.
  Never counted as accepted (it may be missing) nor as failed (it may be there).
* **never sent**: the request never left (connection refused, pool timeout), or the batch was never started.

Ranges are ``[first, last]`` record indexes (0-based, inclusive, merged when adjacent); an open tail is
``[first, None]``: the input was not read further, so its end is not known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_flow.errors import FlowError

Problem = Literal["failed", "unknown", "never_sent"]
Range = list[Any]  # [first, last]; last is None for an open tail


@dataclass
class BatchSpan:
    """One batch's place in the input: its index and the records it holds."""

    index: int
    first: int  # index of its first record in the input
    count: int  # records in the batch

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    def describe(self) -> str:
        return f"batch {self.index} (records {self.first}-{self.last})"


def merged_ranges(spans: Iterable[BatchSpan], open_from: int | None = None) -> list[Range]:
    """Merged ``[first, last]`` ranges of ``spans``, plus ``[open_from, None]`` for a tail never read."""
    merged: list[Range] = []
    for span in sorted(spans, key=lambda s: s.first):
        if merged and merged[-1][1] + 1 == span.first:
            merged[-1][1] = span.last
        else:
            merged.append([span.first, span.last])
    if open_from is not None:
        if merged and merged[-1][1] + 1 == open_from:
            merged[-1][1] = None
        else:
            merged.append([open_from, None])
    return merged


def format_ranges(ranges: list[Range]) -> str:
    """``records 0-19, 40, from 60 on`` (or ``none``), for messages and logs."""
    parts = [f"from {a} on" if b is None else (f"{a}-{b}" if a != b else str(a)) for a, b in ranges]
    return f"records {', '.join(parts)}" if parts else "none"


@dataclass
class DeliveryLedger:
    """The outcome of every batch of one delivery, and the records no batch was built for."""

    accepted: list[BatchSpan] = field(default_factory=list)
    problems: list[tuple[Problem, BatchSpan, FlowError]] = field(default_factory=list)
    unread_from: int | None = None
    """First record never read into a batch (None once the input was read to its end)."""

    def spans(self, outcome: Problem) -> list[BatchSpan]:
        return [span for kind, span, _ in self.problems if kind == outcome]

    def ranges(self, outcome: Problem | Literal["accepted"]) -> list[Range]:
        if outcome == "accepted":
            return merged_ranges(self.accepted)
        return merged_ranges(self.spans(outcome), self.unread_from if outcome == "never_sent" else None)

    @property
    def accepted_records(self) -> int:
        return sum(span.count for span in self.accepted)

    def first_problem(self) -> tuple[Problem, BatchSpan, FlowError]:
        return min(self.problems, key=lambda problem: problem[1].index)

    def summary(self) -> str:
        """One sentence listing every outcome's record ranges."""
        return (
            f"Accepted before the failure: {len(self.accepted)} batches, {self.accepted_records} records (record "
            f"ranges {format_ranges(self.ranges('accepted')).removeprefix('records ')}); outcome unknown (sent, no "
            f"reply): {format_ranges(self.ranges('unknown'))}; failed: {format_ranges(self.ranges('failed'))}; "
            f"never sent: {format_ranges(self.ranges('never_sent'))}."
        )

    def details(self) -> dict[str, Any]:
        """JSON-safe details for the error: ranges and per-batch errors of every outcome."""

        def batches(outcome: Problem) -> list[dict[str, Any]]:
            # a copy of each error's details: the first error may receive this very dict (no cycle, JSON-safe)
            return [
                {"batch": s.index, "records": [s.first, s.last], "error": {**e.to_dict(), "details": dict(e.details)}}
                for kind, s, e in sorted(self.problems, key=lambda problem: problem[1].index)
                if kind == outcome
            ]

        return {
            "accepted_records": self.accepted_records,
            "accepted_batches": sorted(span.index for span in self.accepted),
            "accepted_record_ranges": self.ranges("accepted"),
            "unknown_batches": batches("unknown"),
            "unknown_record_ranges": self.ranges("unknown"),
            "failed_batches": batches("failed"),
            "failed_record_ranges": self.ranges("failed"),
            "never_sent_batches": batches("never_sent"),
            "never_sent_record_ranges": self.ranges("never_sent"),
        }
