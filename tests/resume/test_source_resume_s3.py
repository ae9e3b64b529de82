"""Resumed pagination with the node's storage on S3 (a real SeaweedFS): pages and, before Airflow 3.3, the
checkpoint itself are objects any worker reads, never one machine's temp dir."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.http_server import FlowHttpServer
from tests.fixtures.s3 import BUCKET, all_keys, open_uploads
from tests.resume.pages_api import ALL_IDS, PagesApi, http_conn
from tests.s3_server import SeaweedS3


@pytest.mark.parametrize("native_store", [True, False], ids=["task_state_store", "fallback_object"])
def test_a_retry_resumes_from_pages_staged_on_s3(
    airflow_db: Any,
    s3_server: SeaweedS3,
    s3_admin: Any,
    http_server: FlowHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    native_store: bool,
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators import task_state
    from airflow_provider_flow.operators.http import HttpSourceOperator
    from tests.airflow_harness import run_dag

    real = task_state.task_store_from
    kinds: list[str] = []

    def recording(context: Any) -> Any:
        store = real(context if native_store else {k: v for k, v in context.items() if k != "task_state_store"})
        kinds.append(type(store).__name__)
        return store

    monkeypatch.setattr("airflow_provider_flow.operators.base.task_store_from", recording)
    aws = {
        "conn_type": "aws",
        "login": s3_server.access_key,
        "password": s3_server.secret_key,
        "extra": {"endpoint_url": s3_server.endpoint, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_S3_RESUME", json.dumps(aws))
    monkeypatch.setenv("AIRFLOW_CONN_PAGES_API", http_conn(http_server))
    prefix = f"resume/{uuid.uuid4().hex[:10]}"
    path = f"/resume/s3/{native_store}"
    api = PagesApi(http_server, path, fail_page=7)
    with DAG(f"resume_source_s3_{native_store}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(
            task_id="fetch",
            http_conn_id="pages_api",
            endpoint=path,
            pagination={"type": "page"},
            records_path="items",
            retry={"max_attempts": 1},
            output_path="raw/items.ndjson",
            base_uri=f"s3://s3_resume@{BUCKET}/{prefix}",
            retries=1,
            retry_delay=timedelta(seconds=1),
        )
    result = run_dag(dag)

    assert (result.tasks["fetch"].state, result.tasks["fetch"].try_number) == ("success", 2)
    assert set(kinds) == ({"TaskStateStoreAccessor"} if native_store else {"FallbackTaskStore"})
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11]
    body = s3_admin.get_object(Bucket=BUCKET, Key=f"{prefix}/raw/items.ndjson")["Body"].read().decode()
    assert [json.loads(line)["id"] for line in body.splitlines()] == ALL_IDS
    # staged pages and the checkpoint object are deleted after the publish; no multipart upload left open
    assert [key for key in all_keys(s3_admin) if key.startswith(f"{prefix}/")] == [f"{prefix}/raw/items.ndjson"]
    assert open_uploads(s3_admin, f"{prefix}/") == []
