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
* A request that was written but lost its reply (dropped connection, read timeout) may be held by the API: its
  batch is *unknown* (``records/delivery.py``), never counted as accepted or failed, and is not resent unless
  resending cannot duplicate it unasked: with ``idempotency_key_header`` it is resent with the same key, with
  ``resend_unknown=True`` the user accepted duplicates. A request that never left (connect error, pool timeout)
  is retried as usual. So each batch is retried here, by :func:`sent_outcome`, and the client sends it once.
* After the first failed batch no new batch is started; batches already in flight finish. The error then says
  which record ranges were accepted, failed, unknown and never sent, in its ``details`` and in the log: a rerun
  resends everything, so the user must know what the API already has. Any unknown batch fails the task with
  :class:`DeliveryUnknownError`, retryable only when resending is safe (keys, or ``resend_unknown``). With
  ``idempotency_key_header`` each batch carries a key derived from the DAG, task, run and batch content (not the
  try number), so a rerun sends the same key for the same batch and an API that honours keys drops duplicates.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import (
    DeliveryUnknownError,
    FlowConnectionError,
    FlowError,
    FlowTimeoutError,
    FlowValidationError,
    NestingTooDeepError,
    PartialDeliveryError,
)
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.oauth2 import TOKEN_REQUEST_DETAIL
from airflow_provider_flow.http.retry import call_with_retries
from airflow_provider_flow.http.settings import (
    HTTP,
    SENSITIVE_HEADERS_HELP,
    HttpRetryConfig,
    HttpTimeoutConfig,
    RetrySettings,
    TimeoutSeconds,
)
from airflow_provider_flow.records.codecs import encode_record
from airflow_provider_flow.records.delivery import BatchSpan, DeliveryLedger, Problem, format_ranges, merged_ranges
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import as_reference
from airflow_provider_flow.records.sink_resume import AcceptedBatches
from airflow_provider_flow.records.totals import expected_records
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
    resend_unknown: bool = Field(
        False,
        description="Resend a batch whose reply was lost (the API may then hold it twice); default: report it as "
        "unknown and fail. Not needed with idempotency_key_header: keyed batches are resent with the same key.",
    )
    batch_key: str | None = Field(
        None, description="Wrap each batch as {batch_key: [records]}; default: send a JSON array."
    )
    timeout: TimeoutSeconds | HttpTimeoutConfig | None = None
    retry: HttpRetryConfig | None = None
    fs_conn_id: str | None = None
    base_path: str | None = None


#: How much of a 2xx reply is drained (to reuse the connection); the rest is dropped with the connection.
_REPLY_DRAIN_BYTES = 1024 * 1024


@dataclass
class _Batch(BatchSpan):
    payload: bytes = b""  # only the encoded payload is kept, not the records twice
    maybe_delivered: bool = False  # an attempt was written and lost its reply: the API may hold it


class _DoNotResend(Exception):
    """Stops the retry loop for a batch whose outcome is unknown and whose resending is not safe (not a FlowError,
    so :func:`call_with_retries` passes it through untouched)."""

    def __init__(self, error: FlowError) -> None:
        super().__init__(str(error))
        self.error = error


#: httpx's transport failures raised before the request was fully written: the API cannot hold the batch.
_NOT_WRITTEN = frozenset(
    {"ConnectError", "ConnectTimeout", "PoolTimeout", "WriteError", "WriteTimeout", "ProxyError", "UnsupportedProtocol"}
)


