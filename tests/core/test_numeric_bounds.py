"""Every numeric setting of every built-in runtime has its bounds in the model (issue 10, class 18).

A number without bounds passes DAG parsing and fails later, somewhere deep, with a raw ``ValueError`` (``timeout=-5``
did). Walking the models keeps the rule true for settings added later: a new unbounded number fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from airflow_provider_flow.core.registry import registry
from airflow_provider_flow.errors import FlowValidationError

BUILT_IN = ["http.source", "http.sink", "file.source", "file.sink", "transform", "ai.transform"]


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in get_args(annotation):
        yield from _models_in(arg)


def _is_number(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_number(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_is_number(arg) for arg in get_args(annotation))
    return annotation in (int, float)


def _bounds(metadata: list[Any], annotation: Any) -> tuple[bool, bool]:
    """(has a lower bound, has an upper bound), from the field's metadata and any Annotated number in a union."""
    found = list(metadata)
    for arg in (annotation, *get_args(annotation)):
        if get_origin(arg) is Annotated:
            for extra in get_args(arg)[1:]:  # a Field(...) inside Annotated carries its constraints as metadata
                found.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
    lower = any(isinstance(m, (annotated_types.Ge, annotated_types.Gt)) for m in found)
    upper = any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in found)
    for m in found:
        if isinstance(m, annotated_types.Interval):
            lower = lower or m.ge is not None or m.gt is not None
            upper = upper or m.le is not None or m.lt is not None
    return lower, upper


def _numeric_fields(model: type[BaseModel], where: str, seen: set[type[BaseModel]]) -> Iterator[tuple[str, Any]]:
    if model in seen:
        return
    seen.add(model)
    for name, info in model.model_fields.items():
        if _is_number(info.annotation):
            yield f"{where}.{name}", info
        for nested in _models_in(info.annotation):
            yield from _numeric_fields(nested, f"{where}.{name}", seen)


def _all_numeric_fields() -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = []
    for name in BUILT_IN:
        model = registry.get(name).config_model
        fields.extend(_numeric_fields(model, name, set()))
    return fields


def test_the_walk_finds_the_numbers_it_must_check() -> None:
    names = {where for where, _ in _all_numeric_fields()}
    assert "http.source.timeout" in names
    assert "http.sink.batch_size" in names
    assert len(names) >= 20


@pytest.mark.parametrize(("where", "info"), _all_numeric_fields(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_numeric_setting_is_bounded_in_its_model(where: str, info: Any) -> None:
    lower, upper = _bounds(info.metadata, info.annotation)
    assert lower and upper, f"{where} needs both bounds in its model (lower={lower}, upper={upper})"


@pytest.mark.parametrize("runtime", ["http.source", "http.sink"])
@pytest.mark.parametrize("timeout", [0, -5, float("inf"), float("nan")])
def test_a_timeout_out_of_range_fails_validation_naming_the_field(runtime: str, timeout: float) -> None:
    from airflow_provider_flow.core.config import validate_config

    model = registry.get(runtime).config_model
    base = {"url": "http://127.0.0.1:1/x"}
    with pytest.raises(FlowValidationError) as caught:
        validate_config(model, {**base, "timeout": timeout})
    assert "timeout" in str(caught.value)
