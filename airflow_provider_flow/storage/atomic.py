"""Atomic publication of a file under its base: readers see the old content or the new, never half of one.

Writes go to a temporary file in the target folder (reached with the same ``O_NOFOLLOW`` walk as every read),
are flushed and fsynced, then renamed over the target and the folder fsynced; a killed task leaves the old version
(plus, at worst, a hidden ``.<name>.<hex>.tmp`` file that readers and globs skip, and that a later write to the
folder removes once it is an hour old; see :mod:`.temp_files`).

Modes: ``overwrite`` replaces the target; ``append`` copies the current content into the temporary file first
(so an append is atomic too); ``error_if_exists`` refuses an existing target up front and commits with ``link()``,
which cannot clobber a file that appeared meanwhile.

Every mode publishes under the same folder lock (``flock`` on the folder's descriptor), so concurrent writers on
one host serialize: an append holds it from reading the old content to its rename; overwrite and
``error_if_exists`` take it for the commit only. Without it an overwrite committed while an append was copying
would be replaced by the append's old-plus-new file after it had reported success.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.storage.local import file_error, lstat_at, open_dir_chain, open_file_at, parts_of
from airflow_provider_flow.storage.paths import confine_path, refuse
from airflow_provider_flow.storage.temp_files import (
    check_name_fits,
    hold,
    name_max,
    remove_stale_temp_files,
    temp_name,
)

WriteMode = Literal["overwrite", "append", "error_if_exists"]
WRITE_MODES: tuple[str, ...] = ("overwrite", "append", "error_if_exists")


@dataclass
class AtomicWriter:
    """Bytes written into the temporary file; after the ``with`` block, what was committed to the target."""

    path: str
    """Absolute real path of the target."""
    relative_path: str
    """Target relative to the base, with '/' separators: what a :class:`FileReference` stores."""
    mode: str
    bytes: int = 0
    sha256: str = ""
    _file: Any = field(default=None, repr=False)
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)
    _dir_fd: int = field(default=-1, repr=False)
    _name: str = field(default="", repr=False)
    _base: str = field(default="", repr=False)
    _requested: str = field(default="", repr=False)

    def write(self, data: builtins.bytes) -> None:
        """Append bytes to the temporary file (the target is untouched until the block ends cleanly)."""
        try:
            self._file.write(data)
        except OSError as exc:
            raise file_error(exc, path=self.path, operation="write") from exc
        self._hash.update(data)
        self.bytes += len(data)

    def open_existing(self) -> BinaryIO | None:
        """The target's current content (opened without following symlinks), or None when there is none."""
        try:
            fd = open_file_at(self._name, self._dir_fd, base=self._base, requested=self._requested, operation="read")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise file_error(exc, path=self.path, operation="read") from exc
        return os.fdopen(fd, "rb")


def _verify_parent(base: str, dirs: Sequence[str], dir_fd: int, requested: str) -> None:
    """Fail if the folder we hold is no longer what the path names (swapped for a symlink or moved)."""
    try:
        check_fd = open_dir_chain(base, dirs, create=False, requested=requested, operation="write")
    except OSError as exc:  # gone, or a file now stands where the folder was
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise file_error(exc, path=requested, operation="write") from exc
        raise refuse(requested, base, "its folder was moved away or replaced while writing", "write") from None
    try:
        a, b = os.fstat(check_fd), os.fstat(dir_fd)
    finally:
        os.close(check_fd)
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
        raise refuse(requested, base, "its folder was replaced while writing", "write")


