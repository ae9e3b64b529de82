"""What a runtime may read while it runs: the task's identity, params, a logger, a deadline, settings.

Runtimes never import Airflow. The operator builds an :class:`ExecutionState` from the task context and hands
it in; tests and non-Airflow callers build one directly with :class:`StaticSettingsProvider`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_flow.errors import FlowTimeoutError, FlowValidationError

if TYPE_CHECKING:
    from airflow_provider_flow.runtimes.ai_transform import LlmSettings
    from airflow_provider_flow.runtimes.httpio import HttpSettings


class LoggerLike(Protocol):
    """The subset of :class:`logging.Logger` runtimes use; Airflow's task logger satisfies it."""

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def exception(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class SettingsProvider(Protocol):
    """Resolves connection ids into runtime settings.

    In Airflow this reads connections through the hooks (and registers their secrets with the log masker);
    elsewhere it is a static mapping. Keeping it behind a protocol is what lets runtimes stay Airflow-free.
    """

    def http_settings(self, conn_id: str) -> HttpSettings: ...
    def base_path(self, conn_id: str) -> str: ...
    def llm_settings(self, conn_id: str) -> LlmSettings: ...


@dataclass
class StaticSettingsProvider:
    """Settings given up front: for tests, scripts and runs outside Airflow."""

    http: Mapping[str, HttpSettings] = field(default_factory=dict)
    base_paths: Mapping[str, str] = field(default_factory=dict)
    llm: Mapping[str, LlmSettings] = field(default_factory=dict)

    def _lookup(self, kind: str, table: Mapping[str, Any], conn_id: str) -> Any:
        if conn_id not in table:
            known = ", ".join(sorted(table)) or "none"
            raise FlowValidationError(
                f"no {kind} connection {conn_id!r} is configured (known: {known})",
                field="conn_id",
                value=conn_id,
            )
        return table[conn_id]

    def http_settings(self, conn_id: str) -> HttpSettings:
        result: HttpSettings = self._lookup("http", self.http, conn_id)
        return result

    def base_path(self, conn_id: str) -> str:
        result: str = self._lookup("fs", self.base_paths, conn_id)
        return result

    def llm_settings(self, conn_id: str) -> LlmSettings:
        result: LlmSettings = self._lookup("llm", self.llm, conn_id)
        return result


@dataclass
class ExecutionState:
    """The read-only world of one task attempt, as a runtime sees it."""

    dag_id: str = "adhoc"
    task_id: str = "adhoc"
    run_id: str = "adhoc"
    map_index: int = -1
    """Which mapped instance this is (``-1`` when the task is not mapped), so mapped tasks keep distinct keys."""
    try_number: int = 1
    max_tries: int = 0
    logical_date: datetime | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    log: LoggerLike = field(default_factory=lambda: logging.getLogger("airflow_provider_flow"))
    deadline: float | None = None
    """``time.monotonic()`` value after which the attempt must stop (from the task's ``execution_timeout``)."""
    settings: SettingsProvider = field(default_factory=StaticSettingsProvider)

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None when the attempt has none."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()

    def check_deadline(self, phase: str) -> None:
        """Raise :class:`FlowTimeoutError` if the attempt's deadline has passed."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise FlowTimeoutError(
                f"task deadline passed during {phase}; raise execution_timeout or reduce the work per task",
                phase=phase,
            )
