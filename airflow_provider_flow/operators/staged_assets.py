"""Assets of outputs staged in object storage by ``HttpSourceOperator`` and ``TransformOperator``.

``FileSinkOperator`` declares its target as an outlet (operators/file.py); a source or transform whose
``output_path`` lives on S3 publishes an object just as durable, which other DAGs want to be scheduled on. Kept
apart from :mod:`.lineage` (OpenLineage), which ``operators.base`` imports: this one uses ``operators.file``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.core.config import holds_template
from airflow_provider_flow.errors import FlowValidationError


def declare_staged_output(kwargs: dict[str, Any], *, output_path: Any, base_uri: Any) -> None:
    """``HttpSourceOperator``/``TransformOperator``: an ``output_path`` staged in object storage declares the
    object's standard asset (``s3://bucket/prefix/path``) as the task's outlet, as ``FileSinkOperator`` does
    (same :func:`~airflow_provider_flow.operators.file.file_asset`), so downstream DAGs can be scheduled on it.

    Only a static path on a static ``base_uri`` (a templated one is known only at run time), never over explicit
    ``outlets``, and not for a path the runtime would refuse (it fails at run time with the reason). A local
    ``output_path`` is a hand-off between tasks on this deployment's disks and declares nothing.
    """
    if "outlets" in kwargs or not isinstance(output_path, str) or not isinstance(base_uri, str) or not base_uri:
        return
    if holds_template(output_path) or holds_template(base_uri):
        return
    # Imported only here: importing one operator must not import the others' modules (a DAG file's parse time).
    from airflow_provider_flow.operators.file import file_asset

    try:
        kwargs["outlets"] = [file_asset(output_path, fs_conn_id=None, base_uri=base_uri)]
    except FlowValidationError:
        return
