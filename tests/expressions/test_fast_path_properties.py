"""The fast path against the jmespath library, on generated records and generated expressions.

For every pair, the closures from :func:`compile_fast` must return what jmespath's interpreter returns (same value,
same types all the way down: ``1``, ``1.0`` and ``true`` are different results) or raise the same exception class.
The generated records hold the values that make JMESPath's semantics subtle: null, booleans next to 0 and 1, NaN
and infinities, empty strings/arrays/objects, missing keys, nested lists, numbers against strings. The grammar
covers every node type the fast path compiles, so each generated expression must take the fast path.
"""

from __future__ import annotations

import math
from typing import Any

import jmespath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.expressions import compile_expression
from airflow_provider_flow.expressions.fast import compile_fast
from airflow_provider_flow.expressions.functions import INTERPRETER, OPTIONS
from airflow_provider_flow.nodes.transform import transform_records
from airflow_provider_flow.records.operations import FilterStep, ProjectStep, record_steps_stage

#: Hypothesis warns when it prints a long failing example; that is only a report.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

KEYS = ["a", "b", "c"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2, 0.0, 1.0, -0.5, 1.5, 10**20, math.nan, math.inf, -math.inf]),
    st.integers(-5, 5),
    st.sampled_from(["", "a", "A b ", "abc", "1", "2.5", "ab", " ", "ÄÖ", "true", "null"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=12,
)
records = st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=3), values)

LITERALS = [
    "`null`",
    "`true`",
    "`false`",
    "`0`",
    "`1`",
    "`-1`",
    "`1.5`",
    '`"a"`',
    "'ab'",
    "''",
    "`[]`",
    "`{}`",
    '`[1, "a"]`',
    '`{"a": 1}`',
]
UNARY = ["length", "upper", "lower", "trim", "abs", "ceil", "floor", "to_number", "type", "not_null", "to_string"]
BINARY = ["starts_with", "ends_with", "contains", "not_null", "join"]
COMPARATORS = ["==", "!=", "<", "<=", ">", ">="]

fields = st.sampled_from([*KEYS, "@", "a.b", "a.b.c", "missing", '"a"'])
#: What may follow a dot: fields, nested fields, multi-selects (``@`` may not).
dotted = st.sampled_from([*KEYS, "a.b", "missing", '"a"', "{x: a}", "[a, b]", "length(@)"])


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda x, op, y: f"{x} {op} {y}", inner, st.sampled_from(COMPARATORS), inner),
        st.builds(lambda x, op, lit: f"{x} {op} {lit}", inner, st.sampled_from(COMPARATORS), st.sampled_from(LITERALS)),
        st.builds(lambda x, y: f"({x}) && ({y})", inner, inner),
        st.builds(lambda x, y: f"({x}) || ({y})", inner, inner),
        st.builds(lambda x: f"!({x})", inner),
        st.builds(lambda name, x: f"{name}({x})", st.sampled_from(UNARY), inner),
        st.builds(lambda name, x, y: f"{name}({x}, {y})", st.sampled_from(BINARY), inner, inner),
        st.builds(lambda x, y: f"{{x: {x}, y: {y}}}", inner, inner),
        st.builds(lambda x, y: f"[{x}, {y}]", inner, inner),
        st.builds(lambda x, i: f"({x})[{i}]", inner, st.sampled_from(["0", "-1", "1", "5"])),
        st.builds(lambda x, s: f"({x})[{s}]", inner, st.sampled_from(["1:", ":2", "::-1", "0:3:2"])),
        st.builds(lambda x, y: f"({x})[*].{y}", inner, dotted),
        st.builds(lambda x: f"({x})[]", inner),
        st.builds(lambda x, y: f"({x}).*.{y}", inner, dotted),
        st.builds(lambda x, y, z: f"({x})[?{y}].{z}", inner, inner, dotted),
        st.builds(lambda x, y: f"{x} | {y}", inner, inner),
        st.builds(lambda x, y: f"({x}).{y}", inner, dotted),
    )


