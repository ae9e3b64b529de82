"""A file reference whose file is not on this worker: the error a cluster user meets when staging is not shared.

Two real folders play two workers' private ``fs_default`` folders: worker A writes (a real file, a real
reference), worker B resolves the same connection id to its own folder and reads. The error must name the
reference and the fix (shared storage), and must not be retried (the file will not appear on a retry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reader import iter_reference
from airflow_provider_flow.records.writer import write_records


def _worker(folder: Path) -> ExecutionState:
    folder.mkdir()
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": str(folder)}))


def test_reading_on_another_worker_names_the_reference_and_shared_storage(tmp_path: Path) -> None:
    worker_a, worker_b = _worker(tmp_path / "a"), _worker(tmp_path / "b")
    ref = write_records(str(tmp_path / "a"), "fan_out/run-1/paid.ndjson", [{"id": 1}], fs_conn_id="fs_default")
    assert list(iter_reference(ref, worker_a)) == [{"id": 1}]  # the writer's own worker reads it

    with pytest.raises(FileError) as raised:
        list(input_records(ref.model_dump(), worker_b))  # as it comes out of XCom on worker B
    message = str(raised.value)
    assert "file reference 'fan_out/run-1/paid.ndjson'" in message
    assert "fs connection 'fs_default'" in message and str(tmp_path / "b") in message
    assert "ran on another worker" in message and "Stage in shared storage" in message
    assert raised.value.is_retryable is False
    assert raised.value.details["errno"] == "ENOENT"


def test_other_read_errors_keep_their_own_message(tmp_path: Path) -> None:
    worker = _worker(tmp_path / "w")
    ref = write_records(str(tmp_path / "w"), "x/data.ndjson", [{"id": 1}], fs_conn_id="fs_default")
    (tmp_path / "w" / "x" / "data.ndjson").unlink()
    (tmp_path / "w" / "x" / "data.ndjson").mkdir()  # a folder where the file was: not "missing"
    with pytest.raises(FileError) as raised:
        list(iter_reference(ref, worker))
    assert "shared storage" not in str(raised.value)
