"""Records <-> files in JSON, NDJSON, CSV and text, streaming where the format allows, always through fileio.

Every open goes through :mod:`airflow_provider_flow.runtimes.fileio` (confinement, ``O_NOFOLLOW``, atomic
writes); nothing here opens a path by itself.

Public API (the contract other runtimes build on)::

    FORMATS = ("json", "ndjson", "csv", "text")
    detect_format(path: str, explicit: str | None = None) -> str     # explicit wins, else by extension
    check_encoding(encoding: str) -> str
    RecordWriter(base, path, *, format=None, mode="overwrite", encoding="utf-8", create_dirs=True)
        with RecordWriter(...) as w: w.write(record); w.write_many(records)
        w.records, w.bytes, w.sha256, w.path, w.relative_path (final after the block)
        w.reference(fs_conn_id=None, base_path=None) -> FileReference
    write_records(base, path, records, *, format=None, mode="overwrite", encoding="utf-8", create_dirs=True,
                  fs_conn_id=None, base_path=None) -> FileReference
    iter_records(base, path, *, format=None, encoding="utf-8") -> Iterator[Any]
    reference_base(ref, state) -> str
    iter_reference(ref, state, *, verify=True, trusted_bases=()) -> Iterator[Any]   # confined again; checks
                                                                     # bytes+sha256 (see "File references")
    describe_file(base, path, *, format=None, fs_conn_id=None, base_path=None) -> FileReference
    as_reference(value) -> FileReference | None
    input_records(data, state, *, field="data", trusted_bases=()) -> Iterator[Any]
                                                                     # None | list | record | ref | list of refs
                                                                     # | any other iterable (generators, as is)

Format rules:

* ``json``: one JSON array (a top-level object reads as one record). Written streaming; read whole (the stdlib
  has no streaming JSON parser), so prefer ``ndjson`` for large data.
* ``ndjson`` (``.ndjson``/``.jsonl``): one JSON value per line, blank lines skipped; streamed both ways.
* ``csv``: header row from the first record's keys (or the existing header when appending); later records may
  omit keys (written empty) but not add new ones. Values: ``None`` -> empty, lists/dicts -> JSON, others
  ``str()``. Reading yields dicts of strings (CSV has no types). RFC 4180 quoting by the ``csv`` module; a
  UTF-8 byte-order mark (Excel) is skipped when reading UTF-8.
* ``text`` (``.txt``/``.text``/``.log``): one record per line; non-string records are written as JSON. Reading
  yields the lines without their line ending.
* File references carry the encoding their file was written or read with (UTF-8 unless set otherwise).
* JSON output keeps non-ASCII characters as is, refuses NaN/Infinity (not JSON), writes datetimes/dates as ISO
  8601 and Decimal/UUID as strings.

File references are hostile input too: ``data`` may be rendered from ``dag_run.conf`` and XCom entries can be
edited over the REST API, so a reference's ``path`` is confined again on the reading worker, and its base (an
absolute ``base_path``, or any ``fs`` connection of the deployment) is only streamed as is when it lies inside
one of the reading node's own bases (``trusted_bases``). Any other referenced file is hashed in full *before*
the first record is handed on and must match the reference's ``bytes`` and ``sha256`` exactly: an invented
reference to ``/etc`` (or to another team's connection) cannot make an HTTP sink or an LLM call send a file's
lines before the end-of-file check fails; whoever can produce the right hash knows the content already. The
price is a second read of references from outside the reader's base (usually from the page cache).

``append`` re-reads the existing records and writes them before the new ones (CSV keeps its header, a JSON
array stays one array), all inside the same atomic write, so ``records`` counts the whole file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import decimal
import hashlib
import io
import json
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.models import UPSTREAMS_KIND, FileReference
from airflow_provider_flow.runtimes.fileio import (
    AtomicWriter,
    atomic_write,
    check_base,
    file_error,
    open_confined,
    resolve_base,
)

if TYPE_CHECKING:
    from types import TracebackType

    from airflow_provider_flow.runtimes.state import ExecutionState

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


#: One encoder for every record: ``json.dumps`` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_default)


def _dumps(record: Any, index: int) -> str:
    try:
        return _ENCODER.encode(record)
    except (TypeError, ValueError) as exc:
        raise FlowValidationError(
            f"record {index} cannot be written as JSON: {exc}; convert it to strings, numbers, lists and dicts",
            field=f"data[{index}]",
            value=repr(record)[:120],
        ) from None


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


#: Bytes buffered by a RecordWriter before they go to the atomic writer (and its hash) in one call.
_FLUSH_AT = 256 * 1024


class RecordWriter:
    """Write records to one file in one format, atomically (see :func:`fileio.atomic_write`)."""

    def __init__(
        self,
        base: str,
        path: str,
        *,
        format: str | None = None,
        mode: str = "overwrite",
        encoding: str = "utf-8",
        create_dirs: bool = True,
    ) -> None:
        self.base = base
        self.requested = path
        self.format = detect_format(path, format)
        self.mode = mode
        self.encoding = check_encoding(encoding)
        self.create_dirs = create_dirs
        self.records = 0
        self._stack = ExitStack()
        self._writer: AtomicWriter | None = None
        self._csv_fields: list[str] | None = None
        self._csv_set: frozenset[str] = frozenset()
        self._csv_buf = io.StringIO()
        self._csv_out = csv.writer(self._csv_buf, lineterminator="\r\n")
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._done = False

    # -- context management ---------------------------------------------------------------------------------
    def __enter__(self) -> RecordWriter:
        self._writer = self._stack.enter_context(
            atomic_write(self.base, self.requested, mode=self.mode, create_dirs=self.create_dirs, copy_existing=False)
        )
        try:
            if self.format == "json":
                self._emit("[")
            if self.mode == "append":
                self._copy_existing()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        if exc_type is None:
            try:
                if self.format == "json":
                    self._emit("\n]\n" if self.records else "]\n")
                self._flush()
            except BaseException:
                if not self._stack.__exit__(*sys.exc_info()):
                    raise
                return None
        result = self._stack.__exit__(exc_type, exc, tb)
        self._done = exc_type is None
        return result

    def _copy_existing(self) -> None:
        assert self._writer is not None
        old = self._writer.open_existing()
        if old is None:
            return
        with old:
            for record in parse_stream(old, self.format, self.encoding, self.requested):
                self.write(record)

    # -- writing --------------------------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        assert self._writer is not None, "use RecordWriter as a context manager"
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise FlowValidationError(
                f"record {self.records} has characters {self.encoding!r} cannot encode ({exc.reason}); "
                "use encoding='utf-8'",
                field="encoding",
                value=self.encoding,
            ) from None
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        """Hand buffered bytes to the atomic writer in large chunks (hashing 100-byte pieces is slow)."""
        if self._pending:
            assert self._writer is not None
            self._writer.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def write(self, record: Any) -> None:
        """Serialize one record into the temporary file."""
        index = self.records
        if self.format == "json":
            self._emit(("\n" if index == 0 else ",\n") + _dumps(record, index))
        elif self.format == "ndjson":
            self._emit(_dumps(record, index) + "\n")
        elif self.format == "text":
            self._emit(self._text_line(record, index))
        else:
            self._emit(self._csv_row(record, index))
        self.records += 1

    def write_many(self, records: Iterable[Any]) -> int:
        """Write every record; returns how many were written by this call."""
        before = self.records
        for record in records:
            self.write(record)
        return self.records - before

    @staticmethod
    def _text_line(record: Any, index: int) -> str:
        """One line per record: a line break inside a string would read back as two records (and a wrong count)."""
        if not isinstance(record, str):
            return _dumps(record, index) + "\n"
        if "\n" in record or "\r" in record:
            raise FlowValidationError(
                f"record {index} contains a line break, so format 'text' would split it into several records; "
                "use format 'ndjson' (or 'csv') for multi-line values",
                field=f"data[{index}]",
                value=record[:120],
            )
        return record + "\n"

    def _csv_row(self, record: Any, index: int) -> str:
        if not isinstance(record, dict):
            raise FlowValidationError(
                f"record {index} is a {type(record).__name__}; CSV needs dict records (or use format 'ndjson' "
                "or 'text')",
                field=f"data[{index}]",
                value=repr(record)[:120],
            )
        buf, out = self._csv_buf, self._csv_out
        if self._csv_fields is None:
            if not record:  # a header without columns: every row would be blank and read back as no record
                raise FlowValidationError(
                    f"record {index} is an empty object, so the CSV would have no columns; give the first record "
                    "every column (None for empty), or use format 'ndjson'",
                    field=f"data[{index}]",
                    value="{}",
                )
            self._csv_fields = [str(k) for k in record]
            self._csv_set = frozenset(self._csv_fields)
            out.writerow(self._csv_fields)
        fields = self._csv_fields
        if record.keys() <= self._csv_set:
            out.writerow([_csv_cell(record.get(name)) for name in fields])
        else:
            by_name = {str(k): v for k, v in record.items()}  # non-string keys, or keys not in the header
            extra = [k for k in by_name if k not in self._csv_set]
            if extra:
                raise FlowValidationError(
                    f"record {index} has key {extra[0]!r} that is not in the CSV header {fields}; give the "
                    "first record every column (None for empty), or use format 'ndjson'",
                    field=f"data[{index}]",
                    value=extra[0],
                )
            out.writerow([_csv_cell(by_name.get(name)) for name in fields])
        row = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return row

    # -- results --------------------------------------------------------------------------------------------
    def _result(self) -> AtomicWriter:
        if self._writer is None or not self._done:
            raise RuntimeError("the RecordWriter block has not completed")
        return self._writer

    @property
    def path(self) -> str:
        return self._result().path

    @property
    def relative_path(self) -> str:
        return self._result().relative_path

    @property
    def bytes(self) -> int:
        return self._result().bytes

    @property
    def sha256(self) -> str:
        return self._result().sha256

    def reference(self, *, fs_conn_id: str | None = None, base_path: str | None = None) -> FileReference:
        """A reference downstream tasks resolve again: by ``base_path`` if given, else ``fs_conn_id``.

        With neither, the resolved base itself is recorded, so the reference always names a base.
        """
        written = self._result()
        return FileReference(
            path=written.relative_path,
            base_path=base_path if base_path else (None if fs_conn_id else self.base),
            fs_conn_id=fs_conn_id,
            format=self.format,
            encoding=self.encoding,
            records=self.records,
            bytes=written.bytes,
            sha256=written.sha256,
        )


def write_records(
    base: str,
    path: str,
    records: Iterable[Any],
    *,
    format: str | None = None,
    mode: str = "overwrite",
    encoding: str = "utf-8",
    create_dirs: bool = True,
    fs_conn_id: str | None = None,
    base_path: str | None = None,
) -> FileReference:
    """Write ``records`` to ``path`` under ``base`` atomically and return the reference to the result."""
    with RecordWriter(base, path, format=format, mode=mode, encoding=encoding, create_dirs=create_dirs) as writer:
        writer.write_many(records)
    return writer.reference(fs_conn_id=fs_conn_id, base_path=base_path)


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------


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
    text = _text(stream, encoding, newline="" if format == "csv" else None)
    try:
        if format == "json":
            yield from _parse_json(text, name)
        elif format == "ndjson":
            for lineno, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise FlowValidationError(
                        f"{name!r} line {lineno} is not JSON ({exc.msg}); fix the file or set format",
                        field="path",
                        value=name,
                    ) from None
        elif format == "csv":
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


def _parse_json(text: io.TextIOWrapper, name: str) -> Iterator[Any]:
    content = text.read()
    if not content.strip():
        return
    try:
        value = json.loads(content)
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


def iter_records(base: str, path: str, *, format: str | None = None, encoding: str = "utf-8") -> Iterator[Any]:
    """Stream the records of ``path`` (confined to ``base``)."""
    fmt = detect_format(path, format)
    check_encoding(encoding)
    with open_confined(base, path, operation="read") as stream:
        yield from _read_os_errors(parse_stream(stream, fmt, encoding, path), path)


def _read_os_errors(records: Iterator[Any], path: str) -> Iterator[Any]:
    try:
        yield from records
    except OSError as exc:
        raise file_error(exc, path=path, operation="read") from exc


class _HashingReader(io.RawIOBase):
    """Counts and hashes bytes as they are read, so a reference is verified in the same single pass."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha.update(memoryview(buffer)[:n])
            self.count += n
        return n or 0


