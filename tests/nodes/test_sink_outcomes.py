"""``http.sink`` when the API may have taken a batch but never said so (tests/fixtures/dropping_sink_server.py).

A batch whose request was written and then lost its reply is *unknown*: never counted as accepted, never as
failed, never resent without an idempotency key (or ``resend_unknown``). A request that never left (connection
refused) is *never sent* and safe to retry.
"""

from __future__ import annotations

import json
import pickle
import socket
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowError
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from tests.fixtures.dropping_sink_server import DroppingSinkServer

FAST = RetrySettings(max_attempts=3, max_elapsed=10, initial_backoff=0.01, max_backoff=0.01, jitter=0)
SIXTY = [{"id": i} for i in range(60)]
KEYED = {"idempotency_key_header": "Idempotency-Key"}


def run(url: str, data: Any = SIXTY, **config: Any) -> Any:
    settings = HttpSettings(base_url=url, retry=FAST)
    state = ExecutionState(dag_id="d", task_id="t", run_id="r", settings=StaticSettingsProvider(http={"api": settings}))
    values = {"http_conn_id": "api", "endpoint": "/batches", "batch_size": 20, "max_concurrency": 1, **config}
    return HttpSinkRuntime().execute(validate_config(HttpSinkConfig, values), data, state)


def requests_for(server: DroppingSinkServer, record_id: int) -> list[str | None]:
    """The idempotency key of every request that carried ``record_id``."""
    return [key for key, ids in server.requests if record_id in ids]


def fail(url: str, **config: Any) -> FlowError:
    with pytest.raises(FlowError) as info:
        run(url, **config)
    json.dumps(info.value.to_dict())  # the report is plain JSON
    return info.value


