"""Write dispositions of ``file.sink``: what a run does to the dataset at ``path`` (the README's "Write dispositions").

* ``replace``: the run's records become the file (``mode='overwrite'``, as ``file.sink`` always did).
* ``append``: ``path`` is a folder and each run adds one part file to it, named after the run, the task and the
  map index (:func:`part_name`), published atomically like any file: readers of the folder see whole runs only,
  and a retry of the same task instance replaces its own part instead of adding a second one.
* ``merge``: ``path`` is a snapshot kept current by primary key (:mod:`.merge`): the old snapshot and the input
  are merged into a new snapshot, published atomically over the old one; any failure leaves the old one as it was.

``disposition`` is the dataset-level choice; ``mode`` stays the low-level write mode of one file and must be left at
``overwrite`` when a disposition is set (each disposition decides how its files are written).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from airflow_provider_flow.core.jsontext import loads_json
from airflow_provider_flow.core.progress import ProgressReporter, paced
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.codecs import read_os_errors
from airflow_provider_flow.records.merge import MergeCounts, MergeRule, SnapshotIndex
from airflow_provider_flow.records.reader import iter_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.writer import RecordWriter
from airflow_provider_flow.storage.protocol import Storage

Disposition = Literal["replace", "append", "merge"]
DISPOSITIONS: tuple[str, ...] = ("replace", "append", "merge")

#: The extension of a part file, by format (so ``*.ndjson`` style globs of ``file.source`` find the parts).
PART_EXTENSIONS = {"json": "json", "ndjson": "ndjson", "csv": "csv", "text": "txt"}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def part_name(state: ExecutionState, format: str) -> str:
    """``part-<run>-<task>[-<map index>]-<hash>.<ext>``: the same name for every try of one task instance.

    Run and task ids are cut to safe characters for the name; the hash of the exact ids (DAG included) keeps two
    runs whose ids differ only in those characters, or two DAGs writing to one folder, apart.
    """
    identity = json.dumps([state.dag_id, state.run_id, state.task_id, state.map_index])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    run = _UNSAFE.sub("_", state.run_id)[:80]
    task = _UNSAFE.sub("_", state.task_id)[:60]
    mapped = f"-{state.map_index}" if state.map_index >= 0 else ""
    return f"part-{run}-{task}{mapped}-{digest}.{PART_EXTENSIONS[format]}"


def part_path(folder: str, state: ExecutionState, format: str) -> str:
    """Where this task instance's part goes in ``folder`` (relative to the base; confined when written)."""
    folder = folder.rstrip("/")
    name = part_name(state, format)
    return f"{folder}/{name}" if folder not in ("", ".") else name


def ndjson_with_text(storage: Storage, path: str, encoding: str) -> Iterator[tuple[Any, str]]:
    """Each record of an NDJSON file with its line's JSON text (blank lines skipped, as the reader does)."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # as the reader: tolerate a byte-order mark
    with storage.open_read(path) as stream:
        text = io.TextIOWrapper(stream, encoding=encoding)
        try:
            for lineno, line in enumerate(text, start=1):
                body = line.strip()
                if not body:
                    continue
                try:
                    yield loads_json(body, source=lambda: f"{path!r} line {lineno}", field="path"), body  # noqa: B023
                except json.JSONDecodeError as exc:
                    raise FlowValidationError(
                        f"the snapshot {path!r} line {lineno} is not JSON ({exc.msg}); fix or remove the snapshot",
                        field="path",
                        value=path,
                    ) from None
        except UnicodeDecodeError as exc:
            raise FlowValidationError(
                f"the snapshot {path!r} is not valid {encoding} ({exc.reason}); set encoding to the file's encoding",
                field="encoding",
                value=encoding,
            ) from None
        finally:
            text.detach()


def merge_into_snapshot(
    storage: Storage,
    path: str,
    records: Iterable[Any],
    rule: MergeRule,
    *,
    format: str,
    encoding: str,
    create_dirs: bool,
    state: ExecutionState,
) -> tuple[FileReference, MergeCounts]:
    """Merge ``records`` into the snapshot at ``path`` and publish the new snapshot atomically.

    Returns the new snapshot's reference and what the input did (new keys, replaced versions, kept out). Nothing is
    written before every record has been read and checked: a bad record, a failed read or a failed write leaves the
    old snapshot untouched.
    """
    with SnapshotIndex(rule) as index:
        if storage.stat(path) is not None:
            reading = ProgressReporter(state.log, f"file.sink {path!r} (reading the snapshot)")
            source = f"the snapshot {path!r}"
            if format == "ndjson":  # kept lines go back out as they are, not decoded and encoded again
                lines = read_os_errors(ndjson_with_text(storage, path, encoding), path)
                lines = paced(lines, state, "merge: read snapshot", reading)
                index.add_encoded(lines, source=source)
            else:
                old = iter_records(storage, path, format=format, encoding=encoding)
                index.add(paced(old, state, "merge: read snapshot", reading), source=source)
        counts = index.add(records, source="the input")
        writing = ProgressReporter(state.log, f"file.sink {path!r} (writing the snapshot)", total_records=index.keys)
        with RecordWriter(
            storage, path, format=format, mode="overwrite", encoding=encoding, create_dirs=create_dirs
        ) as out:
            for body in paced(index.bodies(), state, "merge: write snapshot", writing):
                out.write_json_text(body)
    return out.reference(), counts
