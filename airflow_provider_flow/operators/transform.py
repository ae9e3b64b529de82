"""``TransformOperator``: the ``transform`` runtime as a typed Airflow operator (no logic beyond building config).

Its keywords' types and defaults are :class:`~airflow_provider_flow.nodes.transform.TransformConfig`'s own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_flow.operators.base import FlowNodeOperator, config_from
from airflow_provider_flow.operators.staged_assets import declare_staged_output

if TYPE_CHECKING:  # annotations only: a DAG file parse never evaluates them
    from airflow_provider_flow.records.codecs import RecordFormat


class TransformOperator(FlowNodeOperator):
    """Filter, reshape, sort and deduplicate records with JMESPath expressions, streamed record by record.

    :param data: the records: a list (e.g. an upstream ``.output``) or a file reference from a file/HTTP source.
    :param operations: ordered one-key dicts: ``{"filter": expr}``, ``{"select": {out: expr}}`` (new records),
        ``{"map": {out: expr}}`` (existing fields kept), ``{"rename": {old: new}}``, ``{"drop": [fields]}``,
        ``{"limit": n}``, ``{"sort_by": expr | {"key": expr, "reverse": bool}}``, ``{"unique_by": expr}``,
        and in Python DAG files ``{"apply": callable}`` (record -> record, or None to drop it).
    :param python_callable: shorthand for a final ``{"apply": python_callable}`` operation.
    :param output_path: stream the result to this file (relative to the base) and return a file reference
        instead of the records; under ``base_path``, or the base of ``fs_conn_id`` (default ``fs_default``).
    :param base_uri: stage ``output_path`` in object storage instead: ``s3://bucket/prefix`` (or
        ``s3://conn_id@bucket/prefix``), with ``conn_id`` the connection holding its credentials and
        ``part_size`` the bytes per multipart part (see the README's "Staging in object storage"). A static
        ``output_path`` there declares its ``s3://bucket/key`` Asset as the task's outlet (unless ``outlets`` given).
    :param output_format: ``ndjson``, ``json``, ``csv`` or ``text``; default from the extension of ``output_path``.
    :param sort_buffer_records: records ``sort_by`` holds in memory before spilling sorted runs to temp files.
    :param max_unique_keys: distinct keys ``unique_by`` may remember (16-byte digests) before failing.
    """

    ui_color = "#f0f7e6"

    def __init__(
        self,
        *,
        data: Any,
        operations: list[dict[str, Any]] | None = None,
        python_callable: Callable[[Any], Any] | None = None,
        output_path: str | None = None,
        fs_conn_id: str | None = "fs_default",
        base_path: str | None = None,
        base_uri: str | None = None,
        conn_id: str | None = None,
        part_size: int | None = None,
        output_format: RecordFormat | None = None,
        sort_buffer_records: int = 100_000,
        max_unique_keys: int = 5_000_000,
        **kwargs: Any,
    ) -> None:
        # The config model comes with its runtime (JMESPath, codecs): imported by the task that needs it.
        from airflow_provider_flow.nodes.transform import TransformConfig

        operations = [*(operations or []), *([{"apply": python_callable}] if python_callable is not None else [])]
        config = config_from(TransformConfig, locals())
        declare_staged_output(kwargs, output_path=output_path, base_uri=base_uri)  # s3://bucket/key outlet
        super().__init__(runtime="transform", config=config, data=data, **kwargs)
