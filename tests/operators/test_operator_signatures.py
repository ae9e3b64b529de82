"""Each typed operator's keywords agree with its runtime's config model: the model is the one source of truth.

Operators keep explicit keywords (IDE completion, Airflow's docs), so a field is spelled twice; this test is what
keeps the two spellings equal. For every operator it checks, by alias or field name:

* every model field is a keyword and every keyword (bar a short, named list) is a model field;
* required fields are required keywords, and every default equals the model's default;
* the keyword's annotation accepts what the model accepts (a nested model may also be given as a dict), and
  nothing the model would refuse.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from airflow_provider_flow.nodes.ai_transform import AiTransformConfig
from airflow_provider_flow.nodes.file_sink import FileSinkConfig
from airflow_provider_flow.nodes.file_source import FileSourceConfig
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig
from airflow_provider_flow.nodes.http_source import HttpSourceConfig
from airflow_provider_flow.nodes.transform import TransformConfig
from airflow_provider_flow.operators.ai import AiTransformOperator
from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator
from airflow_provider_flow.operators.http import HttpSinkOperator, HttpSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator

#: operator -> (its model, keywords that are not model fields and why, model fields set only by the operator and why)
CASES: dict[type, tuple[type[BaseModel], dict[str, str], dict[str, str]]] = {
    HttpSourceOperator: (
        HttpSourceConfig,
        {"query_params": "the model's `params`, renamed because Airflow owns `params` on every operator"},
        {},
    ),
    HttpSinkOperator: (HttpSinkConfig, {"data": "the node's input, not config"}, {}),
    FileSourceOperator: (FileSourceConfig, {}, {}),
    FileSinkOperator: (
        FileSinkConfig,
        {"data": "the node's input", "declare_asset": "an Airflow outlet, not runtime config"},
        {},
    ),
    TransformOperator: (
        TransformConfig,
        {"data": "the node's input", "python_callable": "shorthand for a final `apply` operation"},
        {},
    ),
    AiTransformOperator: (
        AiTransformConfig,
        {"data": "the node's input"},
        {"output_model": "set from `output_schema` when it is a pydantic class"},
    ),
}

#: keyword types deliberately wider than the model's, and why
WIDENED: dict[tuple[type, str], set[Any]] = {
    (AiTransformOperator, "output_schema"): {type},  # a pydantic class: its JSON Schema goes to config
}


def keywords(operator: type) -> dict[str, tuple[inspect.Parameter, Any]]:
    """The operator's own keyword parameters with their resolved annotations.

    The operator modules import their annotation-only types under TYPE_CHECKING (a DAG file parse does not
    evaluate annotations, tests/test_import_cost.py), so the names are resolved in the config model's module,
    which imports the same types to declare its fields.
    """
    init = operator.__init__  # type: ignore[misc]
    model_namespace = vars(sys.modules[CASES[operator][0].__module__])
    hints = typing.get_type_hints(init, localns=model_namespace, include_extras=True)
    return {
        name: (param, hints.get(name, Any))
        for name, param in inspect.signature(init).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    }


def model_keys(model: type[BaseModel]) -> dict[str, Any]:
    """Field info by the key a DAG author writes: the alias when there is one, else the name."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def accepted(annotation: Any) -> set[Any]:
    """The plain types (and literal values) an annotation admits, with Annotated metadata and Optional unwrapped."""
    if annotation is Any:
        return {Any}
    origin = get_origin(annotation)
    if origin is Annotated:
        return accepted(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(accepted(arg) for arg in get_args(annotation)))
    if origin is Literal:
        return {("literal", value) for value in get_args(annotation)}
    if origin is not None:
        return {origin}
    return {annotation}


def admits(operator_types: set[Any], model_type: Any) -> bool:
    if Any in operator_types or model_type in operator_types:
        return True
    if isinstance(model_type, type) and issubclass(model_type, BaseModel):
        return dict in operator_types
    if isinstance(model_type, tuple):  # a literal value: admitted by a plain type of the same kind
        return type(model_type[1]) in operator_types
    return isinstance(model_type, type) and any(
        isinstance(t, type) and issubclass(model_type, t) for t in operator_types
    )  # e.g. the model's dict given as any Mapping


