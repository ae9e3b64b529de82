"""``FileSourceOperator`` / ``FileSinkOperator``: the file runtimes as typed Airflow operators.

They only build the runtime config from their keywords (``None`` values dropped so model defaults apply; types
and defaults are the config models'); confinement, formats and atomic writes live in the runtimes. ``path`` is
templated (it is part of ``config``) and is checked for confinement at run time, after rendering, because
values from ``params``/``dag_run.conf`` are hostile input.

Assets: a sink with a static path declares an :class:`~airflow.sdk.Asset` outlet for its target, so downstream
DAGs can be scheduled on it. With a static ``base_path`` the URI is ``file://<base>/<path>`` (lexically
normalised: resolving symlinks would touch the worker's filesystem from the DAG processor). With a connection
the URI is ``flowfs://<fs_conn_id>/<path>``: resolving the connection's folder at parse time would mean a
connection/secrets lookup every time the DAG file is parsed, and the folder can differ per deployment, while
"this connection, this path" is stable. With an object-storage ``base_uri`` the URI is the object's standard one,
``s3://bucket/prefix/path`` (the connection is not part of it), as for any S3 asset. :func:`file_asset` builds the
same asset for consumers. Templated paths,
paths that would be refused, and tasks given explicit ``outlets`` declare nothing.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from airflow.sdk import Asset

from airflow_provider_flow.errors import FlowValidationError, PathTraversalError
from airflow_provider_flow.operators.base import FlowNodeOperator, config_from, holds_template

if TYPE_CHECKING:  # annotations only: a DAG file parse never evaluates them
    from airflow_provider_flow.records.codecs import RecordFormat
    from airflow_provider_flow.records.dispositions import Disposition
    from airflow_provider_flow.storage.atomic import WriteMode

ASSET_SCHEME = "flowfs"


def file_asset(
    path: str, *, fs_conn_id: str | None = "fs_default", base_path: str | None = None, base_uri: str | None = None
) -> Asset:
    """The asset a :class:`FileSinkOperator` declares for ``path``; use it in a consumer DAG's ``schedule``."""
    # Imported when an asset is declared, not with the module: importing it is part of every DAG file's parse.
    from airflow_provider_flow.storage.object_keys import confine_key, parse_base_uri
    from airflow_provider_flow.storage.paths import check_relative

    if base_uri:
        try:
            location = parse_base_uri(base_uri)
            return Asset(uri=location.key_uri(confine_key(location, path, operation="declare asset")))
        except (PathTraversalError, FlowValidationError) as err:
            raise FlowValidationError(f"no asset for this object path: {err}", field="path", value=path) from None
    try:
        parts = check_relative("<base>", path, operation="declare asset")
    except PathTraversalError as err:
        raise FlowValidationError(
            f"no asset for a path the sink would refuse: {err}", field="path", value=path
        ) from None
    relative = quote("/".join(parts), safe="/")
    if base_path:
        if not posixpath.isabs(base_path):
            raise FlowValidationError("must be absolute for an asset URI", field="base_path", value=base_path)
        return Asset(uri="file://" + quote(posixpath.normpath(base_path), safe="/") + "/" + relative)
    if not fs_conn_id:
        raise FlowValidationError("file_asset needs fs_conn_id or base_path", field="fs_conn_id", value=fs_conn_id)
    return Asset(uri=f"{ASSET_SCHEME}://{fs_conn_id}/{relative}")


