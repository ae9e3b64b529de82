"""Records <-> files: round trips per format (unicode, CSV quoting, empty input), append, errors, references."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowValidationError, PathTraversalError
from airflow_provider_flow.records.codecs import detect_format
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reader import iter_records, iter_reference
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.writer import RecordWriter, write_records

UNICODE = "héllo wörld — 日本語 😀 \u200b RTL: שלום"
ROWS: list[dict[str, Any]] = [
    {"id": "1", "text": UNICODE, "quoted": 'she said "hi", then left', "multi": "line one\nline two\r\nthree"},
    {"id": "2", "text": "", "quoted": ",,,", "multi": " leading and trailing spaces "},
    {"id": "3", "text": "tab\there", "quoted": '"', "multi": "=1+2 looks like a formula"},
]
TYPED: list[Any] = [
    {"n": 1, "f": 1.5, "b": True, "none": None, "nested": {"a": [1, "x"]}, "u": UNICODE},
    [1, 2],
    "s",
    7,
]


@pytest.fixture
def base(tmp_path: Path) -> str:
    return os.path.realpath(tmp_path)


def state_for(base: str) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_test": base}))


@pytest.mark.parametrize(
    ("path", "records"),
    [
        ("rt/data.json", TYPED),
        ("rt/data.ndjson", TYPED),
        ("rt/data.jsonl", ROWS),
        ("rt/data.csv", ROWS),
        ("rt/data.txt", [UNICODE, "", "  spaced  ", "tab\tinside"]),
    ],
)
def test_round_trip(base: str, path: str, records: list[Any]) -> None:
    ref = write_records(base, path, records)
    assert ref.records == len(records) and ref.bytes == os.path.getsize(os.path.join(base, path))
    assert list(iter_records(base, path)) == records
    assert list(iter_reference(ref, state_for(base))) == records


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "text"])
def test_empty_input_round_trips_to_no_records(base: str, fmt: str) -> None:
    ref = write_records(base, f"empty.{fmt}", [], format=fmt)
    assert ref.records == 0
    assert list(iter_records(base, f"empty.{fmt}", format=fmt)) == []
    if fmt == "json":
        assert Path(base, "empty.json").read_text() == "[]\n"


def test_csv_quoting_is_rfc4180(base: str) -> None:
    write_records(base, "q.csv", [{"a": 'x,"y"', "b": "two\nlines"}])
    assert Path(base, "q.csv").read_bytes() == b'a,b\r\n"x,""y""","two\nlines"\r\n'


def test_csv_values_and_header_rules(base: str) -> None:
    write_records(base, "v.csv", [{"a": None, "b": [1, "é"], "c": 3.5}, {"a": True}])
    assert list(iter_records(base, "v.csv")) == [
        {"a": "", "b": '[1, "é"]', "c": "3.5"},
        {"a": "True", "b": "", "c": ""},
    ]
    with pytest.raises(FlowValidationError) as info:
        write_records(base, "bad.csv", [{"a": 1}, {"a": 2, "surprise": 3}])
    assert "'surprise'" in str(info.value) and info.value.field == "data[1]" and "ndjson" in str(info.value)
    with pytest.raises(FlowValidationError, match="CSV needs dict records"):
        write_records(base, "bad.csv", ["plain"])
    assert not Path(base, "bad.csv").exists()  # failed writes leave nothing behind


