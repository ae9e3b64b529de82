"""Work a failed try leaves for the next one: staged pages and the task state next to them, in the node's storage.

An Airflow retry may run on another worker, so anything it resumes from must live where every worker reads it:
the node's storage (a shared folder named by ``fs_conn_id``/``base_path``, or object storage), never one machine's
temporary directory. Two things live there, both under the hidden folder :data:`STAGING_ROOT` of the node's base:

* :class:`PageStage`: one NDJSON file per finished page (``page-00000007.ndjson``), each written atomically, so
  a page is either whole or absent; read back in order to publish the output once, at the end.
* :class:`StorageStateStore`: on Airflow < 3.3, which has no task state store, the
  :class:`~airflow_provider_flow.core.state.KeyValueStore` itself, as one small JSON object per task instance
  (keyed by DAG, run, task and map index: what stays the same across tries). The operator marks that case by
  handing the runtime a :class:`FallbackTaskStore`; :func:`resumable_store` swaps in the storage-backed store once
  the runtime knows its storage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

from airflow_provider_flow.core.state import ExecutionState, KeyValueStore, MemoryStore
from airflow_provider_flow.records.codecs import parse_stream
from airflow_provider_flow.records.output import OriginalLines
from airflow_provider_flow.records.writer import RecordWriter
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.protocol import Storage

#: The hidden folder, under a node's base, holding staged pages and fallback task state.
STAGING_ROOT = ".flow-staging"


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
    """Finished pages of one task instance, one atomic NDJSON file each, under ``prefix`` in ``storage``.

    Use :meth:`write` for each record of the page being fetched, :meth:`finish_page` once it is complete (the file
    is published then; a page that failed midway is discarded by :meth:`abort`), :meth:`records` to read every
    finished page back in order and :meth:`clear` once the output built from them is published.
    """

    def __init__(self, storage: Storage, prefix: str, original_lines: OriginalLines | None = None) -> None:
        self.storage = storage
        self.prefix = prefix
        #: Set by a producer whose records come with their JSON lines: a staged record named there is written as
        #: its line (what the output's writer would write too, so the published file is the same either way).
        self.original_lines = original_lines
        self._writer: RecordWriter | None = None
        self._page = 1

    def page_path(self, page: int) -> str:
        return f"{self.prefix}/page-{page:08d}.ndjson"

    @property
    def next_page(self) -> int:
        """The page the next record belongs to."""
        return self._page

    def start_at(self, page: int) -> None:
        """The next record belongs to page ``page`` (1-based)."""
        self._page = page

    def write(self, record: Any) -> None:
        if self._writer is None:
            writer = RecordWriter(self.storage, self.page_path(self._page), format="ndjson")
            self._writer = writer.__enter__()
        lines = self.original_lines
        if lines is not None and lines.line is not None and record is lines.record:
            self._writer.write_line(lines.line)  # a staged page is always UTF-8 NDJSON: takes_lines holds
        else:
            self._writer.write(record)

    def finish_page(self) -> int:
        """Publish the page being written (an empty file when it had no records); returns its record count."""
        if self._writer is None:
            self.write_empty()
            count = 0
        else:
            writer, self._writer = self._writer, None
            writer.__exit__(None, None, None)
            count = writer.records
        self._page += 1
        return count

    def write_empty(self) -> None:
        with self.storage.atomic_write(self.page_path(self._page)):
            pass

    def abort(self) -> None:
        """Discard the page being written (a failed try): the target keeps its old content or stays absent."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            with contextlib.suppress(Exception):
                writer.__exit__(RuntimeError, RuntimeError("page not finished"), None)

    def records(self, pages: int) -> Iterator[Any]:
        """Every record of pages 1..``pages``, in order (memory: one read buffer)."""
        for page in range(1, pages + 1):
            path = self.page_path(page)
            with self.storage.open_read(path) as stream:
                yield from parse_stream(stream, "ndjson", "utf-8", path)

    def clear(self, pages: int) -> None:
        """Delete pages 1..``pages`` (and, on a local base, the emptied folder)."""
        for page in range(1, pages + 1):
            self.storage.delete(self.page_path(page))
        if isinstance(self.storage, LocalStorage):
            with contextlib.suppress(OSError):  # not empty (another writer) or already gone: leave it
                os.rmdir(os.path.join(self.storage.root, self.prefix))
