"""FlowLlmHook: an Airflow connection -> LlmSettings, API key masked and never in repr."""

from __future__ import annotations

import json

import pytest

from airflow_provider_flow.hooks.llm import FlowLlmHook
from airflow_provider_flow.llm.settings import LlmSettings


def test_settings_from_connection_fields() -> None:
    s = FlowLlmHook.settings_from(
        host="https://api.example.com/v1", api_key="sk-abc", extra={"OpenAI-Organization": "org-1"}
    )
    assert s.base_url == "https://api.example.com/v1" and s.api_key == "sk-abc"
    assert s.headers == {"OpenAI-Organization": "org-1"}
    assert s.timeout.read == 120.0  # LLM default, not the HTTP one
    http = s.http_settings()
    assert http.all_headers()["Authorization"] == "Bearer sk-abc" and "sk-abc" in http.secret_values()


def test_host_without_scheme_defaults_to_https_and_extra_tunes_timeouts() -> None:
    s = FlowLlmHook.settings_from(
        host="llm.internal", port=8000, api_key=None, extra={"timeout": 7, "max_retries": 2, "verify": False}
    )
    assert s.base_url == "https://llm.internal:8000" and s.api_key is None
    assert s.timeout.read == 7 and s.retry.max_attempts == 2 and s.verify is False


def test_fields_the_ui_form_left_empty_keep_the_llm_timeout() -> None:
    """Airflow 3.3's connection form saves every extra field left empty as null: not "a timeout was set"."""
    empty = {"OpenAI-Organization": None, "timeout": None, "total_timeout": "", "verify": None, "max_retries": None}
    s = FlowLlmHook.settings_from(host="https://api.example.com/v1", api_key="sk-abc", extra=empty)
    assert s.timeout == LlmSettings(base_url="").timeout and s.timeout.read == 120.0
    assert s.headers == {}


def test_get_settings_masks_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.log import _secrets_masker

    conn = {"conn_type": "flow_llm", "host": "http://127.0.0.1:9/v1", "password": "sk-hook-Secret-77"}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_HOOK_TEST", json.dumps(conn))
    s = FlowLlmHook(llm_conn_id="llm_hook_test").get_settings()
    assert isinstance(s, LlmSettings) and s.api_key == "sk-hook-Secret-77"
    assert "sk-hook-Secret-77" not in _secrets_masker().redact("key is sk-hook-Secret-77")
    assert "sk-hook-Secret-77" not in repr(s)
    ok, message = FlowLlmHook(llm_conn_id="llm_hook_test").test_connection()  # GET /models: nothing listens
    assert not ok and "failed" in message and "sk-hook-Secret-77" not in message


def test_ui_field_behaviour_and_defaults() -> None:
    assert FlowLlmHook().llm_conn_id == "llm_default" and FlowLlmHook.conn_type == "flow_llm"
    behaviour = FlowLlmHook.get_ui_field_behaviour()
    assert behaviour["relabeling"] == {"host": "Base URL", "password": "API key"}


def test_missing_connection_or_host_is_a_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_flow.errors import FlowValidationError

    with pytest.raises(FlowValidationError, match="'llm_nowhere' is not defined; create it with type 'flow_llm'"):
        FlowLlmHook(llm_conn_id="llm_nowhere").get_settings()
    monkeypatch.setenv("AIRFLOW_CONN_LLM_NO_HOST", json.dumps({"conn_type": "flow_llm", "password": "sk-x"}))
    with pytest.raises(FlowValidationError, match="has no Base URL"):
        FlowLlmHook(llm_conn_id="llm_no_host").get_settings()


def test_credential_headers_and_extra_bearer_token_are_used_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.log import _secrets_masker

    extra = {"api-key": "azure-Hdr-Key-42", "X-Gateway-Token": "gw-Tok-Value-9"}
    conn = {"conn_type": "flow_llm", "host": "https://llm.example/v1", "password": "sk-main-Key-5", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_LLM_HDR_TEST", json.dumps(conn))
    s = FlowLlmHook(llm_conn_id="llm_hdr_test").get_settings()
    assert s.headers == extra
    masked = _secrets_masker().redact("azure-Hdr-Key-42 gw-Tok-Value-9 sk-main-Key-5")
    assert "azure-Hdr-Key-42" not in masked and "gw-Tok-Value-9" not in masked and "sk-main-Key-5" not in masked
    from_extra = FlowLlmHook.settings_from(host="https://h/v1", api_key=None, extra={"bearer_token": "tok-x"})
    assert from_extra.api_key == "tok-x" and from_extra.http_settings().all_headers()["Authorization"] == "Bearer tok-x"
