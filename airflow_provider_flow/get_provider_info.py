"""Provider metadata read by Airflow's ProvidersManager through the ``apache_airflow_provider`` entry point.

Kept free of Airflow imports: Airflow calls this in every ``airflow`` command, and invalid metadata breaks all of
them (tests check it against Airflow's own schema). The connection forms come from ``hooks/forms.py`` (plain data):
Airflow 3.2+ reads ``conn-fields``/``ui-field-behaviour`` from here without importing the hooks; 3.1 ignores
these keys and asks the hook classes, which build their forms from the same data.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.hooks.forms import (
    FLOW_HTTP_BEHAVIOUR,
    FLOW_HTTP_FIELDS,
    FLOW_LLM_BEHAVIOUR,
    FLOW_LLM_FIELDS,
    provider_conn_fields,
    provider_ui_field_behaviour,
)


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-flow",
        "name": "Flow",
        "description": "Typed flow runtime: HTTP and file sources and sinks, expression and LLM transforms, "
        "as operators with honest retries and confined, atomic file writes.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Flow",
                "external-doc-url": "https://pypi.org/project/airflow-provider-flow/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "Flow",
                "python-modules": [
                    "airflow_provider_flow.operators.base",
                    "airflow_provider_flow.operators.http",
                    "airflow_provider_flow.operators.file",
                    "airflow_provider_flow.operators.transform",
                    "airflow_provider_flow.operators.ai",
                    "airflow_provider_flow.operators.incremental",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "Flow",
                "python-modules": [
                    "airflow_provider_flow.hooks.http",
                    "airflow_provider_flow.hooks.http_api",
                    "airflow_provider_flow.hooks.fs",
                    "airflow_provider_flow.hooks.llm",
                ],
            }
        ],
        # The standard `http` and `fs` connection types belong to their own providers and are read as they are;
        # `flow_http` is an `http` connection with a form for this package's extras, `flow_llm` is new.
        "connection-types": [
            {
                "connection-type": "flow_llm",
                "hook-class-name": "airflow_provider_flow.hooks.llm.FlowLlmHook",
                "hook-name": "LLM (OpenAI-compatible)",
                "conn-fields": provider_conn_fields(FLOW_LLM_FIELDS),
                "ui-field-behaviour": provider_ui_field_behaviour(FLOW_LLM_BEHAVIOUR),
            },
            {
                "connection-type": "flow_http",
                "hook-class-name": "airflow_provider_flow.hooks.http_api.FlowHttpApiHook",
                "hook-name": "HTTP API (flow)",
                "conn-fields": provider_conn_fields(FLOW_HTTP_FIELDS),
                "ui-field-behaviour": provider_ui_field_behaviour(FLOW_HTTP_BEHAVIOUR),
            },
        ],
    }
