"""The resume cache of ``ai.transform``: finished records survive a failed try, so a retry does not pay again.

Completed records are appended to an NDJSON file under the node's confined storage, flushed and fsynced per record,
so a killed task leaves a valid file whose last line at worst is cut and ignored. The key hashes model, prompts,
schema, sampling settings and validator, so any change that could change an answer asks again. The cache is
shared across runs of the task (a backfill reuses it); delete the file to start afresh.

The file is not trusted: it may be edited, cut, or written by an older version. A line of the wrong shape is
dropped at load, and an ``ok`` entry's output is validated like a fresh reply when it is looked up; either is a
cache miss (the record is asked again), counted and reported in one warning (:meth:`ResultCache.report`).

Growth is bounded, because the file is loaded whole on every run: when it holds more than ``max_entries`` entries,
or far more lines than live entries (duplicates of a key, unreadable lines), the load compacts it, atomically, to
the newest entry per key, at most the ``max_entries`` newest. A run appends what it finishes, so between loads the
file holds at most ``max_entries`` plus one run's records. Compaction replaces the file: an append by another task
using the same file at that moment may be lost, which costs a cache miss, never a wrong answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from airflow_provider_flow.core.jsontext import loads_json
from airflow_provider_flow.core.state import LoggerLike
from airflow_provider_flow.llm.chat import ChatOptions
from airflow_provider_flow.storage.atomic import atomic_write
from airflow_provider_flow.storage.local import file_error, open_append, open_confined
from airflow_provider_flow.storage.paths import confine_path

#: Bump when the cache line format or key recipe changes: old lines are then simply not found.
CACHE_VERSION = 1

#: Default bound on the entries kept (each holds one record's validated output and a 300-character excerpt).
DEFAULT_MAX_ENTRIES = 50_000

#: Compact when the file holds more than this many lines per live entry (plus a small allowance).
_DEAD_LINES_FACTOR = 2

Validate = Callable[[Any], "tuple[Any, str | None]"]


def shape_problem(entry: Any) -> str | None:
    """Why a parsed line is not a cache entry, or None: every field the lookup reads, with its type."""
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return "wrong shape"
    if entry.get("status") not in ("ok", "invalid"):
        return "wrong shape"
    for name in ("total_tokens", "max_repair_attempts"):
        value = entry.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return "wrong shape"
    for name in ("error", "reply_excerpt"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            return "wrong shape"
    return None


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def cache_key(options: ChatOptions, messages: list[dict[str, str]]) -> str:
    """Model + rendered prompts (= template and record) + schema + sampling settings + validator."""
    model_name = None
    if options.output_model is not None:
        model_name = f"{options.output_model.__module__}.{options.output_model.__qualname__}"
    material = {
        "v": CACHE_VERSION,
        "model": options.model,
        "messages": messages,
        "schema": options.output_schema,
        "output_model": model_name,
        "temperature": options.temperature,
        "max_tokens": options.max_tokens,
        "response_format": options.response_format,
    }
    return hashlib.sha256(_canonical(material)).hexdigest()


class CacheEntries:
    """The trust rules every cache backend shares: lines are parsed and shape-checked as they are loaded (the
    newest entry per key wins), an ``ok`` entry's output is validated when it is looked up, and every unusable line
    is counted for the one warning of :meth:`report`. ``path`` names the cache in logs and warnings. Thread-safe.
    """

    path: str

    def __init__(self, *, validate: Validate | None, max_entries: int, log: LoggerLike | None) -> None:
        self.entries: dict[str, dict[str, Any]] = {}  # oldest first: a key seen again moves to the end
        self.problems: Counter[str] = Counter()
        self.validate = validate
        self.max_entries = max_entries
        self.log = log
        self._lock = threading.Lock()

    def _take(self, line: bytes | str) -> None:
        """Load one stored line: a usable entry is remembered (the newest per key wins), anything else counted."""
        try:
            entry = loads_json(line, source="a resume cache line")
        except ValueError:  # a line cut short by a killed try, or nested too deeply: not cached
            self.problems["unreadable"] += 1
            return
        problem = shape_problem(entry)
        if problem is not None:
            self.problems[problem] += 1
            return
        self._remember(entry)

    def _remember(self, entry: dict[str, Any]) -> None:
        self.entries.pop(entry["key"], None)
        self.entries[entry["key"]] = entry

    def _needs_compaction(self, lines: int) -> bool:
        """More entries than the bound, or far more stored lines than live entries (duplicates, dead lines)."""
        return len(self.entries) > self.max_entries or lines > _DEAD_LINES_FACTOR * len(self.entries) + 100

    def _keep_newest(self) -> None:
        keep = list(self.entries)[-self.max_entries :]
        self.entries = {key: self.entries[key] for key in keep}

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key``, its output validated; a bad one is forgotten and counted (a miss)."""
        with self._lock:
            entry = self.entries.get(key)
        if entry is None or entry["status"] != "ok" or self.validate is None:
            return entry
        value, error = self.validate(entry.get("output"))
        if error is not None:
            with self._lock:
                self.problems["output fails the schema"] += 1
                self.entries.pop(key, None)
            return None
        return {**entry, "output": value}

    def report(self, log: LoggerLike) -> None:
        """One warning for every unusable line met so far, with counts per reason."""
        if not self.problems:
            return
        reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(self.problems.items()))
        log.warning(
            "ai.transform: %s cache lines in %s were not usable (%s); their records were asked again",
            sum(self.problems.values()),
            self.path,
            reasons,
        )

    def _log_compaction(self, lines: int) -> None:
        if self.log is not None:
            self.log.info(
                "ai.transform: compacted cache %s from %s lines to %s entries (max_entries=%s)",
                self.path,
                lines,
                len(self.entries),
                self.max_entries,
            )


