"""Hostile connections: bad extras name the key, the value and the fix; secrets are masked in every encoding;
CR/LF in a header value is refused when the connection is read, naming the header and never its value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.http import FlowHttpHook
from airflow_provider_flow.hooks.llm import FlowLlmHook
from tests.test_secret_values import PASSWORD, encodings


def http_settings(**fields: Any) -> Any:
    base = {"host": "h", "schema": None, "port": None, "login": None, "password": None, "extra": {}}
    return FlowHttpHook.settings_from(**{**base, **fields})


def llm_settings(extra: dict[str, Any], api_key: str | None = "sk-test-123456") -> Any:
    return FlowLlmHook.settings_from(host="https://llm.example/v1", api_key=api_key, extra=extra)


@pytest.mark.parametrize("build", [http_settings, llm_settings], ids=["http", "llm"])
@pytest.mark.parametrize(
    ("extra", "key", "shown"),
    [
        ({"timeout": "abc"}, "timeout", "'abc'"),
        ({"timeout": -5}, "timeout", "-5"),
        ({"read_timeout": "nan"}, "read_timeout", "'nan'"),
        ({"total_timeout": "inf"}, "total_timeout", "'inf'"),
        ({"verify": "maybe"}, "verify", "'maybe'"),
        ({"max_retries": -3}, "max_retries", "-3"),
        ({"max_retries": "lots"}, "max_retries", "'lots'"),
        ({"retry_max_elapsed": -1}, "retry_max_elapsed", "-1"),
        ({"follow_redirects": "sometimes"}, "follow_redirects", "'sometimes'"),
    ],
)
def test_a_bad_extra_names_the_key_the_value_and_the_fix(build: Any, extra: dict[str, Any], key: str, shown: str):
    with pytest.raises(FlowValidationError) as info:
        build(extra=extra)
    err = info.value
    assert err.field == f"extra.{key}" and not err.is_retryable
    message = str(err)
    assert f"'{key}'" in message and shown in message, message
    assert "e.g." in message, f"no fix in: {message}"


@pytest.mark.parametrize(
    ("fields", "named", "field"),
    [
        ({"password": "tok-abcdef\n", "extra": {"auth_type": "bearer"}}, "Authorization", "password"),
        ({"extra": {"bearer_token": "tok-abcdef\r\n"}}, "Authorization", "extra.bearer_token"),
        ({"extra": {"X-Auth-Key": "key-abcdef\n"}}, "X-Auth-Key", "extra.X-Auth-Key"),
        ({"extra": {"headers": {"Ocp-Apim-Subscription-Key": "k-abcdef\r"}}}, "Ocp-Apim-Subscription-Key", None),
    ],
)
def test_a_line_break_in_a_connection_header_is_refused_when_read(
    fields: dict[str, Any], named: str, field: str | None
) -> None:
    with pytest.raises(FlowValidationError) as info:
        http_settings(**fields)
    err = info.value
    assert named in str(err) and "abcdef" not in str(err) and err.value is None and not err.is_retryable
    assert err.field == (field or f"extra.headers.{named}")


def test_an_llm_api_key_with_a_newline_is_refused_when_read() -> None:
    with pytest.raises(FlowValidationError, match="API key") as info:
        llm_settings({}, api_key="sk-abcdef\n")
    assert "abcdef" not in str(info.value) and info.value.field == "password"


def test_get_settings_masks_every_encoding_of_every_connection_value(monkeypatch) -> None:
    from airflow.sdk.log import _secrets_masker

    conn = {
        "conn_type": "http",
        "host": "api.example.com",
        "login": "bob",
        "password": PASSWORD,
        "extra": json.dumps({"DD-APPLICATION-KEY": "dd-app-key-0003", "Accept": "application/json"}),
    }
    monkeypatch.setenv("AIRFLOW_CONN_FLOW_HOSTILE_MASK", json.dumps(conn))
    FlowHttpHook(http_conn_id="flow_hostile_mask").get_settings()
    line = " ".join(f"{k}={v}" for k, v in encodings(PASSWORD).items()) + " dd=dd-app-key-0003 a=application/json"
    masked = _secrets_masker().redact(line)
    for name, form in encodings(PASSWORD).items():
        assert form not in masked, f"{name} form unmasked in {masked}"
    assert "dd-app-key-0003" not in masked and "application/json" in masked


# -- a real Airflow run: logs, XCom and the stored rendered fields ----------------------------------------------

PARTNER_SECRET = "partner-secret-77"  # a node header filled from a Variable with an innocent name
NEWLINE_TOKEN = "nl-token-abcdef\n"


def _rendered_fields(dag_id: str, run_id: str, task_id: str) -> Any:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rtif
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(Rtif).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        return row.rendered_fields


def test_secrets_never_reach_logs_xcom_or_rendered_fields(airflow_db, http_server, monkeypatch, capsys) -> None:
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSourceOperator
    from tests.airflow_harness import run_dag
    from tests.test_secret_values import CUSTOM_HEADERS, echo_all_headers

    http_server.add_route("/echo401", echo_all_headers(401))
    host, port = http_server.url.removeprefix("http://").split(":")
    conn = {"conn_type": "http", "host": host, "port": int(port), "login": "bob", "password": PASSWORD}
    monkeypatch.setenv("AIRFLOW_CONN_FLOW_HOSTILE", json.dumps({**conn, "extra": json.dumps(CUSTOM_HEADERS)}))
    bearer = {**conn, "password": NEWLINE_TOKEN, "extra": json.dumps({"auth_type": "bearer"})}
    monkeypatch.setenv("AIRFLOW_CONN_FLOW_NEWLINE", json.dumps(bearer))
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_REF", PARTNER_SECRET)
    node_headers = {"X-Partner": "{{ var.value.partner_ref }}", "X-Trace": "trace-1"}

    with DAG("hostile_secrets", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        # an API echoing every request header (and the query) in its 401 body; the password in an innocent param
        HttpSourceOperator(
            task_id="echo_401",
            http_conn_id="flow_hostile",
            endpoint="/echo401",
            query_params={"q": "{{ conn.flow_hostile.password }}"},
            headers=node_headers,
            sensitive_headers=["X-Partner"],
            retries=2,
        )
        # an API echoing every request header in a 2xx body: that body is the task's XCom
        HttpSourceOperator(
            task_id="echo_200",
            http_conn_id="flow_hostile",
            endpoint="/echo",
            headers=node_headers,
            sensitive_headers=["X-Partner"],
        )
        HttpSourceOperator(task_id="newline_token", http_conn_id="flow_newline", endpoint="/echo", retries=2)

    result = run_dag(dag)
    log = capsys.readouterr().out
    run_id = result.dag_run.run_id

    assert (result.tasks["echo_401"].state, result.tasks["echo_401"].try_number) == ("failed", 1)
    assert "HTTP 401 from GET" in log and "you_sent" in log
    echoed = result.xcom("echo_200")
    assert echoed[0]["headers"]["x-trace"] == "trace-1"  # the record is there, only its secrets are gone
    assert echoed[0]["headers"]["x-auth-key"] == "***" and echoed[0]["headers"]["x-partner"] == "***"

    assert (result.tasks["newline_token"].state, result.tasks["newline_token"].try_number) == ("failed", 1)
    assert "'Authorization'" in log and "line break" in log
    assert http_server.hits("/echo") - http_server.hits("/echo401") == 1  # only echo_200 was sent

    stored = json.dumps([_rendered_fields(dag.dag_id, run_id, t) for t in ("echo_401", "echo_200")])
    assert "X-Partner" in stored and "trace-1" in stored  # the rendered fields are there...
    for where, text in {"log": log, "xcom": json.dumps(echoed), "rendered fields": stored}.items():
        for secret in (PASSWORD, PARTNER_SECRET, *CUSTOM_HEADERS.values()):
            for name, form in encodings(secret).items():
                assert form not in text, f"{name} form of {secret!r} in the {where}"
        assert "nl-token-abcdef" not in text, where
