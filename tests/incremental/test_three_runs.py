"""Three real Airflow runs of one incremental DAG against the demo server, whose catalog changes between runs.

The DAG: ``http.source`` (incremental on ``updated_at``, ``updated_since`` as the parameter) -> ``file.sink`` (one
file per run) -> ``WatermarkCommitOperator``. The server's request log proves what each run asked for; the files
prove what reached the destination; the asset state store (Airflow >= 3.3) or the asset events (3.1-3.2) hold the
watermark. A sink failure (a path outside the base, refused at once) must leave the watermark where it was.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.airflow_compat import HAS_ASSET_STATE_STORE
from airflow_provider_flow.operators.file import FileSinkOperator
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.incremental import EVENT_EXTRA_KEY, WatermarkCommitOperator, watermark_asset
from tests.airflow_harness import run_dag, serialize_dag

DAG_ID = "incremental_three_runs"


def build_dag(
    dag_id: str = DAG_ID, query: dict[str, Any] | None = None, *, run_files: bool = False, **incremental: Any
) -> Any:
    """The DAG under test; ``run_files``: one file per run (``products/run_<conf.run>.ndjson``) instead of the
    merged snapshot, for tests that look at what one run wrote."""
    from airflow.sdk import DAG

    with DAG(dag_id=dag_id, schedule=None, max_active_runs=1) as dag:
        fetch = HttpSourceOperator(
            task_id="fetch_products",
            http_conn_id="flow_demo_api",
            endpoint="/api/products",
            query_params={"limit": 10, **(query or {})},
            records_path="data",
            pagination={"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
            incremental={"cursor": "updated_at", **({"param": "updated_since"} | incremental)},
        )
        # One snapshot kept current: each product once, the newest `updated_at` wins (file.sink's merge disposition).
        target = (
            "'products/run_' ~ dag_run.conf.get('run', 0) ~ '.ndjson'" if run_files else "'products/snapshot.ndjson'"
        )
        merge: dict[str, Any] = (
            {} if run_files else {"disposition": "merge", "primary_key": "id", "cursor_field": "updated_at"}
        )
        write = FileSinkOperator(
            task_id="write_products",
            data=fetch.output,
            fs_conn_id="flow_demo_fs",
            path="{{ '../outside.ndjson' if dag_run.conf.get('break_sink') else " + target + " }}",
            **merge,
            declare_asset=False,
        )
        commit = WatermarkCommitOperator(task_id="commit_watermark", source_task_id="fetch_products")
        fetch >> write >> commit
    return dag


def catalog(server: Any) -> dict[int, dict[str, Any]]:
    """What the API holds now: every product in its newest version."""
    with server.state.lock:
        return {p["id"]: dict(p) for p in server.state.catalog.products.values()}


def changed_since(server: Any, since: str) -> int:
    with server.state.lock:
        return len(server.state.catalog.changed_since(since))


def snapshot_file(base: Path) -> Path:
    return base / "products" / "snapshot.ndjson"


def snapshot(base: Path) -> dict[int, dict[str, Any]]:
    """The merged snapshot by id; fails if any product appears in it more than once."""
    records = [json.loads(line) for line in snapshot_file(base).read_text().splitlines()]
    by_id = {record["id"]: record for record in records}
    assert len(by_id) == len(records), "a product appears twice in the merged snapshot"
    return by_id


def stored_watermark(dag_id: str = DAG_ID) -> Any:
    """The committed watermark as Airflow keeps it: the asset state store on 3.3, else the newest event extra."""
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    asset = watermark_asset(dag_id, "fetch_products")
    if HAS_ASSET_STATE_STORE:
        from airflow.models.asset_state_store import AssetStateStoreModel

        with create_session() as session:
            row = session.scalars(
                select(AssetStateStoreModel)
                .join(AssetModel, AssetModel.id == AssetStateStoreModel.asset_id)
                .where(AssetModel.name == asset.name, AssetStateStoreModel.key == "watermark")
            ).first()
            return None if row is None else json.loads(row.value)
    return event_watermark(dag_id)


def event_watermark(dag_id: str) -> Any:
    """The watermark in the newest asset event of the watermark asset (the store before Airflow 3.3)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    asset = watermark_asset(dag_id, "fetch_products")
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == asset.uri)
            .order_by(AssetEvent.timestamp.desc())
        ).all()
        return next((e.extra[EVENT_EXTRA_KEY] for e in events if EVENT_EXTRA_KEY in (e.extra or {})), None)


