"""Where a node's files live: its base directory or bucket prefix, resolved one way for every runtime.

A node names local storage with ``base_path`` (an absolute folder) or ``fs_conn_id`` (Airflow's standard ``fs``
connection, the one ``FileSensor`` uses, its folder in the extra ``path``); ``base_path`` wins. It names object
storage with ``base_uri`` (``s3://bucket/prefix``) and ``conn_id`` (the Airflow connection holding the
credentials, e.g. an ``aws`` one; ``s3://conn_id@bucket/prefix`` names both at once, as ``ObjectStoragePath``
writes it). One kind of base per node: :func:`one_kind_of_base` refuses a mix with the fix in the message.
:func:`node_storage` returns a backend satisfying :class:`~.protocol.Storage` (:class:`~.local_store.LocalStorage`
or :class:`~.object_store.ObjectStorage`); the object store's fsspec filesystem comes from the settings kind
:data:`OBJECT_STORAGE` (resolved in the hooks layer inside Airflow), so no runtime imports Airflow. Config models of
nodes that always need storage default ``fs_conn_id`` to :data:`DEFAULT_FS_CONN_ID` (the model is where the
default lives); a node for which storage is optional (the ``ai.transform`` cache) has none unless configured.
There is never a fallback to ``/`` or the working directory: no base is a configuration error naming the fix.
The resolved :class:`NodeStorage` also says how a file reference names this base for the worker that reads it
next (by connection, so each worker resolves its own folder).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from airflow_provider_flow.core.config import holds_template
from airflow_provider_flow.core.settings import SettingsKind
from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.redaction import redact_url
from airflow_provider_flow.storage.local import file_error
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.object_keys import ObjectLocation, parse_base_uri
from airflow_provider_flow.storage.object_store import DEFAULT_PART_SIZE, ObjectStorage
from airflow_provider_flow.storage.protocol import Storage

if TYPE_CHECKING:
    from airflow_provider_flow.core.state import ExecutionState

#: Settings kind of an ``fs`` connection: its base folder (the extra ``path``), as a string.
FS = SettingsKind("fs", str)

#: Settings kind of an object store: an fsspec filesystem (``s3fs.S3FileSystem``) with the connection's
#: credentials, looked up by :func:`object_settings_key` (``s3://conn_id@bucket``). Inside Airflow the hooks
#: layer builds it with ``ObjectStoragePath(...).fs``; outside, hand one to ``StaticSettingsProvider``.
OBJECT_STORAGE = SettingsKind("object_storage", object)

#: The connection a node that needs storage uses when it names none (as ``FileSensor`` does).
DEFAULT_FS_CONN_ID = "fs_default"

#: Field descriptions of the object-storage fields, shared by every config model that stages output (as file.sink's).
OBJECT_BASE_URI_HELP = "Object storage base instead: 's3://bucket/prefix' (or 's3://conn_id@bucket/prefix')."
OBJECT_CONN_ID_HELP = "The Airflow connection (e.g. 'aws') with base_uri's credentials."
PART_SIZE_HELP = "Object storage: bytes per multipart part (5 MiB to 5 GiB; default 8 MiB)."

#: A node's resolved local base: ``root`` is the real absolute folder on this worker; ``fs_conn_id`` /
#: ``base_path`` are what a file reference records, so the next worker resolves the same base on its own side.
NodeStorage = LocalStorage


@overload
def node_storage(
    state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None, required: Literal[True] = ...
) -> LocalStorage: ...
@overload
def node_storage(
    state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None, required: bool
) -> LocalStorage | None: ...
@overload
def node_storage(
    state: ExecutionState,
    *,
    fs_conn_id: str | None,
    base_path: str | None,
    base_uri: str | None,
    conn_id: str | None = ...,
    part_size: int | None = ...,
) -> Storage: ...
def node_storage(
    state: ExecutionState,
    *,
    fs_conn_id: str | None,
    base_path: str | None,
    base_uri: str | None = None,
    conn_id: str | None = None,
    part_size: int | None = None,
    required: bool = True,
) -> Storage | None:
    """The one way a runtime resolves its storage (see the module docstring); None only when not ``required``.

    Runtimes that only know local bases call it without ``base_uri`` and get a :class:`LocalStorage` (``root``);
    those that take either kind pass ``base_uri``/``conn_id`` and get any :class:`~.protocol.Storage`.
    """
    if base_uri not in (None, ""):
        return object_storage(state, str(base_uri), conn_id, part_size=part_size)
    if base_path not in (None, ""):
        return LocalStorage(resolve_base(state, fs_conn_id=None, base_path=base_path), None, base_path)
    if not fs_conn_id and not required:
        return None
    return LocalStorage(resolve_base(state, fs_conn_id=fs_conn_id, base_path=None), fs_conn_id, None)


def object_settings_key(location: ObjectLocation) -> str:
    """The key :data:`OBJECT_STORAGE` settings are looked up by: ``scheme://conn_id@bucket`` (no prefix, no
    secret; ``scheme://bucket`` for the store's default credentials)."""
    user = f"{location.conn_id}@" if location.conn_id else ""
    return f"{location.scheme}://{user}{location.bucket}"


