"""file.source and file.sink runtimes on real files (no Airflow), and a sink SIGKILLed mid-write."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowTimeoutError, FlowValidationError, PathTraversalError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.records.reader import iter_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.writer import write_records
from tests.child_processes import sigkill_when

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def base(tmp_path: Path) -> str:
    folder = tmp_path / "base"
    folder.mkdir()
    return os.path.realpath(folder)


def state_for(base: str, **kwargs: Any) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}), **kwargs)


def source(config: dict[str, Any], base: str) -> Any:
    runtime = FileSourceRuntime()
    return runtime.execute(validate_config(FileSourceConfig, config), None, state_for(base))


def sink(config: dict[str, Any], data: Any, base: str, **state_kwargs: Any) -> FileReference:
    runtime = FileSinkRuntime()
    return runtime.execute(validate_config(FileSinkConfig, config), data, state_for(base, **state_kwargs))


def test_source_small_file_to_records(base: str) -> None:
    write_records(base, "in/a.csv", [{"x": "1", "y": "é"}])
    assert source({"path": "in/a.csv"}, base) == [{"x": "1", "y": "é"}]
    assert source({"path": "in/a.csv", "base_path": base, "fs_conn_id": None}, base) == [{"x": "1", "y": "é"}]


def test_source_large_file_to_reference_and_sink_streams_it(base: str) -> None:
    rows = [{"i": i, "text": f"row {i} ✓"} for i in range(2000)]
    write_records(base, "in/big.ndjson", rows)
    ref = source({"path": "in/big.ndjson", "max_inline_bytes": 1000}, base)
    assert isinstance(ref, FileReference)
    assert (ref.path, ref.records, ref.fs_conn_id, ref.base_path) == ("in/big.ndjson", 2000, "fs_default", None)
    assert ref.sha256 == hashlib.sha256(Path(base, "in/big.ndjson").read_bytes()).hexdigest()
    out = sink({"path": "out/big.csv"}, ref.model_dump(mode="json"), base)
    assert out.records == 2000 and out.format == "csv"
    assert list(iter_records(base, "out/big.csv"))[1999] == {"i": "1999", "text": "row 1999 ✓"}


def test_source_glob(base: str) -> None:
    for day in ("01", "02", "03"):
        write_records(base, f"daily/2024-05-{day}.ndjson", [{"day": day}])
    write_records(base, "daily/notes.txt", ["skip me"])
    assert source({"path": "daily/*.ndjson"}, base) == [{"day": "01"}, {"day": "02"}, {"day": "03"}]
    refs = source({"path": "daily/2024-05-0[12].ndjson", "output": "reference"}, base)
    assert [r.path for r in refs] == ["daily/2024-05-01.ndjson", "daily/2024-05-02.ndjson"]
    assert source({"path": "nothing/*.csv", "allow_empty": True}, base) == []
    with pytest.raises(FileError, match="no file matches") as info:
        source({"path": "nothing/*.csv"}, base)
    assert not info.value.is_retryable


def test_source_refusals_and_errors(base: str, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cr3t")
    with pytest.raises(PathTraversalError):
        source({"path": "../secret.txt"}, base)
    with pytest.raises(PathTraversalError):
        source({"path": "../*.txt"}, base)
    with pytest.raises(FileError) as info:
        source({"path": "missing.json"}, base)
    assert info.value.details["errno"] == "ENOENT"
    with pytest.raises(FlowValidationError, match="format"):
        source({"path": "data.bin"}, base)
    Path(base, "l1.txt").write_bytes(b"caf\xe9\n")
    assert source({"path": "l1.txt", "encoding": "latin-1"}, base) == ["café"]
    # A reference records its encoding, so a downstream reader decodes a non-UTF-8 file correctly.
    ref = source({"path": "l1.txt", "encoding": "latin-1", "output": "reference"}, base)
    assert ref.encoding == "latin-1" and ref.records == 1
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.records.reader import iter_reference

    reader = ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))
    assert list(iter_reference(ref, reader, trusted_bases=(base,))) == ["café"]


def test_config_models_validate_at_parse_time() -> None:
    with pytest.raises(FlowValidationError) as info:
        validate_config(FileSinkConfig, {"path": "x.csv", "mode": "upsert"})
    assert "config.mode" in str(info.value) and "upsert" in str(info.value)
    with pytest.raises(FlowValidationError, match="unknown text encoding 'klingon'"):
        validate_config(FileSinkConfig, {"path": "x.csv", "encoding": "klingon"})
    with pytest.raises(FlowValidationError, match="unknown key 'overwrite'"):
        validate_config(FileSinkConfig, {"path": "x.csv", "overwrite": True})
    with pytest.raises(FlowValidationError, match="max_inline_bytes"):
        validate_config(FileSourceConfig, {"path": "x.csv", "max_inline_bytes": -1})


def test_sink_modes_and_reference(base: str) -> None:
    ref = sink({"path": "o/r.json"}, [{"a": 1}], base)
    assert (ref.path, ref.records, ref.fs_conn_id) == ("o/r.json", 1, "fs_default")
    ref = sink({"path": "o/r.json", "mode": "append"}, [{"a": 2}], base)
    assert ref.records == 2 and json.loads(Path(base, "o/r.json").read_text()) == [{"a": 1}, {"a": 2}]
    with pytest.raises(FileError, match="error_if_exists"):
        sink({"path": "o/r.json", "mode": "error_if_exists"}, [{"a": 3}], base)
    ref = sink({"path": "o/none.ndjson", "base_path": base}, None, base)
    assert ref.records == 0 and ref.base_path == base and ref.fs_conn_id is None


def test_sink_honours_the_deadline_without_touching_the_target(base: str) -> None:
    write_records(base, "d.ndjson", [{"v": "old"}])
    with pytest.raises(FlowTimeoutError):
        sink({"path": "d.ndjson"}, [{"v": i} for i in range(5000)], base, deadline=time.monotonic() - 1)
    assert list(iter_records(base, "d.ndjson")) == [{"v": "old"}]
    assert os.listdir(base) == ["d.ndjson"]


def test_sink_without_any_base_is_refused(tmp_path: Path) -> None:
    runtime = FileSinkRuntime()
    config = validate_config(FileSinkConfig, {"path": "x.json", "fs_conn_id": None})
    with pytest.raises(FlowValidationError, match="no base directory"):
        runtime.execute(config, [], ExecutionState())


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from airflow_provider_flow.nodes.file_sink import FileSinkRuntime
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.core.settings import StaticSettingsProvider

    base = sys.argv[1]
    records = ({"i": i, "pad": "x" * 200} for i in range(10_000_000))  # ~2 GB if never killed
    state = ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))
    FileSinkRuntime().execute(FileSinkConfig(path="out/big.ndjson"), records, state)
    """
)


@pytest.mark.parametrize("previous", ["old content", None])
def test_sigkill_mid_write_leaves_old_content_or_nothing(base: str, previous: str | None) -> None:
    target = Path(base, "out", "big.ndjson")
    if previous is not None:
        write_records(base, "out/big.ndjson", [{"v": previous}])
    before = target.read_bytes() if previous is not None else None
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, base],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def well_into_the_write() -> bool:
        temp = list(Path(base, "out").glob(".big.ndjson.*.tmp")) if Path(base, "out").exists() else []
        return bool(temp) and temp[0].stat().st_size > 20 * 1024 * 1024

    sigkill_when(proc, well_into_the_write)
    assert proc.returncode == -signal.SIGKILL
    if previous is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == before
        assert list(iter_records(base, "out/big.ndjson")) == [{"v": previous}]
    # the only trace is the hidden temp file, which no glob or reader picks up
    leftovers = sorted(p.name for p in Path(base, "out").iterdir())
    assert all(name.startswith(".big.ndjson.") and name.endswith(".tmp") for name in leftovers if name != "big.ndjson")
    assert source({"path": "out/*", "allow_empty": True}, base) == ([] if previous is None else [{"v": previous}])
