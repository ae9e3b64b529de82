from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_flow.get_provider_info import get_provider_info


def test_provider_info_passes_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)
    assert get_provider_info()["package-name"] == "airflow-provider-flow"


def test_hook_and_operator_modules_import() -> None:
    import importlib

    info = get_provider_info()
    for group in info["operators"] + info["hooks"]:
        for module in group["python-modules"]:
            importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        assert getattr(importlib.import_module(module), cls)


def test_airflow_providers_list_shows_the_package(airflow_db) -> None:
    airflow_cli = Path(sys.executable).parent / "airflow"
    out = subprocess.run(
        [str(airflow_cli), "providers", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=True,
    ).stdout
    names = [p["package_name"] for p in json.loads(out[out.index("[") :])]
    assert "airflow-provider-flow" in names


def _hook_meta() -> dict[str, dict]:
    """What the UI's connection form reads (``GET /ui/connections/hook_meta``), computed as the API server does."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    return {meta.connection_type: meta.model_dump() for meta in HookMetaService.hook_meta_data()}


def test_connection_types_have_labelled_described_fields_and_masked_secrets() -> None:
    meta = _hook_meta()
    llm, http = meta["flow_llm"], meta["flow_http"]
    assert llm["hook_name"] == "LLM (OpenAI-compatible)" and http["hook_name"] == "HTTP API (flow)"
    assert http["hook_class_name"] == "airflow_provider_flow.hooks.http_api.FlowHttpApiHook"

    std = llm["standard_fields"]
    assert std["host"] == {"hidden": False, "title": "Base URL", "placeholder": "https://api.openai.com/v1"}
    assert std["password"]["title"] == "API key" and std["password"]["placeholder"] == "sk-..."
    assert std["login"]["hidden"] and std["port"]["hidden"] and std["url_schema"]["hidden"]
    assert llm["extra_fields"]["OpenAI-Organization"]["schema"]["title"] == "Organization"

    std = http["standard_fields"]
    assert std["host"]["title"] == "Base URL" and std["host"]["placeholder"] == "https://api.example.com/v1"
    assert not any(std[name]["hidden"] for name in ("host", "port", "login", "password", "url_schema"))
    extra = http["extra_fields"]
    assert set(extra) >= {
        "auth_type",
        "bearer_token",
        "token_url",
        "scopes",
        "audience",
        "client_id",
        "client_secret",
        "token_auth_method",
        "timeout",
        "total_timeout",
        "verify",
        "max_retries",
        "follow_redirects",
    }
    assert extra["auth_type"]["schema"]["enum"] == ["none", "basic", "bearer", "oauth2_client_credentials"]
    assert extra["token_auth_method"]["schema"]["enum"] == ["client_secret_post", "client_secret_basic"]
    for name in ("bearer_token", "client_secret"):
        assert extra[name]["schema"]["format"] == "password"  # masked input, sensitive
    for meta_type in (llm, http):
        for name, field in meta_type["extra_fields"].items():
            assert field["schema"]["title"] and field["description"], name


def test_secret_extra_fields_are_sensitive_for_the_api() -> None:
    """``format: password`` is what makes the API redact a field's value when it returns the connection."""
    from airflow.providers_manager import ProvidersManager

    widgets = ProvidersManager()._connection_form_widgets_from_metadata
    sensitive = {name for name, info in widgets.items() if info.is_sensitive and "__flow_" in name}
    assert sensitive == {"extra__flow_http__bearer_token", "extra__flow_http__client_secret"}


def test_airflow_3_1_forms_come_from_the_same_definitions() -> None:
    """3.1 ignores the declarative keys and calls the hooks' ``get_ui_field_behaviour`` (and, with wtforms mocked
    by its API server, ``get_connection_form_widgets``); both are built from the same data. The rendered 3.1 form
    is checked in the compat venv (see the README's "Connection types")."""
    from airflow_provider_flow.hooks.forms import FLOW_HTTP_BEHAVIOUR, FLOW_LLM_BEHAVIOUR
    from airflow_provider_flow.hooks.http_api import FlowHttpApiHook
    from airflow_provider_flow.hooks.llm import FlowLlmHook

    assert FlowLlmHook.get_ui_field_behaviour() == FLOW_LLM_BEHAVIOUR
    assert FlowHttpApiHook.get_ui_field_behaviour() == FLOW_HTTP_BEHAVIOUR
