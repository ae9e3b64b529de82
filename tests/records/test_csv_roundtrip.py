"""What file.sink writes as CSV, file.source reads back: one cell limit for both sides (issue 10, class 16).

Python's ``csv`` reader refuses fields over ``csv.field_size_limit()`` (131072 characters by default) while the
writer had no limit, so a sink could publish a file its own source then refused. Each test starts from the
interpreter's default limit, so it shows what a fresh worker process does.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.records.codecs import MAX_CSV_CELL_CHARS
from airflow_provider_flow.records.reference import FileReference

MIB = 1 << 20


@pytest.fixture(autouse=True)
def default_field_limit() -> Iterator[None]:
    before = csv.field_size_limit(131072)
    yield
    csv.field_size_limit(before)


@pytest.fixture
def base(tmp_path: Path) -> str:
    return os.path.realpath(tmp_path)


@pytest.fixture
def state(base: str) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))


def sink(config: dict[str, Any], data: Any, state: ExecutionState) -> FileReference:
    return FileSinkRuntime().execute(validate_config(FileSinkConfig, config), data, state)


def source(config: dict[str, Any], state: ExecutionState) -> Any:
    return FileSourceRuntime().execute(validate_config(FileSourceConfig, config), None, state)


def test_a_one_mib_cell_round_trips_through_sink_and_source(state: ExecutionState) -> None:
    big = 'é,"x"\n' * (MIB // 6) + "end"  # quotes, commas and line breaks inside the cell, past 1 MiB quoted
    rows = [{"id": "1", "body": big}, {"id": "2", "body": "small"}]
    ref = sink({"path": "out/big.csv"}, rows, state)
    assert ref.records == 2
    assert source({"path": "out/big.csv", "output": "records"}, state) == rows
    as_reference = source({"path": "out/big.csv", "output": "reference"}, state)
    assert as_reference.records == 2
    copy = sink({"path": "out/copy.csv"}, as_reference.model_dump(), state)  # streamed from the reference
    assert source({"path": "out/copy.csv", "output": "records"}, state) == rows and copy.sha256 == ref.sha256


def test_a_cell_past_the_shared_limit_is_refused_by_the_sink_naming_record_and_column(
    state: ExecutionState, base: str
) -> None:
    rows = [{"id": "1", "body": "ok"}, {"id": "2", "body": "x" * (MAX_CSV_CELL_CHARS + 1)}]
    with pytest.raises(FlowValidationError) as info:
        sink({"path": "out/huge.csv"}, rows, state)
    message = str(info.value)
    assert info.value.field == "data[1]" and "'body'" in message and "ndjson" in message
    assert str(MAX_CSV_CELL_CHARS) in message and not info.value.is_retryable
    assert not Path(base, "out", "huge.csv").exists()


def test_a_cell_at_the_shared_limit_round_trips(state: ExecutionState) -> None:
    rows = [{"body": "y" * MAX_CSV_CELL_CHARS}]
    sink({"path": "edge.csv"}, rows, state)
    assert source({"path": "edge.csv", "output": "records"}, state) == rows


def test_a_hand_made_csv_past_the_limit_is_a_validation_error_not_a_crash(state: ExecutionState, base: str) -> None:
    Path(base, "hostile.csv").write_text("a\n" + "z" * (MAX_CSV_CELL_CHARS + 1) + "\n")
    with pytest.raises(FlowValidationError, match="not readable as CSV"):
        source({"path": "hostile.csv", "output": "records"}, state)
