"""Provider metadata read by Airflow's ProvidersManager through the ``apache_airflow_provider`` entry point.

Kept free of imports: Airflow calls this in every ``airflow`` command, and invalid metadata breaks all of them
(tests check it against Airflow's own schema).
"""

from __future__ import annotations

from typing import Any


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
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "Flow",
                "python-modules": [
                    "airflow_provider_flow.hooks.http",
                    "airflow_provider_flow.hooks.fs",
                    "airflow_provider_flow.hooks.llm",
                ],
            }
        ],
        # The standard `http` and `fs` connection types belong to their own providers and are read as they are;
        # only the LLM connection is new.
        "connection-types": [
            {
                "connection-type": "flow_llm",
                "hook-class-name": "airflow_provider_flow.hooks.llm.FlowLlmHook",
                "hook-name": "LLM (OpenAI-compatible)",
            }
        ],
    }
