"""The base directory of the file runtimes, from Airflow's standard ``fs`` connection type.

It is the connection ``FileSensor`` already uses (type "File (path)", default id ``fs_default``, the folder in the
extra ``path``), so one connection serves sensors and flows alike. This module registers no connection type of its
own: the ``fs`` type belongs to the standard provider, and registering it twice would make Airflow pick one.

A missing connection or an empty ``path`` is a configuration error raised as
:class:`~airflow_provider_flow.errors.FlowValidationError` (fails the task without retry, naming the fix), never
a silent fallback to ``/`` or the working directory. The runtimes validate and resolve the returned folder
(``storage/base.py``: absolute, existing, not the root).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.connections import connection_or_fail


class FlowFsHook(BaseHook):
    """Reads the base directory of an ``fs`` connection.

    :param fs_conn_id: id of a connection of type ``fs`` whose extra is ``{"path": "/absolute/folder"}``.
    """

    conn_name_attr = "fs_conn_id"
    default_conn_name = "fs_default"
    conn_type = "fs"
    hook_name = "File (path)"

    def __init__(self, fs_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fs_conn_id = fs_conn_id

    def get_conn(self) -> Any:
        return self.get_connection(self.fs_conn_id)

    def get_base_path(self) -> str:
        """The connection's ``path`` extra: the folder every relative file path is confined to."""
        fix = (
            f'create an "fs" connection {self.fs_conn_id!r} with extra {{"path": "/absolute/folder"}} '
            "(e.g. AIRFLOW_CONN_" + self.fs_conn_id.upper() + '=\'{"conn_type": "fs", "extra": {"path": "/data"}}\'), '
            "or pass base_path to the operator"
        )
        conn = connection_or_fail(self.fs_conn_id, field="fs_conn_id", fix=fix)
        path = conn.extra_dejson.get("path")
        if not isinstance(path, str) or not path.strip():
            raise FlowValidationError(
                f"connection {self.fs_conn_id!r} has no base directory in its extra 'path'; {fix}",
                field="fs_conn_id",
                value=self.fs_conn_id,
            )
        return path

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's "Test" button: the folder must exist on the machine running the test."""
        import os

        try:
            path = self.get_base_path()
        except FlowValidationError as err:
            return False, str(err)
        if not os.path.isdir(path):
            return False, f"{path} is not an existing folder here"
        return True, f"{path} exists"


def fs_base_path(conn_id: str) -> str:
    """The ``fs`` settings resolver (entry point ``airflow_provider_flow.settings: fs``): the base folder."""
    return FlowFsHook(fs_conn_id=conn_id).get_base_path()
