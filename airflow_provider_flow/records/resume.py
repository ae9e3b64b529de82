"""Resumable pagination: an Airflow retry of an ``http.source`` continues after the last page a failed try finished.

With ``output_path``, when a retry may follow (``try_number <= max_tries``) or a checkpoint exists, every finished
page is staged in the node's storage (:class:`~airflow_provider_flow.records.staging.PageStage`, in segments of a
few seconds' or megabytes' worth of pages) and, as each segment closes, a checkpoint is saved in the task state
store: pages done, records staged, the segments, and the next request. A try that fails with an error closes its
segment at the last finished page first, so its retry requests the failed page and on; a try killed outright
loses at most its open segment. A retry of the same task
instance with the same rendered config reads the checkpoint, requests the next page and on, and publishes the output
from every staged page, atomically, once, at the end; then the stage and the checkpoint are deleted.

What it never does:

* Resume stale state: the checkpoint is keyed by a fingerprint of the rendered config (endpoint, params, body,
  pagination, output and the connection's resolved URL), so a changed config starts over (and deletes the old
  stage). A ``full_refresh`` DAG param does the same.
* Store secrets: the next request is kept as the URL when it is not the first one (and only if redaction leaves
  it unchanged: a next-page URL carrying a credential is never stored; no segment closes after that page) and
  as the query parameters that *differ* from the node's own ``params`` (the page counter, offset or cursor), so a
  key in ``params`` is not copied. Values are small JSON: no per-page data.
* Resume XCom results: without ``output_path`` the records are bounded by ``max_response_bytes`` and go into XCom
  anyway, so a retry fetches them again (documented in the README).

The loop guard's memory of earlier pages is not carried over: a loop spanning the retry is still stopped by
``max_pages``, whose count includes the resumed pages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from airflow_provider_flow.core.progress import ProgressReporter
from airflow_provider_flow.core.state import ExecutionState, KeyValueStore
from airflow_provider_flow.records.output import take_page
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.staging import STAGING_ROOT, PageStage, resumable_store, task_instance_key
from airflow_provider_flow.records.writer import RecordWriter
from airflow_provider_flow.redaction import REDACTED
from airflow_provider_flow.storage.protocol import Storage

#: Bytes copied per read when an NDJSON output is assembled from staged pages.
_COPY_CHUNK = 1 << 20

#: The task-state key of an http.source checkpoint.
SOURCE_KEY = "http.source/resume"

#: Config fields that change how a try behaves, not what it fetches: changing them keeps the checkpoint.
BEHAVIOUR_FIELDS = frozenset({"timeout", "retry", "headers", "sensitive_headers", "max_response_bytes", "max_pages"})


def fingerprint(config: BaseModel, *, exclude: Iterable[str] = BEHAVIOUR_FIELDS, also: Iterable[str] = ()) -> str:
    """A short digest of the rendered config (without ``exclude``) and ``also``: equal only for the same work.

    Header values are excluded (they may be credentials and do not choose the records); a digest is stored, never
    the values.
    """
    dumped = config.model_dump(mode="json", by_alias=True, exclude=set(exclude))
    digest = hashlib.sha256(json.dumps(dumped, sort_keys=True, default=str).encode())
    for part in also:
        digest.update(b"\x00" + part.encode())
    return digest.hexdigest()[:24]


def wants_full_refresh(state: ExecutionState) -> bool:
    """A ``full_refresh`` DAG param (true) discards checkpoints: the run starts over."""
    return bool(state.params.get("full_refresh"))


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed try starts: after ``pages`` finished pages holding ``records`` records, with this request."""

    pages: int
    records: int
    url: str
    params: dict[str, Any] | None