def as_reference(value: Any) -> FileReference | None:
    """A :class:`FileReference` for a reference model or XCom dict, else None."""
    if isinstance(value, FileReference):
        return value
    if FileReference.is_reference(value):
        try:
            return FileReference.model_validate(value)
        except Exception as exc:
            raise FlowValidationError(
                f"malformed file reference: {exc}", field="data", value=repr(value)[:120]
            ) from None
    return None


def reference_base(ref: FileReference, state: ExecutionState) -> str:
    """The base a reference's path is relative to, resolved on this worker."""
    if ref.base_path:
        return check_base(ref.base_path, source="the file reference's base_path")
    return resolve_base(state, fs_conn_id=ref.fs_conn_id, base_path=None)


def _inside_any(base: str, trusted_bases: Sequence[str]) -> bool:
    return any(os.path.commonpath([trusted, base]) == trusted for trusted in trusted_bases)


def _check_whole_file(raw: BinaryIO, ref: FileReference) -> None:
    """Hash an opened referenced file before any record is read from it (then rewind); refuse it unless it matches.

    Same descriptor for the check and the read, so the file cannot be swapped in between. The message shows
    what the reference claimed, never what was found: the folder is not one this node trusts, so its files'
    sizes and hashes are not for the log.
    """
    where = f"base_path {ref.base_path!r}" if ref.base_path else f"fs connection {ref.fs_conn_id!r}"
    sha, count = hashlib.sha256(), 0
    try:
        while chunk := raw.read(1 << 20):
            sha.update(chunk)
            count += len(chunk)
        raw.seek(0)
    except OSError as exc:
        raise file_error(exc, path=ref.path, operation="read") from exc
    if count != ref.bytes or sha.hexdigest() != ref.sha256:
        raise FileError(
            f"{ref.path!r} under {where} does not match its file reference (bytes/sha256): "
            "a reference to a folder outside this node's own base is only read when it matches exactly; re-run "
            "the task that wrote it, or give this node a base_path/fs_conn_id covering that folder",
            path=ref.path,
            operation="verify",
            retryable=False,
        )


