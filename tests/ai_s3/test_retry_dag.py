"""A real Airflow retry of ai.transform with its resume cache on S3: try 2 asks the LLM only for what try 1 missed.

``dag.test()`` on the session's SQLite DB, the LLM test server (tests/fixtures/llm_server.py) answering 500 for
record 20 once (and no in-task retry, so try 1 fails there), and the cache in SeaweedFS through an ``aws``
connection. Each try resolves the connection and builds its own S3 client and nothing is kept on local disk, so
what try 2 reuses can only come from the bucket, as on another worker.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer
from tests.fixtures.s3 import BUCKET
from tests.s3_server import SeaweedS3

RECORDS = [{"id": str(i), "text": f"item number {i} is here"} for i in range(30)]


def test_airflow_retry_reuses_what_the_failed_try_paid_for(
    airflow_db: Any,
    s3_server: SeaweedS3,
    s3_admin: Any,
    s3_airflow_conn: str,
    llm_server: FakeLlmServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators.ai import AiTransformOperator
    from tests.airflow_harness import run_dag

    llm = {"conn_type": "flow_llm", "host": llm_server.base_url, "password": llm_server.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_S3_RETRY", json.dumps({**llm, "extra": {"max_retries": 1}}))
    llm_server.inject("20", "500", times=1)  # try 1 fails at record 20 (no in-task retry); try 2 gets an answer
    prefix = f"ai/{uuid.uuid4().hex[:10]}"
    with DAG("ai_transform_s3_retry", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        AiTransformOperator(
            task_id="enrich",
            data=RECORDS,
            model="fake-small",
            prompt="[id:${id}] Describe: ${text}",
            output_schema=DEFAULT_REPLY_SCHEMA,
            llm_conn_id="llm_s3_retry",
            max_concurrency=2,
            base_uri=f"s3://{s3_airflow_conn}@{BUCKET}/{prefix}",
            retries=1,
            retry_delay=timedelta(seconds=1),
        )

    result = run_dag(dag)
    log = capsys.readouterr().out + capsys.readouterr().err
    assert result.state == "success", log[-3000:]
    assert result.tasks["enrich"].try_number == 2  # it did fail once

    # Every record was asked once, except record 20 (the failed request, then its answer): try 2 asked nothing
    # that try 1 had finished, whatever was still in flight when try 1 failed.
    asked = {i: llm_server.requests_for(str(i)) for i in range(30)}
    assert asked == {i: 2 if i == 20 else 1 for i in range(30)}
    out = result.xcom("enrich")
    assert [r["id"] for r in out] == [str(i) for i in range(30)] and all(r["words"] == 7 for r in out)
    usage = result.xcom("enrich", key="usage")
    assert usage["cached"] >= 20 and usage["records_out"] == 30

    # One segment per try, listed in the manifest under the default cache path (without .ndjson).
    cache = f"{prefix}/.flow_cache/ai_transform/ai_transform_s3_retry/enrich"
    manifest = json.loads(s3_admin.get_object(Bucket=BUCKET, Key=f"{cache}/manifest.json")["Body"].read())
    assert len(manifest["segments"]) == 2
    assert s3_server.secret_key not in log and llm_server.api_key not in log
    assert f"s3://{BUCKET}/{cache}" in log  # the log was captured: the cache is named by its URI
