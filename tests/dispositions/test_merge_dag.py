"""A real Airflow DAG (``dag.test()`` on SQLite) merging into one snapshot run after run through FileSinkOperator."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest


def customer(key: int, at: str, name: str) -> dict[str, Any]:
    return {"id": key, "updated_at": at, "name": name}


def test_a_dag_run_twice_keeps_each_key_once_and_a_failed_merge_leaves_the_snapshot(
    airflow_db: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators.file import FileSinkOperator
    from tests.airflow_harness import run_dag

    base = os.path.realpath(tmp_path)
    with DAG(
        "merge_customers_snapshot", schedule=None, start_date=datetime(2024, 1, 1), render_template_as_native_obj=True
    ) as dag:
        FileSinkOperator(
            task_id="snapshot",
            path="customers/snapshot.ndjson",
            data="{{ dag_run.conf['rows'] }}",
            base_path=base,
            disposition="merge",
            primary_key="id",
            cursor_field="updated_at",
            retries=0,
        )
    snapshot = Path(base, "customers/snapshot.ndjson")

    first = run_dag(dag, conf={"rows": [customer(1, "2024-01-01", "Ada"), customer(2, "2024-01-01", "Bob")]})
    assert first.state == "success", capsys.readouterr().out[-3000:]
    second = run_dag(
        dag,
        conf={
            "rows": [
                customer(2, "2024-01-02", "Bob B."),
                customer(3, "2024-01-02", "Cy"),
                customer(1, "2023-12-31", "stale"),
            ]
        },
        serialize=False,
    )
    assert second.state == "success", capsys.readouterr().out[-3000:]
    rows = [json.loads(line) for line in snapshot.read_text().splitlines()]
    assert rows == [
        customer(1, "2024-01-01", "Ada"),
        customer(2, "2024-01-02", "Bob B."),
        customer(3, "2024-01-02", "Cy"),
    ]
    ref = second.xcom("snapshot")
    assert (ref["path"], ref["records"], ref["base_path"]) == ("customers/snapshot.ndjson", 3, base)
    assert ref["sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()

    before = snapshot.read_bytes()
    third = run_dag(
        dag, conf={"rows": [customer(4, "2024-01-03", "Di"), {"updated_at": "2024-01-03"}]}, serialize=False
    )
    log = capsys.readouterr().out
    assert third.state == "failed" and third.tasks["snapshot"].state == "failed"
    assert third.tasks["snapshot"].try_number == 1  # bad data fails at once, no retry
    assert "'id' (primary_key) is missing from record 1 of the input" in log
    assert snapshot.read_bytes() == before
    assert sorted(os.listdir(snapshot.parent)) == ["snapshot.ndjson"]  # no temporary file left either
