"""Node runtimes: plain Python, no Airflow import.

Import the registry, protocol and state from here; individual runtimes live one per module and are loaded
through entry points, so importing this package stays cheap.
"""

from airflow_provider_flow.runtimes.base import NodeRuntime
from airflow_provider_flow.runtimes.progress import ProgressReporter
from airflow_provider_flow.runtimes.registry import ENTRY_POINT_GROUP, RuntimeRegistry, registry
from airflow_provider_flow.runtimes.state import ExecutionState, SettingsProvider, StaticSettingsProvider

__all__ = [
    "ENTRY_POINT_GROUP",
    "ExecutionState",
    "NodeRuntime",
    "ProgressReporter",
    "RuntimeRegistry",
    "SettingsProvider",
    "StaticSettingsProvider",
    "registry",
]
