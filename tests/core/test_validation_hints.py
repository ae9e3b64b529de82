"""An unknown key inside a discriminated union names the keys of the member the ``type`` selected.

pydantic reports ``pagination.page.start`` (the tag ``page``, not a class name); the hint must follow that tag to
``PagePagination`` and suggest ``start_page``, in an operator and in a flow file alike.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from airflow_provider_flow.errors import FlowFileError, FlowValidationError
from airflow_provider_flow.flows.loader import load_flow_file
from airflow_provider_flow.operators import HttpSourceOperator

PAGE_HINT = "config.pagination.start: unknown key 'start'; did you mean 'start_page'? allowed keys: "


def test_operator_suggests_the_key_of_the_selected_union_member() -> None:
    with pytest.raises(FlowValidationError) as info:
        HttpSourceOperator(task_id="fetch", endpoint="/a", pagination={"type": "page", "start": 2})
    message = str(info.value)
    assert PAGE_HINT in message, message
    allowed = message.split("allowed keys: ")[1].split(", ")
    assert {"page_param", "start_page", "type"} <= set(allowed)
    assert "cursor_param" not in allowed  # another member's key


@pytest.mark.parametrize(
    ("pagination", "expected"),
    [
        ({"type": "offset", "limt": 5}, "unknown key 'limt'; did you mean 'limit'? allowed keys: limit, limit_param,"),
        ({"type": "cursor", "cursor_pth": "n"}, "unknown key 'cursor_pth'; did you mean 'cursor_path'?"),
    ],
)
def test_every_tagged_member_is_followed(pagination: dict[str, object], expected: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        HttpSourceOperator(task_id="fetch", endpoint="/a", pagination=pagination)
    assert expected in str(info.value)


def test_flow_file_suggests_the_key_of_the_selected_union_member(tmp_path: Path) -> None:
    path = tmp_path / "paged.yaml"
    path.write_text(
        textwrap.dedent(
            """
            dag_id: paged
            nodes:
              - id: fetch
                runtime: http.source
                config:
                  endpoint: /items
                  pagination: {type: page, start: 2}
            """
        )
    )
    with pytest.raises(FlowFileError) as info:
        load_flow_file(path)
    [line] = info.value.problems
    assert "node 'fetch'" in line and "pagination.start: unknown key 'start'; did you mean 'start_page'?" in line


def test_allowed_keys_are_shown_as_written_aliases_included() -> None:
    """``json`` is what a DAG author writes (the model field is ``json_body``, aliased)."""
    with pytest.raises(FlowValidationError) as info:
        HttpSourceOperator(task_id="fetch", endpoint="/a", pagination={"type": "link", "x": 1})
    assert "allowed keys: type" in str(info.value)
    from airflow_provider_flow.operators import FlowNodeOperator

    with pytest.raises(FlowValidationError) as info:
        FlowNodeOperator(task_id="g", runtime="http.source", config={"endpoint": "/a", "jsn": {}})
    allowed = str(info.value).split("allowed keys: ")[1].split(", ")
    assert "json" in allowed and "json_body" not in allowed
    assert "did you mean 'json'?" in str(info.value)


@pytest.mark.parametrize(
    ("expression", "fixed"),
    [
        ("temp_c > 20", "temp_c > `20`"),
        ("amount >= 1.5", "amount >= `1.5`"),
        ("delta < -3", "delta < `-3`"),
        ("status == 'paid' && amount > 20", "status == 'paid' && amount > `20`"),
    ],
)
def test_bare_number_in_an_expression_shows_the_backtick_fix(expression: str, fixed: str) -> None:
    from airflow_provider_flow.operators import TransformOperator

    with pytest.raises(FlowValidationError) as info:  # at construction, i.e. when the DAG file is parsed
        TransformOperator(task_id="t", data=[], operations=[{"filter": expression}])
    message = str(info.value)
    assert "numbers need backticks in JMESPath: `" in message and f"(write {fixed!r})" in message, message
    TransformOperator(task_id="t", data=[], operations=[{"filter": fixed}])  # and the fix is accepted


def test_a_number_after_a_dot_keeps_the_general_message() -> None:
    from airflow_provider_flow.expressions.compiled import compile_expression

    with pytest.raises(FlowValidationError) as info:
        compile_expression("items.1")
    assert "backticks" not in str(info.value) and 'quoted: "my-field"' in str(info.value)


def test_readme_transform_example_compares_with_a_numeric_literal() -> None:
    """The README's transform example shows the backtick form, and it is valid."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Transforms", 1)[1].split("###", 1)[0]
    expressions = re.findall(r'\{"filter": "(.*?)"\}', section)
    assert any(re.search(r"`\d+`", e) for e in expressions), expressions
    from airflow_provider_flow.expressions.compiled import compile_expression

    for expression in expressions:
        compile_expression(expression)
