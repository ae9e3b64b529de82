"""``http.sink``: send records to an HTTP API in JSON batches, with bounded concurrency and honest accounting.

Why it looks like this:

* Records are read lazily (inline list or a file reference from an upstream task, through
  ``records.input.input_records``) and at most ``max_concurrency`` batches are in flight, so memory is bounded by
  ``max_concurrency * batch_size`` records whatever the input size.
* Each batch goes through the shared :class:`~airflow_provider_flow.http.client.HttpClient` policy (in-task
  retries, ``Retry-After``, timeouts, typed errors).
* A batch counts as accepted when the API answers 2xx: the reply body is read only to keep the connection
  reusable, so a large or broken reply after a 2xx neither resends the batch (a duplicate) nor reports it as
  failed (a lie that makes the user resend it).
* After the first failed batch no new batch is started; batches already in flight finish. The error then says
  exactly which batches (and record ranges) were accepted and which were not, in its ``details`` and in the log:
  a rerun resends everything, so the user must know what the API already has. With ``idempotency_key_header`` each
  batch carries a key derived from the DAG, task, run and batch content (not the try number), so a rerun sends the
  same key for the same batch and an API that honours idempotency keys drops the duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowError, FlowValidationError, PartialDeliveryError
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.settings import HTTP, SENSITIVE_HEADERS_HELP, HttpRetryConfig, HttpTimeoutConfig
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import as_reference
from airflow_provider_flow.storage.base import node_storage


class HttpSinkConfig(ConfigModel):
    """``http.sink``: send records in JSON batches with bounded concurrency."""

    endpoint: str
    http_conn_id: str = "http_default"
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    batch_size: int = Field(100, ge=1, le=100_000)
    max_concurrency: int = Field(4, ge=1, le=64)
    headers: dict[str, str] | None = None
    sensitive_headers: list[str] | None = Field(None, description=SENSITIVE_HEADERS_HELP)
    idempotency_key_header: str | None = Field(
        None, description="Header carrying a key derived from the run and the batch content (e.g. Idempotency-Key)."
    )
    batch_key: str | None = Field(
        None, description="Wrap each batch as {batch_key: [records]}; default: send a JSON array."
    )
    timeout: float | HttpTimeoutConfig | None = None
    retry: HttpRetryConfig | None = None
    fs_conn_id: str | None = None
    base_path: str | None = None


#: How much of a 2xx reply is drained (to reuse the connection); the rest is dropped with the connection.
_REPLY_DRAIN_BYTES = 1024 * 1024


@dataclass
class _Batch:
    index: int
    first: int  # offset of the first record in the input
    count: int  # records in the batch (only the encoded payload is kept, not the records twice)
    payload: bytes

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    def describe(self) -> str:
        return f"batch {self.index} (records {self.first}-{self.last})"


def _ranges(batches: list[_Batch]) -> list[list[int]]:
    """Merged ``[first, last]`` record ranges of the given batches."""
    merged: list[list[int]] = []
    for batch in sorted(batches, key=lambda b: b.first):
        if merged and merged[-1][1] + 1 == batch.first:
            merged[-1][1] = batch.last
        else:
            merged.append([batch.first, batch.last])
    return merged


def _fmt_ranges(ranges: list[list[int]]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges) or "none"


def idempotency_key(state: ExecutionState, batch_index: int, payload: bytes) -> str:
    """Same DAG, task, run, batch position and content -> same key, on every try of the run."""
    digest = hashlib.sha256()
    for part in (state.dag_id, state.task_id, state.run_id, str(state.map_index), str(batch_index)):
        digest.update(part.encode() + b"\x00")
    digest.update(hashlib.sha256(payload).digest())
    return digest.hexdigest()[:40]


class HttpSinkRuntime:
    """Send records in batches; see the module docstring."""

    name = "http.sink"
    config_model = HttpSinkConfig

    def execute(self, config: HttpSinkConfig, input: Any, state: ExecutionState) -> dict[str, Any]:
        trusted: tuple[str, ...] = ()
        storage = node_storage(state, fs_conn_id=config.fs_conn_id, base_path=config.base_path, required=False)
        if storage is not None:
            # A reference inside this node's own base is read in one pass; any other is verified in full first.
            trusted = (storage.root,)
            ref = as_reference(input)
            if ref is not None:  # this worker reaches the upstream file through its own connection or path
                input = ref.model_copy(update={"fs_conn_id": config.fs_conn_id, "base_path": config.base_path})
        records = input_records(input, state, trusted_bases=trusted)
        settings = state.settings.get(HTTP, config.http_conn_id).with_overrides(
            timeout=config.timeout,
            retry=config.retry,
            headers=config.headers,
            sensitive_headers=config.sensitive_headers,
        )
        url = settings.url_for(config.endpoint)
        safe_url = settings.safe_url(url)
        progress = ProgressReporter(state.log, f"http.sink {config.method} {safe_url}")
        accepted: list[_Batch] = []
        failures: list[tuple[_Batch | None, FlowError]] = []
        next_offset = 0  # first record never handed to a batch

        with (
            HttpClient(settings, state=state, max_connections=config.max_concurrency) as client,
            ThreadPoolExecutor(config.max_concurrency, thread_name_prefix="http-sink") as pool,
        ):
            in_flight: dict[Future[None], _Batch] = {}

            def collect(done: set[Future[None]]) -> None:
                for future in done:
                    batch = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        accepted.append(batch)
                        progress.update(records=batch.count, bytes=len(batch.payload), pages=1)
                    elif isinstance(error, FlowError):
                        state.log.error("http.sink: %s failed: %s", batch.describe(), error)
                        failures.append((batch, error))
                    else:
                        raise error

            try:
                for batch in self._batches(records, config):
                    next_offset = batch.last + 1
                    collect({f for f in in_flight if f.done()})  # a failure must stop new batches at once
                    while len(in_flight) >= config.max_concurrency:
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        collect(done)
                    if failures:
                        next_offset = batch.first
                        break
                    in_flight[pool.submit(self._send, client, config, state, batch, url)] = batch
            except FlowError as error:  # reading the input failed (bad file, bad record)
                failures.append((None, error))
            finally:
                if in_flight:
                    done, _ = wait(in_flight)
                    collect(done)

        if failures:
            raise self._failure(config, state, accepted, failures, next_offset, safe_url)
        progress.finish()
        total = sum(b.count for b in accepted)
        return {
            "accepted_records": total,
            "batches": len(accepted),
            "endpoint": safe_url,
            "method": config.method,
        }

    @staticmethod
    def _batches(records: Any, config: HttpSinkConfig) -> Iterator[_Batch]:
        index, first, current = 0, 0, []
        for record in records:
            current.append(record)
            if len(current) >= config.batch_size:
                yield _Batch(index, first, len(current), HttpSinkRuntime._payload(current, config, first))
                index, first, current = index + 1, first + len(current), []
        if current:
            yield _Batch(index, first, len(current), HttpSinkRuntime._payload(current, config, first))

    @staticmethod
    def _payload(records: list[Any], config: HttpSinkConfig, first: int) -> bytes:
        body: Any = {config.batch_key: records} if config.batch_key else records
        try:
            return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise FlowValidationError(
                f"a record between {first} and {first + len(records) - 1} cannot be sent as JSON ({exc}); convert "
                "it with a transform node first",
                field="data",
                value=f"records {first}-{first + len(records) - 1}",
            ) from None

    @staticmethod
    def _send(client: HttpClient, config: HttpSinkConfig, state: ExecutionState, batch: _Batch, url: str) -> None:
        headers = {"Content-Type": "application/json", **(config.headers or {})}
        if config.idempotency_key_header:
            headers[config.idempotency_key_header] = idempotency_key(state, batch.index, batch.payload)
        with client.stream(
            config.method, url, content=batch.payload, headers=headers, max_response_bytes=_REPLY_DRAIN_BYTES
        ) as reply:  # opening it raised for non-2xx (retried per policy); from here on the batch is accepted
            try:
                for _ in reply.iter_bytes():
                    pass
            except FlowError as exc:
                state.log.warning(
                    "http.sink: %s accepted (HTTP %s); its reply was not read: %s",
                    batch.describe(),
                    reply.status_code,
                    exc,
                )

    @staticmethod
    def _failure(
        config: HttpSinkConfig,
        state: ExecutionState,
        accepted: list[_Batch],
        failures: list[tuple[_Batch | None, FlowError]],
        next_offset: int,
        safe_url: str,
    ) -> FlowError:
        accepted_records = sum(b.count for b in accepted)
        failed_batches = [b for b, _ in failures if b is not None]
        first_batch, first_error = min(failures, key=lambda f: f[0].index if f[0] is not None else 1 << 62)
        details: dict[str, Any] = {
            "endpoint": safe_url,
            "batch_size": config.batch_size,
            "accepted_records": accepted_records,
            "accepted_batches": sorted(b.index for b in accepted),
            "accepted_record_ranges": _ranges(accepted),
            "failed_batches": [
                # a copy of the details: the first error may receive this very dict below (no cycle, JSON-safe)
                {"batch": b.index, "records": [b.first, b.last], "error": {**e.to_dict(), "details": dict(e.details)}}
                for b, e in failures
                if b is not None
            ],
            "not_sent_from_record": next_offset,
            "idempotency_keys": bool(config.idempotency_key_header),
        }
        where = first_batch.describe() if first_batch is not None else "reading the input"
        message = (
            f"http.sink {config.method} {safe_url}: {where} failed: {first_error}. "
            f"Accepted before the failure: {len(accepted)} batches, {accepted_records} records "
            f"(record ranges {_fmt_ranges(_ranges(accepted))}); failed: "
            f"{_fmt_ranges(_ranges(failed_batches))}; never sent: records from {next_offset} on. "
            + (
                "A rerun resends every batch with the same idempotency keys."
                if config.idempotency_key_header
                else "A rerun resends every batch; set idempotency_key_header if the API supports it."
            )
        )
        state.log.error("%s", message)
        if not accepted:
            first_error.details.update(details)
            return first_error
        error = PartialDeliveryError(message, cause=first_error, details=details)
        error.__cause__ = first_error
        return error
