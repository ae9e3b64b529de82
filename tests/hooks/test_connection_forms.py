"""The provider's connection types and their forms: ``flow_http`` reads like ``http``; the Test buttons answer.

The forms themselves (what the UI's hook meta endpoint serves) are checked in ``tests/test_provider_info.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from airflow_provider_flow.hooks.http import FlowHttpHook, http_settings
from airflow_provider_flow.hooks.http_api import FlowHttpApiHook
from airflow_provider_flow.hooks.llm import FlowLlmHook


@pytest.fixture
def models_server() -> Iterator[str]:
    """A stand-in OpenAI ``GET /v1/models``: 200 with two models for key ``sk-good``, 401 otherwise."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self.send_response(404)
                self.end_headers()
                return
            good = self.headers.get("Authorization") == "Bearer sk-good"
            body = json.dumps({"data": [{"id": "a"}, {"id": "b"}]} if good else {"error": "no"}).encode()
            self.send_response(200 if good else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_flow_http_connection_reads_exactly_like_an_http_one(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {
        "host": "api.example.com",
        "schema": "https",
        "port": 8443,
        "login": "user",
        "password": "pw",
        "extra": {"timeout": 7, "max_retries": 2, "X-Api-Version": "2"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_PLAIN", json.dumps({"conn_type": "http", **fields}))
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_FLOW", json.dumps({"conn_type": "flow_http", **fields}))
    plain, flow = http_settings("forms_plain"), http_settings("forms_flow")
    assert flow == plain
    assert flow.base_url == "https://api.example.com:8443" and flow.headers == {"X-Api-Version": "2"}
    assert FlowHttpApiHook("forms_flow").get_settings() == plain
    assert issubclass(FlowHttpApiHook, FlowHttpHook) and FlowHttpApiHook.conn_type == "flow_http"


def test_flow_http_test_button_reports_the_resolved_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_OK", json.dumps({"conn_type": "flow_http", "host": "https://a.example"}))
    ok, message = FlowHttpApiHook("forms_ok").test_connection()
    assert ok and "a.example" in message
    bad = {"conn_type": "flow_http", "host": "https://a.example", "extra": {"timeout": "soon"}}
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_BAD", json.dumps(bad))
    ok, message = FlowHttpApiHook("forms_bad").test_connection()
    assert not ok and "timeout" in message


def test_llm_test_button_lists_models_and_names_a_refused_key(
    monkeypatch: pytest.MonkeyPatch, models_server: str
) -> None:
    good = {"conn_type": "flow_llm", "host": f"{models_server}/v1", "password": "sk-good"}
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_LLM_GOOD", json.dumps(good))
    ok, message = FlowLlmHook("forms_llm_good").test_connection()
    assert ok, message
    assert "/v1/models" in message and "2 models" in message and "sk-good" not in message

    monkeypatch.setenv("AIRFLOW_CONN_FORMS_LLM_BAD", json.dumps({**good, "password": "sk-wrong"}))
    ok, message = FlowLlmHook("forms_llm_bad").test_connection()
    assert not ok and "401" in message and "API key" in message and "sk-wrong" not in message

    monkeypatch.setenv("AIRFLOW_CONN_FORMS_LLM_PATH", json.dumps({**good, "host": models_server}))
    ok, message = FlowLlmHook("forms_llm_path").test_connection()
    assert not ok and "404" in message and "/v1" in message


def test_llm_test_button_reports_an_unreachable_server(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "flow_llm", "host": "http://127.0.0.1:9/v1", "password": "sk-x"}
    monkeypatch.setenv("AIRFLOW_CONN_FORMS_LLM_DOWN", json.dumps(conn))
    ok, message = FlowLlmHook("forms_llm_down").test_connection()
    assert not ok and "failed" in message and "sk-x" not in message
