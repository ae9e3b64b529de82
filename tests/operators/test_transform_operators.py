"""TransformOperator and AiTransformOperator in real ``dag.test()`` runs, with the fake LLM server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.operators.ai import AiTransformOperator
from airflow_provider_flow.operators.transform import TransformOperator
from airflow_provider_flow.records.writer import write_records
from tests.airflow_harness import run_dag
from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer

WRONG_KEY = "sk-wrong-NEVER-IN-LOGS-4242"


class Reply(BaseModel):
    id: str
    words: int
    shout: str


def add_flag(record: dict[str, Any]) -> dict[str, Any] | None:
    """A plain Python callable for TransformOperator(python_callable=...): drops 'bob', flags the rest."""
    return None if record["name"] == "bob" else {**record, "flag": True}


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, llm_server: FakeLlmServer, tmp_path: Path) -> Path:
    extra = {"max_retries": 2, "retry_max_elapsed": 5}
    good = {"conn_type": "flow_llm", "host": llm_server.base_url, "password": llm_server.api_key, "extra": extra}
    bad = {**good, "password": WRONG_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_TEST", json.dumps(good))
    monkeypatch.setenv("AIRFLOW_CONN_LLM_WRONG_KEY", json.dumps(bad))
    monkeypatch.setenv("AIRFLOW_CONN_FS_TEST", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
    return tmp_path


def test_transform_and_ai_tasks_in_one_dag_run(
    airflow_db: Path, connections: Path, llm_server: FakeLlmServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG

    base = connections
    people = [{"name": n, "age": a} for n, a in [("ada", 36), ("bob", 17), ("cy", 52), ("dee", 41)]]
    source = write_records(str(base), "in/people.ndjson", [{"i": i, "even": i % 2 == 0} for i in range(500)])
    reference = source.model_dump(mode="json", exclude_none=True) | {"fs_conn_id": "fs_test"}
    ai_records = [{"id": f"r{i}", "text": f"row {i}"} for i in range(12)]
    # Try 1 of ai_retry: record r8 keeps failing (2 in-task attempts) -> retryable failure -> Airflow retry.
    llm_server.inject("r8", "500", times=2)
    llm_server.inject("k1", "schema_violation", times=None)

    with DAG("transform_ai_ops", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        adults = TransformOperator(
            task_id="adults",
            data=people,
            operations=[{"filter": "age >= `18`"}, {"sort_by": {"key": "age", "reverse": True}}, {"drop": ["age"]}],
        )
        TransformOperator(task_id="flagged", data=adults.output, python_callable=add_flag)
        TransformOperator(
            task_id="from_file",
            data=reference,
            operations=[{"filter": "even"}, {"select": {"n": "i"}}, {"limit": 100}],
            output_path="out/even.ndjson",
            fs_conn_id="fs_test",
        )
        TransformOperator(
            task_id="bad_expression",
            data=people,
            operations=[{"filter": "length(age) > `1`"}],
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
        AiTransformOperator(
            task_id="ai_retry",
            data=ai_records,
            model="fake-1",
            prompt="[id:${id}] Summarise ${text}",
            output_schema=Reply,
            llm_conn_id="llm_test",
            fs_conn_id="fs_test",
            max_concurrency=2,
            retries=1,
            retry_delay=timedelta(seconds=1),
        )
        AiTransformOperator(
            task_id="ai_keep",
            data=[{"id": "k0", "text": "fine"}, {"id": "k1", "text": "broken"}],
            model="fake-1",
            prompt="[id:${id}] ${text}",
            output_schema=DEFAULT_REPLY_SCHEMA,
            llm_conn_id="llm_test",
            on_invalid="keep",
            max_repair_attempts=1,
        )
        AiTransformOperator(
            task_id="ai_wrong_key",
            data=[{"id": "w0", "text": "x"}],
            model="fake-1",
            prompt="[id:${id}] ${text}",
            output_schema=DEFAULT_REPLY_SCHEMA,
            llm_conn_id="llm_wrong_key",
            retries=2,
            retry_delay=timedelta(seconds=1),
        )

    result = run_dag(dag)
    log = capsys.readouterr().out

    assert result.xcom("adults") == [{"name": "cy"}, {"name": "dee"}, {"name": "ada"}]
    assert result.xcom("flagged") == [{"name": n, "flag": True} for n in ("cy", "dee", "ada")]

    ref = result.xcom("from_file")
    assert ref["kind"] == "file" and ref["records"] == 100 and ref["path"] == "out/even.ndjson"
    lines = (base / "out" / "even.ndjson").read_text().splitlines()
    assert json.loads(lines[0]) == {"n": 0} and json.loads(lines[-1]) == {"n": 198}

    assert result.tasks["bad_expression"].state == "failed"
    assert result.tasks["bad_expression"].try_number == 1  # validation error: no retry wasted
    assert "expression 'length(age) > `1`' failed on record 0" in log

    # The retry made no request for records finished on try 1: every record was asked exactly once,
    # except r8 (2 failed attempts on try 1, then 1 on try 2).
    assert result.tasks["ai_retry"].state == "success" and result.tasks["ai_retry"].try_number == 2
    assert [llm_server.requests_for(f"r{i}") for i in range(12) if i != 8] == [1] * 11
    assert llm_server.requests_for("r8") == 3
    enriched = result.xcom("ai_retry")
    assert [r["id"] for r in enriched] == [f"r{i}" for i in range(12)] and enriched[8]["words"] == 4
    assert (base / ".flow_cache" / "ai_transform" / "transform_ai_ops" / "ai_retry.ndjson").exists()
    # Token usage of the successful try sits beside the records under its own XCom key.
    usage = result.xcom("ai_retry", key="usage")
    assert usage["records_out"] == 12 and usage["cached"] == 11 and usage["usage"]["completions"] == 1

    kept = result.xcom("ai_keep")
    assert kept[0]["words"] == 2 and "_ai_error" in kept[1] and llm_server.requests_for("k1") == 2

    assert result.tasks["ai_wrong_key"].state == "failed" and result.tasks["ai_wrong_key"].try_number == 1
    assert "HTTP 401" in log and "Incorrect API key provided: ***" in log  # echoed by the server, scrubbed

    # Logs were captured (the summary line is there) and no API key appears in them.
    assert "ai.transform fake-1 done: " in log
    assert llm_server.api_key not in log and WRONG_KEY not in log


def test_bad_operation_fails_at_dag_parse_time() -> None:
    with pytest.raises(FlowValidationError) as info:
        TransformOperator(task_id="t", data=[], operations=[{"filtr": "a"}])
    assert "unknown operation 'filtr'" in str(info.value) and "task 't'" in str(info.value)
    with pytest.raises(FlowValidationError, match="invalid JMESPath expression"):
        TransformOperator(task_id="t2", data=[], operations=[{"filter": "a[?"}])
    # Templated operations are left for run time.
    TransformOperator(task_id="t3", data=[], operations=[{"filter": "{{ params.expr }}"}])


def test_ai_operator_turns_a_pydantic_model_into_a_json_schema() -> None:
    op = AiTransformOperator(task_id="a", data=[], model="m", prompt="${text}", output_schema=Reply)
    assert op.config["output_schema"] == Reply.model_json_schema() and op.config["output_model"] is Reply
    assert "temperature" not in op.config  # None values dropped: the model defaults apply
    with pytest.raises(FlowValidationError, match="on_invalid"):
        AiTransformOperator(task_id="b", data=[], model="m", prompt="x", output_schema=Reply, on_invalid="nope")
