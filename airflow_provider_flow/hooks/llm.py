"""``FlowLlmHook``: an Airflow connection -> :class:`~airflow_provider_flow.llm.settings.LlmSettings`.

The connection type ``flow_llm`` ("LLM (OpenAI-compatible)") relabels the form: **Base URL** (host, e.g.
``https://api.openai.com/v1`` or a vLLM/Ollama/LiteLLM ``.../v1``) and **API key** (password, stored encrypted).
Any other connection type works too (an ``http`` connection with the key in its password), because the hook
reads only host/schema/port/password/extra. Example::

    AIRFLOW_CONN_LLM_DEFAULT='{"conn_type": "flow_llm", "host": "https://api.openai.com/v1", "password": "sk-..."}'

Extra (JSON, optional) reuses the HTTP hook's keys: ``timeout``/``read_timeout``/``total_timeout``,
``verify``, ``max_retries``, ``retry_max_elapsed``, ``headers`` (e.g. ``{"OpenAI-Organization": "org-..."}``);
other keys become headers. LLM replies are slow, so without a timeout in extra the read timeout is 120 s.

The API key is registered with Airflow's secret masker (in every encoding) before anything else happens, so it is
``***`` in task logs even if a library echoed it; so is every header from extra (Azure OpenAI's ``api-key``, an
``X-API-Key`` gateway header, any other name) and a key given as extra ``bearer_token``. The settings' ``repr``
shows none. An API key with a line break is refused when the connection is read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.connections import connection_or_fail, register_secrets
from airflow_provider_flow.hooks.http import FlowHttpHook
from airflow_provider_flow.http.settings import check_header_value
from airflow_provider_flow.llm.settings import LlmSettings

_TIMEOUT_KEYS = ("timeout", "connect_timeout", "read_timeout", "write_timeout", "pool_timeout", "total_timeout")


class FlowLlmHook(BaseHook):
    """Resolve an OpenAI-compatible endpoint connection into :class:`LlmSettings` (see the module docstring)."""

    conn_name_attr = "llm_conn_id"
    default_conn_name = "llm_default"
    conn_type = "flow_llm"
    hook_name = "LLM (OpenAI-compatible)"

    def __init__(self, llm_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.llm_conn_id = llm_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["login", "schema", "port"],
            "relabeling": {"host": "Base URL", "password": "API key"},
            "placeholders": {
                "host": "https://api.openai.com/v1",
                "password": "sk-...",
                "extra": '{"timeout": 60, "headers": {"OpenAI-Organization": "org-..."}}',
            },
        }

    def get_settings(self) -> LlmSettings:
        """Read the connection, mask the key, and build the settings."""
        conn = connection_or_fail(
            self.llm_conn_id,
            field="llm_conn_id",
            fix="create it with type 'flow_llm' (Base URL such as https://api.openai.com/v1, API key as password) "
            f"or set AIRFLOW_CONN_{self.llm_conn_id.upper()}",
        )
        if not conn.host:
            raise FlowValidationError(
                f"connection {self.llm_conn_id!r} has no Base URL (host); set it to the endpoint's /v1 URL",
                field="llm_conn_id",
                value=self.llm_conn_id,
            )
        if conn.password:
            register_secrets([conn.password])
        settings = self.settings_from(
            host=conn.host,
            schema=conn.schema,
            port=conn.port,
            api_key=conn.password,
            extra=dict(conn.extra_dejson or {}),
            where=f"llm connection {self.llm_conn_id!r}",
        )
        register_secrets(settings.http_settings().secret_values())
        return settings

    @staticmethod
    def settings_from(
        *,
        host: str | None,
        schema: str | None = None,
        port: int | None = None,
        api_key: str | None,
        extra: dict[str, Any],
        where: str = "llm connection",
    ) -> LlmSettings:
        """Pure mapping from connection fields (reusing the HTTP hook's parsing of URL, timeouts, TLS, retries)."""
        if api_key:
            check_header_value("Authorization", api_key, field="password", where=f"{where} API key (password)")
        http = FlowHttpHook.settings_from(
            host=host,
            schema=schema or "https",
            port=port,
            login=None,
            password=None,
            extra=extra,
            where=where,
        )
        defaults = LlmSettings(base_url="")
        timeout = http.timeout if any(key in extra for key in _TIMEOUT_KEYS) else defaults.timeout
        return replace(
            defaults,
            base_url=http.base_url,
            api_key=api_key or http.bearer_token,
            headers=dict(http.headers),
            timeout=timeout,
            retry=http.retry,
            verify=http.verify,
        )

    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: resolve the settings (no request is sent, so no tokens are spent)."""
        try:
            settings = self.get_settings()
        except Exception as exc:  # the UI shows the message
            return False, str(exc)
        if not settings.base_url:
            return False, "set the Base URL (host), e.g. https://api.openai.com/v1"
        return True, f"resolved {settings!r}"


def llm_settings(conn_id: str) -> LlmSettings:
    """The ``llm`` settings resolver (entry point ``airflow_provider_flow.settings: llm``)."""
    return FlowLlmHook(llm_conn_id=conn_id).get_settings()
