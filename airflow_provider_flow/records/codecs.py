"""Records <-> bytes in JSON, NDJSON, CSV and text: the one codec module, streaming where the format allows.

Nothing here opens a path: callers hand in streams opened through :mod:`~airflow_provider_flow.storage`.

Format rules:

* ``json``: one JSON array (a top-level object reads as one record). Written streaming; read whole (no streaming
  JSON parser is at hand), so prefer ``ndjson`` for large data.
* ``ndjson`` (``.ndjson``/``.jsonl``): one JSON value per line, blank lines skipped; streamed both ways.
* ``csv``: header row from the first record's keys (or the existing header when appending); later records may
  omit keys (written empty) but not add new ones. Values: ``None`` -> empty, lists/dicts -> JSON, others
  ``str()``. Reading yields dicts of strings (CSV has no types). RFC 4180 quoting by the ``csv`` module; a
  UTF-8 byte-order mark (Excel) is skipped when reading UTF-8. A cell holds at most :data:`MAX_CSV_CELL_CHARS`
  characters, on both sides: the writer refuses a longer one, the reader accepts up to it.
* ``text`` (``.txt``/``.text``/``.log``): one record per line; non-string records are written as JSON. Reading
  yields the lines without their line ending.
* File references carry the encoding their file was written or read with (UTF-8 unless set otherwise).
* JSON output is compact, keeps non-ASCII characters as is, refuses NaN/Infinity (not JSON), writes
  datetimes/dates as ISO 8601 and Decimal/UUID as strings.

Libraries: msgspec parses (about 3x ``json.loads``; unlike orjson it keeps integers beyond 64 bits exact), orjson
writes (about 15x ``json.JSONEncoder``, 2x msgspec). The stdlib is kept only for what they refuse, so every result
and every error is the one ``json`` gives: NaN/Infinity literals and lone surrogate escapes read as before, syntax
errors worded as before, integers beyond 64 bits and non-string keys written as before. UTF-8 JSON and NDJSON are
read as bytes in 1 MiB blocks (no text decoding pass); other encodings go through a text reader as before.
``tests/records/test_codec_guarantees.py`` pins all of it.
"""

from __future__ import annotations

import codecs
import collections
import csv
import datetime as _dt
import decimal
import io
import itertools
import json
import math
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, BinaryIO, Literal

import orjson
from pydantic import AfterValidator

from airflow_provider_flow.core.jsontext import FAST_DECODER, loads_json, nesting_error
from airflow_provider_flow.core.lines import line_batches
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.storage.local import file_error

#: The formats a file may have; a config field naming one is typed :data:`RecordFormat`.
RecordFormat = Literal["json", "ndjson", "csv", "text"]

FORMATS: tuple[str, ...] = ("json", "ndjson", "csv", "text")
EXTENSIONS: dict[str, str] = {
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".csv": "csv",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
}


def detect_format(path: str, explicit: str | None = None) -> str:
    """The format to use: ``explicit`` when given, else from the file extension."""
    if explicit:
        if explicit not in FORMATS:
            raise FlowValidationError(
                f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}", field="format", value=explicit
            )
        return explicit
    ext = os.path.splitext(path)[1].lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    known = ", ".join(sorted(EXTENSIONS))
    raise FlowValidationError(
        f"cannot tell the format of {path!r} from its extension (known: {known}); set format to one of "
        f"{', '.join(FORMATS)}",
        field="format",
        value=None,
    )


def check_encoding(encoding: str) -> str:
    """``encoding`` if Python knows it, else a validation error naming the field."""
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise FlowValidationError(
            f"unknown text encoding {encoding!r}; use a Python codec name such as 'utf-8' or 'latin-1'",
            field="encoding",
            value=encoding,
        ) from None
    return encoding


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


#: The reference encoder, compact like orjson: decides everything orjson refuses (integers beyond 64 bits,
#: non-string keys, nesting deeper than orjson's 254 levels) and words every error. One instance for every record:
#: ``json.dumps`` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default, separators=(",", ":"))

