"""Example (e): a downstream DAG scheduled on the Asset the file sink of ``flow_orders_hourly`` produces.

No sensor polls and no time schedule: when ``write_paid_orders`` succeeds, Airflow records an event for the
Asset ``flow-demo://orders/paid`` and queues a run of this DAG. It reads every paid-orders file written so far
(a glob, confined to the same base), keeps the large ones, and writes a report atomically.
Run it alone with ``airflow dags test flow_orders_on_asset`` (after ``flow_orders_hourly`` wrote at least one file).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset

from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator

PAID_ORDERS = Asset("flow-demo://orders/paid")

with DAG(
    dag_id="flow_orders_on_asset",
    description="Report on large paid orders whenever new paid orders land",
    schedule=[PAID_ORDERS],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["flow", "example", "assets"],
) as dag:
    orders = FileSourceOperator(task_id="read_paid_orders", path="orders/paid/*.ndjson", fs_conn_id="flow_demo_fs")
    large = TransformOperator(
        task_id="large_orders",
        data=orders.output,
        operations=[
            {"filter": "total >= `150`"},
            {"unique_by": "order_id"},
            {"sort_by": "order_id"},
        ],
    )
    FileSinkOperator(
        task_id="write_report",
        data=large.output,
        path="reports/large_paid_orders.json",
        fs_conn_id="flow_demo_fs",
    )
