"""An Airflow retry of http.source continues after the last page the failed try finished (records/resume.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.http_server import FlowHttpServer
from tests.resume.pages_api import ALL_IDS, PagesApi, http_conn, run_source


def source_dag(dag_id: str, path: str, base: Path, **config: Any) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSourceOperator

    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(
            task_id="fetch",
            http_conn_id="pages_api",
            endpoint=path,
            pagination={"type": "page"},
            records_path="items",
            retry={"max_attempts": 1},  # the 503 fails the try at once: Airflow's retry is what is tested
            output_path="out/items.ndjson",
            base_path=str(base),
            retries=1,
            retry_delay=timedelta(seconds=1),
            **config,
        )
    return dag


def ids_in(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def staged_files(base: Path) -> list[Path]:
    return (
        sorted(p for p in (base / ".flow-staging").rglob("*") if p.is_file())
        if (base / ".flow-staging").exists()
        else []
    )


@pytest.fixture
def pages_conn(http_server: FlowHttpServer, monkeypatch: pytest.MonkeyPatch) -> FlowHttpServer:
    monkeypatch.setenv("AIRFLOW_CONN_PAGES_API", http_conn(http_server))
    return http_server


def test_a_retry_after_a_failure_at_page_7_requests_pages_7_to_10_only(
    airflow_db, pages_conn: FlowHttpServer, tmp_path: Path, capsys
) -> None:
    from tests.airflow_harness import run_dag

    api = PagesApi(pages_conn, "/resume/source", fail_page=7)
    result = run_dag(source_dag("resume_source_native", "/resume/source", tmp_path))

    assert (result.tasks["fetch"].state, result.tasks["fetch"].try_number) == ("success", 2)
    # try 1: pages 1-7 (7 failed); try 2: page 7 again, then 8-10 and the empty page 11 that ends the run
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11]
    assert ids_in(tmp_path / "out/items.ndjson") == ALL_IDS  # complete, in order, nothing twice
    ref = result.xcom("fetch")
    assert ref["records"] == len(ALL_IDS) and ref["pages"] == 11
    assert staged_files(tmp_path) == []  # the stage is deleted once the output is published
    assert "resuming after page 6 (30 records staged by an earlier try)" in capsys.readouterr().out


def test_on_airflow_before_3_3_the_checkpoint_lives_next_to_the_staged_pages(
    airflow_db, pages_conn: FlowHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The fallback (no task state store in the context) also resumes; run on 3.3 by hiding the native store."""
    from airflow_provider_flow.operators import task_state
    from tests.airflow_harness import run_dag

    real = task_state.task_store_from
    seen: list[Any] = []

    def without_native_store(context: Any) -> Any:
        store = real({k: v for k, v in context.items() if k != "task_state_store"})
        seen.append(store)
        return store

    monkeypatch.setattr("airflow_provider_flow.operators.base.task_store_from", without_native_store)
    api = PagesApi(pages_conn, "/resume/fallback", fail_page=7)
    result = run_dag(source_dag("resume_source_fallback", "/resume/fallback", tmp_path))

    assert (result.tasks["fetch"].state, result.tasks["fetch"].try_number) == ("success", 2)
    assert [type(s).__name__ for s in seen] == ["FallbackTaskStore", "FallbackTaskStore"]
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11]
    assert ids_in(tmp_path / "out/items.ndjson") == ALL_IDS
    assert staged_files(tmp_path) == []  # checkpoint object and pages both gone after the publish
    assert "resuming after page 6" in capsys.readouterr().out


