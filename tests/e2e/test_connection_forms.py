"""The connection forms through a real api-server: ``GET /ui/connections/hook_meta``, the endpoint the UI's
"Add connection" form is built from, serves the provider's types with labels, descriptions, placeholders, hidden
fields and password (masked, sensitive) extras. Reuses the ``airflow standalone`` fixture of ``test_standalone``.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_standalone import Airflow, airflow  # noqa: F401  (the module-scoped fixture)

pytestmark = pytest.mark.e2e


def test_hook_meta_serves_the_provider_connection_forms(airflow: Airflow) -> None:  # noqa: F811
    response = airflow.client.get("/ui/connections/hook_meta")
    assert response.status_code == 200, response.text
    meta = {item["connection_type"]: item for item in response.json()}

    llm = meta["flow_llm"]
    assert llm["hook_name"] == "LLM (OpenAI-compatible)"
    assert llm["standard_fields"]["host"] == {
        "hidden": False,
        "title": "Base URL",
        "placeholder": "https://api.openai.com/v1",
    }
    assert llm["standard_fields"]["password"]["title"] == "API key"
    assert all(llm["standard_fields"][name]["hidden"] for name in ("login", "port", "url_schema"))
    org = llm["extra_fields"]["OpenAI-Organization"]
    assert org["schema"]["title"] == "Organization" and "header" in org["description"]

    http = meta["flow_http"]
    assert http["hook_name"] == "HTTP API (flow)"
    assert http["hook_class_name"] == "airflow_provider_flow.hooks.http_api.FlowHttpApiHook"
    assert http["standard_fields"]["host"]["placeholder"] == "https://api.example.com/v1"
    extra = http["extra_fields"]
    assert extra["auth_type"]["schema"]["enum"] == ["none", "basic", "bearer", "oauth2_client_credentials"]
    assert extra["client_secret"]["schema"]["format"] == "password"
    assert extra["bearer_token"]["schema"]["format"] == "password"
    assert extra["token_url"]["schema"]["title"] == "OAuth2 token URL" and extra["token_url"]["description"]
    assert "http" in meta  # the standard type is still there, unchanged
