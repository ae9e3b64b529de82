"""Is the model's reply what the schema asks for? One reply, or each item of a batch reply, with errors to send back.

Validation uses the pydantic model when the DAG gave one (custom validators included), else ``jsonschema``
against the same schema that was sent (exact semantics of every keyword, where a pydantic model rebuilt with
``create_model`` would cover only a subset and silently accept what the schema forbids). The error text is
written for the model: it is what a repair request sends back.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from airflow_provider_flow.core.jsontext import loads_json

_MAX_ERRORS_SHOWN = 5


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
            return loads_json(content, source="the model's reply"), None
        except ValueError as exc:  # NestingTooDeepError included: the model is asked to repair it
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


MISSING: Any = object()


class BatchReplyCheck:
    """Validate ``{"results": [...]}`` replies of one batch across repair attempts, item by item.

    An item's first valid value is kept (a later repair reply cannot spoil it); the error returned to the repair
    loop names only the items still missing. Stateful: one instance per batch conversation.
    """

    def __init__(self, validate: ReplyValidator, size: int) -> None:
        self.validate = validate
        self.size = size
        self.values: list[Any] = [MISSING] * size
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
            if self.values[i] is not MISSING:
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
        return [i for i, value in enumerate(self.values) if value is MISSING]
