"""Expressions written out as Python expressions over bound names, for per-record loops built once per run.

A closure per AST node (:mod:`.fast`) still costs a call per node per record; for the forms a filter or a select
is made of (a field, a nested field, a field compared with a literal, ``&&``/``||``, the cheap string and length
functions) that call is most of the cost. Here those forms become Python expression *text* that a generated
function evaluates inline: ``score >= `50``` becomes, in effect, ``(v.get(k0) if isinstance(v, dict) else None)``
compared under JMESPath's rules. Everything else is a call to the node's closure from :mod:`.fast`.

Safety: the text holds only identifiers made up here (``k0``, ``c1``, ``t2``, ``f3``) and fixed Python syntax;
every key, literal, function name and closure reaches the generated code as a *bound value* in its namespace,
never as text, so nothing from an expression or a config ever becomes code (the same way the standard library's
``dataclasses`` and ``namedtuple`` build their methods). The semantics are :mod:`.fast`'s, which are jmespath's
(``tests/expressions`` property-tests generated plans against jmespath).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_flow.expressions.compiled import Expression
from airflow_provider_flow.expressions.fast import _COMPARE, _UNARY, compile_fast, is_truthy
from airflow_provider_flow.expressions.functions import FUNCTIONS

#: Python's operator for each ordered JMESPath comparator.
_ORDERED = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
#: Types that Python orders exactly as jmespath does (a str against a number raises TypeError in both).
_ORDERABLE = frozenset({int, float, str})


def _no_fields(key: str) -> None:
    """The getter of a value that is no object: every field of it is null."""
    return None


def getter_of(var: str, getter: str) -> str:
    """The statement that sets ``getter`` for the value in ``var`` (put it wherever ``var`` is assigned)."""
    return f"{getter} = {var}.get if isinstance({var}, dict) else no_fields"


class Names:
    """The namespace of one generated function: bound values under made-up identifiers."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {
            "isinstance": isinstance,
            "dict": dict,
            "type": type,
            "truthy": is_truthy,
            "call": FUNCTIONS.call_function,
            "orderable": _ORDERABLE,
            "no_fields": _no_fields,
        }
        self._count = 0
        self.getters: dict[str, str] = {}
        """Locals holding ``value.get`` (or a function returning None when the value is no object), by the name
        of the value: the generated loop sets one per record, so each field read is one call."""

    def read_fields_with(self, var: str) -> str:
        """Read fields of local ``var`` through a getter; returns its name (the caller assigns it, see below)."""
        getter = self.getters[var] = f"get_{var}"
        return getter

    def bind(self, value: Any, prefix: str = "c") -> str:
        self._count += 1
        name = f"{prefix}{self._count}"
        self.values[name] = value
        return name

    def temp(self) -> str:
        self._count += 1
        return f"t{self._count}"


def inline(expr: Expression, var: str, names: Names) -> str:
    """Python expression text giving ``expr``'s result for the value in local ``var`` (a call when not inlinable)."""
    if expr.evaluator() is expr._fast and expr._fast is not None:  # no budget, no measured result
        text = _node(expr._parsed.parsed, var, names)
        if text is not None:
            return text
    return f"{names.bind(expr.evaluator(), 'f')}({var})"


def _closure(node: Mapping[str, Any], value: str, names: Names) -> str | None:
    evaluator = compile_fast(node)
    return None if evaluator is None else f"{names.bind(evaluator, 'f')}({value})"


def _field_of(value_text: str, key: str, names: Names) -> str:
    temp = names.temp()
    return f"({temp}.get({names.bind(key, 'k')}) if isinstance(({temp} := {value_text}), dict) else None)"


def _node(node: Mapping[str, Any], var: str, names: Names) -> str | None:
    kind = node.get("type")
    if kind == "field" and var in names.getters:
        return f"{names.getters[var]}({names.bind(node['value'], 'k')})"
    if kind == "field":
        return f"({var}.get({names.bind(node['value'], 'k')}) if isinstance({var}, dict) else None)"
    if kind in ("current", "identity"):
        return var
    if kind == "literal":
        return names.bind(node["value"])
    if kind in ("subexpression", "pipe"):  # a.b.c: each step applied to the result of the one before
        first, *rest = node["children"]
        text = _node(first, var, names)
        for child in rest:
            if text is None:
                return None
            text = (
                _field_of(text, child["value"], names) if child.get("type") == "field" else _closure(child, text, names)
            )
        return text
    if kind == "comparator":
        return _comparator(node, var, names)
    if kind in ("and_expression", "or_expression"):
        first, second = (_node(child, var, names) for child in node["children"])
        if first is None or second is None:
            return None
        temp = names.temp()
        if kind == "and_expression":
            return f"({second} if truthy({temp} := {first}) else {temp})"
        return f"({temp} if truthy({temp} := {first}) else {second})"
    if kind == "function_expression" and node["value"] in _UNARY and len(node["children"]) == 1:
        argument = _node(node["children"][0], var, names)
        if argument is None:
            return None
        types, implementation = _UNARY[node["value"]]
        temp, function, accepted = names.temp(), names.bind(implementation, "f"), names.bind(frozenset(types))
        checked = f"call({names.bind(node['value'])}, [{temp}])"  # jmespath's own type error, or odd types
        return f"({function}({temp}) if type({temp} := {argument}) in {accepted} else {checked})"
    return _closure(node, var, names)


def _comparator(node: Mapping[str, Any], var: str, names: Names) -> str | None:
    left_node, right_node = node["children"]
    literal = right_node["value"] if right_node.get("type") == "literal" else None
    op = node["value"]
    simple_literal = type(literal) in _ORDERABLE  # a number or a string, not a bool
    if not simple_literal:
        return _closure(node, var, names)
    left = _node(left_node, var, names)
    if left is None:
        return None
    constant = names.bind(literal)
    if op in ("eq", "ne") and isinstance(literal, str):  # jmespath's special case is 0/1 against booleans only
        return f"({left} {'==' if op == 'eq' else '!='} {constant})"
    if op in ("eq", "ne"):
        return f"{names.bind(_COMPARE[op], 'f')}({left}, {constant})"
    temp = names.temp()
    general = compile_fast({"type": "comparator", "value": op, "children": [{"type": "current"}, right_node]})
    return (
        f"({temp} {_ORDERED[op]} {constant} if type({temp} := {left}) in orderable "
        f"else {names.bind(general, 'f')}({temp}))"
    )
