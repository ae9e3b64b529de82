"""A misspelled connection id suggests the close ones from ``AIRFLOW_CONN_*`` variables and the metadata DB.

Real lookups throughout: env-var connections, rows in the session's SQLite metadata DB, and a real ``dag.test()``
whose task fails on the typo. Only the "listing itself fails" case replaces the DB listing (a blocked ORM cannot
be produced in the test process without breaking every later test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks import connections
from airflow_provider_flow.hooks.connections import did_you_mean, env_connection_ids
from airflow_provider_flow.hooks.http import FlowHttpHook
from tests.airflow_harness import run_dag

HTTP_CONN = json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 9})


@pytest.fixture
def db_connection(airflow_db: Path) -> Iterator[str]:
    """A connection stored in the metadata DB (as Admin > Connections or `airflow connections add` would)."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    conn_id = "orders_warehouse_api"
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="http", host="127.0.0.1", port=9))
    yield conn_id
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == conn_id).delete()


def test_env_var_connection_is_suggested(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_API_DEFAULT", HTTP_CONN)
    with pytest.raises(FlowValidationError) as info:
        FlowHttpHook(http_conn_id="api_defualt").get_settings()
    message = str(info.value)
    assert "connection 'api_defualt' is not defined; did you mean 'api_default'? create an 'http' connection" in (
        message
    )
    assert info.value.field == "http_conn_id" and not info.value.is_retryable


def test_metadata_db_connection_is_suggested(db_connection: str) -> None:
    with pytest.raises(FlowValidationError, match=r"did you mean 'orders_warehouse_api'\?"):
        FlowHttpHook(http_conn_id="orders_warehouse_apii").get_settings()


def test_nothing_close_adds_no_hint(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_API_DEFAULT", HTTP_CONN)
    with pytest.raises(FlowValidationError) as info:
        FlowHttpHook(http_conn_id="zzz_unrelated").get_settings()
    assert "did you mean" not in str(info.value)


def test_failing_listing_never_hides_the_real_error(monkeypatch) -> None:
    def blocked() -> list[str]:
        raise RuntimeError("Direct database access via the ORM is not allowed in Airflow 3.0")

    monkeypatch.setattr(connections, "connection_ids_in_metadata_db", blocked)
    monkeypatch.setenv("AIRFLOW_CONN_API_DEFAULT", HTTP_CONN)
    with pytest.raises(FlowValidationError, match=r"'api_defualt' is not defined; did you mean 'api_default'\?"):
        FlowHttpHook(http_conn_id="api_defualt").get_settings()


def test_listing_never_creates_a_sqlite_file(monkeypatch, tmp_path: Path) -> None:
    from airflow import settings

    from airflow_provider_flow.airflow_compat import connection_ids_in_metadata_db

    missing = tmp_path / "no-such-airflow.db"
    monkeypatch.setattr(settings, "SQL_ALCHEMY_CONN", f"sqlite:///{missing}")
    assert connection_ids_in_metadata_db() == []
    assert not missing.exists()


def test_env_ids_and_matching_rules() -> None:
    environ = {"AIRFLOW_CONN_API_DEFAULT": "{}", "AIRFLOW_CONN_": "{}", "PATH": "/bin", "AIRFLOW_CONN_FS_MAIN": "x"}
    assert env_connection_ids(environ) == ["api_default", "fs_main"]
    assert did_you_mean("API_DEFUALT", ["api_default"]) == "did you mean 'api_default'? "
    assert did_you_mean("api_default", ["api_default"]) == ""  # the id itself is not a suggestion
    assert did_you_mean("http_a", ["http_b", "http_c", "http_d", "http_e"]).count("'") == 6  # at most three


def test_dag_test_task_names_the_close_connection(monkeypatch, capsys, db_connection: str) -> None:
    """In a real run: one typo close to an env-var connection, one close to a connection stored in the DB."""
    from airflow.sdk import DAG

    from airflow_provider_flow.operators import HttpSourceOperator

    monkeypatch.setenv("AIRFLOW_CONN_ORDERS_API", HTTP_CONN)
    with DAG("conn_typo", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(task_id="env_typo", endpoint="/orders", http_conn_id="orders_ap", retries=3)
        HttpSourceOperator(task_id="db_typo", endpoint="/orders", http_conn_id="orders_warehouse_ap", retries=3)
    result = run_dag(dag)
    captured = capsys.readouterr()
    log = captured.out + captured.err
    for task in ("env_typo", "db_typo"):  # failed at once: a missing connection is not retried
        assert result.tasks[task].state == "failed" and result.tasks[task].try_number == 1
    # the closest id first (both ids are close to both typos)
    assert "connection 'orders_ap' is not defined; did you mean 'orders_api' or 'orders_warehouse_api'?" in log
    assert "connection 'orders_warehouse_ap' is not defined; did you mean 'orders_warehouse_api' or" in log
