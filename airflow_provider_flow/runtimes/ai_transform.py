"""The ``ai.transform`` runtime: one OpenAI-compatible chat-completions call per record (or batch), validated JSON out.

For each record the prompt is rendered from ``${expression}`` placeholders (JMESPath over the record, as in the
``transform`` runtime, so never Python). Not ``{{ }}``: Airflow renders ``config`` with Jinja first, where a
per-record ``{{ text }}`` is undefined; ``{{ params.x }}`` still works for run-level values. The prompt goes to
``{base_url}/chat/completions`` with a ``response_format`` carrying the output JSON Schema, and the reply is
validated: with the pydantic model when the DAG gave one (custom validators included),
else with ``jsonschema`` against the same schema that was sent (exact semantics of every keyword, where a
pydantic model rebuilt with ``create_model`` would cover only a subset and silently accept what the schema
forbids). An invalid reply is sent back with the validation errors, at most ``max_repair_attempts`` times, then
handled per ``on_invalid``: ``fail`` (the task fails, naming the record), ``skip`` (record dropped) or ``keep``
(record kept, the error under ``error_field``).

HTTP goes through :mod:`airflow_provider_flow.runtimes.httpio` (one client, the shared tenacity retry honouring
``Retry-After``, deadlines, secret scrubbing): 429/5xx/timeouts behave exactly as in the HTTP runtimes.

With ``batch_size`` > 1, consecutive records not in the cache share one request (fewer round trips and less
repeated instruction text): their rendered prompts are numbered in one user message and the reply must be
``{"results": [...]}`` with exactly one item per record, in order, each validated like a single reply. A batch
reply that is not JSON or has the wrong length, or has invalid items, is repaired as a whole (the errors name the
items); valid items are kept as soon as they arrive, and ``on_invalid`` then applies to the still-invalid records
only. A lone record (the tail of the input) is sent as a plain single request. A batch has one system message,
so ``system_prompt`` must render the same for all its records (per-record placeholders belong in ``prompt``).

Requests run on ``max_concurrency`` threads with a bounded window of in-flight records, and records come out in
input order. Completed records are appended to an NDJSON cache under the confined base (flushed and fsynced per
record, so a killed task leaves a valid file whose last line at worst is cut and ignored); the key hashes model,
prompts, schema, sampling settings and the record, so an Airflow retry after a failure at record 900 sends no
request for the first 899. The cache is append-only and shared across runs of the task (a backfill reuses it);
delete the file to start afresh. Token usage (prompt, completion, total, and tokens saved by the cache) is
summed and logged at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from airflow_provider_flow.errors import FlowError, FlowValidationError
from airflow_provider_flow.models import AiTransformConfig, FileReference
from airflow_provider_flow.redaction import redact_text, redact_url
from airflow_provider_flow.runtimes.base import RuntimeResult
from airflow_provider_flow.runtimes.expressions import compile_template
from airflow_provider_flow.runtimes.httpio import (
    HttpClient,
    HttpSettings,
    InvalidResponseError,
    RetrySettings,
    TimeoutSettings,
)
from airflow_provider_flow.runtimes.progress import ProgressReporter
from airflow_provider_flow.runtimes.state import ExecutionState

#: Bump when the cache line format or key recipe changes: old lines are then simply not found.
CACHE_VERSION = 1
_EXCERPT = 300
_MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True)
class LlmSettings:
    """An OpenAI-compatible endpoint, resolved from an Airflow connection by ``FlowLlmHook`` (or built in tests).

    ``base_url`` ends before ``/chat/completions`` (``https://api.openai.com/v1``). LLM calls are slow, so the
    default read timeout is long; the in-task retry budget is the HTTP layer's.
    """

    base_url: str
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: TimeoutSettings = field(default_factory=lambda: TimeoutSettings(read=120.0, total=300.0))
    retry: RetrySettings = field(default_factory=RetrySettings)
    verify: bool | str = True

    def http_settings(self) -> HttpSettings:
        return HttpSettings(
            base_url=self.base_url,
            headers=dict(self.headers),
            bearer_token=self.api_key,
            timeout=self.timeout,
            verify=self.verify,
            retry=self.retry,
        )

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"LlmSettings(base_url={redact_url(self.base_url)!r}, api_key={'***' if self.api_key else None})"


class LlmOutputError(FlowError):
    """The model's reply stayed invalid after every repair attempt (``on_invalid='fail'``)."""

    code = "llm_invalid_output"


# -- validation -----------------------------------------------------------------------------------------------


class ReplyValidator:
    """Parse and validate one reply; returns (value, None) or (None, error text to feed back to the model)."""

    def __init__(self, schema: dict[str, Any], model: type[BaseModel] | None) -> None:
        self.model = model
        self._validator = Draft202012Validator(schema)

    def __call__(self, content: str | None) -> tuple[Any, str | None]:
        value, error = self.parse(content)
        return (None, error) if error is not None else self.check(value)

    @staticmethod
    def parse(content: str | None) -> tuple[Any, str | None]:
        if not content:
            return None, "the reply was empty; answer with one JSON object"
        try:
            return json.loads(content), None
        except ValueError as exc:
            return None, f"the reply is not valid JSON ({exc})"

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Validate an already parsed value (one reply, or one item of a batch reply)."""
        if self.model is not None:
            try:
                return self.model.model_validate(value).model_dump(mode="json"), None
            except ValidationError as exc:
                lines = [
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors(include_url=False)[:_MAX_ERRORS_SHOWN]
                ]
                return None, "the JSON does not match the schema: " + "; ".join(lines)
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [
                f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in errors[:_MAX_ERRORS_SHOWN]
            ]
            return None, "the JSON does not match the schema: " + "; ".join(lines)
        return value, None


_MISSING: Any = object()


class BatchReplyCheck:
    """Validate ``{"results": [...]}`` replies of one batch across repair attempts, item by item.

    An item's first valid value is kept (a later repair reply cannot spoil it); the error returned to the repair
    loop names only the items still missing. Stateful: one instance per batch conversation.
    """

    def __init__(self, validate: ReplyValidator, size: int) -> None:
        self.validate = validate
        self.size = size
        self.values: list[Any] = [_MISSING] * size
        self.errors: list[str | None] = [None] * size
        self.items: list[str | None] = [None] * size
        self.repaired: list[bool] = [False] * size
        self.attempts = 0

    def __call__(self, content: str | None) -> tuple[Any, str | None]:
        attempt, self.attempts = self.attempts, self.attempts + 1
        parsed, error = self.validate.parse(content)
        results = parsed.get("results") if isinstance(parsed, dict) else None
        if error is None:
            if not isinstance(results, list):
                error = f'the reply must be one JSON object {{"results": [...]}} holding exactly {self.size} items'
            elif len(results) != self.size:
                error = (
                    f'"results" holds {len(results)} items; it must hold exactly {self.size}, '
                    "one per record, in the order given"
                )
        if error is not None or not isinstance(results, list):
            for i in self.missing():
                self.errors[i] = error
            return None, error
        for i, item in enumerate(results):
            if self.values[i] is not _MISSING:
                continue
            value, item_error = self.validate.check(item)
            self.items[i] = json.dumps(item, ensure_ascii=False, default=str)
            if item_error is None:
                self.values[i], self.errors[i], self.repaired[i] = value, None, attempt > 0
            else:
                self.errors[i] = item_error
        missing = self.missing()
        if not missing:
            return self.values, None
        shown = "; ".join(f"results[{i}] (record {i + 1}): {self.errors[i]}" for i in missing[:_MAX_ERRORS_SHOWN])
        return None, f"{len(missing)} of {self.size} items are invalid: {shown}"

    def missing(self) -> list[int]:
        return [i for i, value in enumerate(self.values) if value is _MISSING]


# -- cache ----------------------------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class ResultCache:
    """Append-only NDJSON of finished records, confined under the base, fsynced per record.

    Lines that do not parse (the tail of a killed write) are ignored; a newline is written first when the file
    does not end with one, so the next line starts clean. Thread-safe.
    """

    def __init__(self, base: str, path: str) -> None:
        from airflow_provider_flow.runtimes import fileio

        self.base = base
        self.path = path
        self.resolved = fileio.confine_path(base, path, operation="write")
        self.entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._load()

    def _load(self) -> None:
        from airflow_provider_flow.runtimes import fileio

        if not os.path.exists(self.resolved):
            return
        with fileio.open_confined(self.base, self.path, operation="read") as stream:
            for line in stream:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                    self.entries[entry["key"]] = entry

    def _open(self) -> int:
        from airflow_provider_flow.runtimes import fileio

        fd = fileio.open_append(self.base, self.path)  # confined, symlink-free, regular files only
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")  # the previous try was killed mid-line: start the next line clean
        except OSError as exc:
            os.close(fd)
            raise fileio.file_error(exc, path=self.path, operation="append", base=self.base) from exc
        return fd

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        from airflow_provider_flow.runtimes import fileio

        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
            try:
                os.write(self._fd, line)
                os.fsync(self._fd)
            except OSError as exc:
                raise fileio.file_error(exc, path=self.path, operation="write", base=self.base) from exc
            self.entries[entry["key"]] = entry

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


# -- one record -----------------------------------------------------------------------------------------------


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    completions: int = 0
    """Successful replies (in-task HTTP retries of failed requests are not billed and not counted)."""

    def add(self, usage: Mapping[str, Any] | None) -> None:
        self.completions += 1
        if not usage:
            return
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        self.total_tokens += int(usage.get("total_tokens") or 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "completions": self.completions,
        }


@dataclass
class Outcome:
    """What happened to one record: ``ok``, ``invalid`` (after repairs) plus the usage it cost."""

    status: str
    output: Any = None
    error: str | None = None
    reply_excerpt: str | None = None
    usage: Usage = field(default_factory=Usage)
    repaired: bool = False
    cached: bool = False


def _split_tokens(total: int, parts: int) -> list[int]:
    """A batch's tokens shared out per record (for the cache's "tokens saved" figure); sums to ``total``."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _excerpt(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + f"... [{len(text) - _EXCERPT} more chars]"


