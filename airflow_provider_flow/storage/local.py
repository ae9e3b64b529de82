"""Local POSIX storage: confined reads, appends and globs that never follow a symlink swapped in after the check.

After :func:`~airflow_provider_flow.storage.paths.confine_path` accepted a path, it is opened component by
component from a descriptor of the base with ``O_NOFOLLOW`` (``dir_fd`` walks), never by re-resolving the string.
A folder swapped for a symlink between the check and the open fails the open instead of being followed (closing
the time-of-check/time-of-use gap). Writes that replace content live in :mod:`.atomic`.

Retryable :class:`FileError` s are the ones a later attempt can plausibly fix: ``ENOSPC``/``EDQUOT`` (space is
freed by cleanup jobs, or the retry lands on a worker with another disk), ``EIO``/``ESTALE``/``ETIMEDOUT``
(flaky network filesystems), ``EMFILE``/``ENFILE``/``EAGAIN``/``EBUSY``/``EINTR`` (momentary resource
pressure). Permission denied, read-only filesystem, missing files or folders, "exists" under
``error_if_exists`` and name errors fail at once: the same input meets the same wall on every try.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, BinaryIO

from airflow_provider_flow.errors import FileError
from airflow_provider_flow.storage.paths import check_relative, confine_path, is_glob, match_parts, real_path, refuse

RETRYABLE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EIO,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.EMFILE,
        errno.ENFILE,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
    }
)

_HINTS = {
    errno.ENOSPC: "no space left on the device; free space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free space or raise the quota",
    errno.EACCES: "permission denied; the worker's OS user needs access to this folder",
    errno.EPERM: "operation not permitted for the worker's OS user",
    errno.EROFS: "the filesystem is read-only on this worker",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "the path names a folder, not a file",
    errno.ENAMETOOLONG: "a name in the path is too long for this filesystem",
}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def file_error(exc: OSError, *, path: str, operation: str, **details: Any) -> FileError:
    """Turn an ``OSError`` into a :class:`FileError` naming path and operation, retryable only when it may help."""
    code = exc.errno or 0
    reason = _HINTS.get(code) or exc.strerror or str(exc)
    name = errno.errorcode.get(code, "")
    message = f"cannot {operation} {path!r}: {reason}" + (f" ({name})" if name else "")
    return FileError(
        message,
        path=path,
        operation=operation,
        details={"errno": name, **details},
        retryable=code in RETRYABLE_ERRNOS,
    )


def parts_of(base: str, resolved: str) -> list[str]:
    return os.path.relpath(resolved, base).split(os.sep)


def open_dir_chain(base: str, parts: Sequence[str], *, create: bool, requested: str, operation: str) -> int:
    """A descriptor of ``base/parts...`` reached without following any symlink (creating folders if asked).

    A part that is (or was, a moment ago) a symlink is refused with PathTraversalError; any other OSError
    (a file where a folder should be, a folder gone mid-walk) is raised for the caller's :func:`file_error`.
    """
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = base
    try:
        for part in parts:
            walked = os.path.join(walked, part)
            next_fd = _open_dir_at(part, fd, create=create, walked=walked, requested=requested, base=base, op=operation)
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _open_dir_at(name: str, dir_fd: int, *, create: bool, walked: str, requested: str, base: str, op: str) -> int:
    try:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise
            with suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=dir_fd)
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        # O_NOFOLLOW fails with ELOOP only on a symlink, even if it was swapped back before we could look.
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_symlink_at(name, dir_fd)):
            raise refuse(requested, base, f"folder {walked!r} became a symlink after the check", op) from None
        raise


def _is_symlink_at(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def lstat_at(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def open_file_at(name: str, dir_fd: int, *, base: str, requested: str, operation: str) -> int:
    """Open a regular file for reading without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse(requested, base, f"file {name!r} became a symlink after the check", operation) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileError(f"cannot {operation} {requested!r}: not a regular file", path=requested, operation=operation)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return fd


