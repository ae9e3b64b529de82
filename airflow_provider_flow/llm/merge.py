"""How a validated reply joins its input record: it adds the fields the schema declares, and nothing else.

Why: the reply is steered by the record's own text, so a prompt injection in a review can make an obedient model
answer ``{"summary": ..., "id": "hacked", "price": 0, "is_admin": true}``, and a JSON Schema without
``additionalProperties: false`` (the default) validates it. So, whatever the schema allows:

* only declared fields are taken (the schema's ``properties``, or the pydantic model's fields); any other field of
  the reply is dropped and counted;
* a declared field never replaces a field the record already has unless it is named in ``overwrite_fields``: the
  record keeps its value, and the collision is counted when the values differ;
* with ``output_field`` the reply goes under that one key, which must not be a field of the record already.

Counts are logged once at the end of the task as warnings and added to the ``usage`` summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from airflow_provider_flow.core.state import LoggerLike
from airflow_provider_flow.errors import FlowValidationError


def declared_fields(schema: dict[str, Any], model: type[BaseModel] | None) -> frozenset[str] | None:
    """The fields a reply may add; None when the schema declares no properties (a free-form object)."""
    if model is not None:
        return frozenset(model.model_fields)  # model_dump() keys: field names
    properties = schema.get("properties")
    return frozenset(properties) if isinstance(properties, dict) and properties else None


def _counted(counter: Counter[str]) -> str:
    return ", ".join(f"{name} ({n} record{'s' if n != 1 else ''})" for name, n in sorted(counter.items()))


class ReplyMerger:
    """Merges validated replies into their records under the rules above, counting what it refused."""

    def __init__(
        self, declared: frozenset[str] | None, output_field: str | None, overwrite: Iterable[str] | None
    ) -> None:
        self.declared = declared
        self.output_field = output_field
        self.overwrite = frozenset(overwrite or ())
        self.dropped: Counter[str] = Counter()
        self.kept_input: Counter[str] = Counter()

    def merge(self, record: Any, output: Any, index: int) -> Any:
        output = self._declared_only(output)
        if not isinstance(record, dict):
            return {"input": record, self.output_field or "output": output}
        if self.output_field is not None or not isinstance(output, dict):
            key = self.output_field or "output"
            if key in record and key not in self.overwrite:
                raise FlowValidationError(
                    f"record {index} already has a field {key!r}, which the model's reply would replace; choose "
                    f"another output_field, or list {key!r} in overwrite_fields to replace it on purpose",
                    field="config.output_field",
                    value=key,
                )
            return {**record, key: output}
        merged = dict(record)
        for name, value in output.items():
            if name in record and name not in self.overwrite:
                if record[name] != value:
                    self.kept_input[name] += 1
                continue
            merged[name] = value
        return merged

    def _declared_only(self, output: Any) -> Any:
        if self.declared is None or not isinstance(output, dict):
            return output
        extra = [name for name in output if name not in self.declared]
        if not extra:
            return output
        self.dropped.update(extra)
        return {name: value for name, value in output.items() if name in self.declared}

    def counts(self) -> dict[str, dict[str, int]]:
        """For the ``usage`` summary: how many records had each field dropped or kept from the input."""
        return {"undeclared_fields_dropped": dict(self.dropped), "input_fields_kept": dict(self.kept_input)}

    def warn(self, log: LoggerLike) -> None:
        """One warning per kind of refusal, with counts (never the values: they may be the injected text)."""
        if self.dropped:
            log.warning(
                "ai.transform: dropped reply fields the output schema has not declared: %s. Declare a field in "
                "output_schema to keep it",
                _counted(self.dropped),
            )
        if self.kept_input:
            log.warning(
                "ai.transform: kept the record's own value where the reply differed: %s. List a field in "
                "overwrite_fields to let the model replace it",
                _counted(self.kept_input),
            )
