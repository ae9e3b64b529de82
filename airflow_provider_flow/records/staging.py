"""Work a failed try leaves for the next one: staged pages and the task state next to them, in the node's storage.

An Airflow retry may run on another worker, so anything it resumes from must live where every worker reads it:
the node's storage (a shared folder named by ``fs_conn_id``/``base_path``, or object storage), never one machine's
temporary directory. Two things live there, both under the hidden folder :data:`STAGING_ROOT` of the node's base:

* :class:`PageStage`: finished pages, appended to NDJSON *segments* (``page-00000007.ndjson`` holds pages 7 to
  the segment's last), each written atomically, so a segment is either whole or absent; read back in order to
  publish the output once, at the end. A segment closes after :data:`SEGMENT_SECONDS` or :data:`SEGMENT_BYTES`
  (whichever comes first) and when a try fails; one file and one checkpoint per page made a staged run to S3 3.5x
  slower than a direct one (a PUT, a GET, a DELETE and a task state write per page).
* :class:`StorageStateStore`: on Airflow < 3.3, which has no task state store, the
  :class:`~airflow_provider_flow.core.state.KeyValueStore` itself, as one small JSON object per task instance
  (keyed by DAG, run, task and map index: what stays the same across tries). The operator marks that case by
  handing the runtime a :class:`FallbackTaskStore`; :func:`resumable_store` swaps in the storage-backed store once
  the runtime knows its storage.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

from airflow_provider_flow.core.state import ExecutionState, KeyValueStore, MemoryStore
from airflow_provider_flow.records.codecs import encode_record, parse_stream
from airflow_provider_flow.records.output import OriginalLines
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.protocol import Storage, StorageWriter

#: The hidden folder, under a node's base, holding staged pages and fallback task state.
STAGING_ROOT = ".flow-staging"

#: A segment of staged pages closes (is published and checkpointed) once it is this old or this large: a retry
#: re-fetches at most about that much work when a try dies without a chance to close it (SIGKILL); a try that fails
#: with an exception closes its segment at the last finished page first.
SEGMENT_SECONDS = 2.0
SEGMENT_BYTES = 8 << 20


def task_instance_key(state: ExecutionState, *extra: str) -> str:
    """A short name for one task instance (and ``extra``): the same on every try, different for every instance."""
    digest = hashlib.sha256()
    for part in (state.dag_id, state.run_id, state.task_id, str(state.map_index), *extra):
        digest.update(part.encode() + b"\x00")
    return digest.hexdigest()[:32]


class FallbackTaskStore(MemoryStore):
    """What the operator hands a runtime on Airflow < 3.3 (no task state store): a per-try memory that also says
    "keep resumption state next to your staged data" (:func:`resumable_store`)."""


class StorageStateStore:
    """A :class:`KeyValueStore` kept as one JSON object in the node's storage (the Airflow < 3.3 fallback).

    Every ``set`` rewrites the object atomically; a missing object is an empty store. Values hold no secrets (the
    callers store page counters, cursors and batch ranges), but the object sits next to the data it describes and
    is as protected as that data.
    """

    def __init__(self, storage: Storage, path: str) -> None:
        self.storage = storage
        self.path = path

    def _load(self) -> dict[str, Any]:
        if not self.storage.exists(self.path):
            return {}
        with self.storage.open_read(self.path) as stream:
            loaded = json.loads(stream.read() or b"{}")
        return loaded if isinstance(loaded, dict) else {}

    def _save(self, values: dict[str, Any]) -> None:
        if not values:
            self.storage.delete(self.path)
            return
        with self.storage.atomic_write(self.path) as writer:
            writer.write(json.dumps(values, separators=(",", ":"), sort_keys=True).encode())

    def get(self, key: str, default: Any = None) -> Any:
        return self._load().get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError("a stored value must not be None; delete the key instead")
        values = self._load()
        values[key] = value
        self._save(values)

    def delete(self, key: str) -> None:
        values = self._load()
        if values.pop(key, None) is not None:
            self._save(values)


def resumable_store(state: ExecutionState, storage: Storage | None) -> KeyValueStore:
    """The store a runtime keeps its resumption state in: Airflow's task state store when the operator passed it,
    else (Airflow < 3.3) a :class:`StorageStateStore` in ``storage``; without storage, the per-try memory."""
    if isinstance(state.task_store, FallbackTaskStore) and storage is not None:
        return StorageStateStore(storage, f"{STAGING_ROOT}/state/{task_instance_key(state)}.json")
    return state.task_store


class PageStage:
    """Finished pages of one task instance, in segments of consecutive pages (one atomic NDJSON file each) under
    ``prefix`` in ``storage``.

    Use :meth:`write` for each record of the page being fetched (held in memory until the page is complete),
    :meth:`finish_page` once it is, :meth:`close_segment` when :attr:`segment_due` (or before publishing), or
    :meth:`abort` for a failed try; :meth:`records` reads every closed segment back in order and :meth:`clear`
    deletes them once the output built from them is published. :attr:`segments` (the first page of each closed
    segment) goes into the checkpoint, so a retry knows the files.
    """

    def __init__(
        self,
        storage: Storage,
        prefix: str,
        original_lines: OriginalLines | None = None,
        *,
        segment_seconds: float | None = None,
        segment_bytes: int | None = None,
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        #: Set by a producer whose records come with their JSON lines: a staged record named there is written as
        #: its line (what the output's writer would write too, so the published file is the same either way).
        self.original_lines = original_lines
        self.segment_seconds = SEGMENT_SECONDS if segment_seconds is None else segment_seconds
        self.segment_bytes = SEGMENT_BYTES if segment_bytes is None else segment_bytes
        self.segments: list[int] = []
        self._page = 1
        self._lines: list[bytes] = []  # the page being fetched, as NDJSON text (each line ending in a line break)
        self._count = 0  # its records
        self._segment: contextlib.ExitStack | None = None
        self._writer: StorageWriter | None = None
        self._first = 0
        self._opened = 0.0
        self._closing: tuple[concurrent.futures.Future[None], int] | None = None
        #: A segment failed to close: no later one may be kept (its pages would follow a gap).
        self.lost = False

    def page_path(self, page: int) -> str:
        """The file of the segment starting at ``page``."""
        return f"{self.prefix}/page-{page:08d}.ndjson"

    @property
    def next_page(self) -> int:
        """The page the next record belongs to."""
        return self._page

    def start_at(self, page: int, segments: list[int] | None = None) -> None:
        """The next record belongs to page ``page`` (1-based), after the closed ``segments`` (default: a checkpoint
        from before segments, one file per page)."""
        self._page = page
        self.segments = list(range(1, page)) if segments is None else [int(first) for first in segments]

    def write(self, record: Any) -> None:
        lines = self.original_lines
        if lines is not None and lines.line is not None and record is lines.record:
            self._lines.append(lines.line + b"\n")  # exactly what the output's NDJSON writer takes as is
        else:
            self._lines.append(encode_record(record, self._count) + b"\n")
        self._count += 1

    def write_text(self, text: bytes, count: int) -> None:
        """``count`` records given as their NDJSON text (each line ending in a line break), taken as is."""
        self._lines.append(text)
        self._count += count

    def finish_page(self) -> int:
        """The page being fetched is complete: append it to the open segment; returns its record count."""
        count, self._count = self._count, 0
        if self._writer is None:
            segment = contextlib.ExitStack()
            self._writer = segment.enter_context(self.storage.atomic_write(self.page_path(self._page)))
            self._segment, self._first, self._opened = segment, self._page, time.monotonic()
        if self._lines:
            self._writer.write(b"".join(self._lines))
            self._lines.clear()
        self._page += 1
        return count

    @property
    def segment_due(self) -> bool:
        """Whether the open segment is old or large enough to close at this page boundary."""
        writer = self._writer
        return writer is not None and (
            writer.bytes >= self.segment_bytes or time.monotonic() - self._opened >= self.segment_seconds
        )

    def close_segment(self, *, background: bool = False) -> bool:
        """Publish the open segment (every finished page in it); False when none is open.

        ``background``: the commit (the last part's upload, on object storage) runs on a thread of its own while
        the next pages are fetched; it blocked the fetch loop a third of a staged run to S3. One segment closes at
        a time, in page order: :meth:`settle` waits for it and adds it to :attr:`segments`."""
        if self._segment is None or self.lost:
            return False
        self.settle()
        segment, self._segment, self._writer = self._segment, None, None
        if background:
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow-stage")
            self._closing = (pool.submit(segment.close), self._first)
            pool.shutdown(wait=False)  # its one thread ends with the commit
            return True
        try:
            segment.close()  # the atomic write's commit: on failure nothing is published, and it raises
        except BaseException:
            self.lost = True
            raise
        self.segments.append(self._first)
        return True

    @property
    def closing_done(self) -> bool:
        """Whether a segment closing in the background has finished (:meth:`settle` then returns at once)."""
        return self._closing is not None and self._closing[0].done()

    def settle(self) -> bool:
        """Wait for the segment closing in the background: True when there was one (it is then in
        :attr:`segments`); its failure is raised here, and no later segment is kept."""
        if self._closing is None:
            return False
        (future, first), self._closing = self._closing, None
        try:
            future.result()
        except BaseException:
            self.lost = True
            raise
        self.segments.append(first)
        return True

    def abort(self, *, keep_finished: bool = False) -> bool:
        """A failed try: drop the unfinished page; publish the finished pages of the open segment when
        ``keep_finished`` (returns whether that happened), else discard them too."""
        self._lines.clear()
        self._count = 0
        if keep_finished and not self.lost and self._closing is None:
            with contextlib.suppress(Exception):  # the try is failing anyway: its segment is only a bonus
                return self.close_segment()
        if self._segment is not None:
            segment, self._segment, self._writer = self._segment, None, None
            with contextlib.suppress(Exception):
                segment.__exit__(RuntimeError, RuntimeError("try failed"), None)
        return False

    def records(self) -> Iterator[Any]:
        """Every record of the closed segments, in order (memory: one read buffer)."""
        for first in self.segments:
            path = self.page_path(first)
            with self.storage.open_read(path) as stream:
                yield from parse_stream(stream, "ndjson", "utf-8", path)

    def clear(self, also: int | None = None) -> None:
        """Delete the closed segments and the one starting at page ``also`` (a segment a try published but never
        checkpointed), and, on a local base, the emptied folder."""
        for first in [*self.segments, *([] if also is None else [also])]:
            self.storage.delete(self.page_path(first))
        self.segments = []
        if isinstance(self.storage, LocalStorage):
            with contextlib.suppress(OSError):  # not empty (another writer) or already gone: leave it
                os.rmdir(os.path.join(self.storage.root, self.prefix))
