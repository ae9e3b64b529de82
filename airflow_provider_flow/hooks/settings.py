"""Connection settings for runtimes inside Airflow, resolved on the worker that runs the task.

Runtimes ask ``state.settings.get(KIND, conn_id)``; this provider finds the resolver for ``KIND.name`` in the
entry-point group ``airflow_provider_flow.settings`` (this package declares ``http``, ``fs`` and ``llm``; a
third-party distribution declares its own kinds the same way), calls it with the connection id and checks the
result's type. Entry points make every worker resolve the same way, with no import side effects; a resolver is
loaded only when a runtime first needs its kind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from airflow_provider_flow.core.settings import SETTINGS_ENTRY_POINT_GROUP, SettingsKind
from airflow_provider_flow.errors import FlowValidationError

T = TypeVar("T")

_resolvers: dict[str, Callable[[str], Any]] = {}
_lock = threading.Lock()


def _resolver(kind: str) -> Callable[[str], Any]:
    with _lock:
        if kind not in _resolvers:
            found = [ep for ep in entry_points(group=SETTINGS_ENTRY_POINT_GROUP) if ep.name == kind]
            if len({ep.value for ep in found}) > 1:
                raise FlowValidationError(
                    f"settings kind {kind!r} is declared by several entry points "
                    f"({', '.join(ep.value for ep in found)}); uninstall one",
                    field="conn_id",
                    value=kind,
                )
            if not found:
                known = sorted({ep.name for ep in entry_points(group=SETTINGS_ENTRY_POINT_GROUP)})
                raise FlowValidationError(
                    f"no resolver for connection settings of kind {kind!r} (known: {', '.join(known) or 'none'}); "
                    f"declare one in the entry-point group {SETTINGS_ENTRY_POINT_GROUP!r}",
                    field="conn_id",
                    value=kind,
                )
            _resolvers[kind] = found[0].load()
        return _resolvers[kind]


class AirflowSettingsProvider:
    """The :class:`~airflow_provider_flow.core.settings.SettingsProvider` used inside Airflow tasks."""

    def get(self, kind: SettingsKind[T], conn_id: str) -> T:
        return kind.check(_resolver(kind.name)(conn_id), conn_id)
