"""Block-wise record paths (issue 11): ``file.sink`` fed a file reference writes each read block's validated NDJSON
lines as they are, and whatever the per-record path refused or changed is still refused or changed; inline
records, batched NDJSON encoding and reference checks keep their results and errors.

Real files under a real base; inputs span several 1 MiB read blocks, so lines cut by a block edge are covered.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime, takes_text
from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
from airflow_provider_flow.records.codecs import encode_ndjson, encode_record
from airflow_provider_flow.records.input import input_blocks, input_records
from airflow_provider_flow.records.output import OriginalLines
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.staging import PageStage
from airflow_provider_flow.records.writer import RecordWriter
from airflow_provider_flow.storage.local_store import LocalStorage

#: Lines no encoder writes this way (spaces, escapes, exponents, a big integer), so a re-encoded line shows.
ODD = [
    b'{ "b" : 2 ,  "a" : [ 1 , 2.50 , 1E2 ] }',
    b'{"caf\\u00e9": "\\u20ac", "raw": "\xe2\x82\xac", "big": 123456789012345678901234567890}',
    b'"just a string"',
    b"[]",
    b"null",
]


@pytest.fixture
def base(tmp_path: Path) -> str:
    folder = tmp_path / "base"
    folder.mkdir()
    return os.path.realpath(folder)


def state_for(base: str) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))


def referenced(base: str, name: str, content: bytes) -> dict[str, Any]:
    """A reference as an upstream task hands it on: made by hashing alone, so a broken file reaches the sink."""
    Path(base, name).write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    return FileReference(
        path=name, base_path=base, format="ndjson", records=0, bytes=len(content), sha256=sha
    ).model_dump()


def sink(base: str, data: Any, **config: Any) -> Any:
    model = validate_config(FileSinkConfig, {"path": "out/sink.ndjson", **config})
    return FileSinkRuntime().execute(model, data, state_for(base))


def big_odd_file(records: int = 12_000) -> bytes:
    """~3 MiB of odd lines of every length (lines cut by the 1 MiB read blocks), ending in a line break."""
    return b"".join(ODD[i % len(ODD)].replace(b"2 ,", b"%d ," % i) + b" " * (i % 300) + b"\n" for i in range(records))


def test_strict_lines_from_a_reference_are_written_byte_for_byte(base: str) -> None:
    content = big_odd_file()
    ref = sink(base, referenced(base, "in.ndjson", content))
    written = Path(base, "out/sink.ndjson").read_bytes()
    assert written == content  # not one line re-encoded, none lost at a block edge
    assert ref.records == 12_000 and ref.bytes == len(content)
    assert ref.sha256 == hashlib.sha256(content).hexdigest()


def test_line_ends_blank_lines_and_byte_order_mark_are_what_the_reader_makes_of_them(base: str) -> None:
    lines = [b'{"i": %d}' % i for i in range(5)]
    content = (
        b"\xef\xbb\xbf" + lines[0] + b"\r\n" + lines[1] + b"\n\n   \n" + lines[2] + b"\r" + lines[3] + b"\n" + lines[4]
    )
    ref = sink(base, referenced(base, "in.ndjson", content))
    written = Path(base, "out/sink.ndjson").read_bytes().splitlines()
    assert [json.loads(line) for line in written] == [{"i": i} for i in range(5)]
    assert ref.records == 5 and all(b"\r" not in line and line.strip() for line in written)


def test_a_broken_line_fails_naming_it_and_publishes_nothing(base: str) -> None:
    content = big_odd_file(6000) + b'{"broken": \n' + b'{"after": 1}\n'
    with pytest.raises(FlowValidationError, match=r"'in\.ndjson' line 6001 is not JSON"):
        sink(base, referenced(base, "in.ndjson", content))
    assert not Path(base, "out").exists() or not os.listdir(Path(base, "out"))


def test_nan_is_still_refused_naming_the_record(base: str) -> None:
    content = b'{"a": 1}\n{"a": NaN}\n'
    with pytest.raises(FlowValidationError, match=r"record 1\b"):
        sink(base, referenced(base, "in.ndjson", content))
    assert not Path(base, "out/sink.ndjson").exists()


def test_invalid_utf8_is_refused(base: str) -> None:
    with pytest.raises(FlowValidationError, match="utf-8"):
        sink(base, referenced(base, "in.ndjson", b'{"a": "\xff"}\n'))
    assert not Path(base, "out/sink.ndjson").exists()


def test_a_reference_whose_file_changed_publishes_nothing(base: str) -> None:
    ref = referenced(base, "in.ndjson", big_odd_file())
    Path(base, "in.ndjson").write_bytes(big_odd_file().replace(b"[]", b"{}"))  # same size, other bytes
    with pytest.raises(FileError, match="changed after it was written"):
        sink(base, ref)
    assert not Path(base, "out/sink.ndjson").exists()


def test_other_encodings_and_formats_get_the_records_encoded(base: str) -> None:
    content = b'{ "a" : 1 }\n'
    ref = referenced(base, "in.ndjson", content)
    sink(base, ref, path="out/latin.ndjson", encoding="latin-1")
    assert Path(base, "out/latin.ndjson").read_bytes() == b'{"a":1}\n'
    sink(base, ref, path="out/one.json")
    assert json.loads(Path(base, "out/one.json").read_bytes()) == [{"a": 1}]


def test_inline_records_are_written_and_counted_exactly_across_blocks(base: str) -> None:
    rows = [{"i": i} for i in range(2_500)]
    ref = sink(base, rows)
    assert ref.records == 2_500
    assert Path(base, "out/sink.ndjson").read_bytes() == b"".join(b'{"i":%d}\n' % i for i in range(2_500))


def test_a_reference_after_inline_records_is_refused_as_a_mix(base: str) -> None:
    ref = referenced(base, "in.ndjson", b'{"a": 1}\n')
    state = state_for(base)
    for data in ([{"x": 1}] * 3 + [ref], [1, "two", ref], [ref, {"x": 1}]):
        with pytest.raises(FlowValidationError, match="mixes file references"):
            input_blocks(data, state)
        with pytest.raises(FlowValidationError, match="mixes file references"):
            list(input_records(data, state))
    plain = [{"kind": "file"}, {"x": 1}]  # looks a little like a reference, is a record (no path)
    assert list(input_records(plain, state)) == plain


def test_transform_of_a_reference_writes_what_the_records_say(base: str) -> None:
    ref = referenced(base, "in.ndjson", big_odd_file(3000))
    model = validate_config(TransformConfig, {"operations": [{"filter": "a"}], "output_path": "out/t.ndjson"})
    out = TransformRuntime().execute(model, ref, state_for(base))
    written = Path(base, "out/t.ndjson").read_bytes()
    assert out.records == 600
    assert written.splitlines() == [b'{"b":%d,"a":[1,2.5,100.0]}' % i for i in range(0, 3000, 5)]  # re-encoded


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_batched_encoding_is_record_encoding(records: list[Any]) -> None:
    """Same bytes as encode_record for each record, or the same error for the first one it refuses."""
    try:
        expected: bytes | str = b"".join(encode_record(record, 10 + i) + b"\n" for i, record in enumerate(records))
    except FlowValidationError as exc:
        expected = str(exc)
    try:
        got: bytes | str = encode_ndjson(records, 10)
    except FlowValidationError as exc:
        got = str(exc)
    assert got == expected


def test_batched_encoding_names_the_first_bad_record() -> None:
    with pytest.raises(FlowValidationError, match=r"record 7\b"):
        encode_ndjson([{"a": None}, {"a": 1}, {"a": math.nan}, {"a": object()}], 5)


def test_a_staged_page_takes_the_lines_its_records_came_with(base: str) -> None:
    lines = OriginalLines()
    stage = PageStage(LocalStorage(base), "stage", original_lines=lines)
    named, other = {"b": 2, "a": 1}, {"c": [1, 2.5]}
    lines.record, lines.line = named, b'{ "b" : 2 , "a" : 1 }'
    stage.write(named)  # the record the producer named: its line as it came
    stage.write(other)  # any other record (or a changed copy): encoded as usual
    stage.write(dict(named))
    assert stage.finish_page() == 3 and stage.close_segment()
    staged = Path(base, "stage/page-00000001.ndjson").read_bytes()
    assert staged == b'{ "b" : 2 , "a" : 1 }\n{"c":[1,2.5]}\n{"b":2,"a":1}\n'
    assert list(stage.records()) == [named, other, named]


@pytest.mark.parametrize(
    "config",
    [
        {"path": "o.ndjson"},
        {"path": "o.jsonl", "encoding": "UTF8"},
        {"path": "o.ndjson", "encoding": "latin-1"},
        {"path": "o.csv"},
        {"path": "o.txt", "format": "ndjson"},
        {"path": "o.ndjson", "format": "json"},
        {"path": "parts", "disposition": "append"},
        {"path": "parts", "disposition": "append", "format": "csv"},
    ],
)
def test_the_sink_keeps_only_lines_exactly_when_its_writer_takes_them(base: str, config: dict[str, Any]) -> None:
    """Lines read from a reference are kept instead of records only for a writer that writes them as they are."""
    model = validate_config(FileSinkConfig, config)
    path = config["path"] + ("/part.ndjson" if model.disposition == "append" else "")
    fmt = model.format or ("ndjson" if model.disposition == "append" else None)
    writer = RecordWriter(base, path, format=fmt, encoding=model.encoding)
    assert takes_text(model) is writer.takes_lines
    ref = referenced(base, "in.ndjson", b'{ "a" : 1 }\n')
    sink(base, ref, **config)  # whichever way, the records arrive
