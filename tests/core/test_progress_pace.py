"""ProgressReporter's pace, estimate and single summary, on a clock the test moves (issue 15 part 6).

The clock is injected, not mocked: it is the one input of the pacing rules, and a test that waited on the real
clock would be slow and flaky.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_flow.core.progress import (
    FIRST_LINE_AFTER,
    INTERVAL_ENV,
    MAX_STRIDE,
    ProgressReporter,
    interval_from_env,
    paced,
)
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowTimeoutError, FlowValidationError


class FakeClock:
    """A monotonic clock that moves only when told; counts how often it is read."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


class ListLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(str(msg) % args if args else str(msg))

    debug = info = warning = error = exception = _add


def reporter(clock: FakeClock, **kwargs: Any) -> tuple[ProgressReporter, ListLog]:
    log = ListLog()
    return ProgressReporter(log, "node", interval=10, clock=clock, **kwargs), log


def test_first_line_after_a_few_seconds_then_one_per_interval() -> None:
    clock = FakeClock()
    progress, log = reporter(clock)
    start = clock.now
    for second in range(1, 40):
        clock.now = start + second - 0.5
        progress.update(records=100)
    # lines at 3.5 s (the first after FIRST_LINE_AFTER), then 13.5 s, 23.5 s, 33.5 s: never more often
    assert FIRST_LINE_AFTER == 3.0
    assert log.lines == [
        "node: 400 records, 114 records/s",
        "node: 1,400 records, 104 records/s",
        "node: 2,400 records, 102 records/s",
        "node: 3,400 records, 101 records/s",
    ]


def test_fast_small_pages_log_no_line_and_one_summary() -> None:
    clock = FakeClock()
    progress, log = reporter(clock)
    for _ in range(5000):  # a fast API: 5,000 tiny pages within 2 s
        clock.now += 0.0004
        progress.update(records=2, bytes=100, pages=1)
    progress.finish(output="XCom")
    progress.finish(output="XCom")  # a second call (a caller and emit_records both finishing) logs nothing
    progress.stopped()
    assert log.lines == ["node done: 10,000 records, 488.3 KiB, 5,000 pages in 2.0s (5,000 records/s) -> XCom"]


def test_estimate_from_the_known_total_of_records() -> None:
    clock = FakeClock()
    progress, log = reporter(clock, total_records=1000)
    for _ in range(40):
        clock.now += 0.25
        progress.update(records=25)
    assert log.lines == ["node: 300 records, 100 records/s, ~7s left"]


def test_estimate_from_the_input_read_when_the_output_differs() -> None:
    clock = FakeClock()
    progress, log = reporter(clock)
    for index in progress.track_input(range(100), total=100):
        clock.now += 0.25
        if index % 10 == 0:  # a filter letting one record in ten through
            progress.update(records=1)
    progress.finish()
    assert log.lines[0] == "node: 2 records, 0.7 records/s, 13% of input, ~20s left"
    assert log.lines[-1] == "node done: 10 records in 25.0s (0.4 records/s)"


def test_a_body_still_downloading_logs_its_bytes_every_interval() -> None:
    """A page that takes 40 s to stream: no record arrives, but its bytes do, and they are logged."""
    clock = FakeClock()
    progress, log = reporter(clock, total_bytes=40 * 1024 * 1024)
    for second in range(1, 41):
        clock.now += 1
        progress.receiving(second * 1024 * 1024)
    progress.received()
    progress.update(bytes=40 * 1024 * 1024, pages=1)
    assert log.lines == [
        "node: 0 records, 3.0 MiB, 1.0 MiB/s, ~37s left",
        "node: 0 records, 13.0 MiB, 1.0 MiB/s, ~27s left",
        "node: 0 records, 23.0 MiB, 1.0 MiB/s, ~17s left",
        "node: 0 records, 33.0 MiB, 1.0 MiB/s, ~7s left",
    ]
    progress.finish(output="out.ndjson")
    assert log.lines[-1] == "node done: 0 records, 40.0 MiB, 1 page in 40.0s (1.0 MiB/s) -> out.ndjson"


def test_a_retried_download_does_not_count_its_bytes_twice() -> None:
    clock = FakeClock()
    progress, log = reporter(clock)
    progress.receiving(5000)  # the first attempt broke off here
    progress.receiving(2000)  # the retry starts from 0 again
    clock.now += 4
    progress.receiving(8000)
    progress.received()
    progress.update(bytes=8000, pages=1)
    progress.finish()
    assert log.lines == [
        "node: 0 records, 7.8 KiB, 2.0 KiB/s",
        "node done: 0 records, 7.8 KiB, 1 page in 4.0s (2.0 KiB/s)",
    ]


def test_the_failure_summary_is_the_one_line_and_carries_the_details() -> None:
    clock = FakeClock()
    log = ListLog()
    progress = ProgressReporter(log, "ai", interval=10, clock=clock, details=lambda: "3 completions")
    progress.update(records=2)
    clock.now += 1.5
    progress.stopped()
    progress.finish()
    assert log.lines == ["ai stopped: 2 records in 1.5s (1.3 records/s); 3 completions"]


def test_the_clock_is_read_rarely_while_records_stream_fast() -> None:
    clock = FakeClock()
    progress, log = reporter(clock)
    for _ in range(1_000_000):
        clock.now += 1e-6  # a million records a second
        progress.add_record()
    assert progress.records == 1_000_000 and log.lines == []  # one second: no line is due yet
    # every record for the first 50 ms (50,000 reads), then one read per MAX_STRIDE records (about 30,000)
    assert clock.reads < 50_000 + 1_000_000 / MAX_STRIDE + 100


def test_a_line_comes_within_max_stride_records_when_records_suddenly_slow_down() -> None:
    """Cache hits at a million a second, then model calls at one per 10 s: the stride must not hide them."""
    clock = FakeClock()
    progress, log = reporter(clock)
    for _ in range(123_457):
        clock.now += 1e-6
        progress.update(records=1)
    assert log.lines == []
    for _ in range(MAX_STRIDE):
        clock.now += 10
        progress.update(records=1)
    assert len(log.lines) >= 1 and log.lines[0].startswith("node: 123,4")


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "nan", "1e9"])
def test_a_bad_interval_setting_names_the_variable_the_value_and_the_fix(raw: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        interval_from_env({INTERVAL_ENV: raw})
    message = str(info.value)
    assert message.startswith(f"{INTERVAL_ENV}: {raw!r} is not a number of seconds") and "unset it" in message


def test_the_interval_is_configurable_for_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    assert interval_from_env({}) == 10.0 and interval_from_env({INTERVAL_ENV: " 2.5 "}) == 2.5
    monkeypatch.setenv(INTERVAL_ENV, "30")
    assert ProgressReporter(ListLog(), "x").interval == 30
    assert ProgressReporter(ListLog(), "x", interval=5).interval == 5  # a runtime's own choice wins


def test_paced_counts_every_record_and_checks_the_deadline() -> None:
    clock = FakeClock()
    progress, _log = reporter(clock)
    assert list(paced(range(5), ExecutionState(), "read", progress)) == [0, 1, 2, 3, 4]
    assert progress.records == 5
    expired = ExecutionState(deadline=0.0)  # monotonic time is far past 0
    with pytest.raises(FlowTimeoutError, match="task deadline passed during read"):
        list(paced(range(5), expired, "read", progress))
