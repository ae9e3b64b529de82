"""Connection settings for runtimes, looked up by kind and connection id, open to kinds the core never heard of.

A runtime asks ``state.settings.get(HTTP, "orders_api")``; ``HTTP`` is a :class:`SettingsKind` declared next to
the code that uses the settings (``http/settings.py``), not here, so the core names no leaf runtime and a
third-party runtime declares its own kind (``SettingsKind("acme.geocode", GeocodeSettings)``) without changing
the core. Inside Airflow, :class:`~airflow_provider_flow.hooks.settings.AirflowSettingsProvider` resolves a kind
through the resolver its distribution declares in the entry-point group :data:`SETTINGS_ENTRY_POINT_GROUP`, so
every worker resolves connections the same way; outside Airflow, :class:`StaticSettingsProvider` holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_flow.errors import FlowValidationError

#: Entry-point group mapping a kind's ``name`` to a ``resolver(conn_id) -> settings`` used inside Airflow.
SETTINGS_ENTRY_POINT_GROUP = "airflow_provider_flow.settings"

T = TypeVar("T")


@dataclass(frozen=True)
class SettingsKind(Generic[T]):
    """A kind of connection settings: the name resolvers are registered under and the type they return.

    The type is checked on every lookup, so a resolver returning the wrong thing fails where it is configured
    rather than deep inside a runtime.
    """

    name: str
    type: type[T]

    def check(self, value: Any, conn_id: str) -> T:
        if not isinstance(value, self.type):
            raise FlowValidationError(
                f"the {self.name} settings resolved for connection {conn_id!r} are a {type(value).__name__}, "
                f"not {self.type.__name__}; fix the resolver registered for {self.name!r}",
                field="conn_id",
                value=conn_id,
            )
        return value


class SettingsProvider(Protocol):
    """Resolves ``(kind, connection id)`` into settings; the one way runtimes reach connections."""

    def get(self, kind: SettingsKind[T], conn_id: str) -> T: ...


class StaticSettingsProvider:
    """Settings given up front, by kind name: ``StaticSettingsProvider(http={"api": HttpSettings(...)})``.

    For tests, scripts and runs outside Airflow.
    """

    def __init__(self, **by_kind: Mapping[str, Any]) -> None:
        self.by_kind = {kind: dict(table) for kind, table in by_kind.items()}

    def get(self, kind: SettingsKind[T], conn_id: str) -> T:
        table = self.by_kind.get(kind.name, {})
        if conn_id not in table:
            known = ", ".join(sorted(table)) or "none"
            raise FlowValidationError(
                f"no {kind.name} connection {conn_id!r} is configured (known: {known})",
                field="conn_id",
                value=conn_id,
            )
        return kind.check(table[conn_id], conn_id)
