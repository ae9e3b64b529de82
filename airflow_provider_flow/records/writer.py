"""Writing records to a file in one format, atomically, on any storage backend.

The base is a local folder (a path string or a :class:`~airflow_provider_flow.storage.local_store.LocalStorage`:
:mod:`~airflow_provider_flow.storage.atomic`'s temporary file, fsync and rename, exactly as before) or any other
:class:`~airflow_provider_flow.storage.protocol.Storage` (object storage: its ``atomic_write``, a multipart upload
completed only after the last record). ``append`` re-reads the existing records and writes them before the new
ones (CSV keeps its header, a JSON array stays one array), all inside the same atomic write, so ``records``
counts the whole file; object storage refuses ``append`` (see ``storage/object_store.py``).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import io
import json
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.codecs import (
    MAX_CSV_CELL_CHARS,
    check_csv_cells,
    check_encoding,
    csv_cell,
    detect_format,
    dumps_record,
    encode_ndjson,
    encode_record,
    parse_stream,
)
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.atomic import AtomicWriter, atomic_write
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.protocol import Storage, StorageWriter

if TYPE_CHECKING:
    from types import TracebackType


#: Cell types the ``csv`` module writes exactly as :func:`~airflow_provider_flow.records.codecs.csv_cell` would
#: (``None`` empty, the others ``str()``), so rows made only of them skip the per-cell conversion.
_CSV_AS_IS = frozenset({str, int, float, bool, type(None)})

#: Bytes buffered by a RecordWriter before they go to the atomic writer (and its hash) in one call.
_FLUSH_AT = 256 * 1024


class RecordWriter:
    """Write records to one file in one format, atomically (the bytes go through ``atomic_write``).

    ``base``: a local folder's real path, or a storage backend (local or object storage).
    """

    def __init__(
        self,
        base: str | Storage,
        path: str,
        *,
        format: str | None = None,
        mode: str = "overwrite",
        encoding: str = "utf-8",
        create_dirs: bool = True,
    ) -> None:
        self.base = base
        self.storage = base if not isinstance(base, str) else None
        #: The local folder (the unchanged local path, with ``create_dirs`` and ``append``), or None.
        self.root = base if isinstance(base, str) else base.root if isinstance(base, LocalStorage) else None
        self.requested = path
        self.format = detect_format(path, format)
        self.mode = mode
        self.encoding = check_encoding(encoding)
        #: UTF-8 output takes the encoder's bytes as they are (no str round trip).
        self.utf8 = codecs.lookup(self.encoding).name == "utf-8"
        self._ndjson_utf8 = self.utf8 and self.format == "ndjson"
        self.create_dirs = create_dirs
        self.records = 0
        self._stack = ExitStack()
        self._writer: AtomicWriter | StorageWriter | None = None
        self._csv_fields: list[str] | None = None
        self._csv_set: frozenset[str] = frozenset()
        self._csv_buf = io.StringIO()
        self._csv_out = csv.writer(self._csv_buf, lineterminator="\r\n")
        #: Where each CSV row buffered since the last flush ends, and the index of the first: an encoding error in
        #: a flushed batch still names its record.
        self._csv_ends: list[int] = []
        self._csv_first = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._done = False

    # -- context management ---------------------------------------------------------------------------------
    def __enter__(self) -> RecordWriter:
        if self.root is not None:
            self._writer = self._stack.enter_context(
                atomic_write(
                    self.root, self.requested, mode=self.mode, create_dirs=self.create_dirs, copy_existing=False
                )
            )
        else:
            assert self.storage is not None
            self._writer = self._stack.enter_context(self.storage.atomic_write(self.requested, mode=self.mode))
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
                self._flush_csv()
                self._flush()
            except BaseException:
                if not self._stack.__exit__(*sys.exc_info()):
                    raise
                return None
        result = self._stack.__exit__(exc_type, exc, tb)
        self._done = exc_type is None
        return result

    def _copy_existing(self) -> None:
        assert isinstance(self._writer, AtomicWriter)  # object storage refuses append before this
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

    def _emit_bytes(self, data: bytes) -> None:
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
        if self._ndjson_utf8:  # the hot path: one record, one line, straight into the buffer
            data = encode_record(record, index)
            self._pending.append(data)
            self._pending.append(b"\n")
            self._pending_size += len(data) + 1
            self.records = index + 1
            if self._pending_size >= _FLUSH_AT:
                self._flush()
            return
        if self.utf8 and self.format == "json":
            self._emit_bytes(b",\n" if index else b"\n")
            self._emit_bytes(encode_record(record, index))
        elif self.format == "json":
            self._emit(("\n" if index == 0 else ",\n") + dumps_record(record, index))
        elif self.format == "ndjson":
            self._emit(dumps_record(record, index) + "\n")
        elif self.format == "text":
            self._emit(self._text_line(record, index))
        else:
            self._csv_row(record, index)
            if self._csv_buf.tell() >= _FLUSH_AT:
                self._flush_csv()
        self.records += 1

    def write_json_text(self, text: str) -> None:
        """One record already encoded by ``dumps_record`` (a merge re-emits what its index holds): JSON and NDJSON
        take the text as is, without decoding and encoding it again; CSV and text decode it and write the record."""
        if self.format == "ndjson":
            self._emit(text + "\n")
        elif self.format == "json":
            self._emit(("\n" if self.records == 0 else ",\n") + text)
        else:
            self.write(json.loads(text))
            return
        self.records += 1

    @property
    def takes_lines(self) -> bool:
        """Whether :meth:`write_line` applies: NDJSON in UTF-8, where a validated input line is its own output."""
        return self._ndjson_utf8

    def write_line(self, line: bytes) -> None:
        """One record given as the original bytes of an NDJSON line (no line break) that the caller has already
        parsed as JSON: written as is, so pass-through costs no re-encoding. Only when :attr:`takes_lines` (the
        caller checks once, not per line)."""
        self._pending.append(line)
        self._pending.append(b"\n")
        self._pending_size += len(line) + 1
        self.records += 1
        if self._pending_size >= _FLUSH_AT:
            self._flush()

    def write_text(self, text: bytes | memoryview, count: int) -> None:
        """``count`` records given as NDJSON text the caller has already parsed, one record per line, each line
        ending in ``\n`` (a read block of an NDJSON file): written as is, so pass-through costs no re-encoding.
        Only when :attr:`takes_lines`."""
        if len(text) >= _FLUSH_AT:  # a whole read block: straight to the atomic writer, no copy into the buffer
            self._flush()
            assert self._writer is not None
            self._writer.write(text)  # type: ignore[arg-type]
        else:
            self._emit_bytes(bytes(text))
        self.records += count

    def write_blocks(self, blocks: Iterable[tuple[list[Any], bytes | memoryview | None]]) -> int:
        """Write blocks of records (:func:`~airflow_provider_flow.records.input.input_blocks`): a block that comes
        with its original NDJSON text is written as that text when :attr:`takes_lines` (pass-through, no
        re-encoding), any other block record by record. Returns how many records this call wrote."""
        before = self.records
        text_as_is = self.takes_lines
        for records, text in blocks:
            if text is not None and text_as_is:
                self.write_text(text, len(records))
            else:
                self.write_many(records)
        return self.records - before

    def write_many(self, records: Iterable[Any]) -> int:
        """Write every record; returns how many were written by this call."""
        before = self.records
        if self._ndjson_utf8:  # the hot path, once per block: no Python call per record (~0.3 us less each)
            batch = records if isinstance(records, list) else list(records)
            if batch:
                self.write_text(encode_ndjson(batch, before), len(batch))
        elif self.format == "csv":  # the per-record dispatch of write() taken once for all of them
            row, buf = self._csv_row, self._csv_buf
            for record in records:
                index = self.records
                row(record, index)
                if buf.tell() >= _FLUSH_AT:
                    self._flush_csv()
                self.records = index + 1
        else:
            write = self.write
            for record in records:
                write(record)
        return self.records - before

    @staticmethod
    def _text_line(record: Any, index: int) -> str:
        """One line per record: a line break inside a string would read back as two records (and a wrong count)."""
        if not isinstance(record, str):
            return dumps_record(record, index) + "\n"
        if "\n" in record or "\r" in record:
            raise FlowValidationError(
                f"record {index} contains a line break, so format 'text' would split it into several records; "
                "use format 'ndjson' (or 'csv') for multi-line values",
                field=f"data[{index}]",
                value=record[:120],
            )
        return record + "\n"

    def _csv_row(self, record: Any, index: int) -> None:
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
            header = [str(k) for k in record]
            self._csv_fields = check_csv_cells(header, header, index)
            self._csv_set = frozenset(self._csv_fields)
            out.writerow(self._csv_fields)
        fields = self._csv_fields
        keys = list(record)
        if keys == fields:  # the usual case: every column, in the header's order
            values = list(record.values())
        elif record.keys() <= self._csv_set:
            values = [record.get(name) for name in fields]
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
            values = [by_name.get(name) for name in fields]
        if not _CSV_AS_IS.issuperset(map(type, values)):  # lists and dicts become JSON, ... (codecs.csv_cell)
            values = [csv_cell(value) for value in values]
        start = buf.tell()
        out.writerow(values)
        if buf.tell() - start > MAX_CSV_CELL_CHARS:  # a row this long may hold a cell over the limit
            buf.seek(start)
            buf.truncate()
            check_csv_cells([csv_cell(value) for value in values], fields, index)
            out.writerow(values)
        self._csv_ends.append(buf.tell())

    def _flush_csv(self) -> None:
        """Encode the buffered CSV rows in one call; an error names the record whose row holds the bad character."""
        buf = self._csv_buf
        if not buf.tell():
            return
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        try:
            data = text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            index = self._csv_first + bisect.bisect_right(self._csv_ends, exc.start)
            raise FlowValidationError(
                f"record {index} has characters {self.encoding!r} cannot encode ({exc.reason}); use encoding='utf-8'",
                field="encoding",
                value=self.encoding,
            ) from None
        self._csv_ends.clear()
        self._csv_first = self.records + 1  # called while writing record ``self.records`` (or at the end)
        self._emit_bytes(data)

    # -- results --------------------------------------------------------------------------------------------
    def _result(self) -> AtomicWriter | StorageWriter:
        if self._writer is None or not self._done:
            raise RuntimeError("the RecordWriter block has not completed")
        return self._writer

    @property
    def path(self) -> str:
        """The written file: its absolute path on this worker, or its object URI (``s3://bucket/key``)."""
        written = self._result()
        return str(getattr(written, "path", None) or getattr(written, "uri", written.relative_path))

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

        With neither, the resolved base itself is recorded, so the reference always names a base; a storage backend
        given as ``base`` names itself (:meth:`~airflow_provider_flow.storage.protocol.Storage.describe`).
        """
        written = self._result()
        names: dict[str, Any]
        if self.storage is not None and (self.root is None or not (fs_conn_id or base_path)):
            names = self.storage.describe()
        else:
            names = {
                "base_path": base_path if base_path else (None if fs_conn_id else self.root),
                "fs_conn_id": fs_conn_id,
            }
        return FileReference(
            path=written.relative_path,
            **names,
            format=self.format,
            encoding=self.encoding,
            records=self.records,
            bytes=written.bytes,
            sha256=written.sha256,
        )


def write_records(
    base: str | Storage,
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
    """Write ``records`` to ``path`` under ``base`` (a folder or a storage backend) atomically and return the
    reference to the result (a backend names its own base unless ``fs_conn_id``/``base_path`` are given)."""
    with RecordWriter(base, path, format=format, mode=mode, encoding=encoding, create_dirs=create_dirs) as writer:
        writer.write_many(records)
    return writer.reference(fs_conn_id=fs_conn_id, base_path=base_path)