def sent_outcome(error: FlowError) -> Literal["never_sent", "unknown", "answered"]:
    """Could the API hold a batch whose request ended with ``error``?

    ``never_sent``: the request was not fully written (connect, pool or write failure; a refused config), so a
    resend cannot duplicate. ``unknown``: it was written and the reply was lost (the connection dropped, a read
    timeout, the overall deadline). ``answered``: the API replied (a non-2xx status). A transport failure of a kind
    not known to be harmless counts as unknown: guessing "never sent" wrongly duplicates data.
    """
    if isinstance(error, FlowValidationError) or error.details.get(TOKEN_REQUEST_DETAIL):  # no token, no request
        return "never_sent"
    if isinstance(error, FlowTimeoutError):
        if error.phase in ("connect", "pool", "write"):
            return "never_sent"
        if error.phase in ("read", "deadline", "timeout"):
            return "unknown"
        return "never_sent"  # the task-deadline check before a request names the request as its phase
    if isinstance(error, FlowConnectionError):
        transport = error.__cause__ or error.__context__  # the client maps httpx's exception with ``from None``
        return "never_sent" if type(transport).__name__ in _NOT_WRITTEN else "unknown"
    return "answered"


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
        resume = AcceptedBatches.open(state, storage, config, input)  # skip what an earlier try delivered
        settings = state.settings.get(HTTP, config.http_conn_id).with_overrides(
            timeout=config.timeout,
            retry=config.retry,
            headers=config.headers,
            sensitive_headers=config.sensitive_headers,
        )
        url = settings.url_for(config.endpoint)
        safe_url = settings.safe_url(url)
        progress = ProgressReporter(
            state.log, f"http.sink {config.method} {safe_url}", page_noun="batch", total_records=_total(input, records)
        )
        ledger = DeliveryLedger()
        input_error: FlowError | None = None
        next_offset = 0  # first record never handed to a batch
        exhausted = False
        # The client sends each request once; _send retries it only when that cannot duplicate a batch.
        single_shot = settings.with_overrides(retry=HttpRetryConfig.model_validate({"max_attempts": 1}))

        with (
            HttpClient(single_shot, state=state, max_connections=config.max_concurrency) as client,
            _batch_sender(config.max_concurrency) as pool,
        ):
            in_flight: dict[Future[None], _Batch] = {}

            def collect(done: set[Future[None]]) -> None:
                accepted_now: list[_Batch] = []
                for future in done:
                    batch = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        ledger.accepted.append(batch)
                        accepted_now.append(batch)
                        progress.update(records=batch.count, bytes=len(batch.payload), pages=1)
                    elif isinstance(error, FlowError):
                        outcome = _problem(batch, error)
                        state.log.error("http.sink: %s %s: %s", batch.describe(), _VERBS[outcome], error)
                        ledger.problems.append((outcome, batch, error))
                    else:
                        raise error
                if resume is not None:
                    resume.accepted(accepted_now)

            try:
                for batch in self._batches(records, config):
                    next_offset = batch.last + 1
                    collect({f for f in in_flight if f.done()})  # a failure must stop new batches at once
                    while len(in_flight) >= config.max_concurrency:
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        collect(done)
                    if ledger.problems:
                        next_offset = batch.first
                        break
                    if resume is not None and resume.delivered_before(batch):
                        ledger.accepted.append(batch)  # the API holds it: counted, not sent again
                        continue
                    in_flight[pool.submit(self._send, client, config, state, batch, url, settings.retry)] = batch
                else:
                    exhausted = True  # the whole input went into batches
            except FlowError as error:  # reading the input failed (bad file, bad record)
                input_error = error
            finally:
                if in_flight:
                    done, _ = wait(in_flight)
                    collect(done)

        ledger.unread_from = None if exhausted else next_offset
        if ledger.problems or input_error is not None:
            if resume is not None:
                resume.flush()  # the retry must know every batch this try delivered
                state.log.info(
                    "http.sink: an Airflow retry of this task skips the %d accepted batches and sends the rest",
                    len(ledger.accepted),
                )
            raise self._failure(config, state, ledger, input_error, next_offset, safe_url)
        self._log_resent(config, state, ledger)
        progress.finish(output=f"{ledger.accepted_records:,} accepted, 0 rejected")
        output = {
            "accepted_records": ledger.accepted_records,
            "batches": len(ledger.accepted),
            "endpoint": safe_url,
            "method": config.method,
        }
        if resume is not None:
            resume.finished()
            if resume.skipped:  # delivered by earlier tries, included in the counts above
                output["resumed_batches"] = len(resume.skipped)
                output["resumed_records"] = sum(batch.count for batch in resume.skipped)
        return output

    @staticmethod
    def _batches(records: Any, config: HttpSinkConfig) -> Iterator[_Batch]:
        index, first, source = 0, 0, iter(records)
        while current := list(islice(source, config.batch_size)):  # filled in C, not one append per record
            yield _Batch(index, first, len(current), HttpSinkRuntime._payload(current, config, first))
            index, first = index + 1, first + len(current)

    @staticmethod
    def _payload(records: list[Any], config: HttpSinkConfig, first: int) -> bytes:
        """The batch as JSON bytes, encoded in one call of the codec module (its fastest encoder, its rules for
        dates, decimals and NaN), not record by record."""
        body: Any = {config.batch_key: records} if config.batch_key else records
        try:
            return encode_record(body, first)
        except FlowValidationError as exc:
            # the codec's reason, without its record index (here: the batch's first) and its own hint
            reason = str(exc).split("as JSON: ", 1)[-1].split("; ")[0]
            if isinstance(exc, NestingTooDeepError):
                reason = "it nests arrays/objects too deeply"
            raise FlowValidationError(
                f"a record between {first} and {first + len(records) - 1} cannot be sent as JSON ({reason}); "
                "convert it with a transform node first",
                field="data",
                value=f"records {first}-{first + len(records) - 1}",
            ) from None

    @staticmethod
    def _send(
        client: HttpClient,
        config: HttpSinkConfig,
        state: ExecutionState,
        batch: _Batch,
        url: str,
        retry: RetrySettings,
    ) -> None:
        """Send one batch, retrying within the budget only what cannot duplicate it (see ``sent_outcome``)."""
        headers = {"Content-Type": "application/json", **(config.headers or {})}
        if config.idempotency_key_header:
            headers[config.idempotency_key_header] = idempotency_key(state, batch.index, batch.payload)
        resend_safe = bool(config.idempotency_key_header) or config.resend_unknown

        def attempt() -> None:
            try:
                with client.stream(
                    config.method, url, content=batch.payload, headers=headers, max_response_bytes=_REPLY_DRAIN_BYTES
                ) as reply:  # opening it raised for non-2xx; from here on the batch is accepted
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
            except FlowError as error:
                error.details.pop("in_task_attempts", None)  # the client's single attempt; the loop below counts
                if sent_outcome(error) == "unknown":
                    batch.maybe_delivered = True
                    if not resend_safe:
                        raise _DoNotResend(error) from None
                raise

        def label() -> str:  # rendered only when a retry is logged
            return f"http.sink {config.method} {client.settings.safe_url(url)} {batch.describe()}"

        try:
            call_with_retries(attempt, retry=retry, state=state, log=state.log, label=label)
        except _DoNotResend as stop:
            raise stop.error from None

    @staticmethod
    def _log_resent(config: HttpSinkConfig, state: ExecutionState, ledger: DeliveryLedger) -> None:
        resent = [batch for batch in ledger.accepted if isinstance(batch, _Batch) and batch.maybe_delivered]
        if not resent:
            return
        ranges = format_ranges(merged_ranges(resent))
        if config.idempotency_key_header:
            state.log.info("http.sink: %s resent with the same idempotency keys after a lost reply", ranges)
        else:
            state.log.warning(
                "http.sink: %s resent after a lost reply (resend_unknown=True): the API may hold them twice", ranges
            )

    @staticmethod
    def _failure(
        config: HttpSinkConfig,
        state: ExecutionState,
        ledger: DeliveryLedger,
        input_error: FlowError | None,
        next_offset: int,
        safe_url: str,
    ) -> FlowError:
        details: dict[str, Any] = {
            "endpoint": safe_url,
            "batch_size": config.batch_size,
            **ledger.details(),
            "not_sent_from_record": next_offset,
            "idempotency_keys": bool(config.idempotency_key_header),
            "resend_unknown": config.resend_unknown,
        }
        if ledger.problems:
            outcome, span, first_error = ledger.first_problem()
            where = f"{span.describe()} {_VERBS[outcome]}"
        else:
            assert input_error is not None
            first_error, where = input_error, "reading the input failed"
        unknown = ledger.spans("unknown")
        resend_safe = bool(config.idempotency_key_header) or config.resend_unknown
        cause_text = str(first_error).rstrip(".")
        advice = _advice(config, format_ranges(merged_ranges(unknown)))
        message = f"http.sink {config.method} {safe_url}: {where}: {cause_text}. {ledger.summary()} {advice}"
        state.log.error("%s", message)
        if unknown:
            cause = next(e for kind, _, e in sorted(ledger.problems, key=lambda p: p[1].index) if kind == "unknown")
            error: FlowError = DeliveryUnknownError(message, cause=cause, details=details, retryable=resend_safe)
        elif not ledger.accepted:
            first_error.details.update(details)
            return first_error
        else:
            error = PartialDeliveryError(message, cause=first_error, details=details)
        error.__cause__ = first_error
        return error


