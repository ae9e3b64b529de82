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