def test_three_runs_fetch_only_changes_and_a_failed_sink_loses_nothing(
    airflow_db: Any, demo_server: Any, demo_connections: Path
) -> None:
    catalog_requests = demo_server.state.product_requests
    dag = build_dag()

    # run 1: nothing committed yet -> everything, no updated_since
    before = len(catalog_requests)
    first = run_dag(dag, conf={"run": 1})
    assert first.state == "success", first.tasks
    asked = catalog_requests[before:]
    assert asked and all("updated_since" not in query for query in asked)
    outcome = first.xcom("fetch_products", "flow_watermark")
    assert outcome["previous"] is None and outcome["records"] == len(catalog(demo_server))
    watermark_1 = outcome["candidate"]
    assert watermark_1 == max(p["updated_at"] for p in snapshot(demo_connections).values())
    assert stored_watermark() == watermark_1

    # run 2: the catalog moved on (5 added, 3 updated); the sink fails -> the watermark stays
    snapshot_1 = snapshot_file(demo_connections).read_bytes()
    before = len(catalog_requests)
    second = run_dag(dag, conf={"run": 2, "break_sink": True})
    assert second.state == "failed"
    assert second.tasks["write_products"].state == "failed"
    assert second.tasks["commit_watermark"].state == "upstream_failed"
    asked = catalog_requests[before:]
    assert asked[0]["updated_since"] == watermark_1  # the server's log: only changes since the watermark
    # 5 added + 3 updated (+ the record at the watermark itself, 'since' being inclusive, unless it was updated)
    assert second.xcom("fetch_products", "flow_watermark")["records"] == changed_since(demo_server, watermark_1)
    assert changed_since(demo_server, watermark_1) in (8, 9)
    assert stored_watermark() == watermark_1
    assert snapshot_file(demo_connections).read_bytes() == snapshot_1  # the failed run changed nothing

    # run 3: fetches from the old watermark again, so run 2's changes are recovered with run 3's
    before = len(catalog_requests)
    third = run_dag(dag, conf={"run": 3})
    assert third.state == "success", third.tasks
    asked = catalog_requests[before:]
    assert asked[0]["updated_since"] == watermark_1
    outcome = third.xcom("fetch_products", "flow_watermark")
    assert outcome["previous"] == watermark_1 and outcome["records"] == changed_since(demo_server, watermark_1)
    assert stored_watermark() == outcome["candidate"] > watermark_1

    # what reached the destination holds every product, each in its newest version, exactly as the API has it
    assert snapshot(demo_connections) == catalog(demo_server)


def test_full_refresh_fetches_everything_and_resets_the_watermark(
    airflow_db: Any, demo_server: Any, demo_connections: Path
) -> None:
    dag_id = "incremental_full_refresh"
    dag = build_dag(dag_id, full_refresh="{{ dag_run.conf.get('full_refresh', False) }}")
    requests = demo_server.state.product_requests
    assert run_dag(dag, conf={"run": 1}).state == "success"
    watermark_1 = stored_watermark(dag_id)
    assert run_dag(dag, conf={"run": 2}).state == "success"
    watermark_2 = stored_watermark(dag_id)
    assert watermark_2 > watermark_1

    before = len(requests)
    refreshed = run_dag(dag, conf={"run": 3, "full_refresh": True})
    assert refreshed.state == "success", refreshed.tasks
    assert all("updated_since" not in query for query in requests[before:])  # started over
    outcome = refreshed.xcom("fetch_products", "flow_watermark")
    assert outcome["full_refresh"] is True and outcome["records"] == len(demo_server.state.catalog.products)
    assert stored_watermark(dag_id) == outcome["candidate"]


