"""Running file.sink and file.source on a local base for the disposition tests (no Airflow)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.records.reference import FileReference


def state_for(base: str, **kwargs: Any) -> ExecutionState:
    kwargs.setdefault("log", logging.getLogger("tests.dispositions"))
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}), **kwargs)


def sink(base: str, data: Any, **config: Any) -> FileReference:
    state_kwargs = config.pop("state", {})
    runtime = FileSinkRuntime()
    return runtime.execute(validate_config(FileSinkConfig, config), data, state_for(base, **state_kwargs))


def merge(base: str, data: Any, **config: Any) -> FileReference:
    return sink(base, data, disposition="merge", **{"path": "snap.ndjson", "primary_key": "id", **config})


def source(base: str, **config: Any) -> Any:
    runtime = FileSourceRuntime()
    return runtime.execute(validate_config(FileSourceConfig, config), None, state_for(base))


def files_in(folder: str | Path) -> list[str]:
    """Every name in the folder, hidden ones (temporary files) included."""
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def s3_sink(server: Any, location: Any, data: Any, **config: Any) -> FileReference:
    """file.sink on the SeaweedFS fixture's base ``location``, with ``state=`` for the task instance's ids."""
    from tests.nodes.test_file_nodes_s3 import s3_config, settings_for

    state = ExecutionState(settings=settings_for(server, location), **config.pop("state", {}))
    return FileSinkRuntime().execute(validate_config(FileSinkConfig, s3_config(location, **config)), data, state)