def iter_reference(
    ref: FileReference, state: ExecutionState, *, verify: bool = True, trusted_bases: Sequence[str] = ()
) -> Iterator[Any]:
    """Stream a referenced file's records (confined again); with ``verify``, check its size and sha256 at EOF.

    A mismatch means the file changed after the upstream task wrote it; the error comes after the last record,
    which is still before any sink commits, so nothing half-verified is published. A file outside
    ``trusted_bases`` (the reading node's own real bases) is verified in full first (see the module docstring).
    """
    base = reference_base(ref, state)
    fmt = detect_format(ref.path, ref.format)
    with open_confined(base, ref.path, operation="read") as raw:
        if not _inside_any(base, trusted_bases):
            _check_whole_file(raw, ref)
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        encoding = check_encoding(ref.encoding)
        yield from _read_os_errors(parse_stream(buffered, fmt, encoding, ref.path), ref.path)
        while buffered.read(1 << 20):
            pass
    if verify and (hashing.count != ref.bytes or hashing.sha.hexdigest() != ref.sha256):
        raise FileError(
            f"{ref.path!r} changed after it was written (expected {ref.bytes} bytes, sha256 {ref.sha256[:12]}..., "
            f"found {hashing.count} bytes, sha256 {hashing.sha.hexdigest()[:12]}...); re-run the task that wrote it",
            path=ref.path,
            operation="verify",
            retryable=False,
        )


