"""Merging records into a keyed snapshot with bounded memory: an on-disk index in sqlite3 (stdlib).

``file.sink`` with ``disposition='merge'`` keeps one snapshot file current: every record of the old snapshot and
then every input record goes into a temporary sqlite table keyed by the record's primary key, an upsert keeping the
newest version; the table is then read back in order into the new snapshot. Memory stays at sqlite's page cache
(:data:`CACHE_KIB`) plus one record whatever the snapshot's size; the disk holds about one copy of the snapshot
while the merge runs (in the system temporary folder, ``TMPDIR``), removed afterwards.

Why sqlite and not an external sort: on 1M NDJSON records with 10% updates (a prototype of each, same machine,
same run), the sqlite upsert took 6.9 s at 34 MiB peak RSS, sorted runs of 100k records merged with ``heapq.merge``
8.6 s at 56 MiB, and a plain dict in memory 7.3 s at 651 MiB; ``benchmarks/merge_benchmark.py`` measures the real
node against the dict.

The rules (the README's "Write dispositions" repeats them):

* **Key**: the values of the ``primary_key`` fields (top-level fields of each record), compared by their JSON
  text, so ``1`` and ``"1"`` are different keys. CSV has no types: there the key is compared by its cell text, so
  an input record's ``1`` matches the snapshot's ``"1"``.
* **A record without its key** (a field missing or null), in the input or in the old snapshot, fails the merge
  with an error naming the record and the field; nothing is published, the old snapshot stays.
* **Newest wins**: with ``cursor_field``, the version with the greatest cursor value is kept; numbers compare as
  numbers, strings as strings (ISO 8601 timestamps order correctly), and one field holding both kinds is an error
  (so is a missing or null cursor). **Ties go to the later arrival**: an input record beats the snapshot's, and a
  later input record beats an earlier one. Without ``cursor_field`` the later arrival always wins.
* **Order**: the snapshot keeps its order (a replaced record stays in its place); new keys follow, in the order
  they arrived.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.codecs import csv_cell, dumps_record

#: sqlite's page cache for the merge index, in KiB: the memory a merge holds whatever the snapshot's size.
CACHE_KIB = 16 * 1024

#: Keys are compared by this JSON text: one canonical form (sorted object keys, no spaces) per value.
_KEY_TEXT = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode

#: sqlite integers are 64-bit: a larger cursor would not bind.
_SQLITE_INT = 2**63

_SCHEMA = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA temp_store = FILE;
PRAGMA cache_size = -{cache};
CREATE TABLE snapshot (key TEXT NOT NULL UNIQUE, cursor, body TEXT NOT NULL);
"""
#: Later arrivals win unless their cursor is older (``>=``: ties go to the later record).
_UPSERT_NEWEST = (
    "INSERT INTO snapshot (key, cursor, body) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
    "SET cursor = excluded.cursor, body = excluded.body WHERE excluded.cursor >= snapshot.cursor"
)
_UPSERT_LATEST = (
    "INSERT INTO snapshot (key, cursor, body) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
    "SET cursor = excluded.cursor, body = excluded.body"
)


@dataclass(frozen=True)
class MergeRule:
    """How records are matched and which version wins (see the module docstring)."""

    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    text_values: bool = False
    """CSV: keys and cursors compare by their cell text (numbers recognised in it), as the file will hold them."""


@dataclass
class MergeCounts:
    """What one batch of records did to the snapshot."""

    read: int = 0
    new: int = 0
    replaced: int = 0

    @property
    def kept_out(self) -> int:
        """Records that changed nothing: older than (or a duplicate beaten by) the version already held."""
        return self.read - self.new - self.replaced


