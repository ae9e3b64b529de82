"""A third-party runtime reads its own connection kind through the settings provider, without changing the core.

The plugin is a real distribution on ``sys.path`` (a ``dist-info`` with entry points, as pip would install it):
it declares a runtime in ``airflow_provider_flow.runtimes`` and a settings kind in
``airflow_provider_flow.settings`` whose resolver reads an Airflow connection. Nothing here is mocked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_flow.core.registry import RuntimeRegistry
from airflow_provider_flow.core.settings import SETTINGS_ENTRY_POINT_GROUP, SettingsKind, StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.settings import AirflowSettingsProvider
from airflow_provider_flow.http.settings import HTTP, HttpSettings
from tests.plugin_distribution import installed_distribution

PLUGIN = """
from dataclasses import dataclass

from pydantic import BaseModel

from airflow_provider_flow.core import NodeRuntime, SettingsKind


@dataclass(frozen=True)
class GeocodeSettings:
    region: str
    api_key: str


GEOCODE = SettingsKind("acme.geocode", GeocodeSettings)


def resolve(conn_id):
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return GeocodeSettings(region=conn.extra_dejson["region"], api_key=conn.password)


def resolve_wrongly(conn_id):
    return {"region": "eu"}


class GeocodeConfig(BaseModel):
    conn_id: str = "acme_default"


class GeocodeRuntime(NodeRuntime):
    name = "acme.geocode"
    config_model = GeocodeConfig

    def execute(self, config, input, state):
        settings = state.settings.get(GEOCODE, config.conn_id)
        return {"region": settings.region, "key_length": len(settings.api_key)}
"""


@pytest.fixture
def acme_distribution(tmp_path: Path) -> Iterator[Path]:
    with installed_distribution(
        tmp_path,
        "acme-geocode",
        modules={"acme_geocode.py": PLUGIN},
        entry_points={
            "airflow_provider_flow.runtimes": {"acme.geocode": "acme_geocode:GeocodeRuntime"},
            SETTINGS_ENTRY_POINT_GROUP: {
                "acme.geocode": "acme_geocode:resolve",
                "acme.wrong": "acme_geocode:resolve_wrongly",
            },
        },
    ) as root:
        yield root


def test_third_party_kind_resolves_its_own_airflow_connection(
    acme_distribution: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACME_DEFAULT",
        json.dumps({"conn_type": "generic", "password": "k-123456", "extra": {"region": "eu-west"}}),
    )
    runtime = RuntimeRegistry(entry_point_group="airflow_provider_flow.runtimes").get("acme.geocode")
    state = ExecutionState(settings=AirflowSettingsProvider())
    assert runtime.execute(runtime.config_model(), None, state) == {"region": "eu-west", "key_length": 8}


def test_a_resolver_returning_the_wrong_type_is_named(acme_distribution: Path) -> None:
    from acme_geocode import GeocodeSettings  # type: ignore[import-not-found]

    with pytest.raises(FlowValidationError, match=r"are a dict, not GeocodeSettings; fix the resolver .*acme.wrong"):
        AirflowSettingsProvider().get(SettingsKind("acme.wrong", GeocodeSettings), "any")


def test_an_undeclared_kind_lists_the_known_ones_and_the_fix() -> None:
    with pytest.raises(FlowValidationError) as info:
        AirflowSettingsProvider().get(SettingsKind("nobody.declared", dict), "c")
    message = str(info.value)
    assert "'nobody.declared'" in message and "fs, http, llm" in message
    assert SETTINGS_ENTRY_POINT_GROUP in message and not info.value.is_retryable


def test_static_provider_checks_kind_type_and_names_known_connections() -> None:
    settings = HttpSettings(base_url="http://127.0.0.1:1")
    provider = StaticSettingsProvider(http={"api": settings}, fs={"api": "/srv"})
    assert provider.get(HTTP, "api") is settings
    with pytest.raises(FlowValidationError, match=r"no http connection 'apx' is configured \(known: api\)"):
        provider.get(HTTP, "apx")
    with pytest.raises(FlowValidationError, match="are a str, not HttpSettings"):
        StaticSettingsProvider(http={"api": "/srv"}).get(HTTP, "api")
