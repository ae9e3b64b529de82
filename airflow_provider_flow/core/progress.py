"""Pacing long work: steady progress lines in the task log, and the task's deadline checked as records flow.

A runtime calls :meth:`ProgressReporter.update` as often as it likes; a line is logged at most every
``interval`` seconds, plus one final summary, so a user watching a long task in the Airflow UI sees a steady pace
without a flood. :func:`paced` is the one loop that counts records and honours the deadline, for every runtime
that streams records.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_flow.core.state import ExecutionState, LoggerLike

#: How many records pass between two deadline checks (cheap, but not free per record).
DEADLINE_CHECK_EVERY = 1000


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def counted(count: int, noun: str) -> str:
    """``1 record``, ``2 records``, ``1 batch``, ``3 batches``: log lines a person reads say it right."""
    if count == 1:
        return f"{count} {noun}"
    plural = noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s"
    return f"{count} {plural}"


class ProgressReporter:
    """Counts records, bytes and pages (or the unit a runtime sends in, e.g. batches), logged at a bounded pace."""

    def __init__(self, log: LoggerLike, label: str, *, interval: float = 10.0, page_noun: str = "page") -> None:
        self.log = log
        self.label = label
        self.interval = interval
        self.page_noun = page_noun
        self.records = 0
        self.bytes = 0
        self.pages = 0
        self._started = time.monotonic()
        self._last_logged = self._started

    def update(self, *, records: int = 0, bytes: int = 0, pages: int = 0) -> None:
        self.records += records
        self.bytes += bytes
        self.pages += pages
        now = time.monotonic()
        if now - self._last_logged >= self.interval:
            self._last_logged = now
            self.log.info("%s: %s", self.label, self.summary())

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        parts = [f"{counted(self.records, 'record')} ({self.records / elapsed:.0f}/s)"]
        if self.bytes:
            parts.append(f"{_human_bytes(self.bytes)} ({_human_bytes(self.bytes / elapsed)}/s)")
        if self.pages:
            parts.append(counted(self.pages, self.page_noun))
        parts.append(f"{elapsed:.1f}s elapsed")
        return ", ".join(parts)

    def finish(self) -> None:
        self.log.info("%s done: %s", self.label, self.summary())


def paced(
    records: Iterable[Any], state: ExecutionState, phase: str, progress: ProgressReporter | None = None
) -> Iterator[Any]:
    """Yield records while honouring the task's deadline (and counting them for ``progress``, when given)."""
    for index, record in enumerate(records):
        if index % DEADLINE_CHECK_EVERY == 0:
            state.check_deadline(phase)
        if progress is not None:
            progress.update(records=1)
        yield record
