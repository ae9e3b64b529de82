"""Settings for runtimes, resolved from Airflow connections on the worker that runs the task."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_flow.runtimes.ai_transform import LlmSettings
    from airflow_provider_flow.runtimes.httpio import HttpSettings


class AirflowSettingsProvider:
    """The :class:`~airflow_provider_flow.runtimes.state.SettingsProvider` used inside Airflow tasks.

    Hooks are imported lazily so a runtime that needs no connection costs nothing here.
    """

    def http_settings(self, conn_id: str) -> HttpSettings:
        from airflow_provider_flow.hooks.http import FlowHttpHook

        return FlowHttpHook(http_conn_id=conn_id).get_settings()

    def base_path(self, conn_id: str) -> str:
        from airflow_provider_flow.hooks.fs import FlowFsHook

        return FlowFsHook(fs_conn_id=conn_id).get_base_path()

    def llm_settings(self, conn_id: str) -> LlmSettings:
        from airflow_provider_flow.hooks.llm import FlowLlmHook

        return FlowLlmHook(llm_conn_id=conn_id).get_settings()
