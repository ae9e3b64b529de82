"""OAuth2 client credentials on ``http``/``flow_http`` connections: the extras read by ``FlowHttpHook``, unset
(null or "") form fields ignored, ``auth_type`` "none", bad combinations named with their fix, the "Test" button
fetching a real token, and one real Airflow run whose token never reaches the task log or XCom."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.http import FlowHttpHook
from airflow_provider_flow.hooks.http_api import FlowHttpApiHook
from airflow_provider_flow.http.settings import TimeoutSettings
from tests.fixtures.oauth2_server import CLIENT_SECRET, OAuth2Server
from tests.test_secret_values import encodings

TOKEN_URL = "https://auth.example.com/oauth2/token"
OAUTH2 = {"auth_type": "oauth2_client_credentials", "token_url": TOKEN_URL, "client_id": "cid", "client_secret": "cs-1"}


def settings(**fields: Any) -> Any:
    base = {"host": "https://api.example.com", "schema": None, "port": None, "login": None, "password": None}
    return FlowHttpHook.settings_from(**{**base, "extra": {}, **fields})


def test_oauth2_extras_become_oauth2_settings_not_headers() -> None:
    s = settings(extra={**OAUTH2, "scopes": "read  write", "audience": "https://api", "X-Tenant": "t1"})
    assert s.oauth2 is not None and s.auth is None and s.bearer_token is None
    assert (s.oauth2.token_url, s.oauth2.client_id, s.oauth2.client_secret) == (TOKEN_URL, "cid", "cs-1")
    assert s.oauth2.scopes == ("read", "write") and s.oauth2.audience == "https://api"
    assert s.oauth2.token_auth_method == "client_secret_post"
    assert s.headers == {"X-Tenant": "t1"}
    assert "cs-1" in s.secret_values() and s.oauth2.basic_credentials() in s.secret_values()
    assert "cs-1" not in repr(s) and "cs-1" not in repr(s.oauth2)


def test_scopes_as_a_json_list_and_basic_token_auth() -> None:
    s = settings(extra={**OAUTH2, "scopes": ["read", "write"], "token_auth_method": "client_secret_basic"})
    assert s.oauth2.scopes == ("read", "write") and s.oauth2.token_auth_method == "client_secret_basic"


def test_login_and_password_are_the_client_id_and_secret_when_the_extras_are_absent() -> None:
    extra = {"auth_type": "oauth2_client_credentials", "token_url": TOKEN_URL}
    s = settings(login="login-id", password="pw-secret", extra=extra)
    assert (s.oauth2.client_id, s.oauth2.client_secret) == ("login-id", "pw-secret") and s.auth is None
    s = settings(login="login-id", password="pw-secret", extra={**extra, "client_id": "x", "client_secret": "y"})
    assert (s.oauth2.client_id, s.oauth2.client_secret) == ("x", "y")


def test_without_oauth2_client_id_and_secret_stay_headers() -> None:
    s = settings(login="bob", password="pw", extra={"client_id": "cid", "client_secret": "cs-1"})
    assert s.oauth2 is None and s.auth == ("bob", "pw")
    assert s.headers == {"client_id": "cid", "client_secret": "cs-1"}


def test_null_and_empty_extras_are_ignored() -> None:
    """Airflow 3.3's declarative form stores every field left empty as null."""
    unset = {key: None for key in ("auth_type", "bearer_token", "timeout", "verify", "max_retries", "token_url")}
    s = settings(login="bob", password="pw", extra={**unset, "X-Empty": "", "X-None": None, "scopes": None})
    assert s.headers == {} and s.auth == ("bob", "pw") and s.timeout == TimeoutSettings() and s.verify is True
    s = settings(extra={**OAUTH2, "audience": None, "scopes": "", "token_auth_method": None, "headers": {"A": None}})
    assert s.oauth2.audience is None and s.oauth2.scopes == () and s.oauth2.token_auth_method == "client_secret_post"
    assert s.headers == {}


def test_auth_type_none_sends_no_credentials() -> None:
    s = settings(login="bob", password="pw", extra={"auth_type": "none"})
    assert s.auth is None and s.bearer_token is None and s.oauth2 is None and "Authorization" not in s.all_headers()
    assert "pw" in s.secret_values()  # still a secret: masked wherever it turns up


