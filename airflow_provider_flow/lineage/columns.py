"""Which output field comes from which input field, where a transform's operations make it knowable.

Operations are followed in order over a symbolic record: ``select`` starts a new record whose fields come from
the fields its expressions read at the record's top level (``{"out": "a.b"}``: ``out`` from ``a``); ``map`` adds
or replaces fields the same way; ``rename`` moves a field's sources; ``drop`` removes fields; ``filter``,
``limit``, ``sort_by`` and ``unique_by`` keep every field as it is. An ``apply`` (Python) makes everything after
it unknowable, so no column lineage is reported; an expression that reads the whole record (``@``, ``*``) leaves
its output field without sources rather than guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jmespath.parser import Parser

#: Input field name -> how the output got it: ``IDENTITY`` (unchanged) or an expression (a transformation).
Sources = dict[str, str | None]

_ROOT_FIRST_CHILD = {
    "subexpression",
    "index_expression",
    "projection",
    "filter_projection",
    "pipe",
    "flatten",
}
_ALL_CHILDREN = {
    "function_expression",
    "multi_select_dict",
    "multi_select_list",
    "key_val_pair",
    "comparator",
    "and_expression",
    "or_expression",
    "not_expression",
}


def expression_fields(expression: str) -> set[str] | None:
    """Top-level record fields a JMESPath expression reads; None when it reads the whole record (or cannot be
    parsed)."""
    try:
        tree = Parser().parse(expression).parsed
    except Exception:
        return None
    return _root_fields(tree)


def _root_fields(node: Mapping[str, Any]) -> set[str] | None:
    kind = node.get("type")
    children: Sequence[Mapping[str, Any]] = node.get("children") or []
    if kind == "field":
        return {str(node["value"])}
    if kind in ("literal", "index", "slice", "expref"):
        return set()
    if kind in _ROOT_FIRST_CHILD:
        return _root_fields(children[0]) if children else set()
    if kind in _ALL_CHILDREN:
        found: set[str] = set()
        for child in children:
            if child.get("type") == "expref":
                continue  # evaluated against the elements of an argument, not the record
            sub = _root_fields(child)
            if sub is None:
                return None
            found |= sub
        return found
    return None  # current (@), identity, value_projection (*): the whole record


@dataclass
class ColumnPlan:
    """The symbolic record after some operations: explicit fields with their sources, and whether the other input
    fields still pass through unchanged (minus ``removed``)."""

    explicit: dict[str, Sources] = field(default_factory=dict)
    passthrough: bool = True
    removed: set[str] = field(default_factory=set)

    def sources_of(self, name: str) -> Sources:
        if name in self.explicit:
            return dict(self.explicit[name])
        if self.passthrough and name not in self.removed:
            return {name: None}
        return {}

    def output_fields(self, seen: Iterable[str]) -> list[str]:
        """Fields to report: the explicit ones, and, when fields pass through, those seen in the written records."""
        names = list(self.explicit)
        if self.passthrough:
            names += [n for n in seen if n not in self.explicit and n not in self.removed]
        return names


def plan_operations(operations: Iterable[Any]) -> ColumnPlan | None:
    """The :class:`ColumnPlan` after ``operations`` (``TransformOperation`` models); None when not knowable."""
    plan = ColumnPlan()
    for op in operations:
        kind = op.kind
        if kind in ("filter", "limit", "sort_by", "unique_by"):
            continue
        if kind == "apply":
            return None
        if kind in ("select", "map"):
            mapping: dict[str, str] = op.select if kind == "select" else op.map
            computed = {name: _expression_sources(plan, expr) for name, expr in mapping.items()}
            if kind == "select":
                plan = ColumnPlan(passthrough=False)
            plan.explicit.update(computed)
            for name in computed:
                plan.removed.discard(name)
        elif kind == "rename":
            moved = {new: plan.sources_of(old) for old, new in op.rename.items()}
            for old in op.rename:
                plan.explicit.pop(old, None)
                plan.removed.add(old)
            plan.explicit.update(moved)
            for new in moved:
                plan.removed.discard(new)
        elif kind == "drop":
            for name in op.drop:
                plan.explicit.pop(name, None)
                plan.removed.add(name)
    return plan


def _expression_sources(plan: ColumnPlan, expression: str) -> Sources:
    fields = expression_fields(expression)
    if fields is None:
        return {}
    plain = _is_plain_field(expression)
    sources: Sources = {}
    for name in fields:
        for source, how in plan.sources_of(name).items():
            sources[source] = how if plain else expression
    return sources


def _is_plain_field(expression: str) -> bool:
    try:
        return Parser().parse(expression).parsed.get("type") == "field"
    except Exception:
        return False
