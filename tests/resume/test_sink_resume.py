"""An Airflow retry of http.sink sends only the batches no earlier try saw accepted (records/sink_resume.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.http_server import FlowHttpServer
from tests.resume.pages_api import http_conn

RECORDS = [{"id": i} for i in range(100)]


def sink_dag(dag_id: str, sink: str, **config: Any) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSinkOperator

    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSinkOperator(
            task_id="deliver",
            http_conn_id="sink_api",
            endpoint=f"/sink/{sink}",
            data=RECORDS,
            batch_size=10,
            max_concurrency=1,
            retry={"max_attempts": 1},  # the 500 fails the try at once: Airflow's retry is what is tested
            retries=1,
            retry_delay=timedelta(seconds=1),
            **config,
        )
    return dag


def batches_sent(server: FlowHttpServer, sink: str) -> list[int]:
    """The first record id of every batch the server received (accepted or not), in order: the request log."""
    return [req.json()[0]["id"] // 10 for req in server.requests if req.path == f"/sink/{sink}"]


def held_ids(server: FlowHttpServer, sink: str) -> list[int]:
    return sorted(record["id"] for batch in server.sink_batches(sink) for record in batch.records)


@pytest.fixture
def sink_conn(http_server: FlowHttpServer, monkeypatch: pytest.MonkeyPatch) -> FlowHttpServer:
    monkeypatch.setenv("AIRFLOW_CONN_SINK_API", http_conn(http_server))
    return http_server


def test_a_retry_sends_only_the_batches_try_1_did_not_deliver(airflow_db, sink_conn: FlowHttpServer, capsys) -> None:
    from tests.airflow_harness import run_dag

    sink_conn.fail_sink("resume_native", ids={50}, status=500, times=1)  # batch 5 fails once
    result = run_dag(sink_dag("resume_sink_native", "resume_native"))

    assert (result.tasks["deliver"].state, result.tasks["deliver"].try_number) == ("success", 2)
    assert batches_sent(sink_conn, "resume_native") == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9]
    assert held_ids(sink_conn, "resume_native") == list(range(100))  # every record once: no duplicates
    output = result.xcom("deliver")
    assert output["accepted_records"] == 100 and output["batches"] == 10
    assert (output["resumed_batches"], output["resumed_records"]) == (5, 50)
    assert "an earlier try delivered 5 batches (0-4)" in capsys.readouterr().out


def test_on_airflow_before_3_3_the_delivered_batches_are_kept_in_the_node_storage(
    airflow_db, sink_conn: FlowHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_flow.operators import task_state
    from tests.airflow_harness import run_dag

    real = task_state.task_store_from
    monkeypatch.setattr(
        "airflow_provider_flow.operators.base.task_store_from",
        lambda context: real({k: v for k, v in context.items() if k != "task_state_store"}),
    )
    sink_conn.fail_sink("resume_fallback", ids={70}, status=503, times=1)
    result = run_dag(sink_dag("resume_sink_fallback", "resume_fallback", base_path=str(tmp_path)))

    assert (result.tasks["deliver"].state, result.tasks["deliver"].try_number) == ("success", 2)
    assert batches_sent(sink_conn, "resume_fallback") == [0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 9]
    assert held_ids(sink_conn, "resume_fallback") == list(range(100))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # the state object is gone after success


def test_changed_input_resends_everything_and_a_last_try_keeps_nothing(http_server: FlowHttpServer) -> None:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState, MemoryStore
    from airflow_provider_flow.errors import FlowError
    from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
    from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime

    settings = HttpSettings(base_url=http_server.url, retry=RetrySettings(max_attempts=1))
    store = MemoryStore()
    values = {"http_conn_id": "api", "endpoint": "/sink/changed", "batch_size": 10, "max_concurrency": 1}
    config = validate_config(HttpSinkConfig, values)

    def attempt(try_number: int, max_tries: int, data: list[Any]) -> Any:
        state = ExecutionState(
            try_number=try_number,
            max_tries=max_tries,
            settings=StaticSettingsProvider(http={"api": settings}),
            task_store=store,
        )
        return HttpSinkRuntime().execute(config, data, state)

    http_server.fail_sink("changed", ids={30}, times=1)
    with pytest.raises(FlowError) as info:
        attempt(1, 1, RECORDS)
    assert info.value.is_retryable
    assert store.get("http.sink/resume")["batches"] == [[0, 2]]  # saved at the failure, whatever the timing

    other = [{"id": i, "v": 2} for i in range(100)]  # another input: its batch 0-2 are not what try 1 sent
    output = attempt(2, 1, other)
    assert "resumed_batches" not in output and output["accepted_records"] == 100
    assert store.get("http.sink/resume") is None

    # the last try with nothing recorded stages nothing: a failure there leaves no record behind
    http_server.fail_sink("changed", ids={30}, times=1)
    with pytest.raises(FlowError):
        attempt(2, 1, RECORDS)
    assert store.get("http.sink/resume") is None
