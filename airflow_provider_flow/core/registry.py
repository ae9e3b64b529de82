"""Runtime lookup by name, filled from entry points so every worker builds the same registry.

Nothing is registered by import side effects: a worker that imports different modules than the DAG processor
would otherwise see a different registry. Built-in runtimes are declared in this package's own entry points,
exactly like third-party ones.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from airflow_provider_flow.core.runtime import NodeRuntime
from airflow_provider_flow.errors import FlowValidationError

ENTRY_POINT_GROUP = "airflow_provider_flow.runtimes"

log = logging.getLogger(__name__)


class RuntimeRegistry:
    """Name -> runtime. With ``entry_point_group`` set, loads that group once, on first use."""

    def __init__(self, *, entry_point_group: str | None = None) -> None:
        self._runtimes: dict[str, NodeRuntime[Any, Any, Any]] = {}
        self._broken: dict[str, str] = {}
        self._group = entry_point_group
        self._loaded = entry_point_group is None
        self._lock = threading.RLock()
        #: Entry-point names already loaded one by one (see ``_ensure_named``), skipped by the full load.
        self._named: set[str] = set()

    def register(self, runtime: NodeRuntime[Any, Any, Any], *, replace: bool = False) -> None:
        """Add a runtime. A second runtime under the same name is an error unless ``replace`` is set."""
        name = getattr(runtime, "name", None)
        if not isinstance(name, str) or not name:
            raise FlowValidationError(
                f"{runtime!r} has no 'name'; a runtime declares name, config_model and execute()",
                field="runtime",
                value=repr(runtime),
            )
        if not isinstance(runtime, NodeRuntime):
            raise FlowValidationError(
                f"{type(runtime).__name__} is not a NodeRuntime: it needs name, config_model and "
                "execute(config, input, state)",
                field="runtime",
                value=name,
            )
        with self._lock:
            existing = self._runtimes.get(name)
            if existing is not None and not replace and existing is not runtime:
                raise FlowValidationError(
                    f"a runtime named {name!r} is already registered ({type(existing).__module__}."
                    f"{type(existing).__qualname__}); pick another name or pass replace=True",
                    field="runtime",
                    value=name,
                )
            self._runtimes[name] = runtime
            self._broken.pop(name, None)

    def get(self, name: str) -> NodeRuntime[Any, Any, Any]:
        """The runtime called ``name``; an unknown name raises an error listing the known ones."""
        runtime = self._runtimes.get(name) if self._ensure_named(name) else None
        if runtime is not None:
            return runtime
        self._ensure_loaded()
        runtime = self._runtimes.get(name)
        if runtime is not None:
            return runtime
        if name in self._broken:
            raise FlowValidationError(
                f"runtime {name!r} is declared but failed to load: {self._broken[name]}",
                field="runtime",
                value=name,
            )
        known = ", ".join(self.list()) or "none"
        raise FlowValidationError(
            f"unknown runtime {name!r}; known runtimes: {known}. Third-party runtimes register through "
            f"the entry-point group {ENTRY_POINT_GROUP!r}",
            field="runtime",
            value=name,
        )

    def has(self, name: str) -> bool:
        self._ensure_loaded()
        return name in self._runtimes

    def list(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._runtimes)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            assert self._group is not None
            self._load_entry_points(entry_points(group=self._group))
            self._loaded = True

    def _ensure_named(self, name: str) -> bool:
        """Load only the entry points called ``name``; False when there are none (or no group).

        Each DAG file parse looks up the runtimes of its own tasks: loading every runtime's module there (the LLM
        client for a DAG of HTTP tasks) would make every parse pay for all of them.
        """
        if self._loaded or name in self._named:
            return True
        with self._lock:
            if self._loaded or name in self._named:
                return True
            assert self._group is not None
            named = [ep for ep in entry_points(group=self._group) if ep.name == name]
            if not named:
                return False
            self._load_entry_points(named)
            self._named.add(name)
            return True

    def _load_entry_points(self, eps: Any) -> None:
        for ep in sorted(eps, key=lambda e: (e.name, e.value)):
            if ep.name in self._named:  # loaded on its own before the full load
                continue
            try:
                runtime = self._instantiate(ep)
            except Exception as exc:  # a broken plugin must not hide the healthy ones
                reason = f"{type(exc).__name__}: {exc} (entry point {ep.name} = {ep.value})"
                log.warning("Runtime entry point %s failed to load: %s", ep.name, reason)
                self._broken[ep.name] = reason
                continue
            if runtime.name != ep.name:
                self._broken[ep.name] = (
                    f"entry point {ep.name!r} loads a runtime named {runtime.name!r}; the names must match"
                )
                continue
            self.register(runtime)

    @staticmethod
    def _instantiate(ep: EntryPoint) -> NodeRuntime[Any, Any, Any]:
        obj = ep.load()
        runtime = obj() if isinstance(obj, type) else obj
        if not isinstance(runtime, NodeRuntime):
            raise TypeError(f"{ep.value} is not a NodeRuntime (needs name, config_model, execute)")
        return runtime


#: The process-wide registry, built from the ``airflow_provider_flow.runtimes`` entry points on first use.
registry = RuntimeRegistry(entry_point_group=ENTRY_POINT_GROUP)
