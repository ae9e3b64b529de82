"""FlowHttpHook: Airflow ``http`` connections (as users already have them) -> HttpSettings, secrets masked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.http import FlowHttpHook
from airflow_provider_flow.http.settings import TimeoutSettings


def settings(**fields: Any) -> Any:
    base = {"host": None, "schema": None, "port": None, "login": None, "password": None, "extra": {}}
    return FlowHttpHook.settings_from(**{**base, **fields})


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("api.example.com", None, None, "http://api.example.com"),
        ("api.example.com", "https", 8443, "https://api.example.com:8443"),
        ("https://api.example.com/v1", None, None, "https://api.example.com/v1"),
        ("https://api.example.com/v1", "http", 9000, "https://api.example.com:9000/v1"),
        ("https://api.example.com:1234", None, 9000, "https://api.example.com:1234"),
        ("[::1]", "http", 8080, "http://[::1]:8080"),
        ("http://[::1]:1234/v1", None, 8080, "http://[::1]:1234/v1"),
        (None, None, None, ""),
    ],
)
def test_base_url_like_httphook(host: str | None, schema: str | None, port: int | None, expected: str) -> None:
    assert settings(host=host, schema=schema, port=port).base_url == expected


def test_login_password_is_basic_auth_and_extras_are_headers() -> None:
    s = settings(
        host="h",
        login="alice",
        password="pw",
        extra={"X-Tenant": "t1", "headers": {"Accept": "application/json"}, "timeout": 5, "verify": "false"},
    )
    assert s.auth == ("alice", "pw") and s.bearer_token is None
    assert s.headers == {"X-Tenant": "t1", "Accept": "application/json"}
    assert s.timeout == TimeoutSettings.uniform(5.0) and s.timeout.total == 50
    assert s.verify is False


def test_bearer_token_from_password_or_extra() -> None:
    s = settings(host="h", login="ignored", password="tok", extra={"auth_type": "bearer"})
    assert s.bearer_token == "tok" and s.auth is None and s.all_headers()["Authorization"] == "Bearer tok"
    assert settings(host="h", extra={"bearer_token": "t2"}).bearer_token == "t2"


def test_per_phase_timeouts_retry_and_ca_bundle() -> None:
    s = settings(
        host="h",
        extra={
            "connect_timeout": 2,
            "total_timeout": 60,
            "verify": "/etc/ssl/ca.pem",
            "max_retries": 1,
            "retry_max_elapsed": 10,
        },
    )
    assert (s.timeout.connect, s.timeout.read, s.timeout.total) == (2, 30, 60)
    assert s.verify == "/etc/ssl/ca.pem" and s.retry.max_attempts == 1 and s.retry.max_elapsed == 10
    assert s.follow_redirects is True
    assert settings(host="h", extra={"allow_redirects": False}).follow_redirects is False  # HttpHook's key


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"timeout": "soon"}, "extra.timeout"),
        ({"read_timeout": -1}, "extra.read_timeout"),
        ({"verify": "maybe"}, "extra.verify"),
        ({"auth_type": "digest"}, "extra.auth_type"),
        ({"max_retries": 0}, "extra.max_retries"),
        ({"auth_type": "bearer"}, "password"),
        ({"headers": ["x"]}, "extra.headers"),
    ],
)
def test_bad_extras_name_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        settings(host="h", extra=extra)
    assert info.value.field == field


def test_get_settings_reads_the_connection_and_masks_its_secrets(monkeypatch) -> None:
    from airflow.sdk.log import _secrets_masker

    conn = {
        "conn_type": "http",
        "host": "api.example.com",
        "schema": "https",
        "login": "bob",
        "password": "hook-Passw0rd",
        "extra": json.dumps({"X-API-Key": "hook-ApiKey1", "Accept": "application/json"}),
    }
    monkeypatch.setenv("AIRFLOW_CONN_FLOW_HOOK_TEST", json.dumps(conn))
    s = FlowHttpHook(http_conn_id="flow_hook_test").get_settings()
    assert s.base_url == "https://api.example.com" and s.auth == ("bob", "hook-Passw0rd")
    assert s.headers["X-API-Key"] == "hook-ApiKey1"
    masked = _secrets_masker().redact("pw=hook-Passw0rd key=hook-ApiKey1 accept=application/json")
    assert "hook-Passw0rd" not in masked and "hook-ApiKey1" not in masked and "application/json" in masked
    assert "hook-Passw0rd" not in repr(s)


def test_default_conn_name() -> None:
    assert FlowHttpHook().http_conn_id == "http_default"
    assert FlowHttpHook.conn_name_attr == "http_conn_id"


def test_missing_connection_is_a_validation_error_naming_it() -> None:
    with pytest.raises(FlowValidationError, match="'http_nowhere' is not defined") as info:
        FlowHttpHook(http_conn_id="http_nowhere").get_settings()
    assert info.value.field == "http_conn_id" and not info.value.is_retryable
