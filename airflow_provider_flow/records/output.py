"""A node's output: records inline for XCom, or streamed to a file and handed on as a reference.

Small results go to XCom as they are; large ones are written atomically under the node's storage and XCom
carries only a :class:`~airflow_provider_flow.records.reference.FileReference`. Every runtime that produces
records decides this here, with the same counting and the same reference fields.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_flow.core.progress import ProgressReporter
from airflow_provider_flow.records.codecs import encode_ndjson
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.writer import RecordWriter
from airflow_provider_flow.storage.protocol import Storage

#: Records encoded and counted at once by :func:`emit_records` with ``batched``.
BATCH_RECORDS = 1000


@dataclass
class OriginalLines:
    """Records with their JSON lines: a producer that has ``record``'s exact line (an NDJSON response's validated
    line, or a JSON page's record as encoded once for its digest) sets both attributes right before it yields that
    record unchanged; an NDJSON file in UTF-8 then gets the line as is instead of the record encoded again. A record
    that is not the one named here (another, or a changed copy) is encoded as usual; a producer must never change a
    record in place after naming it."""

    record: Any = None
    line: bytes | None = None
    #: A whole page named at once (a JSON page whose every record was encoded for its digest): its records, in
    #: order, and their NDJSON text (each line ending in a line break), set before its first record is yielded.
    #: A consumer that sees that first record takes the page's records at once and, when they are the very records
    #: named, writes the text (see :func:`take_page`).
    page: list[Any] | None = None
    page_text: bytes | None = None

    def starts_page(self, record: Any) -> bool:
        """Whether ``record`` is the first record of the page named."""
        page = self.page
        return page is not None and len(page) > 0 and record is page[0]


def take_page(first: Any, rest: Iterator[Any], lines: OriginalLines) -> tuple[list[Any], bytes | None]:
    """The page that ``first`` starts (:meth:`OriginalLines.starts_page`): its records, taken from ``rest``, and its
    text, or None for the text when what arrived is not exactly the page named (a wrapper dropped or replaced a
    record): those are then written record by record."""
    page, text = lines.page, lines.page_text
    assert page is not None  # starts_page checked
    block = [first, *itertools.islice(rest, len(page) - 1)]
    if len(block) == len(page) and all(map(operator.is_, block, page)):
        return block, text
    return block, None


def emit_records(
    records: Iterable[Any],
    progress: ProgressReporter,
    *,
    storage: Storage | None = None,
    output_path: str | None = None,
    format: str | None = None,
    mode: str = "overwrite",
    original_lines: OriginalLines | None = None,
    batched: bool = False,
) -> list[Any] | FileReference:
    """All ``records`` as a list, or, with ``output_path``, written to that file under ``storage``.

    ``batched``: records come fast (no model or API call behind each), so a UTF-8 NDJSON file takes them
    :data:`BATCH_RECORDS` at a time, encoded and counted once per batch.

    Counts every record in ``progress`` and logs its one summary line once everything is out (the file
    published), ending in where the records went: ``-> XCom`` or ``-> <path>``.
    """
    if output_path is None:
        out: list[Any] = []
        for record in records:
            out.append(record)
            progress.add_record()
        progress.finish(output="XCom")
        return out
    if storage is None:
        raise ValueError("emit_records: output_path needs the node's storage")  # a bug in the calling runtime
    with RecordWriter(storage, output_path, format=format, mode=mode) as writer:
        if original_lines is not None and writer.takes_lines:
            _write_passing_lines_through(writer, records, progress, original_lines)
        elif batched and writer.takes_lines:
            _write_in_batches(writer, records, progress)
        else:
            for record in records:
                writer.write(record)
                progress.add_record()
    ref = writer.reference()
    progress.finish(output=ref.path)
    return ref


def _write_passing_lines_through(
    writer: RecordWriter, records: Iterable[Any], progress: ProgressReporter, lines: OriginalLines
) -> None:
    pending = iter(records)
    for record in pending:
        if lines.starts_page(record):
            block, text = take_page(record, pending, lines)
            if text is not None:
                writer.write_text(text, len(block))
            else:
                writer.write_many(block)
            progress.update(records=len(block))
            continue
        line = lines.line
        if line is not None and record is lines.record:
            writer.write_line(line)
        else:
            writer.write(record)
        progress.add_record()


def _write_in_batches(writer: RecordWriter, records: Iterable[Any], progress: ProgressReporter) -> None:
    pending = iter(records)
    while batch := list(itertools.islice(pending, BATCH_RECORDS)):
        writer.write_text(encode_ndjson(batch, writer.records), len(batch))
        progress.update(records=len(batch))