def open_confined(base: str, requested: str, *, operation: str = "read", resolved: str | None = None) -> BinaryIO:
    """Open ``requested`` (confined to ``base``) for binary reading; regular files only.

    ``resolved``: what :func:`confine_path` already returned for it, when the caller needs that path too.
    """
    resolved = resolved or confine_path(base, requested, operation=operation)
    *dirs, name = parts_of(base, resolved)
    try:
        dir_fd = open_dir_chain(base, dirs, create=False, requested=requested, operation=operation)
        try:
            fd = open_file_at(name, dir_fd, base=base, requested=requested, operation=operation)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise file_error(exc, path=requested, operation=operation, base=base) from exc
    return os.fdopen(fd, "rb")


def open_append(base: str, requested: str, *, create_dirs: bool = True, perms: int = 0o600) -> int:
    """A raw ``O_RDWR | O_APPEND`` descriptor on a confined regular file (created if missing); the caller closes it.

    For journals and caches that must keep every finished line across a kill (writes land in place, not via a
    temporary file); anything that replaces a file's content uses :func:`atomic_write` instead.
    """
    resolved = confine_path(base, requested, operation="append")
    *dirs, name = parts_of(base, resolved)
    try:
        dir_fd = open_dir_chain(base, dirs, create=create_dirs, requested=requested, operation="append")
        try:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            try:
                fd = os.open(name, flags, perms, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise refuse(requested, base, f"file {name!r} became a symlink after the check", "append") from None
                raise
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileError(f"cannot append to {requested!r}: not a regular file", path=resolved, operation="append")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except OSError as exc:
        raise file_error(exc, path=resolved, operation="append", base=base) from exc
    return fd


def _unreadable_folder(base: str, pattern: str) -> Callable[[OSError], None]:
    """``os.walk`` skips folders it cannot list; a glob that silently misses files would lose data downstream."""

    def onerror(exc: OSError) -> None:
        if exc.errno == errno.ELOOP:  # os.walk lists a folder by name: it was swapped for a symlink
            raise refuse(pattern, base, f"folder {exc.filename!r} became a symlink while listing it", "glob")
        if exc.errno != errno.ENOENT:  # a folder that is not there (yet) holds no matches
            raise file_error(exc, path=str(exc.filename or base), operation="glob", pattern=pattern) from exc

    return onerror


def glob_confined(base: str, pattern: str) -> list[str]:
    """Relative paths of the files under ``base`` matching ``pattern`` (``**`` spans folders), sorted.

    The walk never descends into symlinked folders; symlinked files that match are checked with
    :func:`confine_path`, so one pointing outside the base raises PathTraversalError rather than being skipped.
    """
    parts = check_relative(base, pattern, operation="glob")
    matches: list[str] = []
    recursive = "**" in parts
    fixed: list[str] = []
    for part in parts:
        if is_glob(part):
            break
        fixed.append(part)
    start = os.path.join(base, *fixed) if fixed else base
    if fixed and os.path.commonpath([base, real_path(start, requested=pattern, base=base, operation="glob")]) != base:
        raise refuse(pattern, base, f"folder {start!r} resolves outside through a symlink", "glob")
    max_depth = None if recursive else len(parts) - len(fixed)
    for root, dirs, files in os.walk(start, followlinks=False, onerror=_unreadable_folder(base, pattern)):
        rel_root = os.path.relpath(root, base)
        depth = 0 if root == start else len(os.path.relpath(root, start).split(os.sep))
        if max_depth is not None and depth >= max_depth - 1:
            dirs[:] = []
        rel_prefix = [] if rel_root == "." else rel_root.split(os.sep)
        for name in sorted(files):
            names = [*rel_prefix, name]
            if match_parts(names, parts):
                rel = "/".join(names)
                confine_path(base, rel, operation="glob")
                matches.append(rel)
    return sorted(matches)
