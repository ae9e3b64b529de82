"""The contract every runtime fulfils, built-in or third-party: what the registry holds and the operator runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from airflow_provider_flow.core.state import ExecutionState

ConfigT = TypeVar("ConfigT", bound=BaseModel)
InputT = TypeVar("InputT", contravariant=True)
OutputT = TypeVar("OutputT", covariant=True)


@runtime_checkable
class NodeRuntime(Protocol[ConfigT, InputT, OutputT]):
    """A unit of work: validated config in, output out, failures as :class:`~airflow_provider_flow.errors.FlowError`.

    ``name`` is the registry key (``"http.source"``); ``config_model`` validates the rendered config;
    ``execute`` must be safe to run again after a failure (Airflow retries run it from the start) and must
    return something XCom can carry: JSON-shaped data, a pydantic model, or a file reference for large data.
    """

    name: str
    config_model: type[ConfigT]

    def execute(self, config: ConfigT, input: InputT, state: ExecutionState) -> OutputT: ...


@dataclass(frozen=True)
class RuntimeResult:
    """An output plus side values that are not part of it.

    ``value`` is what downstream nodes read (the task's ``return_value`` XCom); ``extra_xcom`` entries (token
    usage, delivery stats) are pushed under their own keys, so metrics never change the shape of the data flow.
    """

    value: Any
    extra_xcom: Mapping[str, Any] = field(default_factory=dict)