#: orjson writes a 1 KB record in ~0.5 us (the stdlib ~8 us, msgspec ~1 us). Datetimes and dataclasses pass
#: through to :func:`_json_default`, so the documented rules hold whichever library writes.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode_record(record: Any, index: int) -> bytes:
    """One record as compact UTF-8 JSON (no newline); a clear error naming ``data[index]`` when it cannot be.

    orjson writes NaN and Infinity as ``null``: a record whose output holds a ``null`` is checked for them (the
    walk runs only then), so refusing them costs nothing on the records that have none."""
    try:  # this runs once per record written
        data = orjson.dumps(record, default=_json_default, option=_ORJSON_OPTIONS)
    except TypeError:  # what orjson cannot write, the stdlib writes (big integers, ...) or words the error
        return _encode_stdlib(record, index)
    if b"null" in data and _has_non_finite(record):
        return _encode_stdlib(record, index)  # raises, naming NaN/Infinity
    return data


def fast_json_lines(records: list[Any]) -> list[bytes] | None:
    """What :func:`encode_record` writes for each record, encoded at once (no Python call per record), or None when
    one of them needs the stdlib (an integer beyond 64 bits, a non-string key, NaN or Infinity, nesting deeper than
    254 levels): the caller then has them encoded record by record. Producers that need the bytes anyway (a page
    digest) hand them on instead of having them encoded twice."""
    try:
        lines = [orjson.dumps(record, default=_json_default, option=_ORJSON_OPTIONS) for record in records]
    except TypeError:
        return None
    for line, record in zip(lines, records, strict=True):
        if b"null" in line and _has_non_finite(record):
            return None
    return lines


def dumps_record(record: Any, index: int) -> str:
    """:func:`encode_record` as text (for writers in another encoding)."""
    return encode_record(record, index).decode("utf-8")


def _encode_stdlib(record: Any, index: int) -> bytes:
    try:
        return _ENCODER.encode(record).encode("utf-8")
    except RecursionError:
        raise nesting_error(f"record {index} (being written as JSON)", field=f"data[{index}]") from None
    except UnicodeEncodeError as exc:  # a lone surrogate: not representable in UTF-8, nor in JSON read back
        raise FlowValidationError(
            f"record {index} has characters UTF-8 cannot encode ({exc.reason}); remove lone surrogates "
            "(e.g. text decoded with errors='surrogateescape')",
            field=f"data[{index}]",
            value=repr(record)[:120],
        ) from None
    except (TypeError, ValueError) as exc:
        raise FlowValidationError(
            f"record {index} cannot be written as JSON: {exc}; convert it to strings, numbers, lists and dicts",
            field=f"data[{index}]",
            value=repr(record)[:120],
        ) from None


def _has_non_finite(value: Any) -> bool:
    """Whether a NaN or an infinity hides anywhere in ``value`` (iterative: no recursion limit to hit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())  # keys: orjson refuses non-string ones, so the stdlib checked those
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return False


#: The largest CSV cell, in characters, the writer produces and the reader accepts: one limit, so whatever file.sink
#: writes as CSV, file.source reads back (the ``csv`` reader's own default, 131072, is far below what writers
#: produce). It also bounds what one cell of a hostile CSV makes the reader hold in memory.
MAX_CSV_CELL_CHARS = 8 * 1024 * 1024


def accept_csv_cells_up_to_the_limit() -> None:
    """Raise the ``csv`` reader's process-wide field limit to :data:`MAX_CSV_CELL_CHARS` (never lower it)."""
    if csv.field_size_limit() < MAX_CSV_CELL_CHARS:
        csv.field_size_limit(MAX_CSV_CELL_CHARS)


def check_csv_cells(cells: list[str], columns: Sequence[str], index: int) -> list[str]:
    """``cells`` as they are, or a validation error naming the first one the reader would refuse."""
    if max(map(len, cells), default=0) <= MAX_CSV_CELL_CHARS:
        return cells
    column, cell = next((c, v) for c, v in zip(columns, cells, strict=True) if len(v) > MAX_CSV_CELL_CHARS)
    raise FlowValidationError(
        f"record {index} column {column[:80]!r} is a {len(cell)}-character CSV cell; cells are limited to "
        f"{MAX_CSV_CELL_CHARS} characters so the file reads back; shorten the value or use format 'ndjson'",
        field=f"data[{index}]",
        value=column[:80],
    )


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


