"""Small runtimes the foundation tests register: they exercise the operator without any network or files."""

from __future__ import annotations

from typing import Any, Literal

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import (
    FlowError,
    FlowTimeoutError,
    FlowValidationError,
    HttpError,
    PathTraversalError,
)


class EchoConfig(ConfigModel):
    value: Any = None
    label: str = "echo"


class EchoRuntime:
    """Returns its config value, its input and what it saw of the task, so tests can check the plumbing."""

    name = "test.echo"
    config_model = EchoConfig

    def execute(self, config: EchoConfig, input: Any, state: ExecutionState) -> dict[str, Any]:
        state.log.info("echo runtime ran on try %s", state.try_number)
        return {
            "label": config.label,
            "value": config.value,
            "input": input,
            "try_number": state.try_number,
            "params": dict(state.params),
            "task": f"{state.dag_id}.{state.task_id}",
        }


class FailConfig(ConfigModel):
    kind: Literal["http", "validation", "timeout", "traversal", "plain"]
    status: int = 503
    retry_after: float | None = None
    succeed_on_try: int | None = None


class FailRuntime:
    """Raises the configured error until ``succeed_on_try`` is reached."""

    name = "test.fail"
    config_model = FailConfig

    def execute(self, config: FailConfig, input: Any, state: ExecutionState) -> dict[str, Any]:
        if config.succeed_on_try is not None and state.try_number >= config.succeed_on_try:
            return {"succeeded_on_try": state.try_number}
        error: Exception
        if config.kind == "http":
            error = HttpError(
                status_code=config.status,
                method="GET",
                url="https://user:pw@api.test/items?token=t0k3n",
                body_excerpt="server says no",
                retry_after=config.retry_after,
            )
        elif config.kind == "validation":
            error = FlowValidationError("bad record", field="records[3].id", value=None)
        elif config.kind == "timeout":
            error = FlowTimeoutError("deadline passed", phase="deadline")
        elif config.kind == "traversal":
            error = PathTraversalError(requested_path="../../etc/passwd", base="/srv/base")
        else:
            error = RuntimeError("a bug, not a flow error")
        raise error


def register_test_runtimes() -> None:
    from airflow_provider_flow.core.registry import registry

    registry.register(EchoRuntime(), replace=True)
    registry.register(FailRuntime(), replace=True)


__all__ = ["EchoRuntime", "FailRuntime", "FlowError", "register_test_runtimes"]
