"""JMESPath expressions: compiled once, evaluated per record, errors that name record, expression and reason."""

from __future__ import annotations

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.expressions import MAX_EXPRESSION_LENGTH, check_expression, compile_expression, is_truthy


def test_search_reads_nested_fields_and_custom_string_functions() -> None:
    record = {"user": {"name": " Ada ", "tags": ["a", "b"]}, "n": 3}
    assert compile_expression("user.tags[1]").search(record) == "b"
    assert compile_expression("trim(user.name)").search(record) == "Ada"
    assert compile_expression("upper(trim(user.name))").search(record) == "ADA"
    assert compile_expression("lower('MiXed')").search(record) == "mixed"
    assert compile_expression("split('a,b', ',')").search(record) == ["a", "b"]
    assert compile_expression("replace('a-b', '-', '_')").search(record) == "a_b"
    assert compile_expression("n > `2` && length(user.tags) == `2`").search(record) is True
    assert compile_expression("missing").search(record) is None


def test_syntax_error_names_field_expression_and_position() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_expression("items[?price > `10`", field="operations[0].filter")
    err = info.value
    assert err.field == "operations[0].filter" and err.value == "items[?price > `10`"
    assert "invalid JMESPath expression 'items[?price > `10`'" in str(err)
    assert "position" in str(err) and not err.is_retryable


def test_evaluation_error_names_record_index_expression_and_reason() -> None:
    expr = compile_expression("length(size)", field="operations[1].filter")
    with pytest.raises(FlowValidationError) as info:
        expr.search({"size": 12}, index=41)
    message = str(info.value)
    assert message.startswith("operations[1].filter: expression 'length(size)' failed on record 41")
    assert "invalid type for value: 12" in message
    assert info.value.details["record_index"] == 41


def test_mixed_type_comparison_is_a_validation_error_not_a_type_error() -> None:
    with pytest.raises(FlowValidationError, match="failed on record 0"):
        compile_expression("a > `2`").search({"a": "text"}, index=0)


@pytest.mark.parametrize("source", ["", "   ", None, 12])
def test_empty_or_non_string_expression_is_refused(source: object) -> None:
    with pytest.raises(FlowValidationError, match="non-empty JMESPath expression"):
        compile_expression(source, field="f")


def test_overlong_expression_is_refused() -> None:
    with pytest.raises(FlowValidationError, match="characters long"):
        compile_expression("a" * (MAX_EXPRESSION_LENGTH + 1))


def test_python_is_never_evaluated() -> None:
    # Looks like Python; JMESPath reads it as a field path / refuses it, nothing runs.
    assert compile_expression("__import__").search({"__import__": 1}) == 1
    with pytest.raises(FlowValidationError, match=r"(?i)unknown function"):
        compile_expression("__import__('os').system('echo pwned')").search({})
    with pytest.raises(FlowValidationError, match=r"(?i)unknown function"):
        compile_expression("eval('1')").search({})


def test_truthiness_follows_jmespath() -> None:
    assert [is_truthy(v) for v in (None, False, "", [], {})] == [False] * 5
    assert [is_truthy(v) for v in (0, "x", [0], {"a": 1}, True)] == [True] * 5


def test_check_expression_raises_value_error_for_pydantic() -> None:
    assert check_expression("a.b") == "a.b"
    with pytest.raises(ValueError, match="invalid JMESPath expression"):
        check_expression("a[")


def test_text_template_placeholders() -> None:
    from airflow_provider_flow.expressions import compile_template

    template = compile_template("Hi ${name}, $$${price} for ${items[0]} (${length(items)}) ${@.extra || 'n/a'}")
    record = {"name": "Ada", "price": 5, "items": [{"a": 1}]}
    assert template.render(record) == 'Hi Ada, $5 for {"a": 1} (1) n/a'
    assert compile_template("no placeholders, $ alone").render({}) == "no placeholders, $ alone"
    with pytest.raises(FlowValidationError) as info:
        template.render({"price": 1, "items": []}, index=7)
    assert "failed on record 7" in str(info.value) and "${name || ''}" in str(info.value)
    with pytest.raises(FlowValidationError, match="invalid JMESPath expression"):
        compile_template("${a[}", field="prompt")


