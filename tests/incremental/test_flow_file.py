"""``incremental`` in flow files: the schema, the loader's checks, and the shipped example run twice for real."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowFileError
from airflow_provider_flow.flows.loader import validate_flow
from airflow_provider_flow.flows.spec import FlowSpec
from tests.airflow_harness import run_dag

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "flows" / "products_incremental.yaml"


def flow(**node: Any) -> dict[str, Any]:
    source = {"id": "fetch", "runtime": "http.source", "config": {"endpoint": "/p"}, **node}
    sink = {"id": "save", "runtime": "file.sink", "upstream": ["fetch"], "config": {"path": "p.ndjson"}}
    return {"dag_id": "inc", "nodes": [source, sink]}


def problems(raw: dict[str, Any]) -> str:
    with pytest.raises(FlowFileError) as info:
        validate_flow(raw, source="inc.yaml")
    return str(info.value)


def test_the_json_schema_describes_incremental() -> None:
    schema = json.dumps(FlowSpec.model_json_schema())
    assert '"incremental"' in schema and "updated_since" in schema and '"lag"' in schema


def test_the_loader_names_each_mistake() -> None:
    assert "key 'incremental.cursor' is required" in problems(flow(incremental={"param": "since"}))
    wrong_runtime = flow()
    wrong_runtime["nodes"][1]["incremental"] = {"cursor": "updated_at"}
    assert "runtime 'file.sink' cannot load incrementally; only http.source can" in problems(wrong_runtime)
    both = flow(incremental={"cursor": "a"})
    both["nodes"][0]["config"]["incremental"] = {"cursor": "a"}
    assert "given both on the node and in its config" in problems(both)
    taken = flow(incremental={"cursor": "a"})
    taken["nodes"][1]["id"] = "fetch_commit_watermark"
    taken["nodes"][1]["upstream"] = ["fetch"]
    assert "'fetch_commit_watermark' is taken by a node" in problems(taken)
    text = problems(flow(incremental={"cursor": "id", "initial_value": "abc", "lag": 5}))
    assert "lag=5.0 needs a number or ISO 8601 date-time cursor" in text
    text = problems(flow(incremental={"cursor": "n", "initial_value": 10, "end_value": 5}))
    assert "end_value 5 is not after initial_value 10" in text


def test_a_templated_initial_value_is_left_for_run_time() -> None:
    spec = validate_flow(
        flow(incremental={"cursor": "t", "initial_value": "{{ data_interval_start }}", "lag": 60}), source="x"
    )
    config = spec.node("fetch").runtime_config()
    assert config["incremental"] == {
        "cursor": "t",
        "initial_value": "{{ data_interval_start }}",
        "lag": 60,
        "full_refresh": "{{ params.full_refresh }}",
    }


def test_the_example_loads_only_changes_on_its_second_run(
    airflow_db: Any, demo_server: Any, demo_connections: Path
) -> None:
    from airflow_provider_flow.flows.dag_builder import load_flow_dag

    dag = load_flow_dag(EXAMPLE)
    assert dag.params["full_refresh"] is False
    commit = dag.get_task("fetch_products_commit_watermark")
    assert commit.upstream_task_ids == {"write_products"}

    requests = demo_server.state.product_requests
    before = len(requests)
    first = run_dag(dag)
    assert first.state == "success", first.tasks
    assert all("updated_since" not in query for query in requests[before:])
    watermark = first.xcom("fetch_products", "flow_watermark")["candidate"]
    assert first.xcom("fetch_products_commit_watermark")["watermark"] == watermark

    before = len(requests)
    second = run_dag(dag)
    assert second.state == "success", second.tasks
    # lag 30: since = the watermark minus 30 seconds, in the record's own 'Z' style
    thirty_before = datetime.fromisoformat(watermark) - timedelta(seconds=30)
    assert requests[before]["updated_since"] == thirty_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    outcome = second.xcom("fetch_products", "flow_watermark")
    assert outcome["previous"] == watermark and outcome["candidate"] > watermark
    assert outcome["records"] < len(demo_server.state.catalog.products) / 2  # the changes, not the catalog
    # the merged snapshot: every product once, in the version the API holds now
    lines = (demo_connections / "products" / "snapshot.ndjson").read_text().splitlines()
    snapshot = {record["id"]: record for record in map(json.loads, lines)}
    assert len(snapshot) == len(lines)
    with demo_server.state.lock:
        assert snapshot == {p["id"]: dict(p) for p in demo_server.state.catalog.products.values()}
