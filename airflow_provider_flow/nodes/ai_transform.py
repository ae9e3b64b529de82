"""The ``ai.transform`` runtime: enrich records with validated structured output from an OpenAI-compatible endpoint.

One chat-completions call per record (or per ``batch_size`` records), over :mod:`airflow_provider_flow.llm`:
prompts and the repair loop in ``llm/chat.py``, validation in ``llm/replies.py``, the resume cache in
``llm/cache.py`` (an NDJSON file on a local base) and ``llm/object_cache.py`` (segments plus a manifest on object
storage, ``base_uri``). This module orchestrates: records not in the cache are sent on ``max_concurrency`` threads
with a bounded window of in-flight records, and come out in input order; a reply still invalid after its repairs is
handled per ``on_invalid``: ``fail`` (the task fails, naming the record), ``skip`` (record dropped) or ``keep``
(record kept, the error under ``error_field``). Token usage (prompt, completion, total, and tokens saved by the
cache) is summed, logged at the end and pushed to XCom under ``usage``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter, counted
from airflow_provider_flow.core.runtime import RuntimeResult
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import LlmOutputError
from airflow_provider_flow.expressions import TemplateText
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.llm.cache import DEFAULT_MAX_ENTRIES, ResultCache, cache_key
from airflow_provider_flow.llm.chat import ChatCaller, Outcome, Usage
from airflow_provider_flow.llm.merge import ReplyMerger, declared_fields
from airflow_provider_flow.llm.object_cache import ObjectResultCache, open_result_cache
from airflow_provider_flow.llm.replies import ReplyValidator
from airflow_provider_flow.llm.settings import LLM
from airflow_provider_flow.records.codecs import RecordFormat
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.output import emit_records
from airflow_provider_flow.records.totals import expected_records
from airflow_provider_flow.storage.base import (
    OBJECT_BASE_URI_HELP,
    OBJECT_CONN_ID_HELP,
    PART_SIZE_HELP,
    no_credentials_in_uri,
    node_storage,
    object_storage,
    one_kind_of_base,
    trust_root,
)
from airflow_provider_flow.storage.object_store import MAX_PART_SIZE, MIN_PART_SIZE
from airflow_provider_flow.storage.protocol import Storage


def _json_schema(value: dict[str, Any]) -> dict[str, Any]:
    """Check the schema itself (Draft 2020-12) so a broken schema fails the DAG import, not record 1."""
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
    if value.get("type") != "object":
        raise ValueError('the output schema must describe an object: {"type": "object", "properties": {...}}')
    return value


class AiTransformConfig(ConfigModel):
    """Config of the ``ai.transform`` runtime: one chat-completions call per record (or batch), validated JSON out."""

    model: str = Field(min_length=1, description="Model name sent to the endpoint, e.g. 'gpt-4o-mini'.")
    prompt: TemplateText = Field(
        min_length=1, description="Text with ${expression} placeholders (JMESPath over the record), e.g. '${title}'."
    )
    system_prompt: TemplateText | None = None
    output_schema: Annotated[dict[str, Any], AfterValidator(_json_schema)]
    output_model: type[BaseModel] | None = Field(default=None, exclude=True)
    """Python DAGs: the pydantic model behind ``output_schema``; replies are validated with it (custom validators
    included). JSON/flow configs give only the schema, validated with jsonschema."""
    schema_name: str = Field(default="output", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    llm_conn_id: str = "llm_default"
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=10_000_000)
    response_format: Literal["json_schema", "json_object"] = "json_schema"
    on_invalid: Literal["fail", "skip", "keep"] = "fail"
    max_repair_attempts: int = Field(default=2, ge=0, le=10)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Records per request: >1 numbers that many prompts in one message and asks for a 'results' array.",
    )
    output_field: str | None = Field(
        default=None, description="Put the model's object under this key; default: merge its fields into the record."
    )
    overwrite_fields: list[str] | None = Field(
        default=None,
        description="Record fields the model's reply may replace, by name; by default the record keeps its own value.",
    )
    error_field: str = Field(default="_ai_error", min_length=1, description="Where on_invalid='keep' puts the error.")
    cache_path: str | None = Field(
        default=None,
        description="Cache of completed records, relative to the base (default under .flow_cache): an NDJSON file "
        "on a local base, a folder of segments and a manifest on object storage (the path without .ndjson).",
    )
    cache: bool = True
    cache_max_entries: int = Field(
        default=DEFAULT_MAX_ENTRIES,
        ge=1,
        le=10_000_000,
        description="Entries the cache keeps (the newest per key); a larger file is compacted when loaded.",
    )
    output_path: str | None = None
    output_format: RecordFormat | None = None
    fs_conn_id: str | None = None
    base_path: str | None = None
    base_uri: str | None = Field(None, description=OBJECT_BASE_URI_HELP + " Holds the cache and output_path.")
    conn_id: str | None = Field(None, description=OBJECT_CONN_ID_HELP)
    part_size: int | None = Field(None, ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description=PART_SIZE_HELP)

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)

    @model_validator(mode="after")
    def _check_output_fields(self) -> AiTransformConfig:
        """A reply adds only declared fields (llm/merge.py): say so now when that leaves nothing, or a typo."""
        declared = declared_fields(self.output_schema, self.output_model)
        if declared is None and self.output_field is None:
            raise ValueError(
                "output_schema declares no properties, so a reply could add no field to the record: declare the "
                "fields under properties, or set output_field to keep the whole reply under one key"
            )
        allowed = (declared or frozenset()) | {self.output_field or "output"}
        for name in self.overwrite_fields or ():
            if name not in allowed:
                raise ValueError(
                    f"overwrite_fields names {name!r}, which output_schema does not declare: a reply can only set "
                    f"declared fields ({', '.join(sorted(allowed))})"
                )
        return self


@dataclass
class _Stats:
    records_in: int = 0
    records_out: int = 0
    cached: int = 0
    repaired: int = 0
    skipped: int = 0
    kept_invalid: int = 0
    usage: Usage = field(default_factory=Usage)
    saved_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Count one reply as it arrives (from worker threads), so a failed run still logs what it spent."""
        with self._lock:
            self.usage.add(usage)

    def add_cached(self, tokens: int) -> None:
        with self._lock:
            self.cached += 1
            self.saved_tokens += tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_in": self.records_in,
            "records_out": self.records_out,
            "cached": self.cached,
            "repaired": self.repaired,
            "skipped": self.skipped,
            "kept_invalid": self.kept_invalid,
            "usage": self.usage.as_dict(),
            "tokens_saved_by_cache": self.saved_tokens,
        }

    def describe(self) -> str:
        """For the summary line: ``6 completions, 1,234 tokens (1,000 prompt + 234 completion), 2 cached ...``."""
        usage = self.usage
        parts = [
            counted(usage.completions, "completion"),
            f"{counted(usage.total_tokens, 'token')} ({usage.prompt_tokens:,} prompt + "
            f"{usage.completion_tokens:,} completion)",
        ]
        if self.cached:
            parts.append(f"{self.cached:,} cached ({counted(self.saved_tokens, 'token')} saved)")
        for name, count in (
            ("repaired", self.repaired),
            ("skipped", self.skipped),
            ("kept invalid", self.kept_invalid),
        ):
            if count:
                parts.append(f"{count:,} {name}")
        return ", ".join(parts)


