"""Typed values from a connection's extra JSON: a bad one is a configuration error naming the connection, the key,
the value and an example of a good one.

Only option keys (timeouts, retries, TLS, redirects, OAuth2 options but the secret) go through here, and their
values are no secrets, so they are shown as given: "timeout is 'abc'" is what a user needs to find the typo.
Header values never are (see ``check_header_value`` in ``http/settings.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_flow.errors import FlowValidationError

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def bad_extra(where: str, key: str, value: Any, expected: str, example: str) -> FlowValidationError:
    """The error for extra ``key`` holding ``value``: what it must be and an example to copy."""
    return FlowValidationError(
        f'{where}: extra {key!r} is {value!r}; it must be {expected}, e.g. {{"{key}": {example}}}',
        field=f"extra.{key}",
        value=value,
    )


def extra_bool(value: Any, key: str, where: str) -> bool:
    """``true``/``false`` (also "yes"/"no", "1"/"0", "on"/"off", any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise bad_extra(where, key, value, "true or false", "false")


def _number(value: Any) -> float:
    """``value`` as a float, NaN when it is none (``true`` is no number, even though Python says 1)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def extra_seconds(value: Any, key: str, where: str) -> float:
    """A positive, finite number of seconds (a number or a numeric string)."""
    number = _number(value)
    if not (math.isfinite(number) and number > 0):
        raise bad_extra(where, key, value, "a positive number of seconds", "30")
    return number


def without_unset(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` without the keys whose value is null or ``""``: Airflow 3.3's declarative form saves every field
    left empty that way, and an empty field means "not set" (not a header ``None``, not a timeout of ``""``)."""
    return {key: value for key, value in extra.items() if value is not None and value != ""}


def extra_text(value: Any, key: str, where: str) -> str:
    """A non-empty string (numbers are accepted as their text: a numeric client id is still an id)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise bad_extra(where, key, value, "a non-empty string", '"..."')
    return str(value).strip()


def extra_choice(value: Any, key: str, where: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (any case)."""
    text = str(value).strip().lower()
    if text not in choices:
        listed = " | ".join(repr(c) for c in choices)
        raise bad_extra(where, key, value, f"one of {listed}", f'"{choices[0]}"')
    return text


def extra_words(value: Any, key: str, where: str) -> tuple[str, ...]:
    """Space-separated words, or a JSON list of strings (OAuth2 scopes): ``"read write"`` or ``["read", "write"]``."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(word for item in value for word in item.split())
    raise bad_extra(where, key, value, "a space-separated string or a list of strings", '"read write"')


def extra_attempts(value: Any, key: str, where: str) -> int:
    """A whole number of attempts >= 1."""
    number = _number(value)
    if not (math.isfinite(number) and number >= 1 and number == int(number)):
        raise bad_extra(where, key, value, "a whole number >= 1 (1 = no in-task retry)", "3")
    return int(number)