def object_storage(
    state: ExecutionState, base_uri: str, conn_id: str | None = None, *, part_size: int | None = None
) -> ObjectStorage:
    """The object backend for ``base_uri`` (+ ``conn_id``) on this worker, its filesystem from the settings."""
    location = parse_base_uri(base_uri, conn_id)
    fs = state.settings.get(OBJECT_STORAGE, object_settings_key(location))
    return ObjectStorage(fs, location, part_size=part_size or DEFAULT_PART_SIZE)


def configured_storage(state: ExecutionState, config: Any) -> Storage:
    """The storage a node's config names through the shared fields (``fs_conn_id``, ``base_path``, ``base_uri``,
    ``conn_id`` and, for writers, ``part_size``): one call for every node with a base, so a new field is read the
    same way everywhere."""
    return node_storage(
        state,
        fs_conn_id=config.fs_conn_id,
        base_path=config.base_path,
        base_uri=config.base_uri,
        conn_id=config.conn_id,
        part_size=getattr(config, "part_size", None),
    )


def one_kind_of_base(cls: Any, data: Any) -> Any:
    """A config model's ``before`` validator: local (``base_path``/``fs_conn_id``) or object storage
    (``base_uri``/``conn_id``), never both; ``s3://conn_id@bucket/prefix`` is split into ``base_uri`` and
    ``conn_id``. The default ``fs_conn_id`` is dropped when ``base_uri`` is given (it was not the author's choice).
    """
    if not isinstance(data, dict):
        return data
    base_uri, conn_id = data.get("base_uri"), data.get("conn_id")
    if base_uri in (None, ""):
        if conn_id not in (None, ""):
            raise FlowValidationError(
                "conn_id names the connection of an object storage base_uri, and base_uri is not set; set "
                "base_uri='s3://bucket/prefix' too, or use fs_conn_id for an 'fs' connection (local folder)",
                field="conn_id",
                value=conn_id,
            )
        if "part_size" in data and data["part_size"] is not None:
            raise FlowValidationError(
                "part_size only applies to object storage (base_uri); remove it for a local base",
                field="part_size",
                value=data["part_size"],
            )
        return data
    if data.get("base_path") not in (None, "") or data.get("fs_conn_id") not in (None, DEFAULT_FS_CONN_ID):
        local = "base_path" if data.get("base_path") not in (None, "") else "fs_conn_id"
        raise FlowValidationError(
            f"base_uri (object storage) and {local} (a local folder) are both set; a node has one base: keep "
            f"base_uri + conn_id for S3, or remove base_uri to write locally",
            field=local,
            value=data.get(local),
        )
    data = {**data, "fs_conn_id": None}
    if isinstance(base_uri, str) and not holds_template(base_uri) and not holds_template(conn_id):
        try:
            location = parse_base_uri(base_uri, conn_id if isinstance(conn_id, str) and conn_id else None)
        except FlowValidationError:
            if not _has_userinfo(base_uri, password_only=True):
                raise
            # pydantic would quote the whole input, secret included: hand the field check a redacted URI instead.
            data["base_uri"] = redact_url(base_uri)
            return data
        data["base_uri"], data["conn_id"] = location.uri, location.conn_id
    return data


