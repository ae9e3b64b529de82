"""Pacing long work: steady progress lines in the task log, and the task's deadline checked as records flow.

A runtime calls :meth:`ProgressReporter.update` as often as it likes (once per record is fine: most calls only
add to counters and count down; the clock is read every few record updates, stride adapted to the rate, and on
every update that carries bytes or pages, which are rare by nature). What a person watching the task log sees:

* a first progress line after :data:`FIRST_LINE_AFTER` seconds (or ``interval`` when shorter), then one every
  ``interval`` seconds while work goes on, never one per page however fast the pages are::

      http.source GET http://api/items: 12,345 records, 4.2 MiB, 3 pages, 1,234 records/s, ~20s left

  ``~Ns left`` appears when the runtime knows the total (records of a referenced input, bytes of the files to
  read). A body still downloading counts its bytes as they arrive (:meth:`ProgressReporter.receiving`), so a
  page that takes 40 s to stream still logs a line every interval;
* exactly one summary line at the end, carrying everything (what went out and where, or the runtime's
  counts such as accepted records)::

      http.source GET http://api/items done: 12,345 records, 4.2 MiB, 3 pages in 10.0s (1,234 records/s) -> out.ndjson

  or, when the node failed after doing part of the work, ``<label> stopped: ...`` with the same fields.

Both formats are stable, so ``grep ' done: '`` over task logs finds every node's summary. The interval is
``interval=`` for a runtime, or the ``FLOW_PROGRESS_INTERVAL`` environment variable (seconds) of the worker for
every node. :func:`paced` is the one loop that counts records and honours the deadline, for every runtime that
streams records; :func:`paced_blocks` does the same a block of records at a time, for runtimes that read and
write in blocks (file.sink, transform), where a layer per record would cost more than the work itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from airflow_provider_flow.core.state import ExecutionState, LoggerLike
from airflow_provider_flow.errors import FlowValidationError

#: How many records pass between two deadline checks (cheap, but not free per record).
DEADLINE_CHECK_EVERY = 1000

#: Seconds between two progress lines, unless ``interval=`` or ``FLOW_PROGRESS_INTERVAL`` says otherwise.
DEFAULT_INTERVAL = 10.0

#: The environment variable a deployment sets to change the pace of every node's progress lines.
INTERVAL_ENV = "FLOW_PROGRESS_INTERVAL"

#: The first line comes this soon (a person who just opened the log sees the task moving), then every interval.
FIRST_LINE_AFTER = 3.0

#: At most this many record-only updates pass between two clock reads: bounds the delay of a line when records
#: suddenly slow down (cache hits first, then slow model calls) to this many records.
MAX_STRIDE = 32

#: The clock is meant to be read about this often (seconds) while records stream fast.
_CHECK_SPACING = 0.05

#: The clock reporters read unless given one: a test of a whole node swaps it for one it moves by hand.
CLOCK: Callable[[], float] = time.monotonic


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover - the loop returns at GiB


def _human_duration(seconds: float) -> str:
    """``20s``, ``12m``, ``3h 05m``: an estimate is rounded to what a person can use."""
    if seconds < 100:
        return f"{seconds:.0f}s"
    minutes = round(seconds / 60)
    if minutes < 100:
        return f"{minutes}m"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _clock_time(seconds: float) -> str:
    """``3m 05s``, ``2h 04m``: how long a finished run took, for the summary line."""
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def counted(count: int, noun: str) -> str:
    """``1 record``, ``12,345 records``, ``1 batch``, ``3 batches``: log lines a person reads say it right."""
    if count == 1:
        return f"{count} {noun}"
    plural = noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s"
    return f"{count:,} {plural}"


def interval_from_env(environ: dict[str, str] | None = None) -> float:
    """``FLOW_PROGRESS_INTERVAL`` as seconds, or :data:`DEFAULT_INTERVAL` when unset."""
    raw = (os.environ if environ is None else environ).get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86_400:  # also false for nan
        raise FlowValidationError(
            f"{raw!r} is not a number of seconds between 0 and 86400; set it to the seconds between progress "
            "lines (e.g. 10) or unset it",
            field=INTERVAL_ENV,
            value=raw,
        )
    return value


class ProgressReporter:
    """Counts records, bytes and pages (or the unit a runtime sends in, e.g. batches), logged at a bounded pace.

    ``total_records`` / ``total_bytes``: what the whole run will amount to, when the runtime knows it, for the
    ``~Ns left`` estimate (a runtime whose output count differs from its input, a filter say, counts its input
    with :meth:`track_input` instead). ``details``: called for the summary line, for counts only the runtime
    knows (tokens spent, records repaired). ``clock``: a monotonic clock (default :data:`CLOCK`); a test injects
    one to move time by hand.
    """

    def __init__(
        self,
        log: LoggerLike,
        label: str,
        *,
        interval: float | None = None,
        page_noun: str = "page",
        total_records: int | None = None,
        total_bytes: int | None = None,
        details: Callable[[], str | None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.log = log
        self.label = label
        self.interval = interval_from_env() if interval is None else interval
        self.page_noun = page_noun
        self.total_records = total_records
        self.total_bytes = total_bytes
        self.details = details
        self.total_input: int | None = None
        self.inputs = 0  # records read from the input, when the runtime tracks them (track_input)
        self.records = 0
        self.bytes = 0
        self.pages = 0
        self.finished = False
        self._live_bytes = 0  # of a body still downloading, not yet in ``bytes``
        self._clock = clock or CLOCK
        self._started = self._clock()
        self._next_line = self._started + min(FIRST_LINE_AFTER, self.interval)
        self._stride = 1
        self._countdown = self._stride
        self._updates = 0  # record-only updates up to the last clock read (for the stride)

    # -- counting ---------------------------------------------------------------------------------------------

    def update(self, *, records: int = 0, bytes: int = 0, pages: int = 0) -> None:
        """Add to the counters; log a progress line when one is due. Cheap enough to call once per record."""
        self.records += records
        self._countdown -= 1
        if bytes or pages:  # rare (a chunk, a page, a batch): always worth a look at the clock
            self.bytes += bytes
            self.pages += pages
            self._tick()
        elif self._countdown <= 0:
            self._tick()

    def add_record(self) -> None:
        """``update(records=1)`` for the per-record loops (:func:`paced`): the cheapest call there is."""
        self.records += 1
        self._countdown -= 1
        if self._countdown <= 0:
            self._tick()

    def track_input(self, records: Iterable[Any], total: int | None) -> Iterator[Any]:
        """``records`` as they are read, counted against their known ``total`` (None: unknown): the estimate of
        a runtime that drops or adds records follows what it has read, and lines show ``40% of input``."""
        self.total_input = total
        for record in records:
            self.inputs += 1
            self._countdown -= 1  # a filter may let nothing out for long: reading alone keeps the lines coming
            if self._countdown <= 0:
                self._tick()
            yield record

    def add_input(self, count: int) -> None:
        """:meth:`track_input` for a runtime that reads a block of ``count`` records at a time (set
        ``total_input`` first when the total is known): one count and one countdown step per block."""
        self.inputs += count
        self._countdown -= 1
        if self._countdown <= 0:
            self._tick()

    def receiving(self, bytes_so_far: int) -> None:
        """Bytes of a body still downloading (absolute: a retried request starts again at 0). Shown in progress
        lines and the estimate, counted for good only when the runtime calls ``update(bytes=...)`` for the body."""
        self._live_bytes = bytes_so_far
        self._tick()

    def received(self) -> None:
        """The body being downloaded is complete (or abandoned): its bytes no longer count as in flight."""
        self._live_bytes = 0

    def _tick(self) -> None:
        now = self._clock()
        self._updates += self._stride - max(self._countdown, 0)
        elapsed = now - self._started
        if elapsed >= _CHECK_SPACING:  # too early, and a fast first burst would set a long stride
            self._stride = max(1, min(MAX_STRIDE, int(self._updates / elapsed * _CHECK_SPACING)))
        self._countdown = self._stride
        if now >= self._next_line:
            self._next_line = now + self.interval
            self.log.info("%s: %s", self.label, self.progress_text(now))

    # -- wording ----------------------------------------------------------------------------------------------

    def _counts(self, bytes_shown: int) -> list[str]:
        parts = [counted(self.records, "record")]
        if bytes_shown:
            parts.append(_human_bytes(bytes_shown))
        if self.pages:
            parts.append(counted(self.pages, self.page_noun))
        return parts

    def _rate(self, elapsed: float, bytes_shown: int) -> str:
        if self.records or not bytes_shown:
            rate = self.records / elapsed
            return f"{rate:,.1f} records/s" if rate < 10 else f"{rate:,.0f} records/s"  # 0.4/s is not 0/s
        return f"{_human_bytes(bytes_shown / elapsed)}/s"

    def _left(self, elapsed: float, bytes_shown: int) -> str | None:
        """Seconds left at the pace so far: from the input read, the records or the bytes, whichever has a total."""
        known = ((self.inputs, self.total_input), (self.records, self.total_records), (bytes_shown, self.total_bytes))
        for done, total in known:
            if total and 0 < done <= total:
                return f"~{_human_duration((total - done) * elapsed / done)} left"
        return None

    def progress_text(self, now: float | None = None) -> str:
        """``12,345 records, 4.2 MiB, 3 pages, 1,234 records/s, ~20s left``."""
        elapsed = max((self._clock() if now is None else now) - self._started, 1e-9)
        shown = self.bytes + self._live_bytes
        parts = [*self._counts(shown), self._rate(elapsed, shown)]
        if self.total_input:
            parts.append(f"{min(self.inputs / self.total_input, 1):.0%} of input")
        left = self._left(elapsed, shown)
        if left is not None:
            parts.append(left)
        return ", ".join(parts)

    def summary(self, output: str | None = None, details: str | None = None) -> str:
        """``12,345 records, 4.2 MiB, 3 pages in 10.0s (1,234 records/s) -> <output>; <details>``."""
        elapsed = max(self._clock() - self._started, 1e-9)
        took = f"{elapsed:.1f}s" if elapsed < 100 else _clock_time(elapsed)
        text = f"{', '.join(self._counts(self.bytes))} in {took} ({self._rate(elapsed, self.bytes)})"
        if output:
            text += f" -> {output}"
        if details:
            text += f"; {details}"
        return text

    def finish(self, output: str | None = None, details: str | None = None) -> None:
        """Log the one summary line (``<label> done: ...``); later calls log nothing, so only one ever appears."""
        self._end("done", output, details)

    def stopped(self, details: str | None = None) -> None:
        """The summary line of a run that failed part-way (``<label> stopped: ...``): what was done, what it cost."""
        self._end("stopped", None, details)

    def _end(self, word: str, output: str | None, details: str | None) -> None:
        if self.finished:
            return
        self.finished = True
        self._live_bytes = 0
        if details is None and self.details is not None:
            details = self.details()
        self.log.info("%s %s: %s", self.label, word, self.summary(output, details))


def paced(
    records: Iterable[Any], state: ExecutionState, phase: str, progress: ProgressReporter | None = None
) -> Iterator[Any]:
    """Yield records while honouring the task's deadline (and counting them for ``progress``, when given)."""
    count = None if progress is None else progress.add_record
    for index, record in enumerate(records):
        if index % DEADLINE_CHECK_EVERY == 0:
            state.check_deadline(phase)
        if count is not None:
            count()
        yield record


def paced_blocks(
    blocks: Iterable[tuple[list[Any], Any]],
    state: ExecutionState,
    phase: str,
    progress: ProgressReporter | None = None,
    *,
    as_input: bool = False,
) -> Iterator[tuple[list[Any], Any]]:
    """:func:`paced` a block of records at a time (``(records, anything)`` pairs, e.g.
    :func:`~airflow_provider_flow.records.input.input_blocks`): the deadline checked before each block, its records
    counted in ``progress`` once the block is handed on, or with ``as_input`` as input read
    (:meth:`ProgressReporter.add_input`) as it is read. A block is at most about a MiB of input (or a thousand
    inline records), so lines keep their pace and their content."""
    for block in blocks:
        state.check_deadline(phase)
        if progress is None:
            yield block
        elif as_input:
            progress.add_input(len(block[0]))
            yield block
        else:
            yield block
            progress.update(records=len(block[0]))  # once written: the count never runs ahead of the output