EXPRESSIONS = [
    "a",
    "a.b.c",
    "@",
    "a == `1`",
    "a != 'x'",
    "a > `1`",
    "a <= b",
    "a >= `2` && b",
    "a || b || 'none'",
    "!a",
    "!(a == `0`)",
    "length(s) > `2`",
    "upper(s)",
    "lower(trim(s))",
    "a && !b",
    "`[1, 2]`",
    "s | length(@)",
    "a.b == `null`",
]
RECORDS = [
    {},
    {"a": 0, "b": False, "s": ""},
    {"a": 1, "b": 2, "s": " Hey "},
    {"a": 3, "b": "x", "s": "long string"},
    {"a": {"b": {"c": 5}}, "b": [], "s": "q"},
    {"a": "x", "b": "y", "s": 7},
    {"a": True, "b": None, "s": ["l", "i"]},
    [1, 2],
    "text",
    None,
]


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_fast_path_agrees_with_the_jmespath_interpreter(source: str) -> None:
    """The closure compiler must give exactly what jmespath gives, errors included, on every record."""
    import jmespath

    from airflow_provider_flow.expressions import _OPTIONS

    expr = compile_expression(source)
    assert expr._fast is not None, "expected this expression on the fast path"
    for record in RECORDS:
        try:
            expected: object = jmespath.search(source, record, options=_OPTIONS)
        except Exception as exc:
            expected = type(exc)
        try:
            got: object = expr.search(record, index=0)
        except FlowValidationError:
            got = "error"
        if isinstance(expected, type):
            assert got == "error", (source, record, expected)
        else:
            assert got == expected and type(got) is type(expected), (source, record, got, expected)


def test_uncommon_expressions_fall_back_to_the_interpreter() -> None:
    expr = compile_expression("sort_by(items[?price > `10`], &price)[*].name")  # &expr: the interpreter's
    assert expr._fast is None
    assert expr.search({"items": [{"price": 30, "name": "a"}, {"price": 12, "name": "b"}, {"price": 1}]}) == ["b", "a"]


@pytest.mark.parametrize(
    "source",
    [
        "@" + " | [@,@]" * 30 + " | to_string(@)",  # 2^30 copies of the record from 250 characters
        "a.{x: [@, @, @, @]}.x | [@, @, @, @] | [@, @, @, @] | [@, @, @, @] | [@, @, @, @] | [@, @, @, @]",
        "replace(replace(replace(s, '', 'xxxxxxxxxx'), '', 'xxxxxxxxxx'), '', 'xxxxxxxxxx')",
        "join('----------', split(join('----------', split(join('----------', split(s, '')), '')), ''))",
        "map(&{w}, map(&{w}, map(&{w}, xs)))".format(w="[" + ", ".join("@" * 11) + "]"),  # 11^3 copies
    ],
)
def test_expressions_that_multiply_their_input_are_refused_when_compiled(source: str) -> None:
    """No loops in JMESPath, but chained multi-selects grow exponentially: a worker's memory, from a param."""
    with pytest.raises(FlowValidationError, match="times larger than its input") as info:
        compile_expression(source, field="operations[0].select.x")
    assert info.value.field == "operations[0].select.x"


@pytest.mark.parametrize(
    "source",
    [
        "{id: id, name: upper(name), tags: join(', ', tags), total: sum(items[*].price)}",
        "items[?price > `10`].{name: name, price: price, doubled: [price, price]}",
        "replace(replace(replace(name, ' ', '_'), '-', '_'), '.', '_')",
        "sort_by(items, &price)[*].[name, price] | [0]",
        "@ | [@, @] | [@, @] | [@, @]",
    ],
)
def test_ordinary_reshaping_stays_far_below_the_growth_limit(source: str) -> None:
    compile_expression(source)
