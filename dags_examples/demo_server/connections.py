"""The Airflow connections the examples use, as ``AIRFLOW_CONN_*`` environment variables.

Connections from environment variables need no database rows and no UI clicks, so a fresh clone runs the
examples as they are: ``scripts/demo.py``, ``scripts/standalone.sh`` and the tests all call :func:`demo_env`.

=====================  ===========  =================================================================
Connection id          Type         Points at
=====================  ===========  =================================================================
``flow_demo_api``      http         the demo server (``/api/...`` endpoints)
``flow_demo_llm``      flow_llm     the demo server's OpenAI-compatible ``/v1`` (API key ``demo-key``)
``flow_demo_fs``       fs           ``{"path": base_dir}``: the only folder file sinks may write under
=====================  ===========  =================================================================
"""

from __future__ import annotations

import json


def demo_env(server_url: str, base_dir: str) -> dict[str, str]:
    """Environment variables defining the example connections for a demo server at ``server_url``."""
    url = server_url.rstrip("/")
    return {
        "AIRFLOW_CONN_FLOW_DEMO_API": json.dumps({"conn_type": "http", "host": url}),
        "AIRFLOW_CONN_FLOW_DEMO_LLM": json.dumps(
            {"conn_type": "flow_llm", "host": f"{url}/v1", "password": "demo-key"}
        ),
        "AIRFLOW_CONN_FLOW_DEMO_FS": json.dumps({"conn_type": "fs", "extra": {"path": base_dir}}),
    }


def shell_exports(server_url: str, base_dir: str) -> str:
    """The same as ``export`` lines, for copying into a shell."""
    return "\n".join(f"export {key}='{value}'" for key, value in demo_env(server_url, base_dir).items())