@pytest.mark.parametrize(
    ("extra", "fields", "field", "says"),
    [
        ({"token_url": None}, {}, "extra.token_url", "needs extra 'token_url'"),
        ({"token_url": "/oauth2/token"}, {}, "extra.token_url", "an absolute http(s) URL"),
        ({"client_id": None}, {}, "extra.client_id", "set extra 'client_id' or the connection's login"),
        ({"client_secret": ""}, {}, "extra.client_secret", "set extra 'client_secret' or the connection's password"),
        ({"client_secret": ["x"]}, {}, "extra.client_secret", "must be a string"),
        ({"token_auth_method": "private_key_jwt"}, {}, "extra.token_auth_method", "'client_secret_basic'"),
        ({"scopes": {"read": True}}, {}, "extra.scopes", "space-separated string or a list"),
        ({"bearer_token": "fixed-token"}, {}, "extra.bearer_token", "remove bearer_token"),
        ({"auth_type": "oauth2"}, {}, "extra.auth_type", "'oauth2_client_credentials'"),
    ],
)
def test_bad_oauth2_settings_name_the_field_and_the_fix(
    extra: dict[str, Any], fields: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(FlowValidationError) as info:
        settings(extra={**OAUTH2, **extra}, **fields)
    err = info.value
    assert err.field == field and not err.is_retryable and says in str(err), str(err)
    assert "cs-1" not in str(err) and "fixed-token" not in str(err)


# -- through Airflow: the connection, the masker, the "Test" button, a real run ---------------------------------


def flow_http_conn(server: OAuth2Server, **extra: Any) -> str:
    """A ``flow_http`` connection as the form saves it: unset fields null, the secret in client_secret."""
    fields = {
        "auth_type": "oauth2_client_credentials",
        "token_url": server.token_url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "scopes": "read",
        "audience": None,
        "token_auth_method": None,
        "bearer_token": None,
        "timeout": None,
        **extra,
    }
    return json.dumps({"conn_type": "flow_http", "host": server.url, "extra": json.dumps(fields)})


def test_get_settings_masks_the_client_secret(oauth2_server: OAuth2Server, monkeypatch) -> None:
    from airflow.sdk.log import _secrets_masker

    monkeypatch.setenv("AIRFLOW_CONN_OAUTH2_MASKED", flow_http_conn(oauth2_server))
    s = FlowHttpApiHook("oauth2_masked").get_settings()
    assert s.oauth2 is not None and s.on_secret is not None
    assert CLIENT_SECRET not in _secrets_masker().redact(f"secret={CLIENT_SECRET}")
    s.on_secret("runtime-token-123456")  # what the client calls with each token it fetches
    assert "runtime-token-123456" not in _secrets_masker().redact("Bearer runtime-token-123456")


def test_the_test_button_fetches_a_token(oauth2_server: OAuth2Server, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OAUTH2_GOOD", flow_http_conn(oauth2_server))
    monkeypatch.setenv("AIRFLOW_CONN_OAUTH2_BAD", flow_http_conn(oauth2_server, client_secret="wrong-Secret-42"))
    ok, message = FlowHttpApiHook("oauth2_good").test_connection()
    assert ok and "fetched an OAuth2 token" in message and oauth2_server.token_url in message, message
    assert len(oauth2_server.token_requests) == 1 and oauth2_server.api_requests == []
    assert oauth2_server.issued[0] not in message and CLIENT_SECRET not in message
    ok, message = FlowHttpApiHook("oauth2_bad").test_connection()
    assert not ok and "invalid_client" in message and "client_secret" in message, message
    assert "wrong-Secret-42" not in message and len(oauth2_server.token_requests) == 2  # one attempt, no retries


def test_a_real_run_paginates_with_oauth2_and_the_token_stays_secret(
    airflow_db, oauth2_server: OAuth2Server, monkeypatch, capsys
) -> None:
    from datetime import datetime

    from airflow.sdk import DAG

    from airflow_provider_flow.operators.http import HttpSourceOperator
    from tests.airflow_harness import run_dag

    monkeypatch.setenv("AIRFLOW_CONN_FLOW_OAUTH2", flow_http_conn(oauth2_server))
    with DAG("oauth2_source", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        HttpSourceOperator(
            task_id="pages",
            http_conn_id="flow_oauth2",
            endpoint="/api/items?pages=3",
            records_path="items",
            pagination={"type": "next_url", "next_url_path": "next"},
        )
        HttpSourceOperator(task_id="echo", http_conn_id="flow_oauth2", endpoint="/api/echo-json")

    result = run_dag(dag)
    log = capsys.readouterr().out
    assert result.state == "success", log[-3000:]
    assert [r["id"] for r in result.xcom("pages")] == [1, 2, 3, 4, 5, 6]
    echoed = result.xcom("echo")
    assert echoed[0]["id"] == 1 and echoed[0]["you_sent"] == "Bearer ***"  # the API echoed the token: scrubbed
    issued = oauth2_server.issued
    assert len(issued) == 2 and [status for _, _, status in oauth2_server.api_requests] == [200] * 4  # one per task
    assert oauth2_server.token_requests[0].form["scope"] == "read"
    for where, text in {"log": log, "xcom": json.dumps([result.xcom("pages"), echoed])}.items():
        for secret in (CLIENT_SECRET, *issued):
            for name, form in encodings(secret).items():
                assert form not in text, f"{name} form of a secret in the {where}"
