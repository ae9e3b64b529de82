"""Expressions cannot blow up through data: what one evaluation may build is bounded at run time.

The compile-time growth check sees only the expression's text; ``join(t, split(t, ''))`` looks harmless there but
inserts the whole field between each of its characters (100 KB -> 10 GB). These tests feed such expressions real
data and assert a clear, non-retryable error, with memory measured by tracemalloc.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.expressions import MAX_RESULT_SIZE, compile_expression, compile_template
from airflow_provider_flow.nodes.http_source import HttpSourceConfig
from airflow_provider_flow.nodes.transform import transform_records
from tests.nodes.test_http_source import run, state  # noqa: F401 - state is a fixture used by the http test

MIB = 2**20
FIELD = "x" * 100_000  # 100 KB


def peak_while(action: Callable[[], Any]) -> tuple[BaseException | None, int]:
    """Run ``action``; return the exception it raised (or None) and the peak traced memory meanwhile."""
    tracemalloc.start()
    try:
        action()
    except BaseException as exc:
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return None, peak


def assert_refused(err: BaseException | None, peak: int, field: str, max_peak: int = 64 * MIB) -> FlowValidationError:
    assert isinstance(err, FlowValidationError), f"expected a FlowValidationError, got {err!r}"
    assert not err.is_retryable and err.field == field
    assert f"limit of {MAX_RESULT_SIZE:,}" in err.message, err.message
    assert peak < max_peak, f"peak {peak / MIB:.0f} MiB"
    return err


MANY_T = "[" + ", ".join(["t"] * 700) + "]"  # 700 references to one 100 KB string: 70 MB once serialized


@pytest.mark.parametrize(
    "source",
    ["join(t, split(t, ''))", "replace(t, '', t)", f"to_string({MANY_T})", MANY_T],
    ids=["join-split", "replace", "to_string", "multi-select"],
)
def test_data_driven_growth_fails_fast_with_bounded_memory(source: str) -> None:
    ops = [{"select": {"out": source}}]
    err, peak = peak_while(lambda: transform_records([{"t": FIELD}], ops))
    message = assert_refused(err, peak, "operations[0].select.out").message
    assert source in message and "record 0" in message


def test_many_results_within_the_limit_add_up_to_one_budget_per_evaluation() -> None:
    parts = ", ".join(["replace(t, 'x', 'yyyyyyyyyy')"] * 70)  # 1 MB each, 70 MB together
    err, peak = peak_while(lambda: compile_expression(f"[{parts}]", field="f").search({"t": FIELD}))
    assert_refused(err, peak, "f", max_peak=2 * MAX_RESULT_SIZE)  # up to the limit is built before it is refused


def test_template_placeholders_are_bounded_too() -> None:
    template = compile_template("Summarise: ${join(t, split(t, ''))}", field="prompt")
    err, peak = peak_while(lambda: template.render({"t": FIELD}, index=3))
    assert "record 3" in assert_refused(err, peak, "prompt").message


def test_a_template_with_many_placeholders_is_bounded_as_a_whole() -> None:
    template = compile_template("${t}" * 700, field="prompt")  # each placeholder small, 70 MB together
    err, peak = peak_while(lambda: template.render({"t": FIELD}, index=0))
    assert_refused(err, peak, "prompt")


def test_ordinary_string_functions_still_work() -> None:
    record = {"t": "a,b,c", "names": ["x", "y"]}
    assert compile_expression("join('-', split(t, ','))").search(record) == "a-b-c"
    assert compile_expression("replace(t, ',', '; ')").search(record) == "a; b; c"
    assert compile_expression("join(', ', names)").search(record) == "x, y"
    assert compile_expression("to_string(names)").search(record) == '["x","y"]'
    assert compile_expression("split(t, '')").search(record) == list("a,b,c")


def test_a_records_path_cannot_build_a_huge_result_from_a_tiny_body(http_server, state) -> None:  # noqa: F811
    http_server.add_route("/tiny", lambda req: (200, {}, b'{"a": "0123456789"}'))
    level = "a"
    for _ in range(4):  # 10 chars -> 120 -> 14,640 -> 214 million
        level = f"replace({level}, '', {level})"
    err, peak = peak_while(lambda: run(state, endpoint="/tiny", records_path=f"[{level}]"))
    assert "records_path" in assert_refused(err, peak, "records_path").message


@pytest.mark.parametrize("field", ["cursor_path", "next_url_path"])
def test_bad_syntax_in_pagination_paths_fails_when_the_config_is_validated(field: str) -> None:
    kind = "cursor" if field == "cursor_path" else "next_url"
    with pytest.raises(FlowValidationError) as info:
        validate_config(HttpSourceConfig, {"endpoint": "/x", "pagination": {"type": kind, field: "meta.[next"}})
    assert f"config.pagination.{field}" in str(info.value) and "meta.[next" in str(info.value)