expressions = st.recursive(st.one_of(fields, st.sampled_from(LITERALS)), _compound, max_leaves=6)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down, with NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def outcome(evaluate: Any, record: Any) -> tuple[str, Any]:
    try:
        return "value", evaluate(record)
    except Exception as exc:
        return "error", type(exc)


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, record=records)
def test_fast_path_gives_exactly_what_jmespath_gives(source: str, record: Any) -> None:
    parsed = jmespath.compile(source).parsed
    fast = compile_fast(parsed)
    assert fast is not None, f"{source!r} should take the fast path"
    expected = outcome(lambda r: INTERPRETER.visit(parsed, r), record)
    got = outcome(fast, record)
    assert got[0] == expected[0], (source, record, got, expected)
    if got[0] == "error":
        assert got[1] is expected[1], (source, record, got, expected)
    else:
        assert same(got[1], expected[1]), (source, record, got, expected)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    filter_source=expressions,
    select=st.dictionaries(st.sampled_from(["x", "y", "z"]), st.one_of(fields, expressions), min_size=1, max_size=3),
    batch=st.lists(records, max_size=6),
)
def test_filter_and_select_plans_match_jmespath_per_record(
    filter_source: str, select: dict[str, str], batch: list[Any]
) -> None:
    """The operations' prebuilt plans (filter, then select) against jmespath applied record by record."""
    try:
        kept = [r for r in batch if _truthy(jmespath.search(filter_source, r, options=OPTIONS))]
        expected: Any = [
            {name: jmespath.search(expr, r, options=OPTIONS) for name, expr in select.items()} for r in kept
        ]
    except Exception:
        expected = FlowValidationError
    try:
        got: Any = transform_records(batch, [{"filter": filter_source}, {"select": select}])
    except FlowValidationError as err:
        assert "failed on record" in err.message or "would build" in err.message, err.message
        got = FlowValidationError
    if expected is FlowValidationError or got is FlowValidationError:
        assert got is expected, (filter_source, select, batch, got)
    else:
        assert same(got, expected), (filter_source, select, batch, got, expected)


def _truthy(value: Any) -> bool:
    return not (value is None or value is False or (isinstance(value, (str, list, dict)) and not value))


@pytest.mark.parametrize(
    ("source", "record", "expected"),
    [
        ("a == `1`", {"a": True}, False),  # 1 == true is false in JMESPath (Python says True)
        ("a == `0`", {"a": False}, False),
        ("a != `1`", {"a": True}, True),
        ("!a", {"a": 0}, False),  # !0 is false: 0 is truthy
        ("a > `1`", {"a": True}, None),  # ordering only numbers and strings
        ("a > `1`", {"a": None}, None),
        ("a < 'b'", {"a": "a"}, True),
        ("length(a)", {"a": {"x": 1, "y": 2}}, 2),
        ("a[*].b", {"a": [{"b": 1}, {"c": 2}, {"b": None}, 5]}, [1]),
        ("a[?b].b", {"a": [{"b": 0}, {"b": ""}, {"b": []}, {"b": "x"}]}, [0, "x"]),
        ("{x: a}", None, None),
        ("[a]", None, None),
        ("not_null(a, b)", {"b": False}, False),
    ],
)
def test_known_corners(source: str, record: Any, expected: Any) -> None:
    parsed = jmespath.compile(source).parsed
    fast = compile_fast(parsed)
    assert fast is not None
    assert same(fast(record), expected) and same(INTERPRETER.visit(parsed, record), expected)


@pytest.mark.parametrize(
    ("source", "record", "error"),
    [
        ("a > `1`", {"a": "text"}, TypeError),  # a string against a number raises in jmespath 1.1
        ("upper(a)", {"a": 1}, jmespath.exceptions.JMESPathTypeError),
        ("length(a)", {"a": 5}, jmespath.exceptions.JMESPathTypeError),
        ("upper(a, b)", {"a": "x"}, jmespath.exceptions.ArityError),
        ("contains(a, `1`)", {"a": "abc"}, TypeError),
    ],
)
def test_known_errors_have_the_interpreters_class(source: str, record: Any, error: type[Exception]) -> None:
    parsed = jmespath.compile(source).parsed
    fast = compile_fast(parsed)
    assert fast is not None
    with pytest.raises(error):
        INTERPRETER.visit(parsed, record)
    with pytest.raises(error):
        fast(record)


@settings(max_examples=2000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=expressions, record=records, keep_existing=st.booleans())
def test_inline_plans_give_exactly_what_jmespath_gives(source: str, record: Any, keep_existing: bool) -> None:
    """The generated per-record loop (expressions written inline) against the interpreter, one expression."""
    try:
        expr = compile_expression(source, field="f")
    except FlowValidationError:  # grows too much for the compile-time bound: not run at all
        return
    stage = record_steps_stage([FilterStep(expr), ProjectStep("g", {"x": expr}, keep_existing)])
    expected = outcome(lambda r: INTERPRETER.visit(jmespath.compile(source).parsed, r), record)
    got = outcome(lambda r: [item for _i, item in stage(iter([(0, r)]))], record)
    if expected[0] == "error":
        assert got == ("error", FlowValidationError), (source, record, got, expected)
    elif not _truthy(expected[1]):
        assert got == ("value", []), (source, record, got, expected)
    elif keep_existing and not isinstance(record, dict):
        assert got == ("error", FlowValidationError)
    else:
        want = {**record, "x": expected[1]} if keep_existing else {"x": expected[1]}
        assert got[0] == "value" and same(got[1], [want]), (source, record, got, expected)