@dataclass
class SourceCheckpoints:
    """The checkpoint of one http.source task instance and its staged pages (see the module docstring)."""

    store: KeyValueStore
    stage: PageStage
    fingerprint: str
    first_url: str
    own_params: dict[str, Any]
    safe_url: Callable[[str], str]
    log: Any
    records: int = 0
    resumed_records: int = 0
    _warned: bool = False
    #: The checkpoint of the last finished page, when its next request can be kept: what a closing segment saves.
    _pending: dict[str, Any] | None = None
    #: The checkpoint of the segment closing in the background, saved once it is published.
    _closing: dict[str, Any] | None = None

    @classmethod
    def open(
        cls,
        state: ExecutionState,
        storage: Storage,
        config: BaseModel,
        *,
        first_url: str,
        own_params: Mapping[str, Any] | None,
        safe_url: Callable[[str], str],
    ) -> SourceCheckpoints | None:
        """The checkpoints of this try, or None when nothing is to be resumed and no retry could use one."""
        store = resumable_store(state, storage)
        saved = store.get(SOURCE_KEY)
        if saved is None and state.try_number > state.max_tries:
            return None  # the last try, nothing staged: stream straight to the output
        digest = fingerprint(config, also=[safe_url(first_url)])
        stage = PageStage(storage, f"{STAGING_ROOT}/http.source/{task_instance_key(state, digest)}")
        return cls(
            store=store,
            stage=stage,
            fingerprint=digest,
            first_url=first_url,
            own_params=dict(own_params or {}),
            safe_url=safe_url,
            log=state.log,
        )

    def resume_point(self, state: ExecutionState) -> ResumePoint | None:
        """Where the last try stopped, or None (and stale state deleted) when this try starts from page 1."""
        saved = self.store.get(SOURCE_KEY)
        if not isinstance(saved, dict):
            return None
        if saved.get("fingerprint") != self.fingerprint or wants_full_refresh(state):
            why = "full_refresh was requested" if wants_full_refresh(state) else "the rendered config changed"
            self.log.info("http.source: not resuming the earlier try's %s pages: %s", saved.get("pages"), why)
            self._discard(saved)
            return None
        pages, records = int(saved["pages"]), int(saved["records"])
        delta = saved.get("params")
        params = None if delta is None else self._params_from(delta)
        url = saved.get("url") or self.first_url
        self.records = self.resumed_records = records
        self.log.info(
            "http.source: resuming after page %d (%d records staged by an earlier try); next request: %s",
            pages,
            records,
            self.safe_url(url),
        )
        segments = saved.get("segments")
        self.stage.start_at(pages + 1, segments if isinstance(segments, list) else None)
        return ResumePoint(pages=pages, records=records, url=url, params=params)

    def stage_all(self, records: Iterable[Any], progress: ProgressReporter) -> int:
        """Stage every record (``records`` calls :meth:`page_done` at each page's end), counting this try's in
        ``progress``; returns the pages staged, resumed ones included. A failure discards the unfinished page and
        keeps the finished ones for a retry (their segment closed and checkpointed, when their next request can be
        kept)."""
        count, stage, lines = progress.add_record, self.stage, self.stage.original_lines
        incoming = iter(records)
        try:
            for record in incoming:
                if lines is not None and lines.starts_page(record):
                    block, text = take_page(record, incoming, lines)
                    if text is not None:
                        stage.write_text(text, len(block))
                    else:
                        for each in block:
                            stage.write(each)
                    progress.update(records=len(block))
                    continue
                stage.write(record)
                count()
        except BaseException:
            self._keep_finished_pages()
            raise
        self._settle()
        self.stage.close_segment()  # the last pages: published from the stage next
        return self.stage.next_page - 1

    def _keep_finished_pages(self) -> None:
        """A failing try: publish and checkpoint the segment closing in the background and the finished pages of
        the open one, so the retry starts at the page that failed (unless a segment could not be published: then
        nothing after it is kept)."""
        with contextlib.suppress(Exception):  # the try is failing anyway; a lost segment is re-fetched
            self._settle()
        pending = self._pending
        if self.stage.abort(keep_finished=pending is not None) and pending is not None:
            with contextlib.suppress(Exception):  # the segment is then orphaned; the retry writes it again
                self._save(pending)

    def _settle(self) -> None:
        """Wait for the segment closing in the background and save its checkpoint."""
        closing, self._closing = self._closing, None
        if self.stage.settle() and closing is not None:
            self._save(closing)

    def page_done(self, pages: int, nxt_url: str | None, nxt_params: dict[str, Any] | None) -> None:
        """Page ``pages`` has all its records: append it to the open segment; when that is due, close it and save
        where the next try would go on."""
        self.records += self.stage.finish_page()
        self._pending = None
        if self.stage.closing_done:
            self._settle()
        if nxt_url is None:
            return  # the last page: the output is published next, nothing to resume to
        url: str | None = None if nxt_url == self.first_url else nxt_url
        if url is not None and REDACTED in self.safe_url(url) and REDACTED not in url:
            if not self._warned:
                self._warned = True
                self.log.warning(
                    "http.source: the next-page URL carries a credential, so it is not kept in the task state; "
                    "a retry re-fetches from the last page whose next request could be kept"
                )
            return
        self._pending = {
            "fingerprint": self.fingerprint,
            "staging": self.stage.prefix,
            "pages": pages,
            "records": self.records,
            "url": url,
            "params": None if nxt_params is None else self._params_delta(nxt_params),
        }
        if self.stage.segment_due:
            self._settle()  # one segment closes at a time
            self.stage.close_segment(background=True)
            self._closing = self._pending

    def _save(self, checkpoint: dict[str, Any]) -> None:
        self.store.set(SOURCE_KEY, {**checkpoint, "segments": list(self.stage.segments)})

    def publish(
        self, pages: int, progress: ProgressReporter, *, output_path: str, format: str, mode: str
    ) -> FileReference:
        """Write the output from staged pages 1..``pages``, atomically. NDJSON output is the staged bytes as they
        are (the stage writes exactly what the output writer would), so a successful run pays one extra copy, not
        a re-parse; other formats go through the record writer."""
        storage = self.stage.storage
        if format != "ndjson":
            with RecordWriter(storage, output_path, format=format, mode=mode) as writer:
                writer.write_many(self.stage.records())
            published = writer.reference()
        else:
            with storage.atomic_write(output_path, mode=mode) as written:
                for first in self.stage.segments:
                    with storage.open_read(self.stage.page_path(first)) as stream:
                        while chunk := stream.read(_COPY_CHUNK):
                            written.write(chunk)
            published = FileReference(
                path=written.relative_path,
                **storage.describe(),
                format="ndjson",
                encoding="utf-8",
                records=self.records,
                bytes=written.bytes,
                sha256=written.sha256,
            )
        resumed = f"{self.resumed_records:,} records staged by earlier tries" if self.resumed_records else None
        progress.finish(output=published.path, details=resumed)
        return published

    def finished(self) -> None:
        """The output is published: delete the checkpoint, then the staged pages."""
        self.store.delete(SOURCE_KEY)
        self.stage.clear()

    def _discard(self, saved: dict[str, Any]) -> None:
        self.store.delete(SOURCE_KEY)
        prefix, pages, segments = saved.get("staging"), saved.get("pages"), saved.get("segments")
        if isinstance(prefix, str) and prefix.startswith(f"{STAGING_ROOT}/") and isinstance(pages, int):
            old = PageStage(self.stage.storage, prefix)
            old.start_at(pages + 1, segments if isinstance(segments, list) else None)
            old.clear(also=pages + 1)  # a segment a try published but never checkpointed

    def _params_delta(self, params: dict[str, Any]) -> dict[str, Any]:
        """The query parameters that differ from the node's own (which may hold keys and are in the config)."""
        own = self.own_params
        return {
            "set": {k: v for k, v in params.items() if k not in own or own[k] != v},
            "drop": sorted(k for k in own if k not in params),
        }

    def _params_from(self, delta: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in self.own_params.items() if k not in set(delta.get("drop") or [])}
        params.update(delta.get("set") or {})
        return params
