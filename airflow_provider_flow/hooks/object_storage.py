"""The ``object_storage`` settings kind: an Airflow connection + base URI -> the fsspec filesystem of the store.

Runtimes never import Airflow, so the object backend (``storage/object_store.py``) is handed a ready filesystem.
This resolver builds it the way Airflow itself does, with ``ObjectStoragePath("s3://conn_id@bucket/").fs``
(``airflow.sdk``): the Amazon provider (``airflow-provider-flow[s3]``) turns an ``aws`` connection into an s3fs
filesystem (keys in login/password, ``endpoint_url``/``region_name`` in the extra, or profiles, roles, web
identity). The connection's secret is registered with the task's masker and the XCom scrubber first, so no log
line or XCom carries it. A missing connection or provider is a configuration error naming the fix (no retry).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.connections import connection_or_fail, register_secrets
from airflow_provider_flow.storage.object_keys import parse_base_uri


def object_storage_fs(key: str) -> Any:
    """The resolver of entry point ``airflow_provider_flow.settings: object_storage``.

    :param key: ``scheme://conn_id@bucket`` (``storage.base.object_settings_key``); without a connection id,
        Airflow's default for the scheme (``aws_default``) applies.
    """
    location = parse_base_uri(key)
    if location.conn_id:
        example = (
            f'AIRFLOW_CONN_{location.conn_id.upper()}=\'{{"conn_type": "aws", "login": "<access key id>", '
            '"password": "<secret access key>", "extra": {"endpoint_url": "https://s3.example.com"}}\''
        )
        conn = connection_or_fail(
            location.conn_id,
            field="conn_id",
            fix=f"create an 'aws' connection with the store's credentials ({example})",
        )
        register_secrets([str(conn.password or ""), *_secret_extras(conn)])
    try:
        from airflow.sdk import ObjectStoragePath

        user = f"{location.conn_id}@" if location.conn_id else ""
        return ObjectStoragePath(f"{location.scheme}://{user}{location.bucket}/").fs
    except (ImportError, ValueError) as exc:
        raise FlowValidationError(
            f"no filesystem for {location.scheme}:// ({type(exc).__name__}: {exc}); install the Amazon provider "
            "with s3fs: pip install 'airflow-provider-flow[s3]'",
            field="base_uri",
            value=location.uri,
        ) from None


def _secret_extras(conn: Any) -> list[str]:
    """Secret-looking values an ``aws`` connection may carry in its extra (session tokens, inline keys)."""
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    names = ("aws_secret_access_key", "aws_session_token", "session_token")
    return [str(extra[name]) for name in names if extra.get(name)]
