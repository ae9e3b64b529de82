"""Talking to an OpenAI-compatible chat-completions endpoint: prompts, the wire format, and the repair loop.

For each record the prompt is rendered from ``${expression}`` placeholders (JMESPath over the record, so never
Python; not ``{{ }}``, which Airflow renders first). The request carries the output JSON Schema as
``response_format`` and the reply is validated (:mod:`.replies`); an invalid reply is sent back with the
validation errors, at most ``max_repair_attempts`` times. Several records can share one request: their prompts
are numbered in one user message and the reply must be ``{"results": [...]}`` with one item per record, each
validated like a single reply. A batch has one system message, so ``system_prompt`` must render the same for all
its records. No vendor SDK: the shared HTTP client gives retries, ``Retry-After``, deadlines and secret scrubbing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError, InvalidResponseError
from airflow_provider_flow.expressions import compile_template
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.llm.replies import MISSING, BatchReplyCheck, ReplyValidator
from airflow_provider_flow.redaction import redact_text

_EXCERPT = 300


class ChatOptions(Protocol):
    """What a chat call reads from its node's config (``ai.transform``'s config model has these fields)."""

    @property
    def model(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def system_prompt(self) -> str | None: ...
    @property
    def output_schema(self) -> dict[str, Any]: ...
    @property
    def output_model(self) -> type[BaseModel] | None: ...
    @property
    def schema_name(self) -> str: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def response_format(self) -> Literal["json_schema", "json_object"]: ...
    @property
    def max_repair_attempts(self) -> int: ...


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


def split_tokens(total: int, parts: int) -> list[int]:
    """A batch's tokens shared out per record (for the cache's "tokens saved" figure); sums to ``total``."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def shorten_reply(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + f"... [{len(text) - _EXCERPT} more chars]"


class ChatCaller:
    """Everything needed to turn one record (or a batch) into :class:`Outcome` s; shared by the worker threads.

    ``on_usage`` sees every reply's token usage as it arrives, so a run that fails later still reports what it
    spent.
    """

    def __init__(
        self,
        options: ChatOptions,
        client: HttpClient,
        state: ExecutionState,
        on_usage: Callable[[Mapping[str, Any] | None], None] = lambda usage: None,
    ) -> None:
        self.options = options
        self.on_usage = on_usage
        self.client = client
        self.state = state
        self.template = compile_template(options.prompt, field="prompt")
        self.system = compile_template(options.system_prompt, field="system_prompt") if options.system_prompt else None
        self.validate = ReplyValidator(options.output_schema, options.output_model)
        self.schema_text = json.dumps(options.output_schema, sort_keys=True)

    def payload(self, messages: list[dict[str, str]], schema: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.options.model, "messages": messages}
        if self.options.response_format == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": self.options.schema_name, "schema": schema or self.options.output_schema},
            }
        else:
            body["response_format"] = {"type": "json_object"}
        if self.options.temperature is not None:
            body["temperature"] = self.options.temperature
        if self.options.max_tokens is not None:
            body["max_tokens"] = self.options.max_tokens
        return body

    def messages(self, record: Any, index: int) -> list[dict[str, str]]:
        user = self.template.render(record, index=index)
        messages = []
        if self.system is not None:
            messages.append({"role": "system", "content": self.system.render(record, index=index)})
        elif self.options.response_format == "json_object":
            # json_object mode does not carry the schema: state it, as OpenAI requires "JSON" in the prompt.
            messages.append({"role": "system", "content": f"Answer with one JSON object matching: {self.schema_text}"})
        messages.append({"role": "user", "content": user})
        return messages

    def batch_schema(self, size: int) -> dict[str, Any]:
        """The per-record schema as the items of a ``results`` array of exactly ``size``.

        ``$defs`` (pydantic models put nested models there) move to the root, where their ``#/$defs/...``
        references point.
        """
        item = dict(self.options.output_schema)
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
                    value=self.options.system_prompt,
                )
            messages.append({"role": "system", "content": systems.pop()})
        elif self.options.response_format == "json_object":
            text = json.dumps(schema, sort_keys=True)
            messages.append({"role": "system", "content": f"Answer with one JSON object matching: {text}"})
        parts = [
            f"Answer each of the {size} records below separately, in order. Reply with one JSON object whose "
            f'"results" array holds exactly {size} items: results[0] answers record 1, results[1] record 2, and so on.'
        ]
        parts += [f'<record n="{n}">\n{m[-1]["content"]}\n</record>' for n, m in enumerate(prompts, 1)]
        messages.append({"role": "user", "content": "\n\n".join(parts)})
        return messages

    def call(self, messages: list[dict[str, str]], index: int) -> Outcome:
        """One record, one request (plus repairs)."""
        value, error, content, usage, attempts = self._converse(
            messages, f"record {index}", self.options.output_schema, self.validate
        )
        if error is None:
            return Outcome("ok", output=value, usage=usage, repaired=attempts > 1)
        return Outcome("invalid", error=error, reply_excerpt=shorten_reply(content), usage=usage)

    def call_batch(self, prompts: list[list[dict[str, str]]], indexes: list[int]) -> list[Outcome]:
        """Several records, one request (plus repairs of the batch); one outcome per record, in order."""
        size = len(prompts)
        schema = self.batch_schema(size)
        check = BatchReplyCheck(self.validate, size)
        label = f"records {indexes[0]}-{indexes[-1]}"
        _, _, content, usage, _ = self._converse(self.batch_messages(prompts, schema), label, schema, check)
        shares = split_tokens(usage.total_tokens, size)
        outcomes = []
        for i in range(size):
            share = Usage(total_tokens=shares[i])
            if check.values[i] is not MISSING:
                outcomes.append(Outcome("ok", output=check.values[i], usage=share, repaired=check.repaired[i]))
            else:
                excerpt = shorten_reply(check.items[i] if check.items[i] is not None else content)
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
        for attempt in range(self.options.max_repair_attempts + 1):
            self.state.check_deadline("ai.transform")
            reply = self.client.post_json("chat/completions", self.payload(conversation, schema))
            content, reply_usage = self._content(reply, label, self.client.settings.secret_values())
            usage.add(reply_usage)
            self.on_usage(reply_usage)
            value, error = validate(content)
            if error is None:
                break
            if attempt < self.options.max_repair_attempts:
                self.state.log.info(
                    "ai.transform: %s reply invalid (%s); asking for a repair (%s of %s)",
                    label,
                    error[:200],
                    attempt + 1,
                    self.options.max_repair_attempts,
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
