"""The flow-file JSON Schema (``python -m airflow_provider_flow schema``) describes a node's ``config`` by its runtime.

Checked with the jsonschema library, as an editor's language server would: every shipped example passes, and the
schema catches what the runtimes' models would refuse (an unknown disposition, a misspelt key), while a Jinja
template stands wherever a value goes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from airflow_provider_flow.core.registry import registry
from airflow_provider_flow.flows.schema import flow_json_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "dags_examples" / "flows").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = flow_json_schema(registry)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def flow(node_config: dict[str, Any], runtime: str = "file.sink") -> dict[str, Any]:
    return {
        "dag_id": "schema_check",
        "start_date": "2024-01-01",
        "nodes": [{"id": "write", "runtime": runtime, "config": node_config}],
    }


def problems(validator: jsonschema.protocols.Validator, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_flow_file_passes_the_schema(validator: Any, path: Path) -> None:
    # as an editor sees the file: YAML dates are text to a language server
    document = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
    assert problems(validator, document) == []


def test_the_schema_offers_each_runtime_s_keys_and_values(validator: Any) -> None:
    schema = json.dumps(flow_json_schema(registry))
    for key in ("disposition", "primary_key", "cursor_field", "records_path", "batch_size", "incremental"):
        assert f'"{key}"' in schema
    merge = flow({"path": "snap.ndjson", "fs_conn_id": "fs", "disposition": "merge", "primary_key": "id"})
    assert problems(validator, merge) == []


def test_the_schema_refuses_an_unknown_disposition_and_a_misspelt_key(validator: Any) -> None:
    upsert = problems(validator, flow({"path": "snap.ndjson", "disposition": "upsert"}))
    assert upsert and any("upsert" in message for message in upsert)
    misspelt = problems(validator, flow({"path": "a.ndjson", "primary_kye": "id"}))
    assert misspelt and any("primary_kye" in message for message in misspelt)


def test_a_template_stands_where_a_typed_value_goes(validator: Any) -> None:
    templated = flow({"endpoint": "/api/orders", "max_pages": "{{ params.pages }}"}, runtime="http.source")
    assert problems(validator, templated) == []
    assert problems(validator, flow({"endpoint": "/api/orders", "max_pages": "many"}, runtime="http.source"))


def test_the_command_prints_the_schema_with_every_built_in_runtime() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "airflow_provider_flow", "schema"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    rules = json.loads(printed)["$defs"]["FlowNode"]["allOf"]
    covered = {rule["if"]["properties"]["runtime"]["const"] for rule in rules}
    assert {"http.source", "http.sink", "file.source", "file.sink", "transform", "ai.transform"} <= covered
