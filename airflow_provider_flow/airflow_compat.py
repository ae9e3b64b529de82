"""The one place Airflow's private and version-sensitive names are imported; the rest of the package uses these.

The package supports Airflow >= 3.1. Some names live in private modules (``ResolveMixin``, the base of XComArg
and other values resolved at run time; ``ParamsDict``) or appeared in a later release (``RetryPolicy`` in 3.3),
so a rename or a missing feature is absorbed here, once, instead of breaking modules all over the package.
Public ``airflow.sdk`` names (``BaseOperator``, ``BaseHook``, ``DAG``, ``Asset``, ``Param``) are imported directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk.definitions._internal.mixins import ResolveMixin
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
from airflow.sdk.log import mask_secret

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

__all__ = [
    "HAS_RETRY_POLICY",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "ParamsDict",
    "ResolveMixin",
    "RetryDecision",
    "RetryPolicy",
    "mask_secret",
]