def no_credentials_in_uri(cls: Any, value: Any) -> Any:
    """A config model's ``base_uri`` field check, after :func:`one_kind_of_base` moved the connection id out of it:
    user info still in the URI is a refused one (shown redacted), so no secret reaches the error or the log."""
    if isinstance(value, str) and _has_userinfo(value):
        raise FlowValidationError(
            "the object storage base URI is not usable: a secret or connection id in it that does not parse (write "
            "s3://conn_id@bucket/prefix, with credentials in the connection, or set conn_id separately)",
            field="base_uri",
            value=value,
        )
    return value


def _has_userinfo(uri: str, *, password_only: bool = False) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return True
    if password_only:
        return parts.password is not None or ":" in (parts.username or "")
    return "@" in parts.netloc


def trust_root(storage: Storage) -> str:
    """What a reader lists in ``trusted_bases`` for its own base: the real folder, or ``s3://conn_id@bucket/prefix``
    (a reference under it, through the same connection, is streamed without a verifying first pass)."""
    if isinstance(storage, ObjectStorage):
        return object_trust_root(storage.location)
    return str(getattr(storage, "root", ""))


def object_trust_root(location: ObjectLocation) -> str:
    """``s3://conn_id@bucket/prefix``: one object base as :func:`trust_root` names it."""
    return f"{object_settings_key(location)}/{location.prefix}".rstrip("/")


def storage_name(storage: Storage) -> str:
    """How logs and errors name a base: the folder, or the base URI (never credentials)."""
    if isinstance(storage, ObjectStorage):
        return storage.location.uri
    return str(getattr(storage, "root", storage.describe()))


def resolve_base(state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None) -> str:
    """The real, absolute base directory: ``base_path`` when given, else the ``fs`` connection's ``path`` extra.

    Never falls back to ``/`` or the working directory: no base is a configuration error naming the fix.
    """
    if base_path not in (None, ""):
        raw, source = str(base_path), "base_path"
    elif fs_conn_id:
        raw, source = state.settings.get(FS, fs_conn_id), f"fs connection {fs_conn_id!r}"
    else:
        raise FlowValidationError(
            "no base directory: set base_path, or fs_conn_id to an 'fs' connection whose extra has "
            '{"path": "/absolute/base/dir"}',
            field="base_path",
            value=base_path,
        )
    return check_base(raw, source=source)


def check_base(raw: str, *, source: str = "base_path") -> str:
    """Validate a configured base directory and return its real path."""
    if not raw or "\x00" in raw:
        raise FlowValidationError(
            f"the base directory from {source} is empty; configure an absolute folder",
            field="base_path",
            value=raw,
        )
    if not os.path.isabs(raw):
        raise FlowValidationError(
            f"the base directory {raw!r} from {source} is relative, so it would depend on the worker's working "
            "directory; configure an absolute folder",
            field="base_path",
            value=raw,
        )
    try:
        real = os.path.realpath(raw)
    except OSError as exc:  # a symlink in it changed while it was resolved
        raise file_error(exc, path=raw, operation="resolve_base") from exc
    if real == os.path.dirname(real):
        raise FlowValidationError(
            f"the base directory {raw!r} from {source} is the filesystem root, which confines nothing; "
            "configure a dedicated folder",
            field="base_path",
            value=raw,
        )
    if not os.path.isdir(real):
        raise FileError(
            f"the base directory {raw!r} from {source} does not exist or is not a folder on this worker; "
            "create it or fix the configuration",
            path=raw,
            operation="resolve_base",
            retryable=False,
        )
    return real
