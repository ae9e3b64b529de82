from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_flow.get_provider_info import get_provider_info


def test_provider_info_passes_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    assert get_provider_info()["package-name"] == "airflow-provider-flow"


def test_hook_and_operator_modules_import() -> None:
    import importlib

    info = get_provider_info()
    for group in info["operators"] + info["hooks"]:
        for module in group["python-modules"]:
            importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        assert getattr(importlib.import_module(module), cls)


def test_airflow_providers_list_shows_the_package(airflow_db) -> None:
    airflow_cli = Path(sys.executable).parent / "airflow"
    out = subprocess.run(
        [str(airflow_cli), "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    ).stdout
    names = [p["package_name"] for p in json.loads(out[out.index("[") :])]
    assert "airflow-provider-flow" in names
