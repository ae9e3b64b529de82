"""The runtime-author API, with no Airflow import: everything a built-in or third-party runtime is written against.

A runtime is a :class:`NodeRuntime` (``name``, a :class:`ConfigModel` subclass, ``execute``) that reads its world
from an :class:`ExecutionState` (task identity, params, logger, deadline, and connection settings by
:class:`SettingsKind`) and reports failures as :mod:`~airflow_provider_flow.errors` ``FlowError`` s. The
:data:`registry` finds runtimes through the entry-point group :data:`ENTRY_POINT_GROUP`.
"""

from airflow_provider_flow.core.config import ConfigModel, holds_template, validate_config, validate_static_config
from airflow_provider_flow.core.progress import ProgressReporter, paced
from airflow_provider_flow.core.registry import ENTRY_POINT_GROUP, RuntimeRegistry, registry
from airflow_provider_flow.core.runtime import NodeRuntime, RuntimeResult
from airflow_provider_flow.core.settings import (
    SETTINGS_ENTRY_POINT_GROUP,
    SettingsKind,
    SettingsProvider,
    StaticSettingsProvider,
)
from airflow_provider_flow.core.state import ExecutionState, LoggerLike

__all__ = [
    "ENTRY_POINT_GROUP",
    "SETTINGS_ENTRY_POINT_GROUP",
    "ConfigModel",
    "ExecutionState",
    "LoggerLike",
    "NodeRuntime",
    "ProgressReporter",
    "RuntimeRegistry",
    "RuntimeResult",
    "SettingsKind",
    "SettingsProvider",
    "StaticSettingsProvider",
    "holds_template",
    "paced",
    "registry",
    "validate_config",
    "validate_static_config",
]