#: Bytes buffered by a RecordWriter before they go to the atomic writer (and its hash) in one call.


def _known_encoding(value: str) -> str:
    """pydantic validator: the same check as :func:`check_encoding`, as the ValueError pydantic reports."""
    try:
        return check_encoding(value)
    except FlowValidationError as err:
        raise ValueError(err.message.removeprefix("encoding: ")) from None


#: A config field naming a text encoding Python knows (checked when the config is validated).
Encoding = Annotated[str, AfterValidator(_known_encoding)]


def _decode_error(exc: UnicodeDecodeError, name: str, encoding: str) -> FlowValidationError:
    return FlowValidationError(
        f"{name!r} is not valid {encoding} ({exc.reason}); set encoding to the file's real encoding",
        field="encoding",
        value=encoding,
    )


def _text(stream: BinaryIO, encoding: str, *, newline: str | None) -> io.TextIOWrapper:
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # tolerate the byte-order mark spreadsheet tools put in front
    return io.TextIOWrapper(stream, encoding=encoding, newline=newline)


def parse_stream(stream: BinaryIO, format: str, encoding: str, name: str) -> Iterator[Any]:
    """Records from an open binary stream (``name`` is only used in error messages)."""
    if format in ("ndjson", "json") and codecs.lookup(encoding).name == "utf-8":
        try:
            yield from (_ndjson_bytes(stream, name) if format == "ndjson" else _json_bytes(stream, name))
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, name, encoding) from None
        return
    text = _text(stream, encoding, newline="" if format == "csv" else None)
    try:
        if format == "json":
            yield from _parse_json(text.read(), name)
        elif format == "ndjson":
            for lineno, line in enumerate(text, start=1):
                record = _ndjson_text_line(line, lineno, name)
                if record is not _BLANK:
                    yield record
        elif format == "csv":
            accept_csv_cells_up_to_the_limit()
            reader = csv.DictReader(text, restval="")
            _check_csv_header(reader, name)
            for row in reader:
                if None in row:
                    raise FlowValidationError(
                        f"{name!r} line {reader.line_num} has more cells than the header "
                        f"({len(reader.fieldnames or [])} columns); quote cells that contain commas",
                        field="path",
                        value=name,
                    )
                yield row
        elif format == "text":
            for line in text:
                yield line[:-1] if line.endswith("\n") else line
        else:
            detect_format(name, format)  # raises with the list of formats
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, name, encoding) from None
    except csv.Error as exc:  # e.g. a cell over csv.field_size_limit(): a broken file, not a retryable failure
        raise FlowValidationError(
            f"{name!r} is not readable as CSV ({exc}); fix the file or set format", field="path", value=name
        ) from None
    except RecursionError:
        raise FlowValidationError(
            f"{name!r} nests JSON arrays/objects too deeply to parse; flatten the data", field="path", value=name
        ) from None
    finally:
        text.detach()


def _check_csv_header(reader: csv.DictReader[str], name: str) -> None:
    """A column named twice would silently keep only the last cell of each row."""
    fields = reader.fieldnames or []
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        raise FlowValidationError(
            f"{name!r} has the column {twice[0]!r} more than once in its header; rename one so no cell is lost",
            field="path",
            value=name,
        )


#: Bytes read per call by the UTF-8 readers (lines are split out of these blocks).
_BLOCK = 1 << 20

_BOM = codecs.BOM_UTF8

#: What :func:`_ndjson_text_line` returns for a blank line.
_BLANK: Any = object()


def _line_blocks(stream: BinaryIO) -> Iterator[list[bytes]]:
    """The lines of ``stream``, a list per block read, as the text reader's universal newlines cut them (``\n``,
    ``\r\n`` and a lone ``\r`` end a line) and without their line ends; a UTF-8 byte-order mark in front is
    dropped. Read in large blocks (a line spanning many blocks is joined once); one list per block keeps the
    per-line cost to the caller's own loop."""
    for lines, _exact in _lines_and_bytes(stream):
        yield lines


