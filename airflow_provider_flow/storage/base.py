"""Where a node's files live: its base directory, resolved one way for every runtime.

A node names its storage with ``base_path`` (an absolute folder) or ``fs_conn_id`` (Airflow's standard ``fs``
connection, the one ``FileSensor`` uses, its folder in the extra ``path``); ``base_path`` wins. Config models of
nodes that always need storage default ``fs_conn_id`` to :data:`DEFAULT_FS_CONN_ID` (the model is where the
default lives); a node for which storage is optional (the ``ai.transform`` cache) has none unless configured.
There is never a fallback to ``/`` or the working directory: no base is a configuration error naming the fix.
The resolved :class:`NodeStorage` also says how a file reference names this base for the worker that reads it
next (by connection, so each worker resolves its own folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

from airflow_provider_flow.core.settings import SettingsKind
from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.storage.local import file_error

if TYPE_CHECKING:
    from airflow_provider_flow.core.state import ExecutionState

#: Settings kind of an ``fs`` connection: its base folder (the extra ``path``), as a string.
FS = SettingsKind("fs", str)

#: The connection a node that needs storage uses when it names none (as ``FileSensor`` does).
DEFAULT_FS_CONN_ID = "fs_default"


@dataclass(frozen=True)
class NodeStorage:
    """A node's resolved base: ``root`` is the real absolute folder on this worker.

    ``fs_conn_id`` / ``base_path`` are what a file reference records, so the next worker resolves the same base
    on its own side: ``base_path`` when the node gave one, else the connection id.
    """

    root: str
    fs_conn_id: str | None = None
    base_path: str | None = None


@overload
def node_storage(
    state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None, required: Literal[True] = ...
) -> NodeStorage: ...
@overload
def node_storage(
    state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None, required: bool
) -> NodeStorage | None: ...
def node_storage(
    state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None, required: bool = True
) -> NodeStorage | None:
    """The one way a runtime resolves its storage (see the module docstring); None only when not ``required``."""
    if base_path not in (None, ""):
        return NodeStorage(resolve_base(state, fs_conn_id=None, base_path=base_path), None, base_path)
    if not fs_conn_id and not required:
        return None
    return NodeStorage(resolve_base(state, fs_conn_id=fs_conn_id, base_path=None), fs_conn_id, None)


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