def test_a_dropped_batch_without_key_is_sent_once_and_reported_unknown(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.drop(ids={20}, times=1)  # batch 1 is stored, then the connection closes without a reply
    err = fail(dropping_sink.url)
    assert len(requests_for(dropping_sink, 20)) == 1  # not resent silently
    assert dropping_sink.held_ids() == list(range(40))  # the API holds batch 1 once, batch 2 was never sent
    assert err.code == "delivery_unknown" and not err.is_retryable
    assert err.details["accepted_record_ranges"] == [[0, 19]]
    assert err.details["unknown_record_ranges"] == [[20, 39]]
    assert err.details["never_sent_record_ranges"] == [[40, None]]
    assert err.details["failed_record_ranges"] == []
    assert err.details["accepted_records"] == 20
    assert [b["batch"] for b in err.details["unknown_batches"]] == [1]
    text = str(err)
    assert "(record ranges 0-19)" in text and "outcome unknown (sent, no reply): records 20-39" in text
    assert "never sent: records from 40 on" in text and "idempotency_key_header" in text


def test_with_idempotency_key_the_dropped_batch_is_resent_with_the_same_key(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.drop(ids={20}, times=1)
    result = run(dropping_sink.url, **KEYED)
    keys = requests_for(dropping_sink, 20)
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0] is not None
    assert dropping_sink.held_ids() == list(range(60))  # deduplicated by the key: each record once
    assert result["accepted_records"] == 60 and result["batches"] == 3


def test_repeated_drops_without_key_send_once_and_stop(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.drop(ids={0, 20}, times=None)
    err = fail(dropping_sink.url)
    assert len(requests_for(dropping_sink, 0)) == 1 and requests_for(dropping_sink, 20) == []
    assert dropping_sink.held_ids() == list(range(20))
    assert err.code == "delivery_unknown" and not err.is_retryable
    assert err.details["accepted_records"] == 0 and err.details["accepted_record_ranges"] == []
    assert err.details["unknown_record_ranges"] == [[0, 19]]
    assert err.details["never_sent_record_ranges"] == [[20, None]]


def test_repeated_drops_with_key_retry_with_one_key_and_fail_retryably(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.drop(ids={20}, times=None)
    err = fail(dropping_sink.url, **KEYED)
    keys = requests_for(dropping_sink, 20)
    assert len(keys) == FAST.max_attempts and len(set(keys)) == 1
    assert dropping_sink.held_ids() == list(range(40))  # every resend deduplicated
    assert err.code == "delivery_unknown" and err.is_retryable  # the keys make the Airflow retry safe
    assert err.details["unknown_record_ranges"] == [[20, 39]] and err.details["accepted_record_ranges"] == [[0, 19]]
    assert "same idempotency keys" in str(err)
    clone = pickle.loads(pickle.dumps(err))
    assert clone.is_retryable and clone.details["unknown_batches"][0]["records"] == [20, 39]


def test_resend_unknown_opts_in_to_resending_without_key(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.drop(ids={20}, times=1)
    result = run(dropping_sink.url, resend_unknown=True)
    assert len(requests_for(dropping_sink, 20)) == 2
    assert result["accepted_records"] == 60
    assert dropping_sink.held_ids().count(20) == 2  # what the user accepted by opting in


def test_a_read_timeout_after_the_body_was_sent_is_unknown(dropping_sink: DroppingSinkServer) -> None:
    dropping_sink.stall(ids={0}, seconds=1.5)
    err = fail(dropping_sink.url, timeout={"read": 0.3})
    assert len(requests_for(dropping_sink, 0)) == 1
    assert err.code == "delivery_unknown" and err.details["unknown_record_ranges"] == [[0, 19]]


def test_a_refused_connection_is_never_sent_and_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    err = fail(url)
    assert err.code == "connection_error" and err.is_retryable  # nothing reached the API: a retry is safe
    assert err.details["in_task_attempts"] == FAST.max_attempts
    assert err.details["never_sent_record_ranges"] == [[0, None]]
    assert err.details["unknown_record_ranges"] == [] and err.details["accepted_records"] == 0


def test_through_airflow_an_unknown_batch_fails_the_task_and_keys_make_the_retry_safe(
    airflow_db, dropping_sink: DroppingSinkServer, monkeypatch, capsys
) -> None:
    from datetime import datetime, timedelta

    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSinkOperator
    from tests.airflow_harness import run_dag

    host, port = dropping_sink.url.removeprefix("http://").split(":")
    conn = {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_DROPPING_SINK", json.dumps(conn))
    dropping_sink.drop(ids={20}, times=None)  # the unkeyed task: batch 1 never gets a reply
    dropping_sink.drop(ids={120}, times=2)  # the keyed task: both in-task attempts of try 1 lose their reply
    common: dict[str, Any] = {
        "endpoint": "/batches",
        "http_conn_id": "dropping_sink",
        "batch_size": 20,
        "max_concurrency": 1,
        "retry": {"max_attempts": 2, "initial_backoff": 0.05, "max_backoff": 0.1},
        "retries": 2,
        "retry_delay": timedelta(seconds=1),
    }
    with DAG("sink_unknown_outcomes", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSinkOperator(task_id="unkeyed", data=SIXTY, **common)
        HttpSinkOperator(
            task_id="keyed",
            data=[{"id": 100 + i} for i in range(60)],
            idempotency_key_header="Idempotency-Key",
            **common,
        )
    result = run_dag(dag)
    log = capsys.readouterr().out

    # No key: one request for the lost batch, the task fails at once (no Airflow retry), the log lists the ranges.
    assert (result.tasks["unkeyed"].state, result.tasks["unkeyed"].try_number) == ("failed", 1)
    assert len(requests_for(dropping_sink, 20)) == 1
    assert [i for i in dropping_sink.held_ids() if i < 100] == list(range(40))
    assert "batch 1 (records 20-39) outcome unknown (sent, no reply)" in log
    assert "(record ranges 0-19); outcome unknown (sent, no reply): records 20-39" in log
    assert "never sent: records from 40 on" in log

    # Keys: the Airflow retry resends every batch with the same keys; the API holds each record once.
    assert (result.tasks["keyed"].state, result.tasks["keyed"].try_number) == ("success", 2)
    assert len(set(requests_for(dropping_sink, 120))) == 1
    assert [i for i in dropping_sink.held_ids() if i >= 100] == list(range(100, 160))
    assert result.xcom("keyed")["accepted_records"] == 60