class _InlineSender:
    """``max_concurrency=1``: each batch is sent in the calling thread, as soon as it is submitted.

    A pool of one thread would add two thread switches per batch, and under the GIL a switch can wait for the
    interpreter's switch interval (5 ms) while the other thread builds the next batch: at concurrency 1 that cost
    more than the request itself. The returned future is already done, so the bookkeeping in ``execute`` is the
    same for both senders."""

    def __enter__(self) -> _InlineSender:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., None], /, *args: Any) -> Future[None]:
        future: Future[None] = Future()
        try:
            fn(*args)
        except Exception as error:  # as a pool's future would hold it; execute() sorts flow errors from bugs
            future.set_exception(error)
        else:
            future.set_result(None)
        return future


def _batch_sender(max_concurrency: int) -> ThreadPoolExecutor | _InlineSender:
    """Where batches are sent: the calling thread at concurrency 1, else a pool of ``max_concurrency`` threads."""
    if max_concurrency == 1:
        return _InlineSender()
    return ThreadPoolExecutor(max_concurrency, thread_name_prefix="http-sink")


def _total(data: Any, records: Iterator[Any]) -> int | None:
    """How many records the progress log counts towards. Inline records come as an iterator over the list that
    ``input_records`` has already checked item by item, and it knows its length; asking ``expected_records``
    would walk the whole list again (~0.8 us per record, a tenth of a fast request's cost per record)."""
    known = operator.length_hint(records, -1)
    return known if isinstance(data, (list, tuple)) and known >= 0 else expected_records(data)


#: How the log and the message name each outcome of a batch.
_VERBS = {"failed": "failed", "unknown": "outcome unknown (sent, no reply)", "never_sent": "was not sent"}


def _problem(batch: _Batch, error: FlowError) -> Problem:
    """The outcome of a batch that ended with ``error``: once any attempt may have reached the API, it stays unknown
    (a later 409 or connect error does not prove the first attempt was lost)."""
    if batch.maybe_delivered:
        return "unknown"
    return "never_sent" if sent_outcome(error) == "never_sent" else "failed"


def _advice(config: HttpSinkConfig, unknown: str) -> str:
    """What a rerun does, so the user knows whether to check the API first."""
    if config.idempotency_key_header:
        return "A rerun resends every batch with the same idempotency keys."
    if config.resend_unknown:
        return f"A rerun resends every batch (resend_unknown=True: the API may then hold {unknown} twice)."
    if unknown != "none":
        return (
            f"The API may already hold {unknown}: check it before rerunning, since a rerun resends every batch. "
            "Set idempotency_key_header if the API deduplicates, or resend_unknown=True to accept duplicates."
        )
    return "A rerun resends every batch; set idempotency_key_header if the API supports it."
