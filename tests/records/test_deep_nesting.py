"""Deeply nested JSON is bad input: a non-retryable NestingTooDeepError naming where it came from, never a raw
RecursionError (which Airflow would retry as if it were a bug).

Sources are real: a loopback API (JSON and NDJSON bodies), files under a base directory, an LLM reply and a
resume cache, records walked later by an expression or written to a file, and a whole Airflow run.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.errors import NestingTooDeepError
from airflow_provider_flow.expressions import compile_template
from airflow_provider_flow.llm.cache import ResultCache
from airflow_provider_flow.llm.replies import ReplyValidator
from airflow_provider_flow.nodes.transform import TransformConfig, build_stages, transform_records
from airflow_provider_flow.records.operations import run_pipeline
from tests.nodes.test_file_nodes import base, sink, source  # noqa: F401 - base is a fixture
from tests.nodes.test_http_source import run, state  # noqa: F401 - state is a fixture

DEEP = "[" * 100_000 + "]" * 100_000
SECRET = "Sup3r-Deep-Key"


def deep_list(depth: int) -> list[Any]:
    """A value nested ``depth`` lists deep, built without recursion (as an upstream Python callable might)."""
    root: list[Any] = []
    inner = root
    for _ in range(depth):
        inner.append([])
        inner = inner[0]
    return root


def refused(info: pytest.ExceptionInfo[NestingTooDeepError], *names: str) -> str:
    err = info.value
    assert not err.is_retryable and err.code == "nesting_too_deep"
    for name in names:
        assert name in err.message, err.message
    return err.message


def test_a_deep_json_api_response_names_the_url_without_secrets(http_server, state) -> None:  # noqa: F811
    http_server.add_route("/deep", lambda req: (200, {}, DEEP.encode()))
    with pytest.raises(NestingTooDeepError) as info:
        run(state, endpoint=f"/deep?api_key={SECRET}")
    assert SECRET not in refused(info, "GET", "/deep")


def test_a_deep_ndjson_api_line_names_the_url_and_line(http_server, state) -> None:  # noqa: F811
    http_server.add_route("/deep-lines", lambda req: (200, {}, b'{"id": 1}\n' + DEEP.encode() + b"\n"))
    with pytest.raises(NestingTooDeepError) as info:
        run(state, endpoint="/deep-lines", response_format="ndjson")
    refused(info, "line 2", "/deep-lines")


@pytest.mark.parametrize(("name", "content"), [("in/deep.ndjson", '{"a": 1}\n' + DEEP), ("in/deep.json", DEEP)])
def test_a_deep_file_names_the_file_and_line(base: str, name: str, content: str) -> None:  # noqa: F811
    os.mkdir(os.path.join(base, "in"))
    Path(base, name).write_text(content)
    with pytest.raises(NestingTooDeepError) as info:
        source({"path": name, "base_path": base, "fs_conn_id": None}, base)
    refused(info, name, *(["line 2"] if name.endswith(".ndjson") else []))


def test_a_deep_llm_reply_is_an_invalid_reply_to_repair() -> None:
    value, error = ReplyValidator.parse(DEEP)
    assert value is None and error is not None and "too deeply" in error and "reply" in error


def test_a_deep_line_in_the_resume_cache_is_skipped_like_any_unreadable_line(tmp_path: Path) -> None:
    good = {"key": "k1", "status": "ok", "value": {"ok": True}}
    (tmp_path / "cache.jsonl").write_text(DEEP + "\n" + json.dumps(good) + "\n")
    assert ResultCache(str(tmp_path), "cache.jsonl").entries == {"k1": good}


def test_walking_deep_data_in_an_expression_names_the_record_and_expression() -> None:
    records = [{"v": 1}, deep_list(50_000)]
    with pytest.raises(NestingTooDeepError) as info:
        transform_records(records, [{"select": {"s": "to_string(@)"}}])
    refused(info, "record 1", "to_string(@)", "operations[0].select.s")


def test_writing_deep_data_names_the_record(base: str) -> None:  # noqa: F811
    with pytest.raises(NestingTooDeepError) as info:
        sink({"path": "out.ndjson", "base_path": base, "fs_conn_id": None}, [1, deep_list(50_000)], base)
    refused(info, "record 1")
    assert not Path(base, "out.ndjson").exists()


def test_an_airflow_task_reading_deep_json_fails_at_once_despite_retries(
    airflow_db, http_server, monkeypatch, capsys
) -> None:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSourceOperator

    host, port = http_server.url.removeprefix("http://").split(":")
    conn = {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_HTTP_DEFAULT", json.dumps(conn))
    http_server.add_route("/deep-task", lambda req: (200, {}, DEEP.encode()))
    with DAG("deep_nesting_fails_once", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(task_id="deep", endpoint="/deep-task", retries=2, retry_delay=timedelta(seconds=0))
    from tests.airflow_harness import run_dag

    result = run_dag(dag)
    assert (result.tasks["deep"].state, result.tasks["deep"].try_number) == ("failed", 1)
    assert http_server.hits("/deep-task") == 1
    assert "nests JSON arrays/objects too deeply" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("operation", "config"),
    [({"unique_by": "v"}, {}), ({"sort_by": "k"}, {"sort_buffer_records": 1})],
    ids=["unique_by-key", "sort_by-spill"],
)
def test_deep_records_in_unique_by_and_sort_spills_name_the_record(operation: Any, config: Any) -> None:
    stages = build_stages(validate_config(TransformConfig, {"operations": [operation], **config}))
    with pytest.raises(NestingTooDeepError) as info:
        list(run_pipeline([{"k": 1, "v": 1}, {"k": 2, "v": deep_list(50_000)}], stages))
    refused(info, "record 1")


def test_a_deep_value_inserted_into_a_prompt_names_the_record_and_placeholder() -> None:
    with pytest.raises(NestingTooDeepError) as info:
        compile_template("Review: ${@}", field="prompt").render(deep_list(50_000), index=4)
    refused(info, "record 4", "prompt")
