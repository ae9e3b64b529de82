"""The one place differences between Airflow 3.x releases are absorbed.

The package supports Airflow >= 3.0. Some names moved into the Task SDK later (``airflow.sdk.exceptions`` gained
the exception classes, ``airflow.sdk.log`` the secret masker), so they are imported here with a fallback and the
rest of the package imports them from this module.
"""

from __future__ import annotations

try:  # Airflow >= 3.1
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
    )

try:  # Airflow >= 3.1
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]

__all__ = ["AirflowException", "AirflowFailException", "AirflowNotFoundException", "mask_secret"]
