"""file.sink with disposition='merge' on local files: one version per key, the newest; the old snapshot survives
every failure; memory does not grow with the snapshot."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.reader import iter_records
from tests.dispositions.helpers import files_in, merge, sink


@pytest.fixture
def base(tmp_path: Path) -> str:
    folder = tmp_path / "base"
    folder.mkdir()
    return os.path.realpath(folder)


def snapshot(base: str, path: str = "snap.ndjson") -> list[Any]:
    return list(iter_records(base, path))


def digest(base: str, path: str = "snap.ndjson") -> str:
    return hashlib.sha256(Path(base, path).read_bytes()).hexdigest()


def v(key: int, at: str, name: str) -> dict[str, Any]:
    return {"id": key, "updated_at": at, "name": name}


def test_a_second_merge_keeps_each_key_once_with_its_newest_version(base: str) -> None:
    first = merge(
        base, [v(1, "2024-01-01", "a"), v(2, "2024-01-01", "b"), v(3, "2024-01-01", "c")], cursor_field="updated_at"
    )
    assert (first.records, first.path) == (3, "snap.ndjson")
    second = merge(base, [v(4, "2024-01-02", "d"), v(2, "2024-01-02", "b2")], cursor_field="updated_at")
    # the replaced record keeps its place; the new key comes last
    assert snapshot(base) == [
        v(1, "2024-01-01", "a"),
        v(2, "2024-01-02", "b2"),
        v(3, "2024-01-01", "c"),
        v(4, "2024-01-02", "d"),
    ]
    assert second.records == 4
    assert second.sha256 == digest(base) and second.bytes == Path(base, "snap.ndjson").stat().st_size
    assert files_in(base) == ["snap.ndjson"]  # no temporary file left beside it


def test_newest_by_cursor_wins_and_ties_go_to_the_later_record(base: str) -> None:
    merge(base, [v(1, "2024-01-05", "snapshot"), v(2, "2024-01-05", "snapshot")], cursor_field="updated_at")
    merge(
        base,
        [
            v(1, "2024-01-04", "older than the snapshot"),  # kept out
            v(2, "2024-01-05", "tie with the snapshot"),  # wins: the input arrives later
            v(3, "2024-01-07", "newest"),
            v(3, "2024-01-06", "older, later in the input"),  # kept out: the cursor decides first
            v(4, "2024-01-08", "first of a tie"),
            v(4, "2024-01-08", "second of a tie"),  # wins: later in the input
        ],
        cursor_field="updated_at",
    )
    assert [r["name"] for r in snapshot(base)] == ["snapshot", "tie with the snapshot", "newest", "second of a tie"]


def test_numeric_cursors_compare_as_numbers(base: str) -> None:
    merge(base, [{"id": "a", "version": 9}], cursor_field="version")
    merge(base, [{"id": "a", "version": 10}, {"id": "a", "version": 2}], cursor_field="version")
    assert snapshot(base) == [{"id": "a", "version": 10}]


def test_without_a_cursor_the_later_record_always_wins(base: str) -> None:
    merge(base, [{"id": 1, "n": "old"}, {"id": 2, "n": "old"}])
    merge(base, [{"id": 1, "n": "first"}, {"id": 1, "n": "last"}])
    assert snapshot(base) == [{"id": 1, "n": "last"}, {"id": 2, "n": "old"}]


def test_a_composite_key_matches_on_every_field_and_keys_keep_their_json_type(base: str) -> None:
    merge(base, [{"region": "eu", "id": 1, "v": 1}, {"region": "us", "id": 1, "v": 1}], primary_key=["region", "id"])
    merge(base, [{"region": "eu", "id": 1, "v": 2}, {"region": "eu", "id": "1", "v": 3}], primary_key=["region", "id"])
    # 1 and "1" are different keys in JSON data
    assert snapshot(base) == [
        {"region": "eu", "id": 1, "v": 2},
        {"region": "us", "id": 1, "v": 1},
        {"region": "eu", "id": "1", "v": 3},
    ]


def test_a_duplicated_old_snapshot_is_collapsed_to_one_version_per_key(base: str) -> None:
    Path(base, "snap.ndjson").write_text('{"id": 1, "n": "x"}\n{"id": 1, "n": "y"}\n\n{"id": 2, "n": "z"}\n')
    ref = merge(base, [])
    assert snapshot(base) == [{"id": 1, "n": "y"}, {"id": 2, "n": "z"}] and ref.records == 2


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ({"name": "no id"}, "'id' (primary_key) is missing from record 1 of the input"),
        ({"id": None, "updated_at": "2024-02-01"}, "'id' (primary_key) is null in record 1 of the input"),
        ({"id": 9}, "'updated_at' (cursor_field) is missing from record 1 of the input"),
        ({"id": 9, "updated_at": 5}, "record 1 of the input has a number in 'updated_at'"),
        ({"id": 9, "updated_at": True}, "which is not a number or a string"),
        (["not", "a", "dict"], "record 1 of the input is a list, not an object"),
    ],
)
def test_a_bad_input_record_fails_the_merge_and_leaves_the_old_snapshot(base: str, bad: Any, expected: str) -> None:
    merge(base, [v(1, "2024-01-01", "a")], cursor_field="updated_at")
    before = digest(base)
    with pytest.raises(FlowValidationError) as info:
        merge(base, [v(2, "2024-02-01", "b"), bad, v(3, "2024-02-01", "c")], cursor_field="updated_at")
    assert expected in str(info.value), str(info.value)
    assert info.value.field in ("primary_key", "cursor_field")
    assert digest(base) == before and files_in(base) == ["snap.ndjson"]


def test_a_snapshot_record_without_its_key_is_named_as_such(base: str) -> None:
    Path(base, "snap.ndjson").write_text('{"id": 1}\n{"code": 2}\n')
    with pytest.raises(
        FlowValidationError, match=r"'id' \(primary_key\) is missing from record 1 of the snapshot 'snap.ndjson'"
    ):
        merge(base, [{"id": 3}])
    assert Path(base, "snap.ndjson").read_text() == '{"id": 1}\n{"code": 2}\n'


def test_a_failing_write_publishes_nothing(base: str) -> None:
    """The CSV writer refuses a column the header lacks, after the index was built: the old file stays."""
    merge(base, [{"id": 1, "a": "x"}], path="snap.csv")
    before = digest(base, "snap.csv")
    with pytest.raises(FlowValidationError, match="not in the CSV header"):
        merge(base, [{"id": 2, "a": "y", "extra": 1}], path="snap.csv")
    assert digest(base, "snap.csv") == before and files_in(base) == ["snap.csv"]


def test_csv_keys_and_cursors_compare_by_their_cell_text(base: str) -> None:
    merge(
        base,
        [{"id": 1, "version": 9, "n": "a"}, {"id": 2, "version": 1, "n": "b"}],
        path="snap.csv",
        cursor_field="version",
    )
    # the snapshot holds "1" and "9" as text; the input's 1 is the same key and 10 is newer than "9"
    merge(
        base,
        [{"id": 1, "version": 10, "n": "a2"}, {"id": 2, "version": 0, "n": "old"}],
        path="snap.csv",
        cursor_field="version",
    )
    assert snapshot(base, "snap.csv") == [
        {"id": "1", "version": "10", "n": "a2"},
        {"id": "2", "version": "1", "n": "b"},
    ]


def test_a_json_array_snapshot_merges_too(base: str) -> None:
    merge(base, [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}], path="snap.json")
    ref = merge(base, [{"id": 2, "n": "b2"}], path="snap.json")
    assert json.loads(Path(base, "snap.json").read_text()) == [{"id": 1, "n": "a"}, {"id": 2, "n": "b2"}]
    assert ref.records == 2 and ref.format == "json"


def test_the_summary_line_says_what_the_merge_did(base: str, caplog: pytest.LogCaptureFixture) -> None:
    merge(base, [v(1, "1", "a"), v(2, "1", "b")], cursor_field="updated_at")
    with caplog.at_level(logging.INFO, logger="tests.dispositions"):
        caplog.clear()  # the first merge's line too, when Airflow's logging set INFO already
        merge(base, [v(2, "2", "b2"), v(3, "1", "c"), v(1, "0", "stale")], cursor_field="updated_at")
    done = [r.getMessage() for r in caplog.records if " done: " in r.getMessage()]
    assert len(done) == 1, done
    assert "3 records" in done[0] and "merged on id" in done[0]
    assert "1 new, 1 replaced, 1 older or duplicate kept out; the snapshot holds 3 records" in done[0]


@pytest.mark.parametrize(
    ("config", "field", "fix"),
    [
        ({"disposition": "merge"}, "primary_key", "needs primary_key"),
        ({"disposition": "merge", "primary_key": []}, "primary_key", "needs primary_key"),
        ({"disposition": "merge", "primary_key": ["id", "id"]}, "primary_key", "distinct field names"),
        (
            {"disposition": "merge", "primary_key": "id", "cursor_field": "id"},
            "cursor_field",
            "other than the primary key",
        ),
        ({"disposition": "merge", "primary_key": "id", "mode": "append"}, "mode", "remove mode"),
        ({"disposition": "replace", "mode": "error_if_exists"}, "mode", "remove mode"),
        ({"disposition": "merge", "primary_key": "id", "path": "snap.txt"}, "format", "cannot be merged"),
        ({"primary_key": "id"}, "primary_key", "set disposition='merge'"),
        ({"disposition": "append", "cursor_field": "t"}, "cursor_field", "only applies to disposition='merge'"),
        ({"disposition": "append", "path": "events/today.ndjson"}, "path", "use path='events'"),
        ({"disposition": "upsert"}, "disposition", "'replace', 'append' or 'merge'"),
    ],
)
def test_conflicting_settings_are_refused_naming_the_field_and_the_fix(
    base: str, config: dict[str, Any], field: str, fix: str
) -> None:
    with pytest.raises(FlowValidationError) as info:
        sink(base, [{"id": 1}], **{"path": "snap.ndjson", **config})
    text = str(info.value)
    assert f"{field}:" in text and fix in text, text
    assert files_in(base) == []


def test_replace_is_todays_overwrite(base: str) -> None:
    sink(base, [{"id": 1}], path="out.ndjson", disposition="replace")
    ref = sink(base, [{"id": 2}], path="out.ndjson", disposition="replace")
    assert snapshot(base, "out.ndjson") == [{"id": 2}] and ref.records == 1


def _peak_of_merge(base: str, size: int) -> int:
    """Python's peak allocations while merging 10% updates into a ``size``-record snapshot written beforehand."""
    with Path(base, f"big{size}.ndjson").open("w") as out:
        for i in range(size):
            out.write(json.dumps({"id": i, "updated_at": "2024-01-01", "name": f"item-{i}", "pad": "x" * 60}) + "\n")
    updates = ({"id": i * 10, "updated_at": "2024-02-01", "name": "new", "pad": ""} for i in range(size // 10))
    tracemalloc.start()
    try:
        ref = merge(base, updates, path=f"big{size}.ndjson", cursor_field="updated_at")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ref.records == size
    return peak


def test_memory_stays_flat_as_the_snapshot_grows(base: str) -> None:
    small, large = _peak_of_merge(base, 10_000), _peak_of_merge(base, 100_000)
    # a dict of the 100k records alone would hold about 40 MiB of Python objects
    assert large < 8 * 1024 * 1024, large
    assert large < small * 2 + 1024 * 1024, (small, large)


def test_a_snapshot_line_that_is_not_json_fails_naming_it(base: str) -> None:
    Path(base, "snap.ndjson").write_text('{"id": 1}\n{"id": 2,\n')
    with pytest.raises(FlowValidationError, match=r"the snapshot 'snap.ndjson' line 2 is not JSON"):
        merge(base, [{"id": 3}])
    assert Path(base, "snap.ndjson").read_text() == '{"id": 1}\n{"id": 2,\n'


def test_kept_snapshot_lines_lose_their_byte_order_mark_and_crlf(base: str) -> None:
    """Lines go back out as they were read, but as clean NDJSON lines: no BOM, no carriage return."""
    Path(base, "snap.ndjson").write_bytes('\ufeff{"id": 1, "n": "é"}\r\n\r\n{"id": 2}\r\n'.encode())
    merge(base, [{"id": 3}])
    # kept lines as they were; the new record as the orjson codec writes it (compact)
    assert Path(base, "snap.ndjson").read_bytes() == '{"id": 1, "n": "é"}\n{"id": 2}\n{"id":3}\n'.encode()


def test_flow_files_take_the_disposition_and_refuse_a_merge_without_key(tmp_path: Path) -> None:
    """Flow files validate file.sink's config with the same model: the new fields work there, with the same errors."""
    from airflow_provider_flow.errors import FlowFileError
    from airflow_provider_flow.flows.loader import load_flow_file

    flow = """\
dag_id: customers_merge
schedule: null
start_date: 2024-01-01
nodes:
  - id: snapshot
    runtime: file.sink
    config: {path: customers.ndjson, base_path: /data, disposition: merge, CONFIG}
"""
    good = tmp_path / "good.yaml"
    good.write_text(flow.replace("CONFIG", "primary_key: [region, id], cursor_field: updated_at"))
    node = load_flow_file(good).nodes[0]
    assert node.config["disposition"] == "merge" and node.config["primary_key"] == ["region", "id"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(flow.replace("CONFIG", "cursor_field: updated_at"))
    with pytest.raises(FlowFileError, match="primary_key: disposition='merge' needs primary_key"):
        load_flow_file(bad)
