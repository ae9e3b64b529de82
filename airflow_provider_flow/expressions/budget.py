"""How much one evaluation may build: the run-time bound behind every expression.

The compile-time check (:mod:`.growth`) sees only an expression's text. Data can still make a harmless-looking
expression enormous: ``join(t, split(t, ''))`` inserts the whole field between each of its characters (a 100 KB
field becomes 10 GB), and nested ``replace(a, '', a)`` squares its input at every level (10 bytes -> 200 MB in
four levels). So every function that builds a string or a list first works out the size of what it would build
and charges it to the evaluation's budget (:data:`MAX_RESULT_SIZE` characters of JSON by default, for all its
function results together); past the budget it raises :class:`ResultTooLarge` *before* allocating anything.
Results that only reference their input (multi-selects such as ``[t, t, t]``) cost nothing to build but grow
when written, so expressions able to do that have their result measured with :func:`json_size` as well.

The budget lives in a thread-local: ``ai.transform`` renders prompts on several threads at once, and functions are
called by jmespath without a context argument to carry it.
"""

from __future__ import annotations

import threading
from typing import Any

#: Largest result one evaluation may build, in characters of its JSON form (strings count their length).
MAX_RESULT_SIZE = 64 * 2**20

#: What :func:`json_size` counts for a number, true, false or null (their JSON is a few characters).
_SCALAR_SIZE = 8

_STATE = threading.local()


class ResultTooLarge(Exception):
    """An evaluation would build more than its budget; :class:`~.compiled.Expression` turns it into a
    FlowValidationError naming the field, the expression and the limit."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} of at least {size:,} characters")
        self.what = what
        self.size = size
        self.limit = limit


def start(limit: int) -> None:
    """Begin one evaluation with ``limit`` characters to spend (called per search: a plain attribute write)."""
    _STATE.limit = _STATE.remaining = limit


def charge(size: int, what: str) -> None:
    """Spend ``size`` characters on ``what`` (e.g. ``"replace()"``), or raise if the evaluation cannot afford it."""
    left = remaining()  # outside Expression.search (never started), each call gets the default budget
    limit: int = getattr(_STATE, "limit", MAX_RESULT_SIZE)
    if size > left:
        raise ResultTooLarge(what, limit - left + size, limit)
    _STATE.remaining = left - size


def remaining() -> int:
    """Characters the current evaluation may still spend."""
    left: int | None = getattr(_STATE, "remaining", None)
    return getattr(_STATE, "limit", MAX_RESULT_SIZE) if left is None else left


def json_size(value: Any, limit: int, what: str = "a result") -> int:
    """About how many characters ``value`` takes as JSON, counting a value each time it is referenced.

    Walks with an explicit stack (no recursion, so a deeply nested value cannot raise RecursionError here) and
    stops with :class:`ResultTooLarge` as soon as the count passes ``limit``, so measuring costs at most
    ``limit`` steps whatever the value's real size.
    """
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, dict):
            size += 2 + len(item)
            for key, child in item.items():
                size += len(key) + 3 if isinstance(key, str) else _SCALAR_SIZE
                stack.append(child)
        elif isinstance(item, (list, tuple)):
            size += 2 + len(item)
            stack.extend(item)
        else:
            size += _SCALAR_SIZE
        if size > limit:
            raise ResultTooLarge(what, size, limit)
    return size
