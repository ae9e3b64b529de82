"""How to reach an OpenAI-compatible endpoint: base URL, API key, headers, timeouts, TLS, retries.

Resolved from an Airflow connection by ``hooks/llm.py`` (or built in tests) and read by runtimes through
``state.settings.get(LLM, conn_id)``. Calls go over the shared HTTP layer (:meth:`LlmSettings.http_settings`), so
they retry, time out and keep secrets out of messages exactly like every other HTTP call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_flow.core.settings import SettingsKind
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings, TimeoutSettings
from airflow_provider_flow.redaction import redact_url


@dataclass(frozen=True)
class LlmSettings:
    """An OpenAI-compatible endpoint, resolved from an Airflow connection by ``FlowLlmHook`` (or built in tests).

    ``base_url`` ends before ``/chat/completions`` (``https://api.openai.com/v1``). LLM calls are slow, so the
    default read timeout is long; the in-task retry budget is the HTTP layer's.
    """

    base_url: str
    api_key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: TimeoutSettings = field(default_factory=lambda: TimeoutSettings(read=120.0, total=300.0))
    retry: RetrySettings = field(default_factory=RetrySettings)
    verify: bool | str = True

    def http_settings(self) -> HttpSettings:
        return HttpSettings(
            base_url=self.base_url,
            headers=dict(self.headers),
            bearer_token=self.api_key,
            timeout=self.timeout,
            verify=self.verify,
            retry=self.retry,
        )

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"LlmSettings(base_url={redact_url(self.base_url)!r}, api_key={'***' if self.api_key else None})"


#: Settings kind of an LLM connection (``flow_llm``, or any connection with a base URL and a key).
LLM = SettingsKind("llm", LlmSettings)
