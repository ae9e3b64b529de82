"""The task state store a runtime resumes from: Airflow's own on >= 3.3, a storage-backed fallback before.

Airflow 3.3's ``context["task_state_store"]`` keeps JSON values per task instance in the metadata DB, scoped by
DAG, run, task and map index (not by the try's TI id, so values survive retries; checked on real ``dag.test()``
runs in ``tests/resume/``). Its ``get``/``set``/``delete`` already satisfy
:class:`~airflow_provider_flow.core.state.KeyValueStore`, so it is handed to the runtime as is.

Airflow 3.1-3.2 have no such store. The runtime then gets a
:class:`~airflow_provider_flow.records.staging.FallbackTaskStore`, which tells a runtime that stages data to keep
its resumption state next to that data in the node's storage (one small JSON object per task instance), where a
retry on another worker finds it too. A runtime without storage keeps it for the try only (no resumption).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_flow.core.state import KeyValueStore
from airflow_provider_flow.records.staging import FallbackTaskStore


def task_store_from(context: Mapping[str, Any]) -> KeyValueStore:
    """Airflow's task state store from the task context, or the documented fallback when this Airflow has none."""
    native = context.get("task_state_store")
    if native is None:
        return FallbackTaskStore()
    store: KeyValueStore = native
    return store
