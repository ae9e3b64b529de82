"""file.sink with disposition='append': one part file per task instance, whole runs only, a retry replaces its own
part; on a local folder and on S3 (SeaweedFS, tests/fixtures/s3.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.dispositions import part_name, part_path
from airflow_provider_flow.storage.object_keys import ObjectLocation
from tests.dispositions.helpers import files_in, s3_sink, sink, source
from tests.nodes.test_file_nodes_s3 import source as s3_source
from tests.s3_server import SeaweedS3


@pytest.fixture
def base(tmp_path: Path) -> str:
    folder = tmp_path / "base"
    folder.mkdir()
    return os.path.realpath(folder)


RUN_1 = {"dag_id": "d", "run_id": "scheduled__2024-01-01T00:00:00+00:00", "task_id": "load"}
RUN_2 = {**RUN_1, "run_id": "scheduled__2024-01-02T00:00:00+00:00"}


def test_each_run_adds_a_part_and_a_retry_replaces_its_own(base: str) -> None:
    first = sink(base, [{"id": 1}, {"id": 2}], path="events", disposition="append", state={**RUN_1, "try_number": 1})
    sink(base, [{"id": 3}], path="events", disposition="append", state=RUN_2)
    retried = sink(
        base, [{"id": 1}, {"id": 2}, {"id": 2.5}], path="events", disposition="append", state={**RUN_1, "try_number": 2}
    )
    parts = files_in(Path(base, "events"))
    assert len(parts) == 2 and all(p.startswith("part-scheduled__2024-01-0") and p.endswith(".ndjson") for p in parts)
    assert retried.path == first.path and retried.records == 3  # the same name: the retry replaced the part
    rows = source(base, path="events/*.ndjson")
    assert sorted(r["id"] for r in rows) == [1, 2, 2.5, 3]


def test_a_failing_run_adds_no_part(base: str) -> None:
    sink(base, [{"id": 1}], path="events", disposition="append", state=RUN_1)

    def broken() -> Any:
        yield {"id": 2}
        raise FlowValidationError("upstream broke mid-stream", field="data", value=None)

    with pytest.raises(FlowValidationError, match="upstream broke"):
        sink(base, broken(), path="events", disposition="append", state=RUN_2)
    assert len(files_in(Path(base, "events"))) == 1  # no second part, no temporary file left
    assert source(base, path="events/*.ndjson") == [{"id": 1}]


def test_part_names_are_per_task_instance_and_safe() -> None:
    one = ExecutionState(**RUN_1)
    assert part_name(one, "ndjson") == part_name(ExecutionState(**RUN_1, try_number=3), "ndjson")
    names = {
        part_name(one, "csv"),
        part_name(ExecutionState(**RUN_2), "csv"),
        part_name(ExecutionState(**{**RUN_1, "task_id": "other"}), "csv"),
        part_name(ExecutionState(**{**RUN_1, "dag_id": "other"}), "csv"),
        part_name(ExecutionState(**RUN_1, map_index=0), "csv"),
        part_name(ExecutionState(**RUN_1, map_index=1), "csv"),
        # differs from RUN_1 only in characters the name cannot hold: still another part
        part_name(ExecutionState(**{**RUN_1, "run_id": "scheduled__2024-01-01T00_00_00_00_00"}), "csv"),
    }
    assert len(names) == 7
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") for n in names)
    assert part_path("a/b/", one, "text").startswith("a/b/part-") and part_path(".", one, "json").startswith("part-")
    assert part_name(ExecutionState(**RUN_1, map_index=4), "text").endswith(".txt")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_parts_take_the_format_given(base: str, fmt: str) -> None:
    sink(base, [{"id": "1"}], path="out", disposition="append", format=fmt, state=RUN_1)
    sink(base, [{"id": "2"}], path="out", disposition="append", format=fmt, state=RUN_2)
    assert sorted(r["id"] for r in source(base, path=f"out/*.{fmt}")) == ["1", "2"]


def test_append_on_s3_adds_an_object_per_run(s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any) -> None:
    """Object storage refuses mode='append'; disposition='append' works there, one object per task instance."""
    first = s3_sink(s3_server, s3_location, [{"id": 1}], path="events", disposition="append", state=RUN_1)
    s3_sink(s3_server, s3_location, [{"id": 2}], path="events", disposition="append", state=RUN_2)
    again = s3_sink(s3_server, s3_location, [{"id": 1}, {"id": 11}], path="events", disposition="append", state=RUN_1)
    assert again.path == first.path and again.base_uri == s3_location.uri
    listing = s3_admin.list_objects_v2(Bucket="flow-test", Prefix=f"{s3_location.prefix}/events/")
    assert len(listing["Contents"]) == 2
    rows = s3_source(s3_server, s3_location, path="events/*.ndjson")
    assert sorted(r["id"] for r in rows) == [1, 2, 11]
