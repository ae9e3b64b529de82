"""HttpSourceOperator / HttpSinkOperator through real ``dag.test()`` runs against the fault-injecting server.

All outcomes share one DAG run (each dag.test() costs seconds): in-task retries of 503/429, 404 failing at once,
an exhausted in-task budget handed to an Airflow retry, a long Retry-After becoming the Airflow retry delay,
streaming to a file with a small XCom, a sink reading that file, a partial sink failure, and secrets masked.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.operators.http import HttpSinkOperator, HttpSourceOperator
from tests.airflow_harness import run_dag

BASIC_PW = "Sup3r-Basic-Pw"
BEARER = "Sup3r-Bearer-Tok"
FAST = {"initial_backoff": 0.05, "max_backoff": 0.1}


def _conn(server: Any, **fields: Any) -> str:
    host, port = server.url.removeprefix("http://").split(":")
    return json.dumps({"conn_type": "http", "host": host, "port": int(port), "schema": "http", **fields})


def test_http_operators_end_to_end(airflow_db, http_server, monkeypatch, capsys, tmp_path: Path) -> None:
    from airflow.sdk import DAG

    monkeypatch.setenv("AIRFLOW_CONN_HTTP_DEFAULT", _conn(http_server))
    monkeypatch.setenv("AIRFLOW_CONN_FLOW_BASIC", _conn(http_server, login="flow-user", password=BASIC_PW))
    monkeypatch.setenv(
        "AIRFLOW_CONN_FLOW_BEARER", _conn(http_server, password=BEARER, extra=json.dumps({"auth_type": "bearer"}))
    )
    http_server.fail_sink("partial", ids={7}, status=400)
    quick = {"retry_delay": timedelta(seconds=1)}

    with DAG("http_operators_e2e", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(
            task_id="flaky",
            endpoint="/flaky/op?fail=2&status=503",
            records_path="items",
            retry=FAST,
            retries=3,
            **quick,
        )
        HttpSourceOperator(
            task_id="rate_limited", endpoint="/ratelimit/op?retry_after=1&fail=1", records_path="items", retries=3
        )
        HttpSourceOperator(task_id="not_found", endpoint="/status/404", retries=3, **quick)
        # In-task budget of 2 attempts is spent on the two 503s: the Airflow retry (try 2) gets the 200.
        HttpSourceOperator(
            task_id="budget_spent",
            endpoint="/flaky/spent?fail=2&status=503",
            records_path="items",
            retry={"max_attempts": 2, **FAST},
            retries=1,
            **quick,
        )
        # Retry-After (2 s) exceeds the in-task budget (1 s): the Airflow retry waits 2 s, not the task's hour.
        HttpSourceOperator(
            task_id="long_retry_after",
            endpoint="/ratelimit/long?retry_after=2&fail=1",
            records_path="items",
            retry={"max_elapsed": 1},
            retries=1,
            retry_delay=timedelta(hours=1),
        )
        stream = HttpSourceOperator(
            task_id="stream",
            endpoint="/cursor/items",
            records_path="data",
            pagination={"type": "cursor", "cursor_path": "meta.next_cursor"},
            output_path="exports/{{ ds }}/items.ndjson",
            base_path=str(tmp_path),
        )
        HttpSinkOperator(
            task_id="sink_file",
            endpoint="/sink/fromfile",
            data=stream.output,
            batch_size=4,
            idempotency_key_header="Idempotency-Key",
        )
        HttpSinkOperator(
            task_id="sink_partial",
            endpoint="/sink/partial",
            data=[{"id": i} for i in range(10)],
            batch_size=2,
            max_concurrency=1,
            retries=2,
            **quick,
        )
        HttpSourceOperator(task_id="secret_basic", endpoint=f"/status/401?q={BASIC_PW}", http_conn_id="flow_basic")
        HttpSourceOperator(task_id="secret_bearer", endpoint=f"/status/403?q={BEARER}", http_conn_id="flow_bearer")

    result = run_dag(dag)
    log = capsys.readouterr().out
    tasks = result.tasks

    assert (tasks["flaky"].state, tasks["flaky"].try_number) == ("success", 1)
    assert http_server.hits("/flaky/op") == 3
    assert [r["id"] for r in result.xcom("flaky")] == [1, 2]
    assert (tasks["rate_limited"].state, tasks["rate_limited"].try_number) == ("success", 1)

    assert (tasks["not_found"].state, tasks["not_found"].try_number) == ("failed", 1)
    assert http_server.hits("/status/404") == 1
    assert "HTTP 404 from GET" in log

    assert (tasks["budget_spent"].state, tasks["budget_spent"].try_number) == ("success", 2)
    assert http_server.hits("/flaky/spent") == 3
    assert (tasks["long_retry_after"].state, tasks["long_retry_after"].try_number) == ("success", 2)
    assert http_server.hits("/ratelimit/long") == 2

    assert tasks["stream"].state == "success"
    ref = result.xcom("stream")
    assert ref["records"] == 6 and ref["pages"] == 3 and ref["path"].startswith("exports/")
    assert len(json.dumps(ref)) < 400  # a reference, not the data
    written = (tmp_path / ref["path"]).read_text().splitlines()
    assert [json.loads(line)["id"] for line in written] == [1, 2, 3, 4, 5, 6]

    assert tasks["sink_file"].state == "success"
    assert result.xcom("sink_file")["accepted_records"] == 6
    keys = [b.headers["idempotency-key"] for b in http_server.sink_batches("fromfile")]
    assert len(keys) == 2 and len(set(keys)) == 2

    assert (tasks["sink_partial"].state, tasks["sink_partial"].try_number) == ("failed", 1)
    assert "Accepted before the failure: 3 batches, 6 records (record ranges 0-5)" in log
    assert "never sent: records from 8 on" in log

    assert tasks["secret_basic"].state == "failed" and tasks["secret_bearer"].state == "failed"
    assert "HTTP 401 from GET" in log and "HTTP 403 from GET" in log
    basic_header = base64.b64encode(f"flow-user:{BASIC_PW}".encode()).decode()
    for secret in (BASIC_PW, BEARER, basic_header):
        assert secret not in log


def test_query_params_alias_ignores_dag_params() -> None:
    from airflow.sdk import DAG, Param

    with DAG("http_params", schedule=None, start_date=datetime(2024, 1, 1), params={"who": Param("x")}):
        by_alias = HttpSourceOperator(task_id="a", endpoint="/x", params={"limit": 10})
        explicit = HttpSourceOperator(task_id="b", endpoint="/x", query_params={"q": "{{ params.who }}"})
        none = HttpSourceOperator(task_id="c", endpoint="/x")
    assert by_alias.config["params"] == {"limit": 10}
    assert explicit.config["params"] == {"q": "{{ params.who }}"}
    assert "params" not in none.config


def test_bad_config_fails_at_dag_parse_time() -> None:
    with pytest.raises(FlowValidationError, match="pagination"):
        HttpSourceOperator(task_id="t", endpoint="/x", pagination={"type": "bogus"})
    with pytest.raises(FlowValidationError, match="batch_size"):
        HttpSinkOperator(task_id="s", endpoint="/x", data=[], batch_size=0)
    op = HttpSourceOperator(task_id="u", endpoint="/x", output_path="{{ params.path }}", base_path="/data")
    assert op.config["output_format"] == "ndjson"
