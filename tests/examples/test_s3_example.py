"""The S3-staged examples (``dags_examples/flow_orders_s3.py``) under dag.test() against a real S3 (SeaweedFS).

The file reads ``FLOW_S3_CONN_ID``/``FLOW_S3_BUCKET`` when parsed, so each test parses it after setting them. The
cluster runs the same DAGs over two workers (``tests/e2e/test_cluster.py``); here one process proves the wiring:
the staged files and the result land in S3, XCom carries references only, and without the connection a run
fails at the first S3 task naming it and the fix.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_harness import run_dag
from tests.fixtures.s3 import BUCKET
from tests.s3_server import SeaweedS3

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "flow_orders_s3.py"
ORDERS = 120  # the demo server's orders: the three status lists together


def _parse(monkeypatch: pytest.MonkeyPatch, conn_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("FLOW_S3_CONN_ID", conn_id)
    monkeypatch.setenv("FLOW_S3_BUCKET", BUCKET)
    bag = DagBag(dag_folder=str(EXAMPLE))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def s3_conn(s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh ``aws`` connection id per test (``AIRFLOW_CONN_*``) pointing at the test SeaweedFS."""
    conn_id = f"flow_s3_{uuid.uuid4().hex[:8]}"
    conn = {
        "conn_type": "aws",
        "login": s3_server.access_key,
        "password": s3_server.secret_key,
        "extra": {"endpoint_url": s3_server.endpoint, "region_name": "us-east-1"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    yield conn_id


def _keys(admin: Any, prefix: str) -> dict[str, bytes]:
    listed = admin.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: admin.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_fan_out_staged_in_s3_merges_the_three_lists(
    airflow_db, demo_connections, s3_conn, s3_admin, monkeypatch, capsys
) -> None:
    bag = _parse(monkeypatch, s3_conn)
    result = run_dag(bag.dags["flow_orders_fan_out_s3"])
    log = capsys.readouterr().out
    assert result.state == "success", (result.tasks, log[-3000:])
    run = result.dag_run.run_id.replace(":", "_").replace("+", "_")
    objects = _keys(s3_admin, f"flow_orders_s3/{run}/")
    assert sorted(objects) == [
        f"flow_orders_s3/{run}/{name}.ndjson" for name in ("orders", "paid", "pending", "refunded")
    ]
    merged = [json.loads(line) for line in objects[f"flow_orders_s3/{run}/orders.ndjson"].splitlines()]
    assert [r["id"] for r in merged] == list(range(1, ORDERS + 1))
    staged = {s: result.xcom(f"stage_{s}") for s in ("paid", "pending", "refunded")}
    assert {s: (r["kind"], r["conn_id"]) for s, r in staged.items()} == dict.fromkeys(staged, ("file", s3_conn))
    assert sum(r["records"] for r in staged.values()) == ORDERS
    assert not list(demo_connections.rglob("*.ndjson"))  # nothing went to the local demo folder


def test_large_write_streams_a_local_file_to_s3(airflow_db, s3_conn, s3_admin, monkeypatch, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    (scratch / "large").mkdir(parents=True)
    rows = [{"id": i, "pad": "x" * 40} for i in range(2000)]
    (scratch / "large" / "input.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setenv("AIRFLOW_CONN_FS_DEFAULT", json.dumps({"conn_type": "fs", "extra": {"path": str(scratch)}}))
    bag = _parse(monkeypatch, s3_conn)
    result = run_dag(bag.dags["flow_s3_large_write"])
    assert result.state == "success", result.tasks
    run = result.dag_run.run_id.replace(":", "_").replace("+", "_")
    objects = _keys(s3_admin, f"flow_orders_s3/large/{run}/")
    assert list(objects) == [f"flow_orders_s3/large/{run}/output.ndjson"]
    assert [json.loads(line) for line in objects[f"flow_orders_s3/large/{run}/output.ndjson"].splitlines()] == rows


def test_without_the_connection_a_run_fails_naming_it(
    airflow_db, demo_connections, s3_server, monkeypatch, capsys
) -> None:
    missing = f"flow_s3_missing_{uuid.uuid4().hex[:6]}"
    bag = _parse(monkeypatch, missing)  # parses: the plain demo has no S3 and still lists the DAG
    result = run_dag(bag.dags["flow_orders_fan_out_s3"])
    log = capsys.readouterr().out
    assert result.state == "failed"
    assert {result.tasks[f"fetch_{s}"].state for s in ("paid", "pending", "refunded")} == {"success"}
    assert {result.tasks[f"stage_{s}"].state for s in ("paid", "pending", "refunded")} == {"failed"}
    assert f"conn_id: connection '{missing}' is not defined; create an 'aws' connection" in log, log[-3000:]
