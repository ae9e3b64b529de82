"""Prebuilt plans that build one object per record from several expressions (``select``/``map``).

Building ``{"id": id, "name": upper(name), "town": city}`` per record through a loop over ``(name, expression)``
pairs costs a comprehension frame, a tuple unpacking and a branch per field; as one dict display in a function of
its own it costs about half (measured in benchmarks/transform_benchmark.py). So the plan is a small function
written once per operation, the way the standard library's ``dataclasses`` and ``namedtuple`` write theirs:
its source text holds only identifiers this module makes up (``name0``, ``key0``, ``value0``); every field name,
key and evaluator reaches it as a bound value, never as text, so nothing from an expression or a config ever
becomes code. Plain fields are read with the record's ``dict.get``; every other expression calls its evaluator
(:meth:`~.compiled.Expression.evaluator`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_flow.expressions.compiled import Expression

ObjectPlan = Callable[[Any], dict[str, Any]]


def object_plan(mapping: Mapping[str, Expression]) -> ObjectPlan:
    """One function ``record -> {name: value of its expression}``, in the mapping's order."""
    bound: dict[str, Any] = {"isinstance": isinstance, "dict": dict}
    on_object: list[str] = []
    on_other: list[str] = []
    for position, (name, expr) in enumerate(mapping.items()):
        bound[f"name{position}"] = name
        bound[f"value{position}"] = expr.evaluator()
        key = expr.plain_field()
        if key is None:
            on_object.append(f"name{position}: value{position}(record)")
        else:
            bound[f"key{position}"] = key
            on_object.append(f"name{position}: get(key{position})")
        on_other.append(f"name{position}: value{position}(record)")
    source = (
        "def plan(record):\n"
        "    if isinstance(record, dict):\n"
        "        get = record.get\n"
        f"        return {{{', '.join(on_object)}}}\n"
        f"    return {{{', '.join(on_other)}}}\n"
    )
    exec(compile(source, "<object plan>", "exec"), bound)  # identifiers only, see the module docstring
    plan: ObjectPlan = bound["plan"]
    return plan
