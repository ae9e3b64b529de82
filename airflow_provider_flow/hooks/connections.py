"""Connection lookup and secret registration shared by the hooks.

A missing connection fails the same way on every try, so it becomes a :class:`FlowValidationError` (no retry)
naming the id and how to create it, instead of Airflow's ``AirflowNotFoundException`` (which would be retried).

Every secret a hook reads is registered twice: with Airflow's masker (task logs, rendered fields), in every form
of :func:`~airflow_provider_flow.redaction.secret_variants`, and in this process's own list
(:func:`known_secrets`), which the operator uses to scrub what Airflow's masker never sees: the XCom it pushes.
Both live as long as the task's process, like Airflow's masker itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.airflow_compat import AirflowNotFoundException, mask_secret
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.redaction import secret_variants

_known: dict[str, None] = {}  # insertion-ordered set
_lock = threading.Lock()


def register_secrets(values: Iterable[str]) -> None:
    """Mask ``values`` in Airflow's logs in every encoding, and remember them for scrubbing XCom."""
    for value in values:
        if not value:
            continue
        for form in secret_variants(value):
            mask_secret(form)
        with _lock:
            _known[value] = None


def known_secrets() -> list[str]:
    """Every secret value the hooks registered in this process."""
    with _lock:
        return list(_known)


def connection_or_fail(conn_id: str, *, field: str, fix: str) -> Any:
    """The connection ``conn_id``, or an error naming ``field`` and the ``fix``."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise FlowValidationError(f"connection {conn_id!r} is not defined; {fix}", field=field, value=conn_id) from None
