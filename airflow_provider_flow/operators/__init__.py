"""Airflow operators: one base adapter, one small typed subclass per runtime.

Every operator is importable from here (``from airflow_provider_flow.operators import FlowNodeOperator``). The
names resolve lazily, so a DAG file importing one operator does not pay for the modules of the others: the
scheduler parses DAG files often, and the operators' import cost is kept near that of ``airflow.sdk`` alone.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_flow.operators.ai import AiTransformOperator
    from airflow_provider_flow.operators.base import FlowNodeOperator
    from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator
    from airflow_provider_flow.operators.http import HttpSinkOperator, HttpSourceOperator
    from airflow_provider_flow.operators.transform import TransformOperator

#: Public name -> the module that defines it.
_HOMES = {
    "FlowNodeOperator": "base",
    "HttpSourceOperator": "http",
    "HttpSinkOperator": "http",
    "FileSourceOperator": "file",
    "FileSinkOperator": "file",
    "TransformOperator": "transform",
    "AiTransformOperator": "ai",
}

__all__ = [
    "AiTransformOperator",
    "FileSinkOperator",
    "FileSourceOperator",
    "FlowNodeOperator",
    "HttpSinkOperator",
    "HttpSourceOperator",
    "TransformOperator",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}; operators: {', '.join(__all__)}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
