"""Task logs a person can follow (issue 15 part 6): every node, run for real, logs progress at a steady pace and
ends with exactly one summary line carrying everything.

Real files, the real test HTTP server and the fake LLM server. Where a test needs progress lines from a run that
takes milliseconds, it swaps the reporters' clock for one that moves one second per read (``ticking``): the
pace rules then play out deterministically on a real run. The slow-transfer test uses the real clock against a
server that really trickles its body.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core import progress as progress_module
from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.progress import INTERVAL_ENV
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.llm.settings import LlmSettings
from airflow_provider_flow.nodes.ai_transform import AiTransformConfig, AiTransformRuntime
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
from airflow_provider_flow.records.writer import write_records
from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer

FAST = RetrySettings(max_attempts=2, max_elapsed=5, initial_backoff=0.01, max_backoff=0.01, jitter=0)
#: A progress line: counts, a rate, optionally the share of the input read and the time left.
PROGRESS = re.compile(
    r"^(?P<label>.+?): (?P<records>[\d,]+) records?(, [\d.]+ (B|KiB|MiB|GiB))?(, [\d,]+ \w+)?, "
    r"[\d.,]+ (records|B|KiB|MiB|GiB)/s(, \d+% of input)?(, ~(?P<left>\w+( \w+)?) left)?$"
)


class ListLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(str(msg) % args if args else str(msg))

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Not shown at Airflow's default task log level, so not part of what a person follows."""

    info = warning = error = exception = _add

    def summaries(self) -> list[str]:
        return [line for line in self.lines if " done: " in line or " stopped: " in line]

    def progress(self, label: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"{label}: ") and PROGRESS.match(line)]

    def the_summary(self) -> str:
        """The one summary line, which is also the node's last line."""
        assert len(self.summaries()) == 1, self.lines
        assert self.lines[-1] == self.summaries()[0], self.lines
        return self.lines[-1]


class TickingClock:
    """Moves one second every time a reporter reads it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(autouse=True)
def default_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_ENV, raising=False)  # 10 s, whatever the machine running the tests says


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> TickingClock:
    clock = TickingClock()
    monkeypatch.setattr(progress_module, "CLOCK", clock)
    return clock


@pytest.fixture
def base(tmp_path: Path) -> str:
    folder = tmp_path / "base"
    folder.mkdir()
    return os.path.realpath(folder)


def state_for(log: ListLog, *, base: str | None = None, http_url: str | None = None) -> ExecutionState:
    http = {"api": HttpSettings(base_url=http_url, retry=FAST)} if http_url else {}
    fs = {"fs_default": base} if base else {}
    return ExecutionState(log=log, settings=StaticSettingsProvider(http=http, fs=fs))


def rows(count: int) -> list[dict[str, Any]]:
    return [{"id": i, "text": f"row {i}"} for i in range(count)]


# -- http.source --------------------------------------------------------------------------------------------


def http_source(log: ListLog, url: str, input: Any = None, base: str | None = None, **config: Any) -> Any:
    model = validate_config(HttpSourceConfig, {"http_conn_id": "api", **config})
    return HttpSourceRuntime().execute(model, input, state_for(log, base=base, http_url=url))


def test_http_source_pages_end_with_one_summary_line(http_server) -> None:
    log = ListLog()
    records = http_source(
        log, http_server.url, endpoint="/link/items", records_path="items", pagination={"type": "link"}
    )
    assert len(records) == 6
    summary = log.the_summary()
    assert re.fullmatch(
        rf"http\.source GET {re.escape(http_server.url)}/link/items done: 6 records, \d+ B, 3 pages in "
        r"\d[\dhms. ]* \([\d.,]+ records/s\) -> XCom",
        summary,
    ), summary
    assert not any("wrote" in line for line in log.lines)  # the old second end line


def test_http_source_to_a_file_logs_progress_and_names_the_file(http_server, base: str, ticking) -> None:
    log = ListLog()
    ref = http_source(
        log,
        http_server.url,
        base=base,
        endpoint="/ndjson",
        params={"records": 200},
        response_format="ndjson",
        output_path="out/items.ndjson",
    )
    assert ref.records == 200 and ref.pages == 1
    summary = log.the_summary()
    assert re.fullmatch(
        rf"http\.source GET {re.escape(http_server.url)}/ndjson done: 200 records, [\d.]+ KiB, 1 page in "
        r"\d[\dhms. ]* \([\d.,]+ records/s\) -> out/items\.ndjson",
        summary,
    ), summary
    lines = log.progress(f"http.source GET {http_server.url}/ndjson")
    # one clock second per record here, so a line every 10 records after the first at 3 s: steady, not per record
    assert 15 <= len(lines) <= 25, log.lines
    counts = [int(PROGRESS.match(line)["records"].replace(",", "")) for line in lines]  # type: ignore[index]
    assert counts == sorted(counts) and counts[-1] < 200


def test_a_slow_page_logs_its_bytes_while_it_streams(http_server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server sends one byte every 0.2 s for about 2.4 s: no record arrives, the bytes do and are logged."""
    monkeypatch.setenv(INTERVAL_ENV, "0.5")  # the deployment-wide setting, real clock
    log = ListLog()
    records = http_source(log, http_server.url, endpoint="/trickle", params={"chunks": 12, "interval": 0.2})
    assert records == []
    label = f"http.source GET {http_server.url}/trickle"
    during = log.progress(label)
    assert during, log.lines
    sizes = [int(m) for m in (re.search(r", (\d+) B, ", line)[1] for line in during)]  # type: ignore[index]
    assert sizes[0] < 12 and all(0 < size <= 12 for size in sizes) and sizes == sorted(sizes), during  # growing
    assert re.fullmatch(
        rf"{re.escape(label)} done: 0 records, 12 B, 1 page in \d[\dhms. ]* \(.+/s\) -> XCom", log.the_summary()
    )


