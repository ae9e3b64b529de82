"""The fan-out example (``dags_examples/flow_orders_fan_out.py``) on one machine: both hand-offs succeed.

On one machine every task sees the same ``fs_default`` folder, so the staged variant works too; on a cluster with
private worker folders it must not (``tests/e2e/test_cluster.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_harness import run_dag

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "flow_orders_fan_out.py"
ORDERS = 120  # the demo server's orders: 72 paid, 24 pending, 24 refunded


@pytest.fixture
def fan_out_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "scratch"
    folder.mkdir()
    saved = os.environ.get("AIRFLOW_CONN_FS_DEFAULT")
    os.environ["AIRFLOW_CONN_FS_DEFAULT"] = json.dumps({"conn_type": "fs", "extra": {"path": str(folder)}})
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("AIRFLOW_CONN_FS_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_FS_DEFAULT"] = saved


@pytest.mark.parametrize("dag_id", ["flow_orders_fan_out", "flow_orders_fan_out_staged"])
def test_fan_out_merges_the_three_lists(airflow_db, fan_out_bag, demo_connections, scratch, dag_id) -> None:
    result = run_dag(fan_out_bag.dags[dag_id])
    assert result.state == "success", result.tasks
    lines = (demo_connections / "fan_out" / f"{dag_id}.ndjson").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == list(range(1, ORDERS + 1))  # all three lists, merged and sorted
    staged = sorted(p.name for p in scratch.rglob("*.ndjson"))
    assert staged == (["paid.ndjson", "pending.ndjson", "refunded.ndjson"] if dag_id.endswith("staged") else [])