class ResultCache(CacheEntries):
    """NDJSON of finished records, confined under the base, fsynced per record, validated and bounded (above).

    Lines that do not parse (the tail of a killed write) are ignored; a newline is written first when the file
    does not end with one, so the next line starts clean. ``validate`` checks an ``ok`` entry's output as a fresh
    reply is checked (returns the value to use, or an error). Thread-safe.
    """

    def __init__(
        self,
        base: str,
        path: str,
        *,
        validate: Validate | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        log: LoggerLike | None = None,
    ) -> None:
        super().__init__(validate=validate, max_entries=max_entries, log=log)
        self.base = base
        self.path = path
        self.resolved = confine_path(base, path, operation="write")
        self._fd: int | None = None
        lines = self._load()
        if self._needs_compaction(lines):
            self._compact(lines)

    def _load(self) -> int:
        """Read every usable line (the newest per key wins); returns how many lines the file held."""
        if not os.path.exists(self.resolved):
            return 0
        lines = 0
        with open_confined(self.base, self.path, operation="read") as stream:
            for line in stream:
                lines += 1
                self._take(line)
        return lines

    def _compact(self, lines: int) -> None:
        """Rewrite the file atomically with the newest entry per key, at most ``max_entries`` of them."""
        self._keep_newest()
        with atomic_write(self.base, self.path) as writer:
            for entry in self.entries.values():
                writer.write(entry_line(entry))
        self._log_compaction(lines)

    def _open(self) -> int:
        fd = open_append(self.base, self.path)  # confined, symlink-free, regular files only
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")  # the previous try was killed mid-line: start the next line clean
        except OSError as exc:
            os.close(fd)
            raise file_error(exc, path=self.path, operation="append", base=self.base) from exc
        return fd

    def put(self, entry: dict[str, Any]) -> None:
        line = entry_line(entry)
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
            try:
                os.write(self._fd, line)
                os.fsync(self._fd)
            except OSError as exc:
                raise file_error(exc, path=self.path, operation="write", base=self.base) from exc
            self._remember(entry)

    def close(self, *, after_failure: bool = False) -> None:
        """Every entry is already on disk (fsynced per record): only the file is closed."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def entry_line(entry: dict[str, Any]) -> bytes:
    """One NDJSON line (shared by both backends)."""
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
