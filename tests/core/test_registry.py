from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_flow.core.registry import ENTRY_POINT_GROUP, RuntimeRegistry
from airflow_provider_flow.errors import FlowValidationError
from tests.flow_test_runtimes import EchoRuntime, FailRuntime
from tests.plugin_distribution import installed_distribution


def test_register_get_has_list() -> None:
    reg = RuntimeRegistry()
    echo = EchoRuntime()
    reg.register(echo)
    reg.register(FailRuntime())
    assert reg.get("test.echo") is echo
    assert reg.has("test.echo") and not reg.has("nope")
    assert reg.list() == ["test.echo", "test.fail"]


def test_duplicate_name_is_an_error() -> None:
    reg = RuntimeRegistry()
    reg.register(EchoRuntime())
    with pytest.raises(FlowValidationError, match="already registered"):
        reg.register(EchoRuntime())
    replacement = EchoRuntime()
    reg.register(replacement, replace=True)
    assert reg.get("test.echo") is replacement


def test_unknown_name_lists_known_ones() -> None:
    reg = RuntimeRegistry()
    reg.register(EchoRuntime())
    with pytest.raises(FlowValidationError) as info:
        reg.get("http.sourc")
    assert "unknown runtime 'http.sourc'" in str(info.value)
    assert "test.echo" in str(info.value)
    assert info.value.field == "runtime" and info.value.value == "http.sourc"


def test_rejects_objects_that_are_not_runtimes() -> None:
    class NoExecute:
        name = "x"
        config_model = dict

    with pytest.raises(FlowValidationError, match="not a NodeRuntime"):
        RuntimeRegistry().register(NoExecute())  # type: ignore[arg-type]


PLUGIN = """
from airflow_provider_flow.core.config import ConfigModel

class ShoutConfig(ConfigModel):
    text: str

class ShoutRuntime:
    name = "demo.shout"
    config_model = ShoutConfig

    def execute(self, config, input, state):
        return config.text.upper()

class Misnamed(ShoutRuntime):
    name = "demo.other"

def broken():
    raise RuntimeError("plugin import failed")
"""


@pytest.fixture
def plugin_distribution(tmp_path: Path) -> Iterator[Path]:
    """A distribution declaring runtimes through the entry-point group: one good, one misnamed, one missing."""
    entry_points = {
        "demo.shout": "flow_plugin_demo:ShoutRuntime",
        "demo.misnamed": "flow_plugin_demo:Misnamed",
        "demo.missing": "flow_plugin_demo_absent:Runtime",
    }
    with installed_distribution(
        tmp_path,
        "flow-plugin-demo",
        modules={"flow_plugin_demo/__init__.py": PLUGIN},
        entry_points={ENTRY_POINT_GROUP: entry_points},
    ) as root:
        yield root


def test_entry_point_loading_from_a_distribution(plugin_distribution: Path) -> None:
    reg = RuntimeRegistry(entry_point_group=ENTRY_POINT_GROUP)
    shout = reg.get("demo.shout")
    assert shout.execute(shout.config_model(text="hi"), None, None) == "HI"  # type: ignore[arg-type]
    assert "demo.shout" in reg.list()
    with pytest.raises(FlowValidationError, match="names must match"):
        reg.get("demo.misnamed")
    with pytest.raises(FlowValidationError, match="failed to load: ModuleNotFoundError"):
        reg.get("demo.missing")


BUILTINS = ["ai.transform", "file.sink", "file.source", "http.sink", "http.source", "transform"]


def test_module_registry_holds_the_builtins_from_entry_points() -> None:
    reg = RuntimeRegistry(entry_point_group=ENTRY_POINT_GROUP)
    assert set(BUILTINS) <= set(reg.list())
