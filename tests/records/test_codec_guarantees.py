"""What the JSON codecs promise, whatever library does the work: pinned on the stdlib codecs first, kept after the
switch to msgspec (decoding) and orjson (encoding).

Every case goes through the real entry points (``loads_json``, ``RecordWriter``, ``iter_records``,
``describe_file``) on real files. Values parse exactly as ``json.loads`` parses them (big integers stay integers,
NaN/Infinity literals are read, lone surrogate escapes are kept, the last duplicate key wins), and what is written
is JSON that ``json.loads`` reads back to the same value, or a clear error naming the record.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_flow.core.jsontext import loads_json
from airflow_provider_flow.errors import FlowValidationError, NestingTooDeepError
from airflow_provider_flow.records.codecs import dumps_record, encode_record
from airflow_provider_flow.records.reader import describe_file, iter_records
from airflow_provider_flow.records.writer import write_records

TEXTS = [
    '{"a": 1, "a": 2}',  # duplicate keys: the last wins
    "[NaN, Infinity, -Infinity]",  # not JSON, but json.loads reads them (and the writer then refuses them)
    "[1e400, -1e400]",  # overflow to infinity
    "[123456789012345678901234567890, -9223372036854775809, 18446744073709551616]",  # beyond 64 bits
    '["\\ud800", "\\udc00\\ud800", {"\\ud800": 1}]',  # lone surrogate escapes
    '{"n": -0.0, "f": 0.1, "e": 1e-7, "big": 1.7976931348623157e308, "tiny": 5e-324}',
    '  {"nested": {"a": [1, 2, {"b": null}]}, "t": true, "f": false}  ',
    '"\\u0000 \\" \\\\ \\/ \\b \\f \\n \\r \\t"',
    '{"z\\u00fcrich": "\\u20ac", "raw": "€ 中文 😀"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_values_parse_exactly_as_the_stdlib_parses_them(text: str) -> None:
    expected = json.loads(text)
    for given_text in (text, text.encode("utf-8")):
        got = loads_json(given_text, source="test")
        assert repr(got) == repr(expected)  # repr: NaN != NaN, and -0.0 == 0.0
        assert _types(got) == _types(expected)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize(
    "text", ["[1,]", "{'a': 1}", "01", "[1] x", "", " ", '"a\x01b"', "[.5]", "tru", '{"a" 1}', "[1e5"]
)
def test_syntax_errors_stay_json_decode_errors_with_the_stdlib_wording(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        loads_json(text, source="test")
    assert (got.value.msg, got.value.pos) == (expected.value.msg, expected.value.pos)


@pytest.mark.parametrize("depth", [100_000, 3000])
def test_nesting_too_deep_is_a_nesting_error_naming_the_source(depth: int) -> None:
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        with pytest.raises(NestingTooDeepError) as info:
            loads_json(text.encode(), source=lambda: "the test input", field="path")
        assert "the test input" in info.value.message


def test_invalid_utf8_bytes_raise_unicode_decode_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads_json(b'["\xff"]', source="test")


# -- encoding ---------------------------------------------------------------------------------------------------


def _roundtrip(record: Any) -> Any:
    return json.loads(encode_record(record, 0))


def test_non_json_values_follow_the_documented_rules() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=dt.timezone.utc)
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    record = {
        "when": when,
        "naive": naive,
        "day": dt.date(2024, 1, 2),
        "time": dt.time(3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "money": decimal.Decimal("12.3400"),
        "id": ident,
        "tuple": (1, 2),
        "set": {3},
        "frozen": frozenset({"x"}),
    }
    assert _roundtrip(record) == {
        "when": when.isoformat(),
        "naive": naive.isoformat(),
        "day": "2024-01-02",
        "time": "03:04:05+02:00",
        "money": "12.3400",
        "id": str(ident),
        "tuple": [1, 2],
        "set": [3],
        "frozen": ["x"],
    }
    assert dumps_record(record, 0) == encode_record(record, 0).decode("utf-8")


def test_big_integers_and_non_string_keys_are_written_exactly() -> None:
    record = {"big": 2**70, "neg": -(2**80) - 1, 1: "one", 2.5: "f", False: "no", None: "n", "deep": [[2**64]]}
    assert _roundtrip(record) == {
        "big": 2**70,
        "neg": -(2**80) - 1,
        "1": "one",
        "2.5": "f",
        "false": "no",
        "null": "n",
        "deep": [[2**64]],
    }


def test_non_ascii_is_kept_as_is() -> None:
    assert "Zürich €" in encode_record({"city": "Zürich €"}, 0).decode("utf-8")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("shape", ["top", "dict", "list", "nested", "with_nulls"])
def test_nan_and_infinity_are_refused_naming_the_record(bad: float, shape: str) -> None:
    record = {
        "top": bad,
        "dict": {"x": bad},
        "list": [1, bad],
        "nested": {"a": [{"b": (bad,)}]},
        "with_nulls": {"a": None, "b": [None, bad]},
    }[shape]
    with pytest.raises(FlowValidationError) as info:
        encode_record(record, 7)
    assert info.value.field == "data[7]" and "JSON" in info.value.message


def test_nulls_without_nan_are_fine() -> None:
    assert _roundtrip({"a": None, "b": [None, 1.5]}) == {"a": None, "b": [None, 1.5]}


def test_values_json_cannot_hold_are_refused_naming_the_record() -> None:
    class Thing:
        pass

    for record in ({"x": Thing()}, {"x": b"bytes"}, {(1, 2): "tuple key"}):
        with pytest.raises(FlowValidationError) as info:
            encode_record(record, 3)
        assert info.value.field == "data[3]" and "cannot be written as JSON" in info.value.message


def test_a_lone_surrogate_is_refused_when_written_as_utf8(tmp_path: Path) -> None:
    with pytest.raises(FlowValidationError) as info:
        write_records(str(tmp_path), "out.ndjson", [{"s": "ok"}, {"s": "\ud800"}])
    assert "record 1" in info.value.message
    assert not os.listdir(tmp_path)  # nothing published, no temporary file left


def test_a_deeply_nested_record_is_written_or_refused_as_too_deep() -> None:
    shallow: Any = 1
    for _ in range(400):  # deeper than orjson writes (254), well within the stdlib's reach
        shallow = [shallow]
    assert _roundtrip(shallow) == shallow
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(NestingTooDeepError):
        encode_record(deep, 0)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**100), max_value=2**100)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_round_trips_through_the_codec(value: Any) -> None:
    try:
        encoded = encode_record(value, 0)
    except FlowValidationError:
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(value, ensure_ascii=False))  # lone surrogates only
        return
    assert json.loads(encoded) == value
    assert loads_json(encoded, source="test") == value
    assert loads_json(json.dumps(value), source="test") == value


# -- files -------------------------------------------------------------------------------------------------------


def test_ndjson_file_reading_keeps_line_rules(tmp_path: Path) -> None:
    """Blank lines (also Unicode blanks), CRLF and lone CR line ends, a BOM: read exactly as the text reader did."""
    content = '\ufeff{"a": 1}\r\n\n   \n{"b": [1, 2]}\r{"c": "\u00e9"}\n\u00a0\n{"big": 123456789012345678901234567890}'
    (tmp_path / "in.ndjson").write_bytes(content.encode("utf-8"))
    records = list(iter_records(str(tmp_path), "in.ndjson"))
    assert records == [{"a": 1}, {"b": [1, 2]}, {"c": "é"}, {"big": 123456789012345678901234567890}]
    ref = describe_file(str(tmp_path), "in.ndjson")
    assert ref.records == 4 and ref.bytes == len(content.encode("utf-8"))


def test_ndjson_bad_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "in.ndjson").write_bytes(b'{"a": 1}\r\n{"a": 2}\r{"a": \n')
    for read in (
        lambda: list(iter_records(str(tmp_path), "in.ndjson")),
        lambda: describe_file(str(tmp_path), "in.ndjson"),
    ):
        with pytest.raises(FlowValidationError) as info:
            read()
        assert "line 3 is not JSON" in info.value.message


def test_ndjson_deep_line_is_too_deep_when_counted_too(tmp_path: Path) -> None:
    (tmp_path / "in.ndjson").write_bytes(b'{"a": 1}\n' + b"[" * 5000 + b"]" * 5000 + b"\n")
    with pytest.raises(NestingTooDeepError, match="line 2"):
        describe_file(str(tmp_path), "in.ndjson")


@pytest.mark.parametrize("raw", [b'{"a": "\xff"}\n', b'{"a": "\xed\xa0\x80"}\n', b"\xff\n"])
def test_ndjson_invalid_utf8_names_the_encoding(tmp_path: Path, raw: bytes) -> None:
    (tmp_path / "in.ndjson").write_bytes(b'{"a": 1}\n' + raw)
    for read in (
        lambda: list(iter_records(str(tmp_path), "in.ndjson")),
        lambda: describe_file(str(tmp_path), "in.ndjson"),
    ):
        with pytest.raises(FlowValidationError) as info:
            read()
        assert info.value.field == "encoding"


def test_written_files_read_back_exactly(tmp_path: Path) -> None:
    records = [{"id": i, "big": 2**65 + i, "s": "ü\u2028", "f": i / 3, "n": None} for i in range(50)]
    for name in ("out.ndjson", "out.json"):
        ref = write_records(str(tmp_path), name, records)
        assert list(iter_records(str(tmp_path), name)) == records
        assert ref.records == 50
    lines = (tmp_path / "out.ndjson").read_bytes().split(b"\n")
    assert [json.loads(line) for line in lines if line] == records  # a U+2028 inside a value is no line end


def test_latin1_files_still_use_their_encoding(tmp_path: Path) -> None:
    write_records(str(tmp_path), "out.ndjson", [{"city": "Zürich"}], encoding="latin-1")
    assert (tmp_path / "out.ndjson").read_bytes().count("ü".encode("latin-1")) == 1
    assert list(iter_records(str(tmp_path), "out.ndjson", encoding="latin-1")) == [{"city": "Zürich"}]


@pytest.mark.parametrize("bad_index", [0, 1, 2_500, 4_999])
def test_csv_rows_written_in_batches_still_name_the_record_that_cannot_be_encoded(
    tmp_path: Path, bad_index: int
) -> None:
    """CSV rows are encoded a batch at a time: the error still names the one record holding the character."""
    rows = [{"id": i, "text": 'Zürich, "quoted"' if i != bad_index else "Zürich €"} for i in range(5_000)]
    with pytest.raises(FlowValidationError) as info:
        write_records(str(tmp_path), "out.csv", rows, encoding="latin-1")
    assert info.value.field == "encoding" and f"record {bad_index} " in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_csv_cells_of_every_kind_are_written_as_before(tmp_path: Path) -> None:
    class Text(str):
        pass

    rows = [
        {"a": 1, "b": 1.5, "c": True, "d": None, "e": "x,y"},
        {"e": [1, {"k": "ü"}], "a": {"n": None}, "b": Text("sub"), "c": dt.date(2024, 1, 2)},  # other order
        {"a": 2},  # missing columns
    ]
    write_records(str(tmp_path), "out.csv", rows)
    assert (tmp_path / "out.csv").read_bytes().decode("utf-8") == (
        'a,b,c,d,e\r\n1,1.5,True,,"x,y"\r\n"{""n"": null}",sub,2024-01-02,,"[1, {""k"": ""ü""}]"\r\n2,,,,\r\n'
    )