def describe_file(
    base: str,
    path: str,
    *,
    format: str | None = None,
    fs_conn_id: str | None = None,
    base_path: str | None = None,
    encoding: str = "utf-8",
) -> FileReference:
    """A reference to an existing file: one pass parses it (so a broken file fails here, not downstream),
    counts its records and hashes its bytes. Readers decode it with the ``encoding`` it records."""
    fmt = detect_format(path, format)
    check_encoding(encoding)
    with open_confined(base, path, operation="read") as raw:
        hashing = _HashingReader(raw)
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        count = sum(1 for _ in _read_os_errors(parse_stream(buffered, fmt, encoding, path), path))
        while buffered.read(1 << 20):
            pass
    return FileReference(
        path="/".join(os.path.relpath(os.path.realpath(os.path.join(base, path)), base).split(os.sep)),
        base_path=base_path if base_path else (None if fs_conn_id else base),
        fs_conn_id=fs_conn_id,
        format=fmt,
        encoding=encoding,
        records=count,
        bytes=hashing.count,
        sha256=hashing.sha.hexdigest(),
    )


def input_records(
    data: Any, state: ExecutionState, *, field: str = "data", trusted_bases: Sequence[str] = ()
) -> Iterator[Any]:
    """A node's input as records: a list (as is), one record dict, a file reference, a list of them, or None.

    ``trusted_bases``: the reading node's own real base folders; references elsewhere are verified before
    they are streamed (see the module docstring).
    """
    if data is None:
        return iter(())
    if isinstance(data, dict) and data.get("kind") == UPSTREAMS_KIND and isinstance(data.get("outputs"), dict):
        return _chain_upstreams(data["outputs"], state, field, trusted_bases)
    ref = as_reference(data)
    if ref is not None:
        return iter_reference(ref, state, trusted_bases=trusted_bases)
    if isinstance(data, (list, tuple)):
        refs = [as_reference(item) for item in data]
        if data and all(r is not None for r in refs):
            return _chain_refs([r for r in refs if r is not None], state, trusted_bases)
        if any(r is not None for r in refs):
            raise FlowValidationError(
                "mixes file references and inline records; pass one or the other",
                field=field,
                value=f"list of {len(data)}",
            )
        return iter(data)
    if isinstance(data, dict):
        return iter((data,))
    if isinstance(data, str):
        raise FlowValidationError(
            "is a string, not records; pass a list of records or an upstream task's .output (an XComArg), or set "
            "render_template_as_native_obj=True on the DAG when templating it",
            field=field,
            value=data[:120],
        )
    if isinstance(data, Iterable) and not isinstance(data, (bytes, bytearray)):
        return iter(data)  # generators from Python callers: streamed as they come
    raise FlowValidationError(
        f"is a {type(data).__name__}; pass a list of records, a dict, or a file reference",
        field=field,
        value=repr(data)[:120],
    )


def _chain_upstreams(
    outputs: dict[str, Any], state: ExecutionState, field: str, trusted_bases: Sequence[str]
) -> Iterator[Any]:
    for upstream_id, output in outputs.items():
        yield from input_records(output, state, field=f"{field}.{upstream_id}", trusted_bases=trusted_bases)


def _chain_refs(refs: list[FileReference], state: ExecutionState, trusted_bases: Sequence[str]) -> Iterator[Any]:
    for ref in refs:
        yield from iter_reference(ref, state, trusted_bases=trusted_bases)


__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "RecordWriter",
    "as_reference",
    "check_encoding",
    "describe_file",
    "detect_format",
    "input_records",
    "iter_records",
    "iter_reference",
    "parse_stream",
    "reference_base",
    "write_records",
]