def test_csv_with_bom_and_ragged_rows(base: str) -> None:
    Path(base, "excel.csv").write_bytes("\ufeffname,city\r\nZoë,Köln\r\n".encode())
    assert list(iter_records(base, "excel.csv")) == [{"name": "Zoë", "city": "Köln"}]
    Path(base, "ragged.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(FlowValidationError, match="line 2 has more cells"):
        list(iter_records(base, "ragged.csv"))


def test_json_values_are_made_json_safe(base: str) -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    write_records(base, "t.ndjson", [{"at": when, "d": dt.date(2024, 5, 1), "amount": decimal.Decimal("1.10")}])
    assert list(iter_records(base, "t.ndjson")) == [
        {"at": "2024-05-01T12:30:00+00:00", "d": "2024-05-01", "amount": "1.10"}
    ]
    with pytest.raises(FlowValidationError, match="record 1 cannot be written as JSON"):
        write_records(base, "nan.json", [{"ok": 1}, {"x": float("nan")}])
    with pytest.raises(FlowValidationError, match=r"data\[0\]"):
        write_records(base, "obj.json", [{"x": object()}])
    assert sorted(os.listdir(base)) == ["t.ndjson"]


def test_encodings(base: str) -> None:
    write_records(base, "l1.csv", [{"name": "Zoë"}], encoding="latin-1")
    assert Path(base, "l1.csv").read_bytes() == b"name\r\nZo\xeb\r\n"
    assert list(iter_records(base, "l1.csv", encoding="latin-1")) == [{"name": "Zoë"}]
    with pytest.raises(FlowValidationError) as info:
        list(iter_records(base, "l1.csv"))
    assert info.value.field == "encoding" and "l1.csv" in str(info.value)
    with pytest.raises(FlowValidationError) as info:
        write_records(base, "x.txt", ["日本"], encoding="latin-1")
    assert info.value.field == "encoding" and "utf-8" in str(info.value)
    with pytest.raises(FlowValidationError, match="unknown text encoding"):
        write_records(base, "x.txt", ["a"], encoding="klingon")


def test_format_detection() -> None:
    assert detect_format("a/b.JSONL") == "ndjson" and detect_format("x.log") == "text"
    assert detect_format("x.dat", "csv") == "csv"
    with pytest.raises(FlowValidationError) as info:
        detect_format("x.parquet")
    assert info.value.field == "format" and "'x.parquet'" in str(info.value) and "ndjson" in str(info.value)
    with pytest.raises(FlowValidationError, match="unknown format 'xml'"):
        detect_format("x.json", "xml")


def test_bad_files_name_path_and_line(base: str) -> None:
    Path(base, "bad.ndjson").write_text('{"a": 1}\n\n{oops}\n')
    with pytest.raises(FlowValidationError, match=r"'bad\.ndjson' line 3 is not JSON"):
        list(iter_records(base, "bad.ndjson"))
    Path(base, "bad.json").write_text("[1, 2,]")
    with pytest.raises(FlowValidationError, match=r"'bad\.json' is not valid JSON"):
        list(iter_records(base, "bad.json"))
    Path(base, "obj.json").write_text('{"a": 1}')
    assert list(iter_records(base, "obj.json")) == [{"a": 1}]


@pytest.mark.parametrize(
    ("fmt", "first", "second"),
    [
        ("json", [{"a": 1}], [{"a": "é"}]),
        ("ndjson", [{"a": 1}], [[2]]),
        ("csv", [{"a": "1", "b": "x"}], [{"b": "y"}]),
        ("text", ["one"], ["two", "three"]),
    ],
)
def test_append_keeps_one_valid_file(base: str, fmt: str, first: list[Any], second: list[Any]) -> None:
    write_records(base, f"ap.{fmt}", first, format=fmt)
    ref = write_records(base, f"ap.{fmt}", second, format=fmt, mode="append")
    got = list(iter_records(base, f"ap.{fmt}", format=fmt))
    if fmt == "csv":
        assert got == [{"a": "1", "b": "x"}, {"a": "", "b": "y"}]
    else:
        assert got == first + second
    assert ref.records == len(first) + len(second)
    if fmt == "json":
        assert isinstance(json.loads(Path(base, "ap.json").read_text()), list)


def test_append_to_missing_file_creates_it(base: str) -> None:
    ref = write_records(base, "new.ndjson", [1], mode="append")
    assert ref.records == 1 and list(iter_records(base, "new.ndjson")) == [1]


def test_writer_failure_mid_stream_keeps_the_old_file(base: str) -> None:
    write_records(base, "keep.ndjson", [{"v": "old"}])

    def records() -> Any:
        yield {"v": "new"}
        raise RuntimeError("upstream broke")

    with pytest.raises(RuntimeError):
        write_records(base, "keep.ndjson", records())
    assert list(iter_records(base, "keep.ndjson")) == [{"v": "old"}]
    assert os.listdir(base) == ["keep.ndjson"]


def test_record_writer_api(base: str) -> None:
    with RecordWriter(base, "w/x.ndjson") as w:
        w.write({"a": 1})
        assert w.write_many([{"a": 2}, {"a": 3}]) == 2
        with pytest.raises(RuntimeError):
            _ = w.sha256  # not committed yet
    ref = w.reference(fs_conn_id="fs_test")
    assert (w.records, w.relative_path, ref.path, ref.fs_conn_id, ref.base_path) == (
        3,
        "w/x.ndjson",
        "w/x.ndjson",
        "fs_test",
        None,
    )
    assert w.reference().base_path == base


def test_input_records_shapes(base: str) -> None:
    state = state_for(base)
    ref = write_records(base, "in.ndjson", [{"a": 1}, {"a": 2}], fs_conn_id="fs_test")
    ref2 = write_records(base, "in2.csv", [{"b": "3"}], base_path=base)
    assert list(input_records(None, state)) == []
    assert list(input_records([{"x": 1}], state)) == [{"x": 1}]
    assert list(input_records({"x": 1}, state)) == [{"x": 1}]
    assert list(input_records(ref, state)) == [{"a": 1}, {"a": 2}]
    as_xcom = ref.model_dump(mode="json", exclude_none=True)
    assert list(input_records(as_xcom, state)) == [{"a": 1}, {"a": 2}]
    assert list(input_records([as_xcom, ref2.model_dump()], state)) == [{"a": 1}, {"a": 2}, {"b": "3"}]
    with pytest.raises(FlowValidationError, match="mixes file references"):
        list(input_records([as_xcom, {"x": 1}], state))
    with pytest.raises(FlowValidationError, match="render_template_as_native_obj") as info:
        list(input_records("[{'x': 1}]", state))
    assert info.value.field == "data"
    with pytest.raises(FlowValidationError, match="is a int"):
        list(input_records(5, state))


def test_reference_is_confined_and_verified_again(base: str) -> None:
    state = state_for(base)
    ref = write_records(base, "r.ndjson", [{"a": 1}], fs_conn_id="fs_test")
    Path(base, "r.ndjson").write_text('{"a": 2}\n')  # changed after the upstream task wrote it
    with pytest.raises(FileError) as info:
        list(iter_reference(ref, state))
    assert info.value.operation == "verify" and "re-run" in str(info.value) and not info.value.is_retryable
    hostile = FileReference(
        path="../../etc/passwd", fs_conn_id="fs_test", format="text", records=1, bytes=1, sha256="x"
    )
    with pytest.raises(PathTraversalError):
        list(iter_reference(hostile, state))
    with pytest.raises(FlowValidationError, match="malformed file reference"):
        list(input_records({"kind": "file", "path": "x"}, state))


def test_reference_to_a_folder_outside_the_readers_base_is_verified_before_any_record(tmp_path: Path) -> None:
    """A reference from XCom/conf is hostile: an invented base_path must not stream another folder's lines."""
    own, outside = tmp_path / "own", tmp_path / "outside"
    own.mkdir()
    outside.mkdir()
    secret = "root:x:0:0:secret-line\n" * 3
    (outside / "passwd.txt").write_text(secret)
    state = state_for(str(own))
    hostile = {"kind": "file", "path": "passwd.txt", "base_path": str(outside), "format": "text"}
    hostile |= {"records": 1, "bytes": 1, "sha256": "0" * 64}
    stream = input_records(hostile, state, trusted_bases=(os.path.realpath(own),))
    with pytest.raises(FileError) as info:
        next(stream)  # before any record: a streaming sink must not get to send one
    assert info.value.operation == "verify" and not info.value.is_retryable
    assert "secret" not in str(info.value) and str(len(secret)) not in str(info.value)
    # The same check without trusted bases (callers that have none), and for lists of references.
    with pytest.raises(FileError):
        next(input_records([hostile], state))
    # Naming another fs connection of the deployment instead of a folder gets the same treatment.
    other_team = ExecutionState(settings=StaticSettingsProvider(fs={"fs_other": str(outside)}))
    by_conn = {key: value for key, value in hostile.items() if key != "base_path"} | {"fs_conn_id": "fs_other"}
    with pytest.raises(FileError, match="under fs connection 'fs_other' does not match"):
        next(input_records(by_conn, other_team, trusted_bases=(os.path.realpath(own),)))
    # A genuine reference into another folder still reads (verified in full first).
    genuine = write_records(str(outside), "ok.ndjson", [{"a": 1}], base_path=str(outside))
    assert list(input_records(genuine, state, trusted_bases=(os.path.realpath(own),))) == [{"a": 1}]
    # Inside the reader's own base the file streams in one pass; a mismatch is still caught at the end.
    inside = write_records(str(own), "in.ndjson", [{"a": 1}, {"a": 2}], base_path=str(own))
    Path(own, "in.ndjson").write_text('{"a": 9}\n{"a": 2}\n')
    streamed = input_records(inside, state, trusted_bases=(os.path.realpath(own),))
    assert next(streamed) == {"a": 9}
    with pytest.raises(FileError, match="changed after it was written"):
        list(streamed)


@pytest.mark.parametrize("line", ["two\nlines", "carriage\rreturn", "crlf\r\n"])
def test_text_refuses_a_line_break_inside_a_record(base: str, line: str) -> None:
    """Written as is, it would read back as two records while the reference claims one."""
    with pytest.raises(FlowValidationError, match="line break") as info:
        write_records(base, "lines.txt", ["fine", line])
    assert info.value.field == "data[1]"
    assert not Path(base, "lines.txt").exists()
    ref = write_records(base, "lines.txt", ["fine", {"multi": line}])  # non-strings are JSON: breaks escaped
    assert ref.records == len(list(iter_records(base, "lines.txt"))) == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("dup.csv", "a,b,a\n1,2,3\n", "has the column 'a' more than once"),  # DictReader kept only the last 'a'
        (
            "cell.csv",
            'a\n"' + "x" * (8 * 1024 * 1024 + 1) + '"\n',
            "is not readable as CSV (field larger than field limit",
        ),
        ("deep.ndjson", "[" * 100_000 + "]" * 100_000 + "\n", "nests JSON arrays/objects too deeply"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nests JSON arrays/objects too deeply"),
    ],
)
def test_unparseable_files_are_validation_errors_naming_the_file(
    base: str, name: str, content: str, message: str
) -> None:
    """Not a raw csv.Error/RecursionError: those would not name the file, and Airflow would retry them."""
    Path(base, name).write_text(content)
    with pytest.raises(FlowValidationError, match=re.escape(message)) as info:
        list(iter_records(base, name))
    assert info.value.field == "path" and name in str(info.value) and not info.value.is_retryable


def test_csv_refuses_a_first_record_without_columns(base: str) -> None:
    """A header of no columns makes every row blank: the file would read back as no records at all."""
    with pytest.raises(FlowValidationError, match="empty object") as info:
        write_records(base, "e.csv", [{}, {}])
    assert info.value.field == "data[0]" and not Path(base, "e.csv").exists()
    ref = write_records(base, "e.csv", [{"a": None}, {}])  # later empty records are rows of empty cells
    assert ref.records == len(list(iter_records(base, "e.csv"))) == 2


def test_several_upstream_outputs_are_read_one_after_another(tmp_path) -> None:
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.records.input import input_records, upstream_outputs
    from airflow_provider_flow.records.writer import write_records

    base = str(tmp_path)
    ref = write_records(base, "b.ndjson", [{"n": 2}, {"n": 3}], format="ndjson", base_path=base)
    data = upstream_outputs({"a": [{"n": 1}], "b": ref.model_dump(), "c": {"n": 4}, "d": None})
    assert list(input_records(data, ExecutionState())) == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
