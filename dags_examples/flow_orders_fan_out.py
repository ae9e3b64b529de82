"""Example (e): a fan-out/fan-in pipeline, the shape that spreads one run over several workers.

Three fetches run in parallel (one per order status of the demo API), one ``merge`` reads all three outputs (a
union: several upstreams), ``write`` saves the result under ``fan_out/`` in the ``flow_demo_fs`` folder. On a
cluster (``scripts/cluster.sh``: CeleryExecutor, two workers) the fetches land on different workers.

The file holds two DAGs that differ in one thing, how the fetches hand their records to ``merge``:

* ``flow_orders_fan_out``: inline, through XCom (the metadata database), so it runs on any executor and any
  number of workers (right for small outputs);
* ``flow_orders_fan_out_staged``: each fetch streams its records to a file in ``fs_default`` and hands on a file
  reference. That needs ``fs_default`` to be storage **every worker sees** (shared storage). With the private
  local folders of ``scripts/cluster.sh``'s workers it fails, on purpose: ``merge`` names the reference it cannot
  find on its worker and says to stage in shared storage, instead of reading an empty or partial input.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_flow.operators.file import FileSinkOperator
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator
from airflow_provider_flow.records.input import upstream_outputs

STATUSES = ("paid", "pending", "refunded")


def fan_out_dag(dag_id: str, *, staged: bool) -> DAG:
    """One fan-out/fan-in DAG; ``staged`` hands the fetched records on as files in ``fs_default``."""
    how = "staged as files in fs_default (needs shared storage)" if staged else "inline through XCom"
    with DAG(
        dag_id=dag_id,
        description=f"Fetch the three order lists in parallel, merge them, write one file; hand-off {how}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        tags=["flow", "example", "fan-out"],
        default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
    ) as dag:
        fetches = {
            status: HttpSourceOperator(
                task_id=f"fetch_{status}",
                http_conn_id="flow_demo_api",
                endpoint=f"/api/orders/{status}",
                query_params={"limit": 100},
                records_path="data",
                pagination={"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
                max_pages=10,
                output_path=f"fan_out/{{{{ run_id | replace(':', '_') }}}}/{status}.ndjson" if staged else None,
            )
            for status in STATUSES
        }
        merged = TransformOperator(
            task_id="merge",
            data=upstream_outputs({status: op.output for status, op in fetches.items()}),
            operations=[{"sort_by": "id"}],
        )
        for op in fetches.values():
            op >> merged
        FileSinkOperator(
            task_id="write",
            data=merged.output,
            path=f"fan_out/{dag_id}.ndjson",
            fs_conn_id="flow_demo_fs",
            mode="overwrite",
        )
    return dag


inline_dag = fan_out_dag("flow_orders_fan_out", staged=False)
staged_dag = fan_out_dag("flow_orders_fan_out_staged", staged=True)
