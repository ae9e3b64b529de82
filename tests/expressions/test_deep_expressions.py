"""Expressions nested hundreds of levels deep: a clear error or the right result, never a crash of the task.

Python's compiler refuses text nested more than 200 parentheses deep and every tree walk here recurses once per
level, so deep expressions exercise each fallback: the generated loop without inlined expressions, the closures
without the interpreter, and a FlowValidationError when even jmespath's parser cannot follow.
"""

from __future__ import annotations

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.nodes.transform import transform_records


def nested_record(depth: int) -> dict[str, object]:
    record: dict[str, object] = {"a": "leaf"}
    for _ in range(depth - 1):
        record = {"a": record}
    return record


def test_a_field_path_too_deep_to_inline_still_gives_the_field() -> None:
    path = ".".join(["a"] * 600)  # inlined, this text nests 600 conditional expressions: Python refuses it
    out = transform_records([nested_record(600), {"a": 1}], [{"filter": path}, {"select": {"x": path}}])
    assert out == [{"x": "leaf"}]


def test_calls_nested_too_deep_for_the_closures_run_on_the_interpreter() -> None:
    source = "upper(" * 300 + "a" + ")" * 300
    assert transform_records([{"a": "x"}], [{"filter": source}, {"select": {"x": source}}]) == [{"x": "X"}]


@pytest.mark.parametrize("source", ["!" * 1500 + "a", " && ".join(["a"] * 600)])
def test_expressions_too_deep_to_parse_are_refused_naming_the_field(source: str) -> None:
    with pytest.raises(FlowValidationError, match="nests too deeply") as info:
        transform_records([{"a": 1}], [{"filter": source}])
    assert "operations[0].filter" in str(info.value)