class _Caller:
    """Everything needed to turn one record into an :class:`Outcome`; shared by the worker threads."""

    def __init__(self, config: AiTransformConfig, client: HttpClient, state: ExecutionState, stats: _Stats) -> None:
        self.config = config
        self.stats = stats
        self.client = client
        self.state = state
        self.template = compile_template(config.prompt, field="prompt")
        self.system = compile_template(config.system_prompt, field="system_prompt") if config.system_prompt else None
        self.validate = ReplyValidator(config.output_schema, config.output_model)
        self.schema_text = json.dumps(config.output_schema, sort_keys=True)

    def payload(self, messages: list[dict[str, str]], schema: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if self.config.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": self.config.schema_name, "schema": schema or self.config.output_schema},
            }
        else:
            body["response_format"] = {"type": "json_object"}
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        return body

    def messages(self, record: Any, index: int) -> list[dict[str, str]]:
        user = self.template.render(record, index=index)
        messages = []
        if self.system is not None:
            messages.append({"role": "system", "content": self.system.render(record, index=index)})
        elif self.config.response_format == "json_object":
            # json_object mode does not carry the schema: state it, as OpenAI requires "JSON" in the prompt.
            messages.append({"role": "system", "content": f"Answer with one JSON object matching: {self.schema_text}"})
        messages.append({"role": "user", "content": user})
        return messages

    def batch_schema(self, size: int) -> dict[str, Any]:
        """The per-record schema as the items of a ``results`` array of exactly ``size``.

        ``$defs`` (pydantic models put nested models there) move to the root, where their ``#/$defs/...``
        references point.
        """
        item = dict(self.config.output_schema)
        hoisted: dict[str, Any] = {key: item.pop(key) for key in ("$schema", "$defs", "definitions") if key in item}
        return {
            **hoisted,
            "type": "object",
            "properties": {"results": {"type": "array", "items": item, "minItems": size, "maxItems": size}},
            "required": ["results"],
            "additionalProperties": False,
        }

    def batch_messages(self, prompts: list[list[dict[str, str]]], schema: dict[str, Any]) -> list[dict[str, str]]:
        """One conversation for several records, from each record's own (cache-keyed) messages."""
        size = len(prompts)
        messages = []
        if self.system is not None:
            systems = {record_messages[0]["content"] for record_messages in prompts}
            if len(systems) > 1:
                raise FlowValidationError(
                    "config.system_prompt renders differently per record, but a batch has one system message; "
                    "with batch_size > 1 move the ${...} placeholders into prompt (or set batch_size=1)",
                    field="config.system_prompt",
                    value=self.config.system_prompt,
                )
            messages.append({"role": "system", "content": systems.pop()})
        elif self.config.response_format == "json_object":
            text = json.dumps(schema, sort_keys=True)
            messages.append({"role": "system", "content": f"Answer with one JSON object matching: {text}"})
        parts = [
            f"Answer each of the {size} records below separately, in order. Reply with one JSON object whose "
            f'"results" array holds exactly {size} items: results[0] answers record 1, results[1] record 2, and so on.'
        ]
        parts += [f'<record n="{n}">\n{m[-1]["content"]}\n</record>' for n, m in enumerate(prompts, 1)]
        messages.append({"role": "user", "content": "\n\n".join(parts)})
        return messages

    def cache_key(self, messages: list[dict[str, str]]) -> str:
        """Model + rendered prompts (= template and record) + schema + sampling settings + validator."""
        model_name = None
        if self.config.output_model is not None:
            model_name = f"{self.config.output_model.__module__}.{self.config.output_model.__qualname__}"
        material = {
            "v": CACHE_VERSION,
            "model": self.config.model,
            "messages": messages,
            "schema": self.config.output_schema,
            "output_model": model_name,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "response_format": self.config.response_format,
        }
        return hashlib.sha256(_canonical(material)).hexdigest()

    def call(self, messages: list[dict[str, str]], index: int) -> Outcome:
        """One record, one request (plus repairs)."""
        value, error, content, usage, attempts = self._converse(
            messages, f"record {index}", self.config.output_schema, self.validate
        )
        if error is None:
            return Outcome("ok", output=value, usage=usage, repaired=attempts > 1)
        return Outcome("invalid", error=error, reply_excerpt=_excerpt(content), usage=usage)

    def call_batch(self, prompts: list[list[dict[str, str]]], indexes: list[int]) -> list[Outcome]:
        """Several records, one request (plus repairs of the batch); one outcome per record, in order."""
        size = len(prompts)
        schema = self.batch_schema(size)
        check = BatchReplyCheck(self.validate, size)
        label = f"records {indexes[0]}-{indexes[-1]}"
        _, _, content, usage, _ = self._converse(self.batch_messages(prompts, schema), label, schema, check)
        shares = _split_tokens(usage.total_tokens, size)
        outcomes = []
        for i in range(size):
            share = Usage(total_tokens=shares[i])
            if check.values[i] is not _MISSING:
                outcomes.append(Outcome("ok", output=check.values[i], usage=share, repaired=check.repaired[i]))
            else:
                excerpt = _excerpt(check.items[i] if check.items[i] is not None else content)
                outcomes.append(Outcome("invalid", error=check.errors[i], reply_excerpt=excerpt, usage=share))
        return outcomes

    def _converse(
        self,
        messages: list[dict[str, str]],
        label: str,
        schema: dict[str, Any],
        validate: Callable[[str | None], tuple[Any, str | None]],
    ) -> tuple[Any, str | None, str | None, Usage, int]:
        """Ask, validate, feed the errors back up to ``max_repair_attempts`` times.

        Returns (value, error, last content, usage, requests made).
        """
        usage = Usage()
        conversation = list(messages)
        error: str | None = None
        content: str | None = None
        value: Any = None
        schema_text = json.dumps(schema, sort_keys=True)
        attempt = 0
        for attempt in range(self.config.max_repair_attempts + 1):
            self.state.check_deadline("ai.transform")
            reply = self.client.post_json("chat/completions", self.payload(conversation, schema))
            content, reply_usage = self._content(reply, label, self.client.settings.secret_values())
            usage.add(reply_usage)
            self.stats.add_usage(reply_usage)
            value, error = validate(content)
            if error is None:
                break
            if attempt < self.config.max_repair_attempts:
                self.state.log.info(
                    "ai.transform: %s reply invalid (%s); asking for a repair (%s of %s)",
                    label,
                    error[:200],
                    attempt + 1,
                    self.config.max_repair_attempts,
                )
                conversation = [
                    *conversation,
                    {"role": "assistant", "content": content or ""},
                    {
                        "role": "user",
                        "content": f"Your reply was invalid: {error}. Reply again with only one JSON object that "
                        f"matches this JSON Schema: {schema_text}",
                    },
                ]
        return value, error, content, usage, attempt + 1

    @staticmethod
    def _content(reply: Any, label: str, secrets: list[str]) -> tuple[str | None, Mapping[str, Any] | None]:
        try:
            message = reply["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            got = redact_text(str(reply)[:200], secrets)  # a misrouted request may get its key echoed back
            raise InvalidResponseError(
                f"{label}: the endpoint answered 2xx without choices[0].message; is the connection's host "
                f"an OpenAI-compatible /v1 base URL? Got: {got}"
            ) from None
        usage = reply.get("usage") if isinstance(reply, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if content is None and isinstance(message, dict) and message.get("refusal"):
            content = ""
        return (content if isinstance(content, str) else None), usage


# -- the runtime ----------------------------------------------------------------------------------------------


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


def default_cache_path(state: ExecutionState) -> str:
    """Per task, shared by its runs and tries (the key decides reuse): ``.flow_cache/ai_transform/<dag>/<task>``."""
    return f".flow_cache/ai_transform/{state.dag_id}/{state.task_id}.ndjson"


class AiTransformRuntime:
    """``ai.transform``: enrich records with validated structured output from an OpenAI-compatible endpoint."""

    name = "ai.transform"
    config_model = AiTransformConfig

    def execute(self, config: AiTransformConfig, input: Any, state: ExecutionState) -> RuntimeResult:
        from airflow_provider_flow.runtimes import fileio, formats

        settings = state.settings.llm_settings(config.llm_conn_id)
        base: str | None = None
        if config.output_path is not None or config.fs_conn_id is not None or config.base_path is not None:
            base = fileio.resolve_base(state, fs_conn_id=config.fs_conn_id, base_path=config.base_path)
        cache: ResultCache | None = None
        if config.cache and base is not None:
            cache = ResultCache(base, config.cache_path or default_cache_path(state))
            state.log.info("ai.transform: cache %s holds %s finished records", cache.path, len(cache.entries))
        elif config.cache:
            state.log.warning(
                "ai.transform: no fs_conn_id/base_path, so finished records are not cached and an Airflow retry "
                "pays for them again; set fs_conn_id (or base_path) to enable the cache"
            )
        stats = _Stats()
        progress = ProgressReporter(state.log, "ai.transform")
        try:
            with HttpClient(settings.http_settings(), state=state, max_connections=config.max_concurrency) as client:
                caller = _Caller(config, client, state, stats)
                trusted = (base,) if base else ()
                inputs = formats.input_records(input, state, trusted_bases=trusted)
                records = self._run(caller, cache, inputs, stats, progress)
                if config.output_path is None:
                    result: list[Any] | FileReference = list(records)
                else:
                    assert base is not None
                    with formats.RecordWriter(base, config.output_path, format=config.output_format) as writer:
                        for record in records:
                            writer.write(record)
                    result = writer.reference(fs_conn_id=config.fs_conn_id, base_path=config.base_path)
        finally:
            if cache is not None:
                cache.close()
            summary = stats.as_dict()
            state.log.info("ai.transform summary: %s", json.dumps(summary, sort_keys=True))
        progress.finish()
        # Records (or their file) stay the return value downstream nodes read; usage goes to its own XCom key.
        return RuntimeResult(result, extra_xcom={"usage": summary})

    def _run(
        self,
        caller: _Caller,
        cache: ResultCache | None,
        records: Iterable[Any],
        stats: _Stats,
        progress: ProgressReporter,
    ) -> Iterator[Any]:
        config = caller.config
        window = config.max_concurrency * config.batch_size * 2
        pending: deque[_Slot] = deque()
        batch: list[_Slot] = []  # uncached records waiting for a full batch (always the newest pending ones)
        executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="ai-transform")
        try:
            for index, record in enumerate(records):
                stats.records_in += 1
                slot = self._lookup(caller, cache, record, index)
                pending.append(slot)
                if slot.outcome is None:
                    batch.append(slot)
                    if len(batch) >= config.batch_size:
                        batch = self._submit(executor, caller, cache, batch)
                while len(pending) >= window:
                    if pending[0].outcome is None and pending[0].future is None:
                        batch = self._submit(executor, caller, cache, batch)
                    yield from self._finish(caller, pending.popleft(), stats, progress)
            if batch:
                batch = self._submit(executor, caller, cache, batch)
            while pending:
                yield from self._finish(caller, pending.popleft(), stats, progress)
        finally:
            # On failure: requests not started are dropped; running ones finish and land in the cache.
            executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _lookup(caller: _Caller, cache: ResultCache | None, record: Any, index: int) -> _Slot:
        """Render the record's prompt and look it up; the key is the same whatever the batch size."""
        messages = caller.messages(record, index)
        key = caller.cache_key(messages)
        hit = cache.get(key) if cache is not None else None
        if hit is not None and (
            hit["status"] == "ok"
            # an invalid reply is final only for as many repairs as it got: raising the bound asks again
            or (
                caller.config.on_invalid != "fail"
                and int(hit.get("max_repair_attempts") or 0) >= caller.config.max_repair_attempts
            )
        ):
            caller.stats.add_cached(int(hit.get("total_tokens") or 0))
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

    def _submit(
        self, executor: ThreadPoolExecutor, caller: _Caller, cache: ResultCache | None, batch: list[_Slot]
    ) -> list[_Slot]:
        """Start one request for ``batch``; returns the next (empty) batch."""
        future = executor.submit(self._call, caller, cache, list(batch))
        for position, slot in enumerate(batch):
            slot.future, slot.position = future, position
        return []

    @staticmethod
    def _call(caller: _Caller, cache: ResultCache | None, batch: list[_Slot]) -> list[Outcome]:
        if len(batch) == 1:
            outcomes = [caller.call(batch[0].messages, batch[0].index)]
        else:
            outcomes = caller.call_batch([slot.messages for slot in batch], [slot.index for slot in batch])
        if cache is not None:
            for slot, outcome in zip(batch, outcomes, strict=True):
                if outcome.status == "ok" or caller.config.on_invalid != "fail":
                    cache.put(
                        {
                            "key": slot.key,
                            "status": outcome.status,
                            "output": outcome.output,
                            "error": outcome.error,
                            "reply_excerpt": outcome.reply_excerpt,
                            "total_tokens": outcome.usage.total_tokens,
                            "max_repair_attempts": caller.config.max_repair_attempts,
                        }
                    )
        return outcomes

    @staticmethod
    def _finish(caller: _Caller, slot: _Slot, stats: _Stats, progress: ProgressReporter) -> Iterator[Any]:
        index, record = slot.index, slot.record
        outcome = slot.outcome
        if outcome is None:
            assert slot.future is not None
            outcome = slot.future.result()[slot.position]  # a FlowError from the call (HTTP, deadline) propagates
        config = caller.config
        progress.update(records=1)
        if outcome.status == "ok":
            stats.repaired += int(outcome.repaired)
            stats.records_out += 1
            yield _merge(record, outcome.output, config.output_field)
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
            caller.state.log.warning("ai.transform: skipping record %s: %s", index, outcome.error)
            return
        stats.kept_invalid += 1
        stats.records_out += 1
        kept = dict(record) if isinstance(record, dict) else {"input": record}
        kept[config.error_field] = {"error": outcome.error, "reply_excerpt": outcome.reply_excerpt}
        yield kept


def _merge(record: Any, output: Any, output_field: str | None) -> Any:
    if isinstance(record, dict):
        if output_field is None and isinstance(output, dict):
            return {**record, **output}
        return {**record, output_field or "output": output}
    return {"input": record, output_field or "output": output}


__all__ = [
    "AiTransformRuntime",
    "LlmOutputError",
    "LlmSettings",
    "ReplyValidator",
    "ResultCache",
    "default_cache_path",
]
