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
from airflow_provider_flow.hooks.extras import without_unset
from airflow_provider_flow.hooks.forms import FLOW_LLM_BEHAVIOUR, FLOW_LLM_FIELDS, legacy_widgets
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
        """Airflow 3.1's form (3.2+ reads ``ui-field-behaviour`` from provider info and never calls this)."""
        return {key: value.copy() for key, value in FLOW_LLM_BEHAVIOUR.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 3.1's extra fields (3.2+ reads ``conn-fields`` from provider info and never calls this)."""
        return legacy_widgets(FLOW_LLM_FIELDS)

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
        # the UI's form saves every extra field left empty as null: only a set timeout replaces the LLM default
        timeout = http.timeout if any(key in without_unset(extra) for key in _TIMEOUT_KEYS) else defaults.timeout
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
        """The UI's "Test" button: ``GET <base URL>/models``, which every OpenAI-compatible server answers and
        which spends no tokens. The answer names the status and, on success, how many models the key can see."""
        try:
            settings = self.get_settings()
        except Exception as exc:  # the UI shows the message
            return False, str(exc)
        if not settings.base_url:
            return False, "set the Base URL (host), e.g. https://api.openai.com/v1"
        import httpx

        from airflow_provider_flow.redaction import redact_url

        url = f"{settings.base_url.rstrip('/')}/models"
        headers = dict(settings.headers)
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        try:
            response = httpx.get(
                url, headers=headers, timeout=min(settings.timeout.read or 30.0, 30.0), verify=settings.verify
            )
        except httpx.HTTPError as exc:
            return False, f"GET {redact_url(url)} failed: {type(exc).__name__}: {exc}"
        if response.status_code in (401, 403):
            return False, f"GET {redact_url(url)}: {response.status_code}; the API key was refused"
        if response.status_code >= 400:
            return False, f"GET {redact_url(url)}: HTTP {response.status_code}; check the Base URL (it ends in /v1)"
        try:
            models = response.json().get("data") or []
        except ValueError:
            return False, f"GET {redact_url(url)}: HTTP {response.status_code} but not JSON; is this an OpenAI API?"
        return True, f"GET {redact_url(url)}: HTTP {response.status_code}, {len(models)} models available"


def llm_settings(conn_id: str) -> LlmSettings:
    """The ``llm`` settings resolver (entry point ``airflow_provider_flow.settings: llm``)."""
    return FlowLlmHook(llm_conn_id=conn_id).get_settings()
