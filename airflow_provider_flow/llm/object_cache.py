"""The resume cache of ``ai.transform`` on object storage: append-only segment objects listed by a manifest.

An object cannot be appended to, and rewriting the whole cache for every finished record would cost the square of
its size. So a try collects the records it finishes and publishes them as a new *segment* object, and a small
*manifest* object lists the segments that count. Under ``<cache_path without .ndjson>/``:

* ``segments/<UTC time>-<random>.ndjson``: entries, one per line, exactly as in the local file (:mod:`.cache`);
* ``manifest.json``: ``{"version": 1, "segments": [...]}``, oldest first.

**Writing.** A try publishes what it finished every ``flush_records`` records or ``flush_seconds`` seconds, and when
it ends, whether it succeeded or failed (an HTTP error, a deadline: what Airflow retries): the segment is written
atomically (one ``PutObject``, or a multipart upload completed last), *then* added to the manifest by a
compare-and-swap (``If-Match`` on the ETag read, ``If-None-Match: *`` for the first one; re-read and retried on a
conflict), so two runs of the task flushing at once both keep their segments. A retry on any worker reads the same
manifest, so it asks the LLM only for what no earlier try finished. A try killed by SIGKILL loses what it finished
since its last flush; if it died between the segment and the manifest update, the segment is *unlisted*: readers
ignore it, and a later load deletes it once older than ``stale_segment_seconds`` (a live writer publishes within
seconds, so it is never touched).

**Reading.** A load reads the manifest and every segment it lists, oldest first; the newest entry per key wins.
Nothing stored is trusted (:class:`~.cache.CacheEntries`, the local file's rules): an unreadable or wrong-shaped
line, an ``ok`` output failing the schema, a manifest that does not parse or names something that is not one of
our segments, a listed segment that is gone: each is a cache miss (the record is asked again), counted and
reported in one warning.

**Bounds.** When the manifest lists more than ``max_segments`` segments, or the entries pass ``max_entries``, or
most stored lines are dead, the load *compacts*: it writes one segment with the newest entry per key (at most
``max_entries``), swaps it for the segments it read in the manifest (segments added meanwhile by others stay), then
deletes the replaced ones. A reader that read the old manifest just before may find a segment gone: a miss, never
a wrong answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from contextlib import suppress
from datetime import datetime, timezone
from typing import Any

from airflow_provider_flow.core.state import LoggerLike
from airflow_provider_flow.errors import FileError, FlowError
from airflow_provider_flow.llm.cache import DEFAULT_MAX_ENTRIES, CacheEntries, ResultCache, Validate, entry_line
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.object_store import ObjectStorage
from airflow_provider_flow.storage.protocol import Storage

MANIFEST_VERSION = 1
#: Publish a segment after this many finished records (a SIGKILL loses at most this many, or ...)
DEFAULT_FLUSH_RECORDS = 200
#: ... what was finished in this many seconds, whichever comes first.
DEFAULT_FLUSH_SECONDS = 30.0
#: Compact on load when the manifest lists more segments than this (each is one GET per load).
DEFAULT_MAX_SEGMENTS = 32
#: An unlisted segment older than this is a leftover of a killed try, deleted by the next load.
DEFAULT_STALE_SEGMENT_SECONDS = 3600.0
#: Compare-and-swap rounds before giving up on a manifest that others keep changing.
_PUBLISH_ATTEMPTS = 20

_SEGMENT = re.compile(r"^segments/(\d{8}T\d{6}Z)-[0-9a-f]{32}\.ndjson$")
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def object_cache_prefix(cache_path: str) -> str:
    """The folder-like prefix of a cache on object storage: ``cache_path`` without its ``.ndjson``."""
    return cache_path.removesuffix(".ndjson")


def segment_name(now: datetime | None = None) -> str:
    """``segments/<UTC time>-<random>.ndjson``: sortable by age, never reused (the random part)."""
    stamp = (now or datetime.now(timezone.utc)).strftime(_TIME_FORMAT)
    return f"segments/{stamp}-{uuid.uuid4().hex}.ndjson"


def segment_age(name: str, now: datetime | None = None) -> float | None:
    """Seconds since a segment was named, or None for a name that is not one of ours."""
    match = _SEGMENT.match(name)
    if match is None:
        return None
    written = datetime.strptime(match.group(1), _TIME_FORMAT).replace(tzinfo=timezone.utc)
    return ((now or datetime.now(timezone.utc)) - written).total_seconds()


class ObjectResultCache(CacheEntries):
    """The cache on an :class:`~airflow_provider_flow.storage.object_store.ObjectStorage` (see the module docstring).

    Same interface as :class:`~.cache.ResultCache`: ``entries``, ``get``, ``put``, ``report``, ``close``.
    """

    def __init__(
        self,
        storage: ObjectStorage,
        path: str,
        *,
        validate: Validate | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        log: LoggerLike | None = None,
        flush_records: int = DEFAULT_FLUSH_RECORDS,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        max_segments: int = DEFAULT_MAX_SEGMENTS,
        stale_segment_seconds: float = DEFAULT_STALE_SEGMENT_SECONDS,
    ) -> None:
        super().__init__(validate=validate, max_entries=max_entries, log=log)
        self.storage = storage
        self.prefix = object_cache_prefix(path)
        self._manifest = f"{self.prefix}/manifest.json"
        # Confined before any request (PathTraversalError for a hostile cache_path).
        self.path = storage.location.key_uri(storage.key_of(self._manifest, operation="write")).removesuffix(
            "/manifest.json"
        )
        self.flush_records = flush_records
        self.flush_seconds = flush_seconds
        self.max_segments = max_segments
        self.stale_segment_seconds = stale_segment_seconds
        self.segments_written = 0
        self._pending: list[bytes] = []
        self._flush_lock = threading.Lock()
        self._last_flush = time.monotonic()
        listed, lines = self._load()
        if len(listed) > max_segments or self._needs_compaction(lines):
            listed = self._compact(listed, lines)
        with suppress(FlowError):  # cleaning is best effort: a later load tries again
            self._delete_unlisted(set(listed))

    # -- loading -------------------------------------------------------------------------------------------------

    def _read_manifest(self, *, count: bool) -> tuple[list[str], str | None]:
        """The segments the manifest lists (only names of ours) and its ETag (None: no manifest yet)."""
        found = self.storage.read_versioned(self._manifest)
        if found is None:
            return [], None
        raw, etag = found
        try:
            manifest = json.loads(raw)
            names = manifest["segments"] if manifest.get("version") == MANIFEST_VERSION else None
        except (ValueError, TypeError, KeyError, AttributeError):
            names = None
        if not isinstance(names, list):
            if count:
                self.problems["unreadable manifest"] += 1
            return [], etag
        good = [name for name in names if isinstance(name, str) and _SEGMENT.match(name)]
        if count and len(good) != len(names):
            self.problems["manifest entry that is not a segment"] += len(names) - len(good)
        return list(dict.fromkeys(good)), etag

    def _load(self) -> tuple[list[str], int]:
        """Read every listed segment, oldest first; returns the names and how many lines they held."""
        names, _ = self._read_manifest(count=True)
        lines = 0
        for name in names:
            try:
                stream = self.storage.open_read(f"{self.prefix}/{name}")
            except FileError as err:
                if err.details.get("code") not in ("NoSuchKey", "404"):
                    raise
                self.problems["missing segment"] += 1  # compacted away by another run just now
                continue
            with stream:
                for line in stream:
                    lines += 1
                    self._take(line)
        return names, lines

    def _compact(self, listed: list[str], lines: int) -> list[str]:
        """One segment with the newest entry per key replaces the segments read; returns the manifest's names."""
        self._keep_newest()
        fresh = [self._write_segment([entry_line(e) for e in self.entries.values()])] if self.entries else []
        names = self._publish(add=fresh, remove=listed)
        for old in listed:
            with suppress(FlowError):
                self.storage.delete(f"{self.prefix}/{old}")
        self._log_compaction(lines)
        return names

    def _delete_unlisted(self, listed: set[str]) -> None:
        """Segments of killed tries (written, never listed), once older than ``stale_segment_seconds``."""
        for relative in self.storage.glob(f"{self.prefix}/segments/*.ndjson"):
            name = relative[len(self.prefix) + 1 :]
            age = segment_age(name)
            if name not in listed and age is not None and age >= self.stale_segment_seconds:
                self.storage.delete(relative)

    # -- writing -------------------------------------------------------------------------------------------------

    def _write_segment(self, lines: list[bytes]) -> str:
        name = segment_name()
        with self.storage.atomic_write(f"{self.prefix}/{name}") as writer:  # a fresh random name
            writer.write(b"".join(lines))
        self.segments_written += 1
        return name

    def _publish(self, *, add: list[str], remove: list[str]) -> list[str]:
        """Compare-and-swap the manifest: the current names minus ``remove``, plus ``add``; returns the result."""
        gone = set(remove)
        for attempt in range(_PUBLISH_ATTEMPTS):
            current, etag = self._read_manifest(count=False)
            names = [n for n in current if n not in gone] + [n for n in add if n not in current]
            body = json.dumps({"version": MANIFEST_VERSION, "segments": names}, indent=0).encode()
            if self.storage.replace_if_unchanged(self._manifest, body, etag=etag):
                return names
            time.sleep(min(0.05 * (attempt + 1), 0.5))  # another run published in between: read again
        raise FileError(
            f"cannot update the cache manifest {self.path}/manifest.json: it kept changing under "
            f"{_PUBLISH_ATTEMPTS} attempts (many runs of this task writing at once?); the retry tries again",
            path=f"{self.path}/manifest.json",
            operation="write",
            retryable=True,
        )

    def put(self, entry: dict[str, Any]) -> None:
        """Remember a finished record; publish a segment when ``flush_records``/``flush_seconds`` say so."""
        line = entry_line(entry)
        with self._lock:
            self._remember(entry)
            self._pending.append(line)
            due = len(self._pending) >= self.flush_records or time.monotonic() - self._last_flush >= self.flush_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        """Publish the records finished since the last flush as one segment (kept for the next flush on error)."""
        with self._flush_lock:
            with self._lock:
                lines, self._pending = self._pending, []
                self._last_flush = time.monotonic()
            if not lines:
                return
            try:
                self._publish(add=[self._write_segment(lines)], remove=[])
            except BaseException:
                with self._lock:
                    self._pending[:0] = lines
                raise

    def close(self, *, after_failure: bool = False) -> None:
        """Publish what is left. After a failed run, a store error here is logged, not raised: the run's own
        error is what the task reports (and the retry asks again for the records that could not be saved)."""
        try:
            self.flush()
        except FlowError as exc:
            if not after_failure:
                raise
            if self.log is not None:
                self.log.warning(
                    "ai.transform: could not save %s finished records to the cache %s (%s); a retry asks for "
                    "them again",
                    len(self._pending),
                    self.path,
                    exc,
                )


def open_result_cache(
    storage: Storage,
    path: str,
    *,
    validate: Validate | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    log: LoggerLike | None = None,
) -> ResultCache | ObjectResultCache:
    """The cache backend for the node's storage: the NDJSON file on a local base, segments on object storage."""
    if isinstance(storage, ObjectStorage):
        return ObjectResultCache(storage, path, validate=validate, max_entries=max_entries, log=log)
    if not isinstance(storage, LocalStorage):
        raise TypeError(f"no resume cache for storage {type(storage).__name__}")
    return ResultCache(storage.root, path, validate=validate, max_entries=max_entries, log=log)
