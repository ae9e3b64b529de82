"""Misspelled operator keywords, caught before Airflow's ``BaseOperator`` sees them.

Airflow answers an unknown keyword with "Invalid arguments were passed to HttpSourceOperator ... **kwargs:
{'records_pth': 'items'}": no hint which name was meant, while the same typo inside ``FlowNodeOperator(config=...)``
gets "did you mean 'records_path'". :func:`check_operator_arguments` gives typed operators the same help: a
keyword that no ``__init__`` in the operator's class hierarchy accepts is a :class:`FlowValidationError` naming the
key, the operator, the closest accepted name and the operator's own fields. It runs in the operator's constructor,
so it fails the DAG import (parse time) and every place a DAG file is loaded, ``dag.test()`` included.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_flow.errors import FlowValidationError

#: Keywords Airflow's machinery adds on its own (mapped tasks); never a user's typo.
_AIRFLOW_INTERNAL = frozenset({"_airflow_mapped_validation_only", "_airflow_from_mapped"})

#: BaseOperator arguments a DAG author uses most, shown in the message instead of all ~50 of them.
_COMMON_BASE_ARGUMENTS = ("task_id", "retries", "retry_delay", "execution_timeout", "pool", "trigger_rule")


def _keyword_names(cls: type) -> list[str]:
    """The keyword parameters of ``cls``'s own ``__init__`` (Airflow's wrapper is seen through)."""
    init = vars(cls).get("__init__")
    if init is None:
        return []
    try:
        parameters = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):  # a builtin __init__ without a signature accepts no keywords of ours
        return []
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in kinds and p.name != "self"]


@cache
def operator_fields(operator: type, generic: type) -> tuple[str, ...]:
    """The keywords a DAG author passes to ``operator`` for its node: for a typed operator those of the classes
    below ``generic`` (its config fields), for ``generic`` itself its own (``runtime``, ``config``, ``data``)."""
    below = operator.__mro__[: operator.__mro__.index(generic)] if generic in operator.__mro__ else ()
    names: dict[str, None] = {}
    for cls in below or (generic,):
        names.update(dict.fromkeys(_keyword_names(cls)))
    return tuple(sorted(names))


@cache
def base_operator_arguments() -> tuple[str, ...]:
    """Every keyword ``BaseOperator`` (and the classes it builds on) accepts: ``retries``, ``pool``, ``dag``..."""
    names: dict[str, None] = {}
    for cls in BaseOperator.__mro__:
        names.update(dict.fromkeys(_keyword_names(cls)))
    return tuple(sorted(names))


def check_operator_arguments(operator: type, generic: type, kwargs: Mapping[str, Any]) -> None:
    """Raise a :class:`FlowValidationError` for the first keyword no class of ``operator`` accepts.

    ``kwargs`` are what is left for ``BaseOperator`` once ``generic`` (the operator class that takes the node's
    ``runtime``, ``config`` and ``data``) has taken its own keywords.

    The error names the key (never its value: it may be a secret), the task, the closest accepted keyword
    and the operator's own fields. Keywords Airflow accepts are left to Airflow.
    """
    own, base = operator_fields(operator, generic), base_operator_arguments()
    known = {*own, *base, *_AIRFLOW_INTERNAL}
    unknown = [key for key in kwargs if key not in known]
    if not unknown:
        return
    key = unknown[0]
    name = operator.__name__
    close = difflib.get_close_matches(key, [*own, *base], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    task = f"task {kwargs['task_id']!r}: " if isinstance(kwargs.get("task_id"), str) else ""
    others = f" (also unknown: {', '.join(repr(k) for k in unknown[1:])})" if len(unknown) > 1 else ""
    err = FlowValidationError(
        f"{task}{name} got an unknown argument {key!r}{others}; {hint}{name} takes: {', '.join(own)}; "
        f"and BaseOperator's arguments ({', '.join(_COMMON_BASE_ARGUMENTS)}, ...)",
        details={"operator": name, "unknown": unknown, "suggestion": close[0] if close else None},
    )
    err.field = key  # set after construction: a "key: " prefix would repeat the key the message starts with
    raise err