@dataclass
class _Slot:
    """One input record on its way through: a cache hit (``outcome``) or a place in a submitted request."""

    index: int
    record: Any
    key: str
    messages: list[dict[str, str]]
    outcome: Outcome | None = None
    future: Future[list[Outcome]] | None = None
    position: int = 0


def _then(records: Iterator[Any], after: Callable[[], None]) -> Iterator[Any]:
    """``records``, then ``after()`` once they are exhausted (before the consumer logs its summary)."""
    yield from records
    after()


def default_cache_path(state: ExecutionState) -> str:
    """Per task, shared by its runs and tries (the key decides reuse): ``.flow_cache/ai_transform/<dag>/<task>``."""
    return f".flow_cache/ai_transform/{state.dag_id}/{state.task_id}.ndjson"


def _storage(config: AiTransformConfig, state: ExecutionState) -> Storage | None:
    """Optional here (only the cache and output_path need it); output_path alone means fs_default."""
    if config.base_uri:
        return object_storage(state, config.base_uri, config.conn_id, part_size=config.part_size)
    return node_storage(
        state, fs_conn_id=config.fs_conn_id, base_path=config.base_path, required=config.output_path is not None
    )


class AiTransformRuntime:
    """``ai.transform``: enrich records with validated structured output from an OpenAI-compatible endpoint."""

    name = "ai.transform"
    config_model = AiTransformConfig

    def execute(self, config: AiTransformConfig, input: Any, state: ExecutionState) -> RuntimeResult:
        settings = state.settings.get(LLM, config.llm_conn_id)
        storage = _storage(config, state)
        cache: ResultCache | ObjectResultCache | None = None
        if config.cache and storage is not None:
            cache = open_result_cache(
                storage,
                config.cache_path or default_cache_path(state),
                validate=ReplyValidator(config.output_schema, config.output_model).check,  # as fresh replies
                max_entries=config.cache_max_entries,
                log=state.log,
            )
            state.log.info("ai.transform: cache %s holds %s finished records", cache.path, len(cache.entries))
        elif config.cache:
            state.log.warning(
                "ai.transform: no fs_conn_id/base_path/base_uri, so finished records are not cached and an Airflow "
                "retry pays for them again; set fs_conn_id (or base_path, or base_uri) to enable the cache"
            )
        stats = _Stats()
        merger = ReplyMerger(
            declared_fields(config.output_schema, config.output_model), config.output_field, config.overwrite_fields
        )
        # The one summary line carries what was spent (tokens, cache hits, repairs): after a failure too.
        progress = ProgressReporter(state.log, f"ai.transform {config.model}", details=stats.describe)
        warned = False

        def warn_once() -> None:
            """The cache's and the merger's warnings, once, before the summary line (so that one ends the log)."""
            nonlocal warned
            if not warned:
                warned = True
                if cache is not None:
                    cache.report(state.log)
                merger.warn(state.log)

        failed = True
        try:
            with HttpClient(settings.http_settings(), state=state, max_connections=config.max_concurrency) as client:
                caller = ChatCaller(config, client, state, on_usage=stats.add_usage)
                trusted = (trust_root(storage),) if storage is not None else ()
                inputs = input_records(input, state, trusted_bases=trusted)
                inputs = progress.track_input(inputs, expected_records(input))
                records = _then(self._run(_Run(config, caller, cache, stats, merger), inputs), warn_once)
                result = emit_records(
                    records, progress, storage=storage, output_path=config.output_path, format=config.output_format
                )
            failed = False
        finally:
            if cache is not None:
                cache.close(after_failure=failed)  # saves what a failed try paid for, for the retry
            warn_once()
            progress.stopped()  # logs only when emit_records has not logged the 'done' line
        # Records (or their file) stay the return value downstream nodes read; usage goes to its own XCom key.
        return RuntimeResult(result, extra_xcom={"usage": {**stats.as_dict(), **merger.counts()}})

    @staticmethod
    def _run(run: _Run, records: Iterable[Any]) -> Iterator[Any]:
        config, stats = run.config, run.stats
        window = config.max_concurrency * config.batch_size * 2
        pending: deque[_Slot] = deque()
        batch: list[_Slot] = []  # uncached records waiting for a full batch (always the newest pending ones)
        executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="ai-transform")
        try:
            for index, record in enumerate(records):
                stats.records_in += 1
                slot = run.lookup(record, index)
                pending.append(slot)
                if slot.outcome is None:
                    batch.append(slot)
                    if len(batch) >= config.batch_size:
                        batch = run.submit(executor, batch)
                while len(pending) >= window:
                    if pending[0].outcome is None and pending[0].future is None:
                        batch = run.submit(executor, batch)
                    yield from run.finish(pending.popleft())
            if batch:
                batch = run.submit(executor, batch)
            while pending:
                yield from run.finish(pending.popleft())
        finally:
            # On failure: requests not started are dropped; running ones finish and land in the cache.
            executor.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Run:
    """One execution's moving parts: looks records up, submits requests, turns outcomes into output records."""

    config: AiTransformConfig
    caller: ChatCaller
    cache: ResultCache | ObjectResultCache | None
    stats: _Stats
    merger: ReplyMerger

    def lookup(self, record: Any, index: int) -> _Slot:
        """Render the record's prompt and look it up; the key is the same whatever the batch size."""
        messages = self.caller.messages(record, index)
        key = cache_key(self.config, messages)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None and (
            hit["status"] == "ok"
            # an invalid reply is final only for as many repairs as it got: raising the bound asks again
            or (
                self.config.on_invalid != "fail"
                and int(hit.get("max_repair_attempts") or 0) >= self.config.max_repair_attempts
            )
        ):
            self.stats.add_cached(int(hit.get("total_tokens") or 0))
            outcome = Outcome(
                hit["status"],
                output=hit.get("output"),
                error=hit.get("error"),
                reply_excerpt=hit.get("reply_excerpt"),
                usage=Usage(total_tokens=int(hit.get("total_tokens") or 0)),
                cached=True,
            )
            return _Slot(index, record, key, messages, outcome=outcome)
        return _Slot(index, record, key, messages)

    def submit(self, executor: ThreadPoolExecutor, batch: list[_Slot]) -> list[_Slot]:
        """Start one request for ``batch``; returns the next (empty) batch."""
        future = executor.submit(self.call, list(batch))
        for position, slot in enumerate(batch):
            slot.future, slot.position = future, position
        return []

    def call(self, batch: list[_Slot]) -> list[Outcome]:
        if len(batch) == 1:
            outcomes = [self.caller.call(batch[0].messages, batch[0].index)]
        else:
            outcomes = self.caller.call_batch([slot.messages for slot in batch], [slot.index for slot in batch])
        if self.cache is not None:
            for slot, outcome in zip(batch, outcomes, strict=True):
                if outcome.status == "ok" or self.config.on_invalid != "fail":
                    self.cache.put(
                        {
                            "key": slot.key,
                            "status": outcome.status,
                            "output": outcome.output,
                            "error": outcome.error,
                            "reply_excerpt": outcome.reply_excerpt,
                            "total_tokens": outcome.usage.total_tokens,
                            "max_repair_attempts": self.config.max_repair_attempts,
                        }
                    )
        return outcomes

    def finish(self, slot: _Slot) -> Iterator[Any]:
        index, record = slot.index, slot.record
        outcome = slot.outcome
        if outcome is None:
            assert slot.future is not None
            outcome = slot.future.result()[slot.position]  # a FlowError from the call (HTTP, deadline) propagates
        config, stats = self.config, self.stats
        if outcome.status == "ok":
            stats.repaired += int(outcome.repaired)
            stats.records_out += 1
            yield self.merger.merge(record, outcome.output, index)
            return
        if config.on_invalid == "fail":
            raise LlmOutputError(
                f"record {index}: the model's reply stayed invalid after {config.max_repair_attempts} repair "
                f"attempt(s): {outcome.error}. Reply: {outcome.reply_excerpt!r}. Loosen the schema, improve the "
                "prompt, raise max_repair_attempts, or set on_invalid='skip'/'keep'",
                details={"record_index": index, "error": outcome.error},
                retryable=False,
            )
        if config.on_invalid == "skip":
            stats.skipped += 1
            self.caller.state.log.warning("ai.transform: skipping record %s: %s", index, outcome.error)
            return
        stats.kept_invalid += 1
        stats.records_out += 1
        kept = dict(record) if isinstance(record, dict) else {"input": record}
        kept[config.error_field] = {"error": outcome.error, "reply_excerpt": outcome.reply_excerpt}
        yield kept
