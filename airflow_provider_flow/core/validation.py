"""pydantic's report -> one :class:`~airflow_provider_flow.errors.FlowValidationError` a DAG author can act on.

pydantic names locations in its own terms (union-member tags such as ``SortSpec`` or ``function-after[...]``) and
lists the allowed keys of nothing. This engine follows each error location through the models' annotations, so
the message shows the path as the user wrote it, the value, and for an unknown key the keys of the nested model
that owns it, with a did-you-mean hint. Used by every config check: parse time, run time and flow files.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from airflow_provider_flow.errors import FlowValidationError


def _format_loc(prefix: str, loc: list[int | str]) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else str(item))
    return ".".join(parts).replace(".[", "[")


def unwrap_optional(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``: pydantic's locations do not name those layers."""
    while True:
        origin, args = get_origin(annotation), get_args(annotation)
        if origin is Annotated:
            annotation = args[0]
        elif origin in (Union, UnionType) and len([a for a in args if a is not type(None)]) == 1:
            annotation = next(a for a in args if a is not type(None))
        else:
            return annotation


def _walk_loc(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[list[int | str], Any]:
    """Follow a pydantic error location through the models' annotations.

    Returns the location as a user wrote it (pydantic's union-member tags such as ``SortSpec`` or
    ``function-after[...]`` removed) and the annotation reached, so an unknown key can list the keys of the
    nested model that owns it rather than the top-level ones.
    """
    path: list[int | str] = []
    annotation: Any = model
    for item in loc:
        annotation = unwrap_optional(annotation)
        origin, args = get_origin(annotation), get_args(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(item))
            annotation = field.annotation if field is not None else Any
            path.append(item)
        elif origin in (Union, UnionType):
            # pydantic names the union member it tried (its class, or its discriminator tag such as 'page');
            # that tag is not part of what the user wrote
            annotation = union_member(annotation, item) or Any
        elif origin in (list, tuple, set) and isinstance(item, int):
            annotation = args[0] if args else Any
            path.append(item)
        elif origin is dict and len(args) == 2:
            annotation = args[1]
            path.append(item)
        else:
            annotation = Any
            path.append(item)
    return path, annotation


def validation_error_from_pydantic(
    exc: ValidationError, model: type[BaseModel], *, prefix: str = "config", context: str = ""
) -> FlowValidationError:
    """Turn pydantic's report into one error a DAG author can act on: field, value, and the fix."""
    lines = []
    first_field: str | None = None
    first_value: Any = None
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        path, _ = _walk_loc(model, loc)
        field = _format_loc(prefix, path)
        value = error.get("input")
        if first_field is None:
            first_field, first_value = field, value
        if error.get("type") == "extra_forbidden":
            _, owner = _walk_loc(model, loc[:-1])
            owner = unwrap_optional(owner)
            if isinstance(owner, type) and issubclass(owner, BaseModel):
                lines.append(f"{field}: unknown key {loc[-1]!r}; {allowed_keys_hint(owner, str(loc[-1]))}")
            else:
                lines.append(f"{field}: unknown key {loc[-1]!r}")
        elif error.get("type") == "missing":
            lines.append(f"{field}: required but missing")
        else:
            shown = repr(value)
            if len(shown) > 120:
                shown = shown[:117] + "..."
            lines.append(f"{field}: {plain_message(error)} (got {shown})")
    where = f"{context}: " if context else ""
    message = where + "invalid " + model.__name__ + ": " + "; ".join(lines)
    err = FlowValidationError(message, value=first_value, details={"errors": lines})
    err.field = first_field
    return err


def allowed_keys_hint(model: type[BaseModel], key: str) -> str:
    """'did you mean ...? allowed keys: ...' for an unknown key of ``model``."""
    allowed = sorted(info.alias or name for name, info in model.model_fields.items())  # as a DAG author writes them
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}allowed keys: {', '.join(allowed)}"


def union_models(annotation: Any) -> list[type[BaseModel]]:
    """The models among a union's members, nested unions and ``Annotated`` wrappers flattened."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return union_models(args[0])
    if origin in (Union, UnionType):
        return [model for arg in args for model in union_models(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def union_member(annotation: Any, tag: int | str) -> type[BaseModel] | None:
    """The member of a union that pydantic's location ``tag`` names: by class name (a plain union) or by the
    value of a ``Literal`` field (a discriminated union, e.g. ``{"type": "page"}`` is tagged ``page``)."""
    models = union_models(annotation)
    for model in models:
        if model.__name__ == tag:
            return model
    tagged = [m for m in models if any(tag in _literal_values(f.annotation) for f in m.model_fields.values())]
    return tagged[0] if len(tagged) == 1 else None


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    return get_args(annotation) if get_origin(annotation) is Literal else ()


#: Prefixes pydantic puts before the message of a validator's own ValueError/AssertionError: noise to a DAG author.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message as its validator wrote it, without pydantic's "Value error, " prefix."""
    message = str(error.get("msg", ""))
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message