def test_airflow_before_3_3_keeps_the_watermark_in_asset_event_extras(
    airflow_db: Any, demo_server: Any, demo_connections: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 3.1-3.2 fallback, run here on the installed Airflow with the state store switched off (dag.test() runs
    tasks in this process); scripts/compat_test.sh runs this file on a real Airflow 3.1 too."""
    import airflow_provider_flow.operators.incremental as incremental

    monkeypatch.setattr(incremental, "HAS_ASSET_STATE_STORE", False)
    dag_id = "incremental_event_fallback"
    dag = build_dag(dag_id)
    requests = demo_server.state.product_requests
    assert run_dag(dag, conf={"run": 1}).state == "success"
    watermark_1 = event_watermark(dag_id)
    assert watermark_1 is not None
    if HAS_ASSET_STATE_STORE:
        assert stored_watermark(dag_id) is None  # nothing went to the state store

    before = len(requests)
    assert run_dag(dag, conf={"run": 2, "break_sink": True}).state == "failed"
    assert requests[before]["updated_since"] == watermark_1
    assert event_watermark(dag_id) == watermark_1

    before = len(requests)
    assert run_dag(dag, conf={"run": 3}).state == "success"
    assert requests[before]["updated_since"] == watermark_1
    assert event_watermark(dag_id) > watermark_1


def run_at(dag: Any, logical_date: datetime, conf: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """One run at ``logical_date``; again at the same date it is the same run id, cleared and run again."""
    dag_run = dag.test(run_after=logical_date, logical_date=logical_date, run_conf=conf)
    return str(getattr(dag_run.state, "value", dag_run.state)), {
        ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()
    }


def records_in(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("state_store", [False, *([True] if HAS_ASSET_STATE_STORE else [])])
def test_a_cleared_run_fetches_its_own_window_again_and_never_moves_the_watermark_back(
    airflow_db: Any, demo_server: Any, demo_connections: Path, monkeypatch: pytest.MonkeyPatch, state_store: bool
) -> None:
    import airflow_provider_flow.operators.incremental as incremental

    monkeypatch.setattr(incremental, "HAS_ASSET_STATE_STORE", state_store)
    dag_id = f"incremental_rerun_{'store' if state_store else 'events'}"
    dag = build_dag(dag_id, run_files=True)

    def committed() -> Any:
        return stored_watermark(dag_id) if state_store else event_watermark(dag_id)

    serialize_dag(dag)
    requests = demo_server.state.product_requests
    day_1, day_2 = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 2, tzinfo=timezone.utc)

    assert run_at(dag, day_1, {"run": 1})[0] == "success"
    watermark_1 = committed()
    assert run_at(dag, day_2, {"run": 2})[0] == "success"
    watermark_2 = committed()
    first_try_of_2 = records_in(demo_connections / "products" / "run_2.ndjson")

    before = len(requests)
    assert run_at(dag, day_2, {"run": 2})[0] == "success"  # run 2 cleared and run again
    assert requests[before]["updated_since"] == watermark_1  # where run 2 started, not the current watermark
    again = {r["id"] for r in records_in(demo_connections / "products" / "run_2.ndjson")}
    assert {r["id"] for r in first_try_of_2} <= again  # the run's output is whole again
    watermark_after = committed()
    assert watermark_after >= watermark_2

    before = len(requests)
    assert run_at(dag, day_1, {"run": 1})[0] == "success"  # the first run again: it started from nothing
    assert "updated_since" not in requests[before]
    assert committed() >= watermark_after  # an older run's commit never moves it back


def test_templates_can_place_the_watermark_themselves(
    airflow_db: Any, demo_server: Any, demo_connections: Path
) -> None:
    """``{{ flow_watermark }}``: for an API that wants the value where a query parameter cannot go."""
    dag_id = "incremental_template_variable"
    dag = build_dag(dag_id, query={"updated_since": "{{ flow_watermark or '' }}"}, param=None)
    requests = demo_server.state.product_requests
    before = len(requests)
    assert run_dag(dag, conf={"run": 1}).state == "success"
    assert "updated_since" not in requests[before]  # rendered empty before the first commit (the server drops it)
    watermark_1 = stored_watermark(dag_id)
    before = len(requests)
    second = run_dag(dag, conf={"run": 2})
    assert second.state == "success"
    assert requests[before]["updated_since"] == watermark_1
    assert second.xcom("fetch_products", "flow_watermark")["previous"] == watermark_1
