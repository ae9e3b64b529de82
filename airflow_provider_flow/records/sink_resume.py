"""Resumable deliveries: an Airflow retry of a sink skips the batches an earlier try saw the API accept.

Idempotency keys let an API drop a resent batch; this goes further and does not resend it at all, so an API
without keys gets no duplicates from a retry either. Each try of a task instance that may be retried (or that finds
a record) keeps the indexes of its accepted batches, as merged ranges, in the task state store (Airflow >= 3.3) or,
before 3.3, next to the node's storage (``records/staging.py``; a sink without storage then resumes nothing and a
retry resends every batch, as before). Only *accepted* batches (a 2xx reply) are recorded: failed, unknown and
never-sent batches follow the sink's usual rules on the retry.

The record is keyed by a fingerprint of the rendered config (endpoint, method, batch size and wrapping) and of the
input (a file reference's path, size and sha256, or the digest of inline records), so batch ``n`` of the retry is
the same records as batch ``n`` of the earlier try; any change starts over. It is deleted when the delivery
completes. Values hold batch ranges and digests only, never records or headers.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from airflow_provider_flow.core.state import ExecutionState, KeyValueStore
from airflow_provider_flow.records.delivery import BatchSpan
from airflow_provider_flow.records.reference import as_reference
from airflow_provider_flow.records.resume import BEHAVIOUR_FIELDS, fingerprint, wants_full_refresh
from airflow_provider_flow.records.staging import resumable_store
from airflow_provider_flow.storage.protocol import Storage

#: The task-state key of a sink's accepted batches.
SINK_KEY = "http.sink/resume"

#: Sink fields that change how batches are sent, not which records each batch holds.
_SENDING_FIELDS = BEHAVIOUR_FIELDS | {"max_concurrency", "resend_unknown", "idempotency_key_header"}


def input_fingerprint(data: Any) -> str:
    """The identity of a sink's input: a file reference by what it names and holds, inline records by content."""
    ref = as_reference(data)
    if ref is not None:
        named = ref.model_dump(mode="json", include={"path", "base_path", "base_uri", "records", "bytes", "sha256"})
        text = json.dumps(named, sort_keys=True)
    else:
        text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class AcceptedBatches:
    """The batches earlier tries of this task instance delivered, and the record this try keeps of its own.

    Saving is throttled to once per :data:`SAVE_EVERY` seconds while batches succeed (a store write per batch would
    cost a metadata-DB write each) and forced by :meth:`flush` when the delivery fails, so a try that fails records
    everything it delivered; only a try killed outright (SIGKILL, OOM) loses its last second, whose batches a retry
    then resends (deduplicated by ``idempotency_key_header`` where the API honours keys).
    """

    def __init__(self, store: KeyValueStore, fingerprint: str, earlier: list[list[int]], log: Any) -> None:
        self.store = store
        self.fingerprint = fingerprint
        self.log = log
        self.ranges: list[list[int]] = [list(r) for r in earlier]
        self.earlier: set[int] = {i for first, last in earlier for i in range(first, last + 1)}
        self.skipped: list[BatchSpan] = []
        self._dirty = False
        self._saved_at = 0.0

    @classmethod
    def open(
        cls, state: ExecutionState, storage: Storage | None, config: BaseModel, data: Any
    ) -> AcceptedBatches | None:
        """The record for this try, or None when no earlier try left one and no retry could use it."""
        store = resumable_store(state, storage)
        saved = store.get(SINK_KEY)
        if saved is None and state.try_number > state.max_tries:
            return None
        digest = fingerprint(config, exclude=_SENDING_FIELDS, also=[input_fingerprint(data)])
        earlier: list[list[int]] = []
        if isinstance(saved, dict):
            if saved.get("fingerprint") == digest and not wants_full_refresh(state):
                earlier = saved.get("batches") or []
            else:
                state.log.info("http.sink: not resuming an earlier try's delivery: the config or the input changed")
                store.delete(SINK_KEY)
        resumed = cls(store, digest, earlier, state.log)
        if resumed.earlier:
            state.log.info(
                "http.sink: an earlier try delivered %d batches (%s); this try skips them and sends the rest",
                len(resumed.earlier),
                ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in resumed.ranges),
            )
        return resumed

    def delivered_before(self, batch: BatchSpan) -> bool:
        """True (and remembered) when an earlier try saw the API accept this batch: do not send it again."""
        if batch.index not in self.earlier:
            return False
        self.skipped.append(batch)
        return True

    def accepted(self, batches: Iterable[BatchSpan]) -> None:
        """These batches were just accepted: add them, and save now and then (see the class docstring)."""
        for span in batches:
            add_to_ranges(self.ranges, span.index)
            self._dirty = True
        if self._dirty and time.monotonic() - self._saved_at >= SAVE_EVERY:
            self.flush()

    def flush(self) -> None:
        """Save every batch accepted so far (earlier tries' included)."""
        if self._dirty:
            self.store.set(SINK_KEY, {"fingerprint": self.fingerprint, "batches": self.ranges})
            self._dirty = False
            self._saved_at = time.monotonic()

    def finished(self) -> None:
        """Every batch is delivered: the record is not needed any more."""
        self.store.delete(SINK_KEY)


#: Seconds between saves of the accepted batches while a delivery succeeds.
SAVE_EVERY = 1.0


def add_to_ranges(ranges: list[list[int]], index: int) -> None:
    """Insert ``index`` into sorted, merged, inclusive ``[first, last]`` ranges (batches finish nearly in order, so
    the list stays short and this stays cheap)."""
    at = bisect.bisect_right(ranges, index, key=lambda r: r[0])  # ranges starting at or before index
    if at and ranges[at - 1][0] <= index <= ranges[at - 1][1]:
        return
    joins_left = at > 0 and ranges[at - 1][1] + 1 == index
    joins_right = at < len(ranges) and ranges[at][0] - 1 == index
    if joins_left and joins_right:
        ranges[at - 1][1] = ranges[at][1]
        del ranges[at]
    elif joins_left:
        ranges[at - 1][1] = index
    elif joins_right:
        ranges[at][0] = index
    else:
        ranges.insert(at, [index, index])
