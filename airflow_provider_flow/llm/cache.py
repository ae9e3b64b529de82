"""The resume cache of ``ai.transform``: finished records survive a failed try, so a retry does not pay again.

Completed records are appended to an NDJSON file under the node's confined storage, flushed and fsynced per record,
so a killed task leaves a valid file whose last line at worst is cut and ignored. The key hashes model, prompts,
schema, sampling settings and validator, so any change that could change an answer asks again. The cache is
append-only and shared across runs of the task (a backfill reuses it); delete the file to start afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any

from airflow_provider_flow.core.jsontext import loads_json
from airflow_provider_flow.llm.chat import ChatOptions
from airflow_provider_flow.storage.local import file_error, open_append, open_confined
from airflow_provider_flow.storage.paths import confine_path

#: Bump when the cache line format or key recipe changes: old lines are then simply not found.
CACHE_VERSION = 1


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


class ResultCache:
    """Append-only NDJSON of finished records, confined under the base, fsynced per record.

    Lines that do not parse (the tail of a killed write) are ignored; a newline is written first when the file
    does not end with one, so the next line starts clean. Thread-safe.
    """

    def __init__(self, base: str, path: str) -> None:
        self.base = base
        self.path = path
        self.resolved = confine_path(base, path, operation="write")
        self.entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._load()

    def _load(self) -> None:
        if not os.path.exists(self.resolved):
            return
        with open_confined(self.base, self.path, operation="read") as stream:
            for line in stream:
                try:
                    entry = loads_json(line, source="a resume cache line")
                except ValueError:  # a line cut short by a killed try, or nested too deeply: not cached
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                    self.entries[entry["key"]] = entry

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

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
            try:
                os.write(self._fd, line)
                os.fsync(self._fd)
            except OSError as exc:
                raise file_error(exc, path=self.path, operation="write", base=self.base) from exc
            self.entries[entry["key"]] = entry

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