# -- http.sink ----------------------------------------------------------------------------------------------


def test_http_sink_logs_its_estimate_and_ends_with_the_accepted_count(http_server, ticking) -> None:
    log = ListLog()
    model = validate_config(HttpSinkConfig, {"http_conn_id": "api", "endpoint": "/sink/progress", "batch_size": 1})
    result = HttpSinkRuntime().execute(model, rows(30), state_for(log, http_url=http_server.url))
    assert result["accepted_records"] == 30
    label = f"http.sink POST {http_server.url}/sink/progress"
    lines = log.progress(label)
    assert lines and all(PROGRESS.match(line)["left"] for line in lines), log.lines  # type: ignore[index]
    assert lines[0].startswith(f"{label}: 3 records, ") and " 3 batches, " in lines[0]
    assert re.fullmatch(
        rf"{re.escape(label)} done: 30 records, [\d.]+ (B|KiB), 30 batches in \d[\dhms. ]* \([\d.,]+ records/s\) "
        r"-> 30 accepted, 0 rejected",
        log.the_summary(),
    )


# -- file.source and file.sink ------------------------------------------------------------------------------


def test_file_source_references_count_files_against_the_total_bytes(base: str, ticking) -> None:
    for name in "abcdef":
        write_records(base, f"in/{name}.ndjson", rows(50))
    log = ListLog()
    model = validate_config(FileSourceConfig, {"path": "in/*.ndjson", "output": "reference"})
    refs = FileSourceRuntime().execute(model, None, state_for(log, base=base))
    assert len(refs) == 6
    lines = log.progress("file.source 'in/*.ndjson'")
    assert lines and all(" files, " in line and PROGRESS.match(line)["left"] for line in lines), log.lines  # type: ignore[index]
    assert not any(" has 50 records" in line for line in log.lines)  # no line per file
    assert re.fullmatch(
        r"file\.source 'in/\*\.ndjson' done: 300 records, [\d.]+ KiB, 6 files in \d[\dhms. ]* \(.+\) -> 6 references",
        log.the_summary(),
    )


