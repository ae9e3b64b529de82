"""Connection lookup shared by the hooks.

A missing connection fails the same way on every try, so it becomes a :class:`FlowValidationError` (no retry)
naming the id and how to create it, instead of Airflow's ``AirflowNotFoundException`` (which would be retried).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.airflow_compat import AirflowNotFoundException
from airflow_provider_flow.errors import FlowValidationError


def connection_or_fail(conn_id: str, *, field: str, fix: str) -> Any:
    """The connection ``conn_id``, or an error naming ``field`` and the ``fix``."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise FlowValidationError(f"connection {conn_id!r} is not defined; {fix}", field=field, value=conn_id) from None
