"""Typed values from a connection's extra JSON: a bad one is a configuration error naming the connection, the key,
the value and an example of a good one.

Only option keys (timeouts, retries, TLS, redirects) go through here, and their values are no secrets, so they are
shown as given: "timeout is 'abc'" is what a user needs to find the typo. Header values never are (see
``check_header_value`` in ``http/settings.py``).
"""

from __future__ import annotations

import math
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


def extra_attempts(value: Any, key: str, where: str) -> int:
    """A whole number of attempts >= 1."""
    number = _number(value)
    if not (math.isfinite(number) and number >= 1 and number == int(number)):
        raise bad_extra(where, key, value, "a whole number >= 1 (1 = no in-task retry)", "3")
    return int(number)
