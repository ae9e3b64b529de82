"""Example (a): a scheduled pipeline — paginated HTTP source -> transform -> file sink, hourly, catchup off.

What it shows:

* ``HttpSourceOperator`` following cursor pagination (``next_cursor`` in the body) and streaming every page to a
  staging file: XCom carries only a small file reference, however many records the API returns;
* ``TransformOperator`` reading that reference record by record: keep paid orders, reshape, sort;
* ``FileSinkOperator`` writing atomically under the ``flow_demo_fs`` base folder (a reader never sees half a file)
  and announcing the Asset ``flow-demo://orders/paid`` that ``flow_orders_on_asset`` is scheduled on;
* retries with a short delay; 429/5xx are retried inside the task first (honouring ``Retry-After``), then by
  Airflow; a 404 or a bad config fails at once without wasting retries.

Connections: ``flow_demo_api`` (the demo server) and ``flow_demo_fs`` (the base folder); ``scripts/demo.sh``
sets both. Run it alone with ``airflow dags test flow_orders_hourly``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset

from airflow_provider_flow.operators.file import FileSinkOperator
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator

#: Announced by the file sink; ``flow_orders_on_asset`` runs whenever it is updated.
PAID_ORDERS = Asset("flow-demo://orders/paid")

#: One folder per run: ``run_after`` exists for scheduled, manual and test runs alike (logical_date may be None).
RUN_STAMP = "{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}"

with DAG(
    dag_id="flow_orders_hourly",
    description="Paid orders from the demo API, every hour, as NDJSON files",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["flow", "example"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
) as dag:
    fetch = HttpSourceOperator(
        task_id="fetch_orders",
        http_conn_id="flow_demo_api",
        endpoint="/api/orders",
        query_params={"limit": 50},
        records_path="data",
        pagination={"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        max_pages=100,
        # One staging file, replaced atomically by each run (max_active_runs=1): staging never grows.
        output_path="staging/orders/latest.ndjson",
        fs_conn_id="flow_demo_fs",
    )
    paid = TransformOperator(
        task_id="keep_paid_orders",
        data=fetch.output,
        operations=[
            {"filter": "status == 'paid'"},
            {"select": {"order_id": "id", "customer_id": "customer_id", "product": "product", "total": "amount"}},
            {"sort_by": {"key": "total", "reverse": True}},
        ],
    )
    FileSinkOperator(
        task_id="write_paid_orders",
        data=paid.output,
        path=f"orders/paid/{RUN_STAMP}.ndjson",
        fs_conn_id="flow_demo_fs",
        outlets=[PAID_ORDERS],
    )