class FileSourceOperator(FlowNodeOperator):
    """Read records from a file, or from every file a glob matches, under a confined base directory.

    :param path: relative to the base directory (templated); ``*``, ``?``, ``[...]`` and ``**`` glob.
    :param fs_conn_id: an ``fs`` connection whose extra ``path`` is the base directory.
    :param base_path: an absolute base directory instead of a connection (wins over ``fs_conn_id``).
    :param base_uri: object storage instead of a local folder: ``s3://bucket/prefix`` (or
        ``s3://conn_id@bucket/prefix``); see the README's "Staging in object storage".
    :param conn_id: the Airflow connection (e.g. ``aws``) holding ``base_uri``'s credentials.
    :param format: ``json``, ``ndjson``, ``csv`` or ``text``; default from the extension.
    :param encoding: text encoding of the files.
    :param output: ``auto`` (records up to ``max_inline_bytes``, else file references), ``records``,
        ``reference``.
    :param max_inline_bytes: total file size up to which records go to XCom (default 1 MiB).
    :param allow_empty: a glob matching nothing returns ``[]`` instead of failing.
    """

    ui_color = "#fff4e0"

    def __init__(
        self,
        *,
        path: str,
        fs_conn_id: str | None = "fs_default",
        base_path: str | None = None,
        base_uri: str | None = None,
        conn_id: str | None = None,
        format: RecordFormat | None = None,
        encoding: str = "utf-8",
        output: Literal["auto", "records", "reference"] = "auto",
        max_inline_bytes: int = 1_048_576,
        allow_empty: bool = False,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_flow.nodes.file_source import FileSourceConfig  # with its runtime: see operators.http

        super().__init__(runtime="file.source", config=config_from(FileSourceConfig, locals()), **kwargs)


class FileSinkOperator(FlowNodeOperator):
    """Write records (inline or from an upstream file reference) to one file, atomically, under a base directory.

    :param path: target relative to the base directory (templated; refused if it escapes the base).
    :param data: the records: an upstream ``.output`` (records or file references) or a list.
    :param fs_conn_id: an ``fs`` connection whose extra ``path`` is the base directory.
    :param base_path: an absolute base directory instead of a connection (wins over ``fs_conn_id``).
    :param base_uri: object storage instead of a local folder: ``s3://bucket/prefix`` (or
        ``s3://conn_id@bucket/prefix``); see the README's "Staging in object storage".
    :param conn_id: the Airflow connection (e.g. ``aws``) holding ``base_uri``'s credentials.
    :param format: ``json``, ``ndjson``, ``csv`` or ``text``; default from the extension.
    :param part_size: object storage: bytes per multipart part (5 MiB to 5 GiB, default 8 MiB).
    :param mode: ``overwrite``, ``append`` (refused on object storage: use ``disposition="append"``) or
        ``error_if_exists``.
    :param encoding: text encoding of the file.
    :param create_dirs: create missing folders below the base (default True).
    :param declare_asset: declare the target as an outlet Asset when the path is static (see module docs).
    :param disposition: what a run does to the dataset (README "Write dispositions"): ``replace`` the file,
        ``append`` a new part file per run to the folder ``path``, or ``merge`` into the snapshot ``path`` by
        ``primary_key``; unset, ``mode`` alone decides (leave ``mode`` at ``overwrite`` when setting it).
    :param primary_key: ``merge``: the field (or list of fields) identifying a record.
    :param cursor_field: ``merge``: the field whose greater value is the newer version (ties: the later record).
    """

    ui_color = "#fff4e0"

    def __init__(
        self,
        *,
        path: str,
        data: Any,
        fs_conn_id: str | None = "fs_default",
        base_path: str | None = None,
        base_uri: str | None = None,
        conn_id: str | None = None,
        part_size: int | None = None,
        format: RecordFormat | None = None,
        mode: WriteMode = "overwrite",
        encoding: str = "utf-8",
        create_dirs: bool = True,
        declare_asset: bool = True,
        disposition: Disposition | None = None,
        primary_key: str | list[str] | None = None,
        cursor_field: str | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_flow.nodes.file_sink import FileSinkConfig  # with its runtime: see operators.http

        if declare_asset and "outlets" not in kwargs:
            asset = _static_asset(path, fs_conn_id=fs_conn_id, base_path=base_path, base_uri=base_uri)
            if asset is not None:
                kwargs["outlets"] = [asset]
        config = config_from(FileSinkConfig, locals())
        super().__init__(runtime="file.sink", config=config, data=data, **kwargs)


def _static_asset(path: Any, *, fs_conn_id: str | None, base_path: str | None, base_uri: str | None) -> Asset | None:
    if not isinstance(path, str) or any(holds_template(v) for v in (path, base_path, fs_conn_id, base_uri)):
        return None
    try:
        return file_asset(path, fs_conn_id=fs_conn_id, base_path=base_path, base_uri=base_uri)
    except FlowValidationError:
        return None  # the runtime refuses this path at run time, with the full reason in the task log


__all__ = ["ASSET_SCHEME", "FileSinkOperator", "FileSourceOperator", "file_asset"]