def test_file_source_records_and_a_single_reference(base: str) -> None:
    write_records(base, "in/a.ndjson", rows(3))
    log = ListLog()
    model = validate_config(FileSourceConfig, {"path": "in/a.ndjson"})
    assert len(FileSourceRuntime().execute(model, None, state_for(log, base=base))) == 3
    assert re.fullmatch(
        r"file\.source 'in/a\.ndjson' done: 3 records, \d+ B, 1 file in \d[\dhms. ]* \(.+\) -> XCom", log.the_summary()
    )
    log = ListLog()
    model = validate_config(FileSourceConfig, {"path": "in/a.ndjson", "output": "reference"})
    ref = FileSourceRuntime().execute(model, None, state_for(log, base=base))
    assert log.the_summary().endswith(f" -> in/a.ndjson (sha256 {ref.sha256})")


def test_file_sink_ends_with_one_line_naming_the_file(base: str, ticking) -> None:
    log = ListLog()
    model = validate_config(FileSinkConfig, {"path": "out/rows.ndjson"})
    # 5,000 records: inline records are counted a block of 1,000 at a time, each block one look at the clock
    ref = FileSinkRuntime().execute(model, rows(5000), state_for(log, base=base))
    lines = log.progress("file.sink 'out/rows.ndjson'")
    assert lines and all(PROGRESS.match(line)["left"] for line in lines), log.lines  # type: ignore[index]
    assert re.fullmatch(
        r"file\.sink 'out/rows\.ndjson' done: 5,000 records, [\d.]+ (B|KiB) in \d[\dhms. ]* \(.+\) -> "
        rf"out/rows\.ndjson \(mode overwrite, sha256 {ref.sha256}\)",
        log.the_summary(),
    )
    assert not any("wrote" in line for line in log.lines)


# -- transform ----------------------------------------------------------------------------------------------


def test_transform_of_a_reference_estimates_from_the_input_it_reads(
    base: str, ticking, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ~7 MiB: the input is read (and counted) a 1 MiB block at a time, and the clock moves a second per look
    padded = [{**row, "pad": "x" * 70_000} for row in rows(100)]
    upstream = FileSinkRuntime().execute(
        validate_config(FileSinkConfig, {"path": "in/rows.ndjson"}), padded, state_for(ListLog(), base=base)
    )
    monkeypatch.setenv(INTERVAL_ENV, "1")
    log = ListLog()
    model = validate_config(TransformConfig, {"operations": [{"filter": "id < `5`"}]})
    out = TransformRuntime().execute(model, upstream.model_dump(), state_for(log, base=base))
    assert len(out) == 5
    lines = log.progress("transform")
    # the filter lets only the first 5 records out, yet reading the other 95 keeps the lines coming
    assert len(lines) >= 5 and all("% of input, ~" in line for line in lines), log.lines
    assert re.fullmatch(r"transform done: 5 records in \d[\dhms. ]* \(.+\) -> XCom", log.the_summary())


# -- ai.transform -------------------------------------------------------------------------------------------


def test_ai_transform_ends_with_one_line_with_its_usage(llm_server: FakeLlmServer) -> None:
    log = ListLog()
    settings = LlmSettings(base_url=llm_server.base_url, api_key=llm_server.api_key, retry=FAST)
    state = ExecutionState(log=log, settings=StaticSettingsProvider(llm={"llm_default": settings}))
    config = {"model": "fake-1", "prompt": "Describe: ${text}", "output_schema": DEFAULT_REPLY_SCHEMA, "cache": False}
    result = AiTransformRuntime().execute(validate_config(AiTransformConfig, config), rows(4), state)
    usage = result.extra_xcom["usage"]["usage"]
    assert re.fullmatch(
        rf"ai\.transform fake-1 done: 4 records in \d[\dhms. ]* \(.+\) -> XCom; 4 completions, "
        rf"{usage['total_tokens']:,} tokens \({usage['prompt_tokens']:,} prompt \+ {usage['completion_tokens']:,} "
        r"completion\)",
        log.the_summary(),
    )
    assert not any("summary" in line for line in log.lines) and llm_server.api_key not in "\n".join(log.lines)