def test_every_typed_operator_is_checked() -> None:
    from airflow_provider_flow.operators.base import FlowNodeOperator

    modules = ("ai", "file", "http", "transform")
    found = set()
    for module_name in modules:
        module = __import__(f"airflow_provider_flow.operators.{module_name}", fromlist=["*"])
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FlowNodeOperator) and value is not FlowNodeOperator:
                found.add(value)
    assert found == set(CASES)


@pytest.mark.parametrize("operator", list(CASES), ids=lambda op: op.__name__)
def test_keywords_are_the_model_fields(operator: type) -> None:
    model, extras, operator_only = CASES[operator]
    fields = set(model_keys(model)) - set(operator_only)
    names = set(keywords(operator)) - set(extras)
    if operator is HttpSourceOperator:
        names.discard("params")  # `params` is the field itself (query values); see the operator's docstring
        fields.discard("params")
    assert sorted(fields - names) == [], f"{operator.__name__}: model fields without a keyword"
    assert sorted(names - fields) == [], f"{operator.__name__}: keywords the model does not know"


def field_keywords(operator: type) -> Iterator[tuple[str, inspect.Parameter, Any, FieldInfo]]:
    """(name, parameter, annotation, model field) for each keyword that stands for a model field."""
    model, extras, operator_only = CASES[operator]
    fields = model_keys(model)
    for name, (param, annotation) in keywords(operator).items():
        if name not in extras and name not in operator_only and name in fields:
            yield name, param, annotation, fields[name]


@pytest.mark.parametrize("operator", list(CASES), ids=lambda op: op.__name__)
def test_defaults_are_the_model_defaults(operator: type) -> None:
    for name, param, _, info in field_keywords(operator):
        if info.is_required():
            assert param.default is inspect.Parameter.empty, f"{operator.__name__}.{name} is required in the model"
            continue
        model_default = info.get_default(call_default_factory=True)
        if info.default is PydanticUndefined and info.default_factory is not None and param.default is None:
            continue  # a mutable default (list, dict) is spelled None on the operator: config_from drops it
        assert param.default == model_default, (
            f"{operator.__name__}.{name}: keyword default {param.default!r}, model default {model_default!r}"
        )


@pytest.mark.parametrize("operator", list(CASES), ids=lambda op: op.__name__)
def test_annotations_accept_what_the_model_accepts(operator: type) -> None:
    for name, param, annotation, info in field_keywords(operator):
        operator_types = accepted(annotation)
        model_types = accepted(info.annotation)
        missing = [t for t in model_types if not admits(operator_types, t)]
        assert not missing, f"{operator.__name__}.{name}: keyword annotation {annotation} refuses {missing}"
        model_has_nested = any(isinstance(t, type) and issubclass(t, BaseModel) for t in model_types)
        optional_ok = param.default is None  # None means "the model's default" (config_from drops it)
        extra_types = {
            t
            for t in operator_types - model_types
            if not (t is type(None) and optional_ok)
            and not (t is dict and model_has_nested)
            and not any(isinstance(m, type) and issubclass(m, t) for m in model_types)  # Mapping for dict
        }
        if Any in model_types:
            extra_types = set()
        extra_types -= WIDENED.get((operator, name), set())
        assert not extra_types, f"{operator.__name__}.{name}: keyword accepts {extra_types} the model refuses"


def test_the_agreement_check_catches_a_drifted_default() -> None:
    """The check above is not vacuous: an operator whose default drifted from its model is reported."""

    class Drifted(FileSourceOperator):
        def __init__(self, *, path: str, encoding: str = "latin-1", **kwargs: Any) -> None:
            super().__init__(path=path, encoding=encoding, **kwargs)

    CASES[Drifted] = CASES[FileSourceOperator]
    try:
        with pytest.raises(AssertionError, match="encoding: keyword default 'latin-1', model default 'utf-8'"):
            test_defaults_are_the_model_defaults(Drifted)
    finally:
        del CASES[Drifted]
