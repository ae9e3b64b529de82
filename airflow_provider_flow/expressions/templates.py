"""Text with ``${expression}`` placeholders (prompts), built over the same sandboxed expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.expressions import budget
from airflow_provider_flow.expressions.budget import MAX_RESULT_SIZE, ResultTooLarge
from airflow_provider_flow.expressions.compiled import Expression, compile_expression, shorten

#: ``${expression}`` placeholders and ``$$`` for a literal ``$``. Not ``{{ }}``: prompts pass through Airflow's own
#: Jinja rendering first (``config`` is a template field), where per-record ``{{ text }}`` would be undefined.
_PLACEHOLDER = re.compile(r"\$\$|\$\{([^{}]*)\}")


@dataclass(frozen=True)
class TextTemplate:
    """Text with ``${expr}`` placeholders, each a JMESPath expression evaluated against one record.

    Strings are inserted as they are, other values as compact JSON (``${@}`` inserts the whole record). A
    placeholder that yields null fails naming the record: write ``${note || ''}`` for optional fields.
    """

    source: str
    field: str
    _parts: tuple[str | Expression, ...]

    def render(self, record: Any, *, index: int | None = None, limit: int = MAX_RESULT_SIZE) -> str:
        """The text for one record; all placeholders together may insert at most ``limit`` characters."""
        out: list[str] = []
        left = limit
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.search(record, index=index, limit=left)
            if value is None:
                raise part.error(
                    index,
                    record,
                    f"placeholder ${{{part.source}}} is null or missing; write ${{{part.source} || ''}} if the "
                    "field is optional",
                )
            try:
                left -= len(value) if isinstance(value, str) else budget.json_size(value, left, "its JSON")
                if left < 0:
                    raise ResultTooLarge("the text of every placeholder", limit - left, limit)
            except ResultTooLarge as exc:
                raise part.too_large(index, exc) from None
            out.append(value if isinstance(value, str) else part.to_json(value, index))
        return "".join(out)


def compile_template(source: Any, *, field: str = "template") -> TextTemplate:
    """Compile every ``${...}`` placeholder once; a bad one names the field and the placeholder."""
    if not isinstance(source, str):
        raise FlowValidationError(f"expected a text template, got {shorten(source)}", field=field, value=source)
    parts: list[str | Expression] = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        parts.append(source[position : match.start()])
        if match.group(0) == "$$":
            parts.append("$")
        else:
            parts.append(compile_expression(match.group(1).strip(), field=field))
        position = match.end()
    parts.append(source[position:])
    return TextTemplate(source=source, field=field, _parts=tuple(p for p in parts if p != ""))


def check_template(source: str) -> str:
    """Pydantic validator helper for text templates (raises ValueError naming the bad placeholder)."""
    try:
        compile_template(source)
    except FlowValidationError as err:
        raise ValueError(err.message.removeprefix("template: ")) from None
    return source


#: A config field holding text with ``${expression}`` placeholders, each compiled like a :data:`JmesPath`.
TemplateText = Annotated[str, AfterValidator(check_template)]
