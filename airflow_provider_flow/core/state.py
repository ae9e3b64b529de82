"""What a runtime may read while it runs: the task's identity, params, a logger, a deadline, connection settings.

Runtimes never import Airflow. The operator builds an :class:`ExecutionState` from the task context and hands
it in; tests and non-Airflow callers build one directly (with a
:class:`~airflow_provider_flow.core.settings.StaticSettingsProvider`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from airflow_provider_flow.core.settings import SettingsProvider, StaticSettingsProvider
from airflow_provider_flow.errors import FlowTimeoutError


class KeyValueStore(Protocol):
    """A small JSON-value store scoped to one task instance that outlives a failed try (Airflow's task state store).

    Runtimes keep resumption points here (the last page an http.source finished, the batches an http.sink saw
    accepted) so an Airflow retry continues instead of starting over. Values are JSON-shaped and never None;
    keys are short strings chosen by the runtime. Outside Airflow the default is :class:`MemoryStore`, which lives
    as long as the ExecutionState that holds it.
    """

    def get(self, key: str, default: Any = None) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> None: ...


class MemoryStore:
    """A :class:`KeyValueStore` in a dict: for tests and non-Airflow callers, where there is no retry to survive."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            raise ValueError("a stored value must not be None; delete the key instead")
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)


class LoggerLike(Protocol):
    """The subset of :class:`logging.Logger` runtimes use; Airflow's task logger satisfies it."""

    def debug(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...
    def exception(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


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
    task_store: KeyValueStore = field(default_factory=MemoryStore)
    """Resumption state of this task instance that survives Airflow retries (see :class:`KeyValueStore`)."""

    # --- incremental loading (issue 14) ---
    committed_watermark: Any = None
    """The watermark the last successful run of this pipeline committed (None before the first): read by the
    operator from Airflow's asset state store before the runtime runs; incremental runtimes fetch from here."""

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
