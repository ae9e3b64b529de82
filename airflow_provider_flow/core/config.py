"""The base of every runtime config, and the two moments a config is checked: DAG parse time and run time.

Configs are validated twice: at DAG-parse time for the parts that hold no template (so a misspelled key fails
the DAG import), and at run time after rendering. Every model forbids unknown keys; errors go through
:mod:`~airflow_provider_flow.core.validation`, so the operator, the flow-file validator and the run all print the
same message naming the field, the value and the allowed keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from airflow_provider_flow.core.validation import allowed_keys_hint, union_models, validation_error_from_pydantic
from airflow_provider_flow.errors import FlowValidationError


class ConfigModel(BaseModel):
    """Base of every runtime config: unknown keys are errors, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)


def holds_template(value: Any, *, deferred_types: tuple[type, ...] = ()) -> bool:
    """True when a value is only known at run time: a Jinja string, or a ``deferred_types`` instance
    (the operator passes Airflow's XComArg types), anywhere inside it."""
    if deferred_types and isinstance(value, deferred_types):
        return True
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(
            holds_template(k, deferred_types=deferred_types) or holds_template(v, deferred_types=deferred_types)
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set)):
        return any(holds_template(v, deferred_types=deferred_types) for v in value)
    return False


def unknown_keys_under_templates(
    model: type[BaseModel], config: dict[str, Any], *, deferred_types: tuple[type, ...] = ()
) -> list[str]:
    """Misspelled keys inside (or naming) templated values, which ``validate_static_config`` skips whole.

    A template decides a value, never which keys exist, so an unknown key is wrong whatever renders: one
    templated ``limit`` must not hide a misspelled ``filtr`` next to it until the first run. Walks the config
    against the models' fields (pydantic cannot be asked: the templated leaves fail their own type checks).
    """
    templated = {key: value for key, value in config.items() if holds_template(value, deferred_types=deferred_types)}
    return _unknown_keys(model, templated, "config")


def _unknown_keys(model: type[BaseModel], value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return []
    by_key = {(info.alias or name): info for name, info in model.model_fields.items()}
    by_key.update(model.model_fields)
    problems: list[str] = []
    for key, item in value.items():
        if holds_template(key):
            continue
        info = by_key.get(key)
        if info is None:
            problems.append(f"{where}.{key}: unknown key {key!r}; {allowed_keys_hint(model, str(key))}")
            continue
        problems.extend(_unknown_keys_in(info.annotation, item, f"{where}.{key}"))
    return problems


def _unknown_keys_in(annotation: Any, value: Any, where: str) -> list[str]:
    """Descend into the nested models an annotation allows; skip what cannot be told apart without rendering."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _unknown_keys_in(args[0], value, where)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _unknown_keys(annotation, value, where)
    if origin in (list, tuple) and args and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _unknown_keys_in(args[0], item, f"{where}[{i}]")]
    if origin is dict and len(args) == 2 and isinstance(value, Mapping):
        return [p for k, item in value.items() for p in _unknown_keys_in(args[1], item, f"{where}.{k}")]
    if origin in (Union, UnionType) and isinstance(value, Mapping):
        fitting = [m for m in union_models(annotation) if _discriminator_fits(m, value)]
        if len(fitting) == 1:
            return _unknown_keys(fitting[0], value, where)
    return []


def _discriminator_fits(model: type[BaseModel], value: Mapping[str, Any]) -> bool:
    """False when the model's ``type: Literal[...]`` field rules out this value (tagged unions)."""
    info = model.model_fields.get("type")
    if info is None or get_origin(info.annotation) is not Literal or "type" not in value:
        return True
    return value["type"] in get_args(info.annotation) or holds_template(value["type"])


def validate_static_config(
    model: type[BaseModel], config: dict[str, Any], *, context: str = "", deferred_types: tuple[type, ...] = ()
) -> None:
    """Validate what is known before rendering: keys holding templates are skipped (and may be missing).

    Used at DAG-parse time by the operator and by the flow-file validator, so a misspelled key or a bad literal
    fails early with the same message in both places.
    """
    templated = {key for key, value in config.items() if holds_template(value, deferred_types=deferred_types)}
    static = {key: value for key, value in config.items() if key not in templated}
    unknown = unknown_keys_under_templates(model, config, deferred_types=deferred_types)
    if unknown:
        where = f"{context}: " if context else ""
        raise FlowValidationError(
            f"{where}invalid {model.__name__}: " + "; ".join(unknown), details={"errors": unknown}
        )
    try:
        model.model_validate(static)
    except ValidationError as exc:
        # A model-level check (empty loc) may depend on a templated key: it runs again after rendering.
        relevant = [
            e
            for e in exc.errors()
            if not (e.get("loc") and e["loc"][0] in templated) and not (templated and not e.get("loc"))
        ]
        if relevant:
            only = ValidationError.from_exception_data(exc.title, relevant)  # type: ignore[arg-type]
            raise validation_error_from_pydantic(only, model, context=context) from None


def validate_config(model: type[BaseModel], config: dict[str, Any], *, context: str = "") -> Any:
    """Validate a rendered config dict, raising :class:`FlowValidationError` instead of pydantic's error."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc, model, context=context) from None
