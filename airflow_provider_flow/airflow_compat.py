"""The one place Airflow's private and version-sensitive names are imported; the rest of the package uses these.

The package supports Airflow >= 3.1. Some names live in private modules (``ResolveMixin``, the base of XComArg
and other values resolved at run time; ``ParamsDict``) or appeared in a later release (the Task SDK's exception
classes in 3.2, ``RetryPolicy`` in 3.3), so a rename or a missing feature is absorbed here, once, instead of
breaking modules all over the package.
Public ``airflow.sdk`` names (``BaseOperator``, ``BaseHook``, ``DAG``, ``Asset``, ``Param``) are imported directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.definitions._internal.mixins import ResolveMixin
from airflow.sdk.definitions.param import ParamsDict

try:  # the Task SDK's own exception classes (Airflow >= 3.2)
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
except ImportError:  # pragma: no cover - Airflow 3.1 (scripts/compat_test.sh)
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
    )

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover - older Task SDK layouts
    from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]

if TYPE_CHECKING:
    from airflow.sdk import RetryDecision, RetryPolicy

    HAS_RETRY_POLICY = True
else:
    try:  # Airflow >= 3.3
        from airflow.sdk import RetryDecision, RetryPolicy

        HAS_RETRY_POLICY = True
    except ImportError:  # pragma: no cover - exercised only on Airflow < 3.3 (scripts/compat_test.sh)
        HAS_RETRY_POLICY = False
        RetryDecision = None
        RetryPolicy = object

# --- incremental loading (issue 14): Airflow 3.3 added the asset state store (AIP-103) ---
try:
    from airflow.sdk.execution_time.context import AssetStateStoreAccessors as _AssetStateStoreAccessors

    HAS_ASSET_STATE_STORE = _AssetStateStoreAccessors is not None
except ImportError:  # pragma: no cover - Airflow < 3.3: watermarks live in asset event extras
    HAS_ASSET_STATE_STORE = False


def task_level_params(params: Any, dag: Any = None) -> dict[str, Any]:
    """The ``params=`` a task itself was given, without the DAG's (or default_args') Params Airflow merged in.

    Airflow >= 3.2 marks each Param with its ``source``. Airflow 3.1 does not, so there the task's own entries are
    the keys the DAG does not define, plus keys whose value differs from the DAG's (a task override); a task
    passing a key with exactly the DAG's value cannot be told apart there.
    """
    if not params:
        return {}
    if not isinstance(params, ParamsDict):
        return dict(params)
    picked: dict[str, Any] = {}
    dag_params: Any = getattr(dag, "params", None) or {}
    for key in params:
        param = params.get_param(key)
        if hasattr(param, "source"):
            if param.source == "task":
                picked[key] = param.value
        elif key not in dag_params or dag_params[key] != param.value:  # pragma: no cover - Airflow 3.1
            picked[key] = param.value
    return picked


__all__ = [
    "HAS_ASSET_STATE_STORE",
    "HAS_RETRY_POLICY",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "ParamsDict",
    "ResolveMixin",
    "RetryDecision",
    "RetryPolicy",
    "connection_ids_in_metadata_db",
    "mask_secret",
    "operator_lineage_class",
    "task_level_params",
]


def operator_lineage_class() -> Any:
    """The OpenLineage provider's ``OperatorLineage``, imported only when called: the provider is an optional extra
    (``airflow-provider-flow[openlineage]``) and only its listener calls the operators' lineage methods."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage


def connection_ids_in_metadata_db(limit: int = 1000) -> list[str]:
    """Connection ids stored in Airflow's metadata DB (at most ``limit``), for "did you mean" hints.

    Reads the ORM, which Airflow 3 blocks inside a real worker's task process (it raises there; callers treat any
    failure as "no ids"); ``dag.test()``, the API server and the CLI can read it. A SQLite DB file that does not
    exist is not opened, so asking never creates one.
    """
    import os

    from airflow import settings
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    url = str(getattr(settings, "SQL_ALCHEMY_CONN", None) or "")
    if not url or (url.startswith("sqlite:///") and not os.path.exists(url.removeprefix("sqlite:///").split("?")[0])):
        return []
    with create_session() as session:
        return [str(conn_id) for conn_id in session.scalars(select(Connection.conn_id).limit(limit))]
