"""The local backend behind the storage protocol: a thin face over :mod:`.local`, :mod:`.atomic` and :mod:`.paths`.

Nothing here changes how local files are confined or written: each method calls the function runtimes called
before (``open_confined``, ``atomic_write``, ``glob_confined``), so the local guarantees and their tests hold
as they were. It exists so a runtime can take "a storage" and not care whether it is a folder or a bucket.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from airflow_provider_flow.errors import FileError
from airflow_provider_flow.storage.atomic import AtomicWriter, atomic_write
from airflow_provider_flow.storage.local import (
    file_error,
    glob_confined,
    lstat_at,
    open_confined,
    open_dir_chain,
    parts_of,
)
from airflow_provider_flow.storage.paths import confine_path
from airflow_provider_flow.storage.protocol import StoredFile, verifying


@dataclass(frozen=True)
class LocalStorage:
    """A real base folder on this worker, and how references name it (``base_path`` or ``fs_conn_id``)."""

    root: str
    fs_conn_id: str | None = None
    base_path: str | None = None

    def describe(self) -> dict[str, Any]:
        """As file references always named local bases: the configured base_path, else the connection id."""
        if self.base_path:
            return {"base_path": self.base_path, "fs_conn_id": self.fs_conn_id}
        return {"base_path": None if self.fs_conn_id else self.root, "fs_conn_id": self.fs_conn_id}

    def open_read(self, path: str, *, verify_sha256: str | None = None, verify_bytes: int | None = None) -> BinaryIO:
        raw = open_confined(self.root, path, operation="read")
        return verifying(raw, path=path, sha256=verify_sha256, size=verify_bytes)

    @contextmanager
    def atomic_write(self, path: str, *, mode: str = "overwrite") -> Iterator[AtomicWriter]:
        with atomic_write(self.root, path, mode=mode) as writer:
            yield writer

    def glob(self, pattern: str) -> list[str]:
        return glob_confined(self.root, pattern)

    def stat(self, path: str) -> StoredFile | None:
        """Size of a regular file (symlinks are resolved and confined first), None when it does not exist."""
        resolved = confine_path(self.root, path, operation="stat")
        *dirs, name = parts_of(self.root, resolved)
        try:
            dir_fd = open_dir_chain(self.root, dirs, create=False, requested=path, operation="stat")
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise file_error(exc, path=path, operation="stat") from exc
        try:
            found = lstat_at(name, dir_fd)
        except OSError as exc:
            raise file_error(exc, path=path, operation="stat") from exc
        finally:
            os.close(dir_fd)
        if found is None:
            return None
        if not stat_module.S_ISREG(found.st_mode):
            raise FileError(f"cannot stat {path!r}: not a regular file", path=path, operation="stat", retryable=False)
        return StoredFile("/".join([*dirs, name]), found.st_size)

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def delete(self, path: str) -> None:
        """Remove one file (no error when it is already gone, like object stores); never a folder. A symlink is
        resolved and confined like on read, so the file it names inside the base is what goes."""
        resolved = confine_path(self.root, path, operation="delete")
        *dirs, name = parts_of(self.root, resolved)
        try:
            dir_fd = open_dir_chain(self.root, dirs, create=False, requested=path, operation="delete")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise file_error(exc, path=path, operation="delete") from exc
        try:
            found = lstat_at(name, dir_fd)
            if found is None:
                return
            if not stat_module.S_ISREG(found.st_mode):
                raise FileError(f"cannot delete {path!r}: not a regular file", path=path, operation="delete")
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise file_error(exc, path=path, operation="delete") from exc
        finally:
            os.close(dir_fd)
