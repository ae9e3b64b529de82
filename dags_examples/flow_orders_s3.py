"""Example (f): the fan-out pipeline staged in object storage (S3), so it runs on any number of workers.

``flow_orders_fan_out_staged`` (``flow_orders_fan_out.py``) hands its records on as files in ``fs_default`` and
therefore needs a folder every worker sees. This one stages in S3 instead: each ``fetch_<status>`` task pulls one
order list from the demo API, ``stage_<status>`` (``file.sink``) streams it to
``s3://<bucket>/flow_orders_s3/<run>/<status>.ndjson`` and hands on only a file reference, ``merge`` reads the
three references (from whichever worker it runs on) and ``write`` puts the merged, sorted result back in S3 as
``flow_orders_s3/<run>/orders.ndjson``.

Where it stages is read when the file is parsed, from two environment variables (the same on every process):
``FLOW_S3_CONN_ID`` (an ``aws`` connection; default ``flow_cluster_s3``, the one ``scripts/cluster.sh`` defines)
and ``FLOW_S3_BUCKET`` (default ``flow-cluster``). Without that connection (the plain ``scripts/demo.sh``) the DAG
still parses, and a run fails at the first ``stage_`` task with Airflow's error naming the missing connection:
define it (see the README's "Staging in object storage") or run it on the cluster.

``flow_s3_large_write`` is the cluster's crash test: it streams a large local file (``large/input.ndjson`` in each
worker's ``fs_default``, written there by the test) to S3 as one multipart upload, so a worker can be killed
mid-upload and the retry, on the other worker, must still publish the object exactly once.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.transform import TransformOperator
from airflow_provider_flow.records.input import upstream_outputs

STATUSES = ("paid", "pending", "refunded")
CONN_ID = os.environ.get("FLOW_S3_CONN_ID") or "flow_cluster_s3"
BUCKET = os.environ.get("FLOW_S3_BUCKET") or "flow-cluster"
PREFIX = "flow_orders_s3"
#: One folder per run, so runs never overwrite each other's staged files.
RUN = "{{ run_id | replace(':', '_') | replace('+', '_') }}"
BASE_URI = f"s3://{BUCKET}/{PREFIX}"

with DAG(
    dag_id="flow_orders_fan_out_s3",
    description="Fetch the three order lists in parallel, stage them in S3, merge, write the result to S3",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["flow", "example", "fan-out", "s3"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
) as fan_out_s3:
    staged = {}
    for status in STATUSES:
        fetch = HttpSourceOperator(
            task_id=f"fetch_{status}",
            http_conn_id="flow_demo_api",
            endpoint=f"/api/orders/{status}",
            query_params={"limit": 100},
            records_path="data",
            pagination={"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
            max_pages=10,
        )
        staged[status] = FileSinkOperator(
            task_id=f"stage_{status}",
            data=fetch.output,
            path=f"{RUN}/{status}.ndjson",
            base_uri=BASE_URI,
            conn_id=CONN_ID,
            mode="overwrite",
        )
    merged = TransformOperator(
        task_id="merge",
        data=upstream_outputs({status: op.output for status, op in staged.items()}),
        operations=[{"sort_by": "id"}],
    )
    for op in staged.values():
        op >> merged
    FileSinkOperator(
        task_id="write",
        data=merged.output,
        path=f"{RUN}/orders.ndjson",
        base_uri=BASE_URI,
        conn_id=CONN_ID,
        mode="overwrite",
    )

with DAG(
    dag_id="flow_s3_large_write",
    description="Stream a large local file to S3 in one multipart upload (the cluster's kill-a-worker test)",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["flow", "example", "s3"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
) as large_write:
    # A reference, not the records: the upload task reads the file itself (each worker has the same copy).
    listed = FileSourceOperator(task_id="list_input", path="large/input.ndjson", output="reference")
    FileSinkOperator(
        task_id="upload",
        data=listed.output,
        path=f"large/{RUN}/output.ndjson",
        base_uri=BASE_URI,
        conn_id=CONN_ID,
        mode="overwrite",
        part_size=5 * 1024 * 1024,
    )
