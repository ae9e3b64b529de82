"""A schema from the records themselves: field names and JSON types of the first records, at bounded cost.

Records carry no declared schema, so the facet says what was seen: the first :data:`SAMPLE_RECORDS` records,
nested objects down to :data:`MAX_DEPTH` levels, at most :data:`MAX_FIELDS` fields per level. A field seen with
several types lists them (``"integer|null"``); ``integer`` and ``number`` together are ``number``.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

from airflow_provider_flow.lineage.model import SchemaField

SAMPLE_RECORDS = 100
MAX_DEPTH = 3
MAX_FIELDS = 200


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return "string"


def infer_schema(records: Iterable[Any], *, limit: int = SAMPLE_RECORDS) -> tuple[SchemaField, ...] | None:
    """The fields of the first ``limit`` dict records, in first-seen order; None when none is a dict."""
    objects = [r for r in islice(records, limit) if isinstance(r, dict)]
    return _fields(objects, 1) if objects else None


def _fields(objects: list[dict[str, Any]], depth: int) -> tuple[SchemaField, ...]:
    seen: dict[str, list[Any]] = {}
    for obj in objects:
        for key, value in obj.items():
            if key in seen:
                seen[key].append(value)
            elif len(seen) < MAX_FIELDS:
                seen[key] = [value]
    result = []
    for name, values in seen.items():
        types = list(dict.fromkeys(json_type(v) for v in values))
        if "integer" in types and "number" in types:
            types.remove("integer")
        nested: tuple[SchemaField, ...] = ()
        if depth < MAX_DEPTH:
            inner = [v for v in values if isinstance(v, dict)]
            if inner:
                nested = _fields(inner, depth + 1)
        result.append(SchemaField(str(name), "|".join(types), nested))
    return tuple(result)