def _lines_and_bytes(stream: BinaryIO) -> Iterator[tuple[list[bytes], bytes | memoryview | None]]:
    """:func:`_line_blocks` with, for a block whose lines all end in ``\n`` alone, the block's bytes: exactly
    its lines, each followed by ``\n`` (no copy: a view of what was read). None where a ``\r`` is in the block,
    and for a last line without a line end."""
    for lines, block, rest in line_batches(_blocks_without_bom(stream)):
        if b"\r" in block:
            yield _universal(lines), None
            continue
        exact = memoryview(block)[: len(block) - rest] if rest else block
        yield lines, exact if exact[-1:] == b"\n" else None


def _blocks_without_bom(stream: BinaryIO) -> Iterator[bytes]:
    """The stream in blocks of :data:`_BLOCK` bytes, a UTF-8 byte-order mark in front dropped."""
    first = True
    while block := stream.read(_BLOCK):
        if first:
            block, first = block.removeprefix(_BOM), False
        yield block


def _universal(lines: list[bytes]) -> list[bytes]:
    """Lines cut at ``\n`` cut again at a lone ``\r`` (a ``\r`` right before the ``\n`` is part of that end)."""
    out: list[bytes] = []
    for line in lines:
        if b"\r" in line:
            out.extend(line.removesuffix(b"\r").split(b"\r"))
        else:
            out.append(line)
    return out


def _ndjson_bytes(stream: BinaryIO, name: str) -> Iterator[Any]:
    """UTF-8 NDJSON read as bytes: each block parsed by the fast parser; a block holding a line it refuses (a
    blank or invalid line, NaN, a lone surrogate escape) goes line by line through :func:`_ndjson_slow_block`,
    which decides exactly as the text reader does."""
    decode = FAST_DECODER.decode
    lineno = 0
    for lines in _line_blocks(stream):
        try:
            block = [decode(line) for line in lines]
        except Exception:
            block = _ndjson_slow_block(lines, lineno, name)
        lineno += len(lines)
        yield from block


def count_records(stream: BinaryIO, format: str, encoding: str, name: str) -> int:
    """How many records :func:`parse_stream` yields, each parsed exactly as there (a broken file fails the same
    way), without handing them on: UTF-8 NDJSON is counted in one loop, with no generator per record."""
    if format != "ndjson" or codecs.lookup(encoding).name != "utf-8":
        return sum(1 for _ in parse_stream(stream, format, encoding, name))
    decode = FAST_DECODER.decode
    count = lineno = 0
    try:
        for lines in _line_blocks(stream):
            try:  # the usual block: every line one record, each parsed in C and dropped, nothing counted per line
                collections.deque(map(decode, lines), maxlen=0)
                count += len(lines)
            except Exception:  # decided exactly as _ndjson_bytes decides, line by line
                count += len(_ndjson_slow_block(lines, lineno, name))
            lineno += len(lines)
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, name, encoding) from None
    return count


def _ndjson_text_line(line: str, lineno: int, name: str) -> Any:
    if not line.strip():
        return _BLANK
    try:
        return loads_json(line, source=lambda: f"{name!r} line {lineno}", field="path")
    except json.JSONDecodeError as exc:
        raise FlowValidationError(
            f"{name!r} line {lineno} is not JSON ({exc.msg}); fix the file or set format",
            field="path",
            value=name,
        ) from None


def _json_bytes(stream: BinaryIO, name: str) -> Iterator[Any]:
    content = stream.read()
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    try:
        value = FAST_DECODER.decode(content)
    except Exception:  # decided below, exactly as before
        yield from _parse_json(content.decode("utf-8"), name)
        return
    yield from value if isinstance(value, list) else (value,)