def test_a_try_that_fails_publishes_nothing_and_a_changed_config_starts_over(
    http_server: FlowHttpServer, tmp_path: Path
) -> None:
    """Runtime level: the same store across two tries, as Airflow keeps it; the second try has other params."""
    from airflow_provider_flow.core.state import MemoryStore
    from airflow_provider_flow.errors import FlowError

    api = PagesApi(http_server, "/resume/changed", fail_page=4)
    store = MemoryStore()

    def attempt(try_number: int, params: dict[str, Any]) -> Any:
        return run_source(http_server, "/resume/changed", str(tmp_path), store, try_number=try_number, params=params)

    with pytest.raises(FlowError):
        attempt(1, {"v": "1", "api_key": "sekret-123"})
    assert not (tmp_path / "items.ndjson").exists()  # nothing published by a failed try
    saved = store.get("http.source/resume")
    assert saved["pages"] == 3 and saved["url"] is None  # the next request is the first URL with page=4
    assert saved["params"] == {"set": {"page": 4}, "drop": []}  # the node's own params (the key) are not copied
    assert "sekret-123" not in json.dumps(saved)
    assert saved["segments"] == [1]  # pages 1-3 in one segment, closed when the try failed
    assert len(staged_files(tmp_path)) == 1

    ref = attempt(2, {"v": "2", "api_key": "sekret-123"})  # another query: the staged pages of v=1 must not be reused
    assert api.pages_requested == [1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert ids_in(tmp_path / "items.ndjson") == ALL_IDS and ref.records == len(ALL_IDS)
    written = (tmp_path / "items.ndjson").read_bytes()  # the copied stage: the reference describes these bytes
    assert (ref.bytes, ref.sha256) == (len(written), hashlib.sha256(written).hexdigest())
    assert store.get("http.source/resume") is None
    assert staged_files(tmp_path) == []


@pytest.mark.parametrize("output_format", ["json", "csv"])
def test_other_output_formats_are_rebuilt_from_the_staged_pages(
    http_server: FlowHttpServer, tmp_path: Path, output_format: str, caplog: pytest.LogCaptureFixture
) -> None:
    """NDJSON output copies the staged bytes; JSON and CSV re-encode the staged records, whole, once."""
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState, MemoryStore
    from airflow_provider_flow.errors import FlowError
    from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
    from airflow_provider_flow.records.input import input_records

    api = PagesApi(http_server, f"/resume/{output_format}", fail_page=9)
    settings = StaticSettingsProvider(
        http={"api": HttpSettings(base_url=http_server.url, retry=RetrySettings(max_attempts=1))}
    )
    store = MemoryStore()
    values = {
        "http_conn_id": "api",
        "endpoint": f"/resume/{output_format}",
        "pagination": {"type": "page"},
        "records_path": "items",
        "output_path": f"items.{output_format}",
        "output_format": output_format,
        "base_path": str(tmp_path),
    }
    config = validate_config(HttpSourceConfig, values)

    def attempt(try_number: int) -> Any:
        state = ExecutionState(try_number=try_number, max_tries=1, settings=settings, task_store=store)
        return HttpSourceRuntime().execute(config, None, state)

    with pytest.raises(FlowError):
        attempt(1)
    caplog.clear()
    with caplog.at_level("INFO", logger="airflow_provider_flow"):
        ref = attempt(2)
    summary = [r.getMessage() for r in caplog.records if " done: " in r.getMessage()]
    assert len(summary) == 1 and "40 records staged by earlier tries" in summary[0]
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11]
    state = ExecutionState(settings=settings)
    assert [int(r["id"]) for r in input_records(ref.model_dump(), state)] == ALL_IDS  # verified by its sha256 too
    assert ref.records == len(ALL_IDS) and ref.pages == 11


def run_linked(server: FlowHttpServer, tmp_path: Path, store: Any, try_number: int) -> Any:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    settings = HttpSettings(base_url=server.url, retry=RetrySettings(max_attempts=1))
    state = ExecutionState(
        try_number=try_number, max_tries=1, settings=StaticSettingsProvider(http={"api": settings}), task_store=store
    )
    values = {
        "http_conn_id": "api",
        "endpoint": "/resume/linked",
        "response_format": "ndjson",
        "pagination": {"type": "link"},
        "output_path": "linked.ndjson",
        "base_path": str(tmp_path),
    }
    return HttpSourceRuntime().execute(validate_config(HttpSourceConfig, values), None, state)


def test_ndjson_pages_linked_by_url_resume_from_the_stored_link(http_server: FlowHttpServer, tmp_path: Path) -> None:
    from airflow_provider_flow.core.state import MemoryStore
    from airflow_provider_flow.errors import FlowError

    api = PagesApi(http_server, "/resume/linked", fail_page=5, ndjson_links=True)
    store = MemoryStore()
    with pytest.raises(FlowError):
        run_linked(http_server, tmp_path, store, 1)
    saved = store.get("http.source/resume")
    assert (saved["pages"], saved["url"], saved["params"]) == (4, f"{http_server.url}/resume/linked?page=5", None)
    ref = run_linked(http_server, tmp_path, store, 2)
    assert api.pages_requested == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]
    assert ids_in(tmp_path / "linked.ndjson") == ALL_IDS and ref.pages == 10


def test_a_next_page_link_carrying_a_credential_is_never_stored(http_server: FlowHttpServer, tmp_path: Path) -> None:
    from airflow_provider_flow.core.state import MemoryStore
    from airflow_provider_flow.errors import FlowError

    api = PagesApi(http_server, "/resume/linked", fail_page=5, ndjson_links=True, link_extra="&access_token=tok-9876")
    store = MemoryStore()
    with pytest.raises(FlowError):
        run_linked(http_server, tmp_path, store, 1)
    # every link carries the token: no checkpoint could be saved without it
    assert store.get("http.source/resume") is None
    run_linked(http_server, tmp_path, store, 2)
    assert api.pages_requested == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]  # started over: nothing to resume
    assert ids_in(tmp_path / "linked.ndjson") == ALL_IDS
