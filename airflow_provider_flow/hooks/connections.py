"""Connection lookup and secret registration shared by the hooks.

A missing connection fails the same way on every try, so it becomes a :class:`FlowValidationError` (no retry)
naming the id and how to create it, instead of Airflow's ``AirflowNotFoundException`` (which would be retried).
A misspelled id (``api_defualt``) also gets "did you mean 'api_default'?" from the ids this process can list: the
``AIRFLOW_CONN_*`` variables and, where Airflow allows it (not inside a real worker), the metadata DB.

Every secret a hook reads is registered twice: with Airflow's masker (task logs, rendered fields), in every form
of :func:`~airflow_provider_flow.redaction.secret_variants`, and in this process's own list
(:func:`known_secrets`), which the operator uses to scrub what Airflow's masker never sees: the XCom it pushes.
Both live as long as the task's process, like Airflow's masker itself.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.airflow_compat import (
    AirflowNotFoundException,
    connection_ids_in_metadata_db,
    mask_secret,
)
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
    """The connection ``conn_id``, or an error naming ``field``, the ``fix`` and the closest known ids."""
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        hint = did_you_mean(conn_id, known_connection_ids())
        raise FlowValidationError(
            f"connection {conn_id!r} is not defined; {hint}{fix}", field=field, value=conn_id
        ) from None


#: Prefix of the environment variables Airflow reads connections from (``AIRFLOW_CONN_API_DEFAULT``).
_ENV_PREFIX = "AIRFLOW_CONN_"


def env_connection_ids(environ: Mapping[str, str] | None = None) -> list[str]:
    """Ids of the ``AIRFLOW_CONN_*`` connections, lower-cased: Airflow looks ``AIRFLOW_CONN_<ID upper>`` up."""
    environ = os.environ if environ is None else environ
    return sorted({name[len(_ENV_PREFIX) :].lower() for name in environ if name.startswith(_ENV_PREFIX)} - {""})


def known_connection_ids() -> list[str]:
    """Every connection id this process can list cheaply; never fails (a hint must not hide the real error).

    Secrets backends (Vault, AWS Secrets Manager...) cannot be listed, so their ids are never suggested.
    """
    ids = env_connection_ids()
    # the DB is blocked in real workers, and may be absent or unreachable: then there is no DB hint, that is all
    with contextlib.suppress(Exception):
        ids += connection_ids_in_metadata_db()
    return sorted(set(ids))


def did_you_mean(conn_id: str, known: Iterable[str]) -> str:
    """``"did you mean 'api_default'? "`` when a known id is close to ``conn_id`` (case-insensitively), else ``""``."""
    by_lower = {item.lower(): item for item in known if item.lower() != conn_id.lower()}
    close = difflib.get_close_matches(conn_id.lower(), list(by_lower), n=3)
    if not close:
        return ""
    return "did you mean " + " or ".join(repr(by_lower[c]) for c in close) + "? "