class SnapshotIndex:
    """The keyed table of one merge, in a temporary sqlite file removed by :meth:`close`.

    Use it as a context manager: :meth:`add` the old snapshot's records, then the input's, then read
    :meth:`bodies` (each record as its JSON text) into the new snapshot.
    """

    def __init__(self, rule: MergeRule, *, directory: str | None = None) -> None:
        if not rule.primary_key:
            raise ValueError("a merge needs at least one primary_key field")  # the config model refuses it first
        self.rule = rule
        self._folder = tempfile.TemporaryDirectory(prefix="flow-merge-", dir=directory)
        self._db = sqlite3.connect(os.path.join(self._folder.name, "index.sqlite"))
        self._db.executescript(_SCHEMA.format(cache=CACHE_KIB))
        self._upsert = _UPSERT_NEWEST if rule.cursor_field else _UPSERT_LATEST
        self._cursor_kind: tuple[str, str] | None = None  # ("number" | "string", where it was first seen)
        self.keys = 0

    def __enter__(self) -> SnapshotIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._folder.cleanup()

    def add(self, records: Iterable[Any], *, source: str) -> MergeCounts:
        """Upsert ``records`` (``source`` names them in errors: "the input", "the snapshot 'x.ndjson'")."""
        return self.add_encoded(((record, None) for record in records), source=source)

    def add_encoded(self, pairs: Iterable[tuple[Any, str | None]], *, source: str) -> MergeCounts:
        """Upsert ``(record, its JSON text)`` pairs: an NDJSON snapshot's lines are kept as they are instead of
        being encoded again (a None text is encoded here)."""
        counts = MergeCounts()
        changes_before = self._db.total_changes

        def rows() -> Iterator[tuple[str, Any, str]]:
            for index, (record, text) in enumerate(pairs):
                counts.read = index + 1
                body = dumps_record(record, index) if text is None else text
                yield self._key(record, index, source), self._cursor(record, index, source), body

        with self._db:
            self._db.executemany(self._upsert, rows())
        keys = self._db.execute("SELECT count(*) FROM snapshot").fetchone()[0]
        counts.new = keys - self.keys
        counts.replaced = self._db.total_changes - changes_before - counts.new
        self.keys = keys
        return counts

    def bodies(self) -> Iterator[str]:
        """Every kept record as its JSON text: the old snapshot's order first, then new keys as they arrived."""
        rows = self._db.execute("SELECT body FROM snapshot ORDER BY rowid")
        while batch := rows.fetchmany(1000):
            for (body,) in batch:
                yield body

    # -- what a record's key and cursor are -----------------------------------------------------------------------

    def _key(self, record: Any, index: int, source: str) -> str:
        if not isinstance(record, dict):
            raise FlowValidationError(
                f"record {index} of {source} is a {type(record).__name__}, not an object, so it has no primary key; "
                "merge needs records with the primary_key fields (or use disposition='append')",
                field="primary_key",
                value=list(self.rule.primary_key),
            )
        values = [record.get(name) for name in self.rule.primary_key]
        if None in values:
            for name in self.rule.primary_key:
                self._check_present(record, name, index, source, "primary_key")
        if self.rule.text_values:
            values = [csv_cell(v) for v in values]
        try:
            return key_text(values[0]) if len(values) == 1 else "[" + ",".join(map(key_text, values)) + "]"
        except (TypeError, ValueError):
            raise FlowValidationError(
                f"record {index} of {source} has a primary key that is not JSON ({values!r:.120}); use strings or "
                "numbers as keys",
                field="primary_key",
                value=list(self.rule.primary_key),
            ) from None

    def _cursor(self, record: dict[str, Any], index: int, source: str) -> Any:
        name = self.rule.cursor_field
        if name is None:
            return None
        value = record.get(name)
        if value is None:
            self._check_present(record, name, index, source, "cursor_field")
        if self.rule.text_values:
            value = _number_in_text(csv_cell(value))
        elif type(value) is str and self._cursor_kind is not None and self._cursor_kind[0] == "string":
            return value  # the common case, all checks passed for the first record already
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise FlowValidationError(
                f"record {index} of {source} has {name!r} = {value!r:.80}, which is not a number or a string; the "
                "cursor must order versions (a number or an ISO 8601 timestamp)",
                field="cursor_field",
                value=name,
            )
        if isinstance(value, float) and math.isnan(value):
            raise FlowValidationError(
                f"record {index} of {source} has {name!r} = NaN, which orders nothing; give it a real value",
                field="cursor_field",
                value=name,
            )
        if isinstance(value, int) and not -_SQLITE_INT <= value < _SQLITE_INT:
            value = float(value)
        kind = "string" if isinstance(value, str) else "number"
        if self._cursor_kind is None:
            self._cursor_kind = (kind, f"record {index} of {source}")
        elif self._cursor_kind[0] != kind:
            first, where = self._cursor_kind
            raise FlowValidationError(
                f"record {index} of {source} has a {kind} in {name!r} ({value!r:.80}) but {where} has a {first}; "
                "one cursor field must hold one kind of value to order versions: convert it upstream",
                field="cursor_field",
                value=name,
            )
        return value

    @staticmethod
    def _check_present(record: dict[str, Any], name: str, index: int, source: str, setting: str) -> None:
        """The error for a key or cursor field that is missing or null (the hot path only reads ``record.get``)."""
        if record.get(name) is None:
            state = "is null in" if name in record else "is missing from"
            raise FlowValidationError(
                f"{name!r} ({setting}) {state} record {index} of {source}; every record needs it: fix the data, or "
                "filter such records out before the sink (a transform with a filter operation)",
                field=setting,
                value=name,
            )


def key_text(value: Any) -> str:
    """The JSON text a key value is compared by (strings and integers, the usual keys, without the encoder's
    per-call setup; the same text it would produce)."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    return _KEY_TEXT(value)


def _number_in_text(text: str) -> int | float | str:
    """A CSV cell as a number when it reads as one (CSV has no types), else the text itself."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return text if math.isnan(number) or math.isinf(number) else number