def _parse_json(content: str, name: str) -> Iterator[Any]:
    if not content.strip():
        return
    try:
        value = loads_json(content, source=repr(name), field="path")
    except json.JSONDecodeError as exc:
        raise FlowValidationError(
            f"{name!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix the file, or "
            "set format='ndjson' for one value per line",
            field="path",
            value=name,
        ) from None
    if isinstance(value, list):
        yield from value
    else:
        yield value


def read_os_errors(records: Iterator[Any], path: str) -> Iterator[Any]:
    try:
        yield from records
    except OSError as exc:
        raise file_error(exc, path=path, operation="read") from exc


# -- record blocks: one list per block read, so per-record work is the caller's own loop (or a C iterator) --------

#: Records per block of formats read through a text reader (one generator step per record there anyway).
TEXT_BLOCK_RECORDS = 1000


def record_blocks(
    stream: BinaryIO, format: str, encoding: str, name: str, *, text_only: bool = False
) -> Iterator[tuple[list[Any], bytes | memoryview | None]]:
    """The records :func:`parse_stream` yields, a list per block, each parsed and checked exactly as there, with
    the NDJSON text they were parsed from when it is their exact JSON (else None).

    The text comes only with UTF-8 NDJSON blocks whose every line the fast parser took as one record: the
    lines in order, each ending in ``\n`` (line ends other than ``\n`` and the byte-order mark removed), so a
    writer of UTF-8 NDJSON can write it as it is. A block with a blank line, or a line only the stdlib reads
    (NaN, a lone surrogate escape), is parsed line by line exactly as :func:`parse_stream` does, without text.

    ``text_only``: the caller writes the text of every block that has one (a UTF-8 NDJSON writer), so those
    blocks' lines are parsed to check them and nothing parsed is kept: their first item is the list of lines
    (one per record, for the count), not records.
    """
    if format != "ndjson" or codecs.lookup(encoding).name != "utf-8":
        records = parse_stream(stream, format, encoding, name)
        while block := list(itertools.islice(records, TEXT_BLOCK_RECORDS)):
            yield block, None
        return
    decode = FAST_DECODER.decode
    lineno = 0
    try:
        for lines, exact in _lines_and_bytes(stream):
            try:
                if text_only:
                    collections.deque(map(decode, lines), maxlen=0)  # each line checked, nothing kept
                    block = lines
                else:
                    block = [decode(line) for line in lines]
            except Exception:  # a line the fast parser refuses: the whole block line by line, as _ndjson_bytes
                yield _ndjson_slow_block(lines, lineno, name), None
            else:
                yield block, (exact if exact is not None else b"".join(line + b"\n" for line in lines))
            lineno += len(lines)
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, name, encoding) from None


def _ndjson_slow_block(lines: list[bytes], lineno: int, name: str) -> list[Any]:
    decode = FAST_DECODER.decode
    block = []
    for line in lines:
        lineno += 1
        try:
            record = decode(line)
        except Exception:  # decided here, exactly as the text reader decides
            record = _ndjson_text_line(line.decode("utf-8"), lineno, name)
            if record is _BLANK:
                continue
        block.append(record)
    return block


def encode_ndjson(records: list[Any], first_index: int) -> bytes:
    """The NDJSON text of ``records`` (numbered from ``first_index``): exactly :func:`encode_record`'s bytes for
    each, each followed by ``\\n``, and the same error for the first record that cannot be written, but with no
    Python call per record (one comprehension, one NaN/Infinity check per batch unless a ``null`` shows up)."""
    try:
        lines = [orjson.dumps(record, default=_json_default, option=_ORJSON_OPTIONS) for record in records]
    except TypeError:  # one orjson cannot write: every record as encode_record decides, in order
        lines = [encode_record(record, first_index + offset) for offset, record in enumerate(records)]
    lines.append(b"")
    text = b"\n".join(lines)
    if b"null" in text:  # orjson writes NaN and Infinity as null: the records whose line has one are checked
        for offset, (line, record) in enumerate(zip(lines, records, strict=False)):
            if b"null" in line and _has_non_finite(record):
                encode_record(record, first_index + offset)  # raises, naming NaN/Infinity
    return text
