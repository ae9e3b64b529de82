"""Example (b): a UI-triggered export driven by a typed Params form.

Trigger it from the UI ("Trigger DAG" shows the form) or the REST API with ``conf``. The form is typed, described
and validated by Airflow before a run is created:

* ``endpoint``: one of the demo API's order lists (an ``enum`` -> a drop-down showing ``values_display`` labels);
* ``limit``: an integer between 1 and 500;
* ``output_name``: a plain file name (``pattern``: no ``/``, no ``..``, no leading dot, a known extension), so a
  hostile value is refused with HTTP 400 before anything runs.

Defence in depth: the file sink confines the *rendered* path to the ``flow_demo_fs`` base folder whatever the
form let through (symlinks resolved, atomic write), and a refused path fails the task at once, without retries.
Run it alone with ``airflow dags test flow_export_on_demand -c '{"limit": 5}'``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param

from airflow_provider_flow.operators.file import FileSinkOperator
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator

#: A plain relative file name: starts with a letter or digit, no separators, one of the sink's formats.
OUTPUT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(ndjson|json|csv)$"
#: The drop-down's labels: a person picks "Paid orders", the run gets the path.
ENDPOINTS = {
    "/api/orders": "All orders (/api/orders)",
    "/api/orders/paid": "Paid orders (/api/orders/paid)",
    "/api/orders/pending": "Pending orders (/api/orders/pending)",
    "/api/orders/refunded": "Refunded orders (/api/orders/refunded)",
}

with DAG(
    dag_id="flow_export_on_demand",
    description="Export demo orders on demand; the trigger form picks endpoint, size and file name",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["flow", "example", "params"],
    doc_md=__doc__,
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
    params={
        "endpoint": Param(
            "/api/orders/paid",
            type="string",
            enum=list(ENDPOINTS),
            values_display=ENDPOINTS,
            title="Endpoint",
            description="Which order list of the demo API to export.",
        ),
        "limit": Param(
            20,
            type="integer",
            minimum=1,
            maximum=500,
            title="Record limit",
            description="Export at most this many orders (1-500).",
        ),
        "output_name": Param(
            "orders_export.ndjson",
            type="string",
            pattern=OUTPUT_NAME_PATTERN,
            title="Output file name",
            description="A plain file name: a letter or digit first, then letters, digits, '_' or '-', ending "
            "in .ndjson, .json or .csv (e.g. orders_export.ndjson); at most 64 characters before the extension. No "
            "folders: the file is written to exports/ in the flow_demo_fs base folder.",
        ),
    },
) as dag:
    fetch = HttpSourceOperator(
        task_id="fetch",
        http_conn_id="flow_demo_api",
        endpoint="{{ params.endpoint }}",
        query_params={"limit": 100},
        records_path="data",
        pagination={"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        max_pages=10,
    )
    limited = TransformOperator(
        task_id="limit_records",
        data=fetch.output,
        operations=[{"limit": "{{ params.limit }}"}],
    )
    FileSinkOperator(
        task_id="write_export",
        data=limited.output,
        path="exports/{{ params.output_name }}",
        fs_conn_id="flow_demo_fs",
        mode="overwrite",
    )