@contextmanager
def atomic_write(
    base: str,
    requested: str,
    *,
    mode: str = "overwrite",
    create_dirs: bool = True,
    copy_existing: bool = True,
) -> Iterator[AtomicWriter]:
    """Write ``requested`` under ``base`` atomically: temp file in the target folder, fsync, rename.

    On any exception inside the block the temporary file is removed and the target is untouched.
    ``copy_existing=False`` with ``mode="append"`` leaves copying the old content to the caller
    (:class:`~airflow_provider_flow.records.writer.RecordWriter` re-parses it via ``open_existing()``).
    """
    if mode not in WRITE_MODES:
        raise FlowValidationError(
            f"unknown write mode {mode!r}; use one of {', '.join(WRITE_MODES)}", field="mode", value=mode
        )
    resolved = confine_path(base, requested, operation="write")
    *dirs, name = parts_of(base, resolved)
    writer = AtomicWriter(path=resolved, relative_path="/".join([*dirs, name]), mode=mode)
    try:
        dir_fd = open_dir_chain(base, dirs, create=create_dirs, requested=requested, operation="write")
    except OSError as exc:
        if exc.errno == errno.ENOENT and not create_dirs:
            raise FileError(
                f"cannot write {requested!r}: its folder does not exist and create_dirs is off; create the folder "
                "or set create_dirs=True",
                path=resolved,
                operation="mkdir",
                retryable=False,
            ) from exc
        raise file_error(exc, path=os.path.dirname(resolved), operation="open folder") from exc
    committed = False
    created = False
    try:
        limit = name_max(dir_fd)
        check_name_fits(name, limit, requested)
        tmp_name = temp_name(name, name_max=limit)
        try:
            if mode == "append":  # from reading the old content to the rename
                fcntl.flock(dir_fd, fcntl.LOCK_EX)
            existing = lstat_at(name, dir_fd)
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise refuse(requested, base, f"file {name!r} became a symlink after the check", "write")
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                raise FileError(
                    f"cannot write {requested!r}: a non-file (folder, FIFO, device) is in the way",
                    path=resolved,
                    operation="write",
                )
            if existing is not None and mode == "error_if_exists":
                raise FileError(
                    f"cannot write {requested!r}: it already exists and mode is 'error_if_exists'; use "
                    "mode='overwrite' or 'append', or another path",
                    path=resolved,
                    operation="write",
                    details={"errno": "EEXIST"},
                    retryable=False,
                )
            fd = os.open(
                tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dir_fd
            )
            created = True
            writer._file = os.fdopen(fd, "wb", buffering=1 << 20)
            hold(fd)  # until the commit: a later writer's cleanup must not take it for a leftover
            writer._dir_fd, writer._name, writer._base, writer._requested = dir_fd, name, base, requested
            if existing is not None:
                with suppress(OSError):  # not the owner: keep the umask's mode rather than fail the write
                    os.fchmod(fd, stat.S_IMODE(existing.st_mode))
        except OSError as exc:
            raise file_error(exc, path=resolved, operation="open") from exc
        if mode == "append" and copy_existing and existing is not None:
            old = writer.open_existing()
            if old is not None:
                with old:
                    while chunk := old.read(1 << 20):
                        writer.write(chunk)
        yield writer
        try:
            writer._file.flush()
            os.fsync(writer._file.fileno())  # kept open (and held) until after the rename
            if mode != "append":  # the commit only: an append in progress finishes first
                fcntl.flock(dir_fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise file_error(exc, path=resolved, operation="write") from exc
        _verify_parent(base, dirs, dir_fd, requested)
        try:
            if mode == "error_if_exists":
                _link_no_clobber(tmp_name, name, dir_fd, requested, resolved)
            else:
                os.rename(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            committed = True
            os.fsync(dir_fd)
        except OSError as exc:
            raise file_error(exc, path=resolved, operation="rename") from exc
        with suppress(OSError):  # still under the folder lock; cleaning never fails a committed write
            remove_stale_temp_files(dir_fd)
        writer.sha256 = writer._hash.hexdigest()
    finally:
        if writer._file is not None and not writer._file.closed:
            with suppress(OSError):
                writer._file.close()
        if created and not committed:
            with suppress(OSError):
                os.unlink(tmp_name, dir_fd=dir_fd)
        os.close(dir_fd)


def _link_no_clobber(tmp_name: str, name: str, dir_fd: int, requested: str, resolved: str) -> None:
    """Commit under ``error_if_exists``: ``link()`` fails if the target appeared meanwhile; rename cannot."""
    try:
        os.link(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise FileError(
            f"cannot write {requested!r}: it was created by someone else during the write and mode is "
            "'error_if_exists'",
            path=resolved,
            operation="rename",
            details={"errno": "EEXIST"},
            retryable=False,
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        # Filesystems without hard links: check then rename (a small race, documented).
        if lstat_at(name, dir_fd) is not None:
            raise FileError(
                f"cannot write {requested!r}: it already exists and mode is 'error_if_exists'",
                path=resolved,
                operation="rename",
                retryable=False,
            ) from None
        os.rename(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(tmp_name, dir_fd=dir_fd)
