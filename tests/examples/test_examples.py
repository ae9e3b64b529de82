"""The example DAGs, exactly as shipped: they import cleanly and each runs to success against the demo server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_harness import run_dag

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "dags_examples"
EXPECTED_DAGS = {
    "flow_orders_hourly",
    "flow_export_on_demand",
    "flow_reviews_enrichment",
    "flow_orders_hourly_from_file",
    "flow_orders_on_asset",
    "flow_vip_customers_daily",
    "flow_orders_fan_out",
    "flow_orders_fan_out_staged",
    "flow_orders_fan_out_s3",
    "flow_s3_large_write",
    "flow_products_incremental",
}
#: The demo server's orders cycle through paid, paid, pending, refunded, paid: 72 of 120 are paid.
PAID_ORDERS = 72


@pytest.fixture(scope="module")
def example_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(EXAMPLES_DIR))


def _ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_example_imports_without_errors(example_bag) -> None:
    assert example_bag.import_errors == {}
    assert set(example_bag.dags) == EXPECTED_DAGS
    hourly = example_bag.dags["flow_orders_hourly"]
    assert hourly.catchup is False and hourly.schedule == "@hourly"
    # the demo server and the sample data are not DAG folders
    assert not any("demo_server" in path for path in example_bag.file_last_changed)


def test_scheduled_pipeline_then_asset_consumer(airflow_db, example_bag, demo_connections) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    result = run_dag(example_bag.dags["flow_orders_hourly"])
    assert result.state == "success", result.tasks
    [written] = list((demo_connections / "orders" / "paid").glob("*.ndjson"))
    records = _ndjson(written)
    assert len(records) == PAID_ORDERS
    assert set(records[0]) == {"order_id", "customer_id", "product", "total"}
    assert [r["total"] for r in records] == sorted((r["total"] for r in records), reverse=True)
    # the source handed a file reference through XCom, not 120 records
    reference = result.xcom("fetch_orders")
    assert reference["kind"] == "file" and reference["records"] == 120 and reference["pages"] == 3
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == result.dag_run.run_id).all()
        assert [e.asset.uri for e in events] == ["flow-demo://orders/paid"]

    consumer = run_dag(example_bag.dags["flow_orders_on_asset"])
    assert consumer.state == "success", consumer.tasks
    report = json.loads((demo_connections / "reports" / "large_paid_orders.json").read_text())
    expected = sorted(r["order_id"] for r in records if r["total"] >= 150)
    assert [r["order_id"] for r in report] == expected and expected


def test_flow_file_version_matches_the_python_one(airflow_db, example_bag, demo_connections) -> None:
    result = run_dag(example_bag.dags["flow_orders_hourly_from_file"], conf={"page_size": 100})
    assert result.state == "success", result.tasks
    assert result.xcom("fetch_orders")["pages"] == 2  # the param reached the API
    [written] = list((demo_connections / "orders" / "paid_from_file").glob("*.ndjson"))
    assert len(_ndjson(written)) == PAID_ORDERS


def test_second_flow_file_follows_link_pagination(airflow_db, example_bag, demo_connections) -> None:
    result = run_dag(example_bag.dags["flow_vip_customers_daily"])
    assert result.state == "success", result.tasks
    vips = json.loads((demo_connections / "customers" / "vip.json").read_text())
    assert [v["customer_id"] for v in vips] == [5, 10, 15, 20, 25, 30, 35, 40]  # 42 customers over 5 pages
    assert set(vips[0]) == {"customer_id", "name", "city"}


def test_ui_triggered_export_with_conf(airflow_db, example_bag, demo_connections) -> None:
    conf = {"endpoint": "/api/orders/refunded", "limit": 7, "output_name": "refunds.csv"}
    result = run_dag(example_bag.dags["flow_export_on_demand"], conf=conf)
    assert result.state == "success", result.tasks
    lines = (demo_connections / "exports" / "refunds.csv").read_text().splitlines()
    assert len(lines) == 1 + 7 and "status" in lines[0]
    assert all(",refunded," in line for line in lines[1:])


@pytest.mark.parametrize("name", ["../../escape.ndjson", "/etc/passwd.json", ".hidden.ndjson", "a/b.ndjson"])
def test_ui_triggered_export_refuses_hostile_names_before_running(airflow_db, example_bag, name) -> None:
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(example_bag.dags["flow_export_on_demand"].params)
    with pytest.raises(ParamValidationError, match="does not match"):
        params.update({"output_name": name})  # what creating a run does with the submitted conf


def test_export_sink_confinement_holds_even_if_the_form_let_a_name_through(
    airflow_db, example_bag, demo_connections, tmp_path
) -> None:
    """Defence in depth: with the form's pattern removed, the sink still refuses the path, without a retry."""
    source = (EXAMPLES_DIR / "flow_export_on_demand.py").read_text()
    unguarded = source.replace('dag_id="flow_export_on_demand"', 'dag_id="flow_export_on_demand_unguarded"')
    unguarded = unguarded.replace("pattern=OUTPUT_NAME_PATTERN,", "")
    assert unguarded.count("unguarded") == 1 and "pattern=" not in unguarded
    namespace: dict[str, Any] = {"__file__": str(EXAMPLES_DIR / "flow_export_on_demand.py")}
    exec(compile(unguarded, "flow_export_on_demand_unguarded", "exec"), namespace)
    dag = namespace["dag"]
    outside = tmp_path / "outside.ndjson"
    result = run_dag(dag, conf={"output_name": f"../../{outside.relative_to('/')}", "limit": 1})
    assert result.state == "failed"
    assert result.tasks["write_export"].state == "failed" and result.tasks["write_export"].try_number == 1
    assert not outside.exists()
    assert not list(tmp_path.rglob("*.ndjson"))


def test_enrichment_posts_validated_records(airflow_db, example_bag, demo_connections, demo_server) -> None:
    import httpx

    httpx.delete(f"{demo_server.url}/api/sink/reviews")
    result = run_dag(example_bag.dags["flow_reviews_enrichment"])
    assert result.state == "success", result.tasks
    received = httpx.get(f"{demo_server.url}/api/sink/reviews").json()
    assert received["count"] == 12 and received["batches"] == 3
    records = sorted(received["records"], key=lambda r: r["review_id"])  # batches arrive concurrently
    assert [r["review_id"] for r in records] == list(range(1, 13))
    assert all(r["analysis"]["sentiment"] in {"positive", "neutral", "negative"} for r in records)
    assert all(set(r["analysis"]) == {"sentiment", "topic", "summary"} for r in records)
    assert (demo_connections / "cache" / "reviews_enrichment.ndjson").exists()
