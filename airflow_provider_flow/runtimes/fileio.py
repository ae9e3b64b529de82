"""Confined, atomic file access: the only way code in this package opens a file under a base directory.

Paths reaching a runtime are rendered templates, often from ``params`` or ``dag_run.conf`` typed by whoever
triggered the DAG, so every path is hostile input. Three rules hold for every read and write:

1. :func:`confine_path` is the one check. It refuses absolute paths, ``~``, NUL bytes, backslashes, empty or
   folder-only names and ``..`` that climbs above the base, then resolves symlinks with ``realpath`` and refuses
   anything whose real location is outside the base (``commonpath``). Refusals raise
   :class:`~airflow_provider_flow.errors.PathTraversalError` naming the requested path and the base.
2. The checked path is then opened component by component from a descriptor of the base with ``O_NOFOLLOW``
   (``dir_fd`` walks), never by re-resolving the string. A folder swapped for a symlink between the check and
   the open fails the open instead of being followed (closing the time-of-check/time-of-use gap).
3. Writes go to a temporary file in the target folder, are flushed and fsynced, then renamed over the target
   (and the folder fsynced), so readers see the old file or the new one, never half of one; a killed task
   leaves the old version (plus, at worst, a hidden ``.<name>.<hex>.tmp`` file).

Public API (the contract other runtimes build on)::

    resolve_base(state, *, fs_conn_id: str | None, base_path: str | None) -> str
    confine_path(base: str, requested: str, *, operation: str) -> str
    atomic_write(base, requested, *, mode="overwrite", create_dirs=True, copy_existing=True)
        -> ContextManager[AtomicWriter]      # AtomicWriter.write(bytes); .path .relative_path .bytes .sha256
    open_confined(base, requested, *, operation="read") -> BinaryIO   # regular files only, O_NOFOLLOW
    open_append(base, requested, *, create_dirs=True, perms=0o600) -> int   # O_APPEND fd for journals/caches
    glob_confined(base, pattern) -> list[str]                        # sorted relative paths, no symlinked folders
    is_glob(path) -> bool
    file_error(exc: OSError, *, path, operation, **details) -> FileError

Modes: ``overwrite`` replaces the target; ``append`` copies the current content into the temporary file first
(so an append is atomic too; concurrent appends on one host are serialised with ``flock`` on the folder);
``error_if_exists`` refuses an existing target up front and commits with ``link()``, which cannot clobber a
file that appeared meanwhile.

Retryable :class:`FileError` s are the ones a later attempt can plausibly fix: ``ENOSPC``/``EDQUOT`` (space is
freed by cleanup jobs, or the retry lands on a worker with another disk), ``EIO``/``ESTALE``/``ETIMEDOUT``
(flaky network filesystems), ``EMFILE``/``ENFILE``/``EAGAIN``/``EBUSY``/``EINTR`` (momentary resource
pressure). Permission denied, read-only filesystem, missing files or folders, "exists" under
``error_if_exists`` and name errors fail at once: the same input meets the same wall on every try.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import fnmatch
import hashlib
import os
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from airflow_provider_flow.errors import FileError, FlowValidationError, PathTraversalError

if TYPE_CHECKING:
    from airflow_provider_flow.runtimes.state import ExecutionState

WriteMode = Literal["overwrite", "append", "error_if_exists"]
WRITE_MODES: tuple[str, ...] = ("overwrite", "append", "error_if_exists")

#: errno values for which a later attempt can plausibly succeed (see the module docstring for why).
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
_GLOB_CHARS = frozenset("*?[")


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


# --------------------------------------------------------------------------------------------------------------
# The base directory
# --------------------------------------------------------------------------------------------------------------


def resolve_base(state: ExecutionState, *, fs_conn_id: str | None, base_path: str | None) -> str:
    """The real, absolute base directory: ``base_path`` when given, else the ``fs`` connection's ``path`` extra.

    Never falls back to ``/`` or the working directory: no base is a configuration error naming the fix.
    """
    if base_path not in (None, ""):
        raw, source = str(base_path), "base_path"
    elif fs_conn_id:
        raw, source = state.settings.base_path(fs_conn_id), f"fs connection {fs_conn_id!r}"
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
    real = os.path.realpath(raw)
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


# --------------------------------------------------------------------------------------------------------------
# Confinement
# --------------------------------------------------------------------------------------------------------------


def _refuse(requested: Any, base: str, reason: str, operation: str) -> PathTraversalError:
    return PathTraversalError(requested_path=str(requested), base=base, reason=reason, operation=operation)


def check_relative(base: str, requested: Any, *, operation: str) -> list[str]:
    """The lexical half of confinement; returns the path's meaningful parts. Raises PathTraversalError."""
    if not isinstance(requested, str):
        raise _refuse(requested, base, f"is a {type(requested).__name__}, not a string", operation)
    if "\x00" in requested:
        raise _refuse(requested, base, "contains a NUL byte", operation)
    if not requested.strip():
        raise _refuse(requested, base, "is empty", operation)
    if requested.startswith("~"):
        raise _refuse(requested, base, "starts with '~' (home folders are never expanded)", operation)
    if "\\" in requested:
        raise _refuse(requested, base, "contains a backslash; separate folders with '/'", operation)
    if os.path.isabs(requested):
        raise _refuse(requested, base, "is absolute", operation)
    raw_parts = requested.split("/")
    if raw_parts[-1] in ("", ".", ".."):
        raise _refuse(requested, base, "names a folder, not a file", operation)
    parts: list[str] = []
    for part in raw_parts:
        if part in ("", "."):
            continue
        if not part.strip():
            raise _refuse(requested, base, "contains a blank folder or file name", operation)
        if part == "..":
            if not parts:
                raise _refuse(requested, base, "uses '..' to climb above the base directory", operation)
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise _refuse(requested, base, "names the base directory itself, not a file", operation)
    return parts


def confine_path(base: str, requested: str, *, operation: str) -> str:
    """The absolute real path of ``requested`` inside ``base``, or :class:`PathTraversalError`.

    ``base`` must be a real path (from :func:`resolve_base`). Symlinks anywhere along the path, the final file
    included, are resolved; the result must stay inside the base. Callers open the result with
    :func:`open_confined` / :func:`atomic_write`, which re-check each component with ``O_NOFOLLOW``.
    """
    check_relative(base, requested, operation=operation)
    resolved = os.path.realpath(os.path.join(base, requested))
    if os.path.commonpath([base, resolved]) != base:
        raise _refuse(requested, base, f"resolves through a symlink to {resolved!r}, outside", operation)
    if resolved == base:
        raise _refuse(requested, base, "resolves to the base directory itself, not a file", operation)
    return resolved


def _parts_of(base: str, resolved: str) -> list[str]:
    return os.path.relpath(resolved, base).split(os.sep)


def _open_dir_chain(base: str, parts: Sequence[str], *, create: bool, requested: str, operation: str) -> int:
    """A descriptor of ``base/parts...`` reached without following any symlink (creating folders if asked)."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = base
    try:
        for part in parts:
            walked = os.path.join(walked, part)
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink_at(part, fd):
                    raise _refuse(
                        requested, base, f"folder {walked!r} became a symlink after the check", operation
                    ) from None
                raise
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _is_symlink_at(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def _lstat_at(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def _open_file_at(name: str, dir_fd: int, *, base: str, requested: str, operation: str) -> int:
    """Open a regular file for reading without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(requested, base, f"file {name!r} became a symlink after the check", operation) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileError(f"cannot {operation} {requested!r}: not a regular file", path=requested, operation=operation)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return fd


def open_confined(base: str, requested: str, *, operation: str = "read") -> BinaryIO:
    """Open ``requested`` (confined to ``base``) for binary reading; regular files only."""
    resolved = confine_path(base, requested, operation=operation)
    *dirs, name = _parts_of(base, resolved)
    try:
        dir_fd = _open_dir_chain(base, dirs, create=False, requested=requested, operation=operation)
        try:
            fd = _open_file_at(name, dir_fd, base=base, requested=requested, operation=operation)
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
    *dirs, name = _parts_of(base, resolved)
    try:
        dir_fd = _open_dir_chain(base, dirs, create=create_dirs, requested=requested, operation="append")
        try:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            try:
                fd = os.open(name, flags, perms, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _refuse(
                        requested, base, f"file {name!r} became a symlink after the check", "append"
                    ) from None
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


def is_glob(path: str) -> bool:
    """True when ``path`` holds glob characters (``*``, ``?``, ``[``)."""
    return any(ch in _GLOB_CHARS for ch in path)


def _match_parts(names: Sequence[str], patterns: Sequence[str]) -> bool:
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_match_parts(names[i:], rest) for i in range(len(names) + 1))
    if not names:
        return False
    name = names[0]
    if name.startswith(".") and not head.startswith("."):
        return False  # like glob: hidden files (and our temp files) only match patterns that start with '.'
    return fnmatch.fnmatchcase(name, head) and _match_parts(names[1:], rest)


def _unreadable_folder(base: str, pattern: str) -> Callable[[OSError], None]:
    """``os.walk`` skips folders it cannot list; a glob that silently misses files would lose data downstream."""

    def onerror(exc: OSError) -> None:
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
    if fixed and os.path.commonpath([base, os.path.realpath(start)]) != base:
        raise _refuse(pattern, base, f"folder {start!r} resolves outside through a symlink", "glob")
    max_depth = None if recursive else len(parts) - len(fixed)
    for root, dirs, files in os.walk(start, followlinks=False, onerror=_unreadable_folder(base, pattern)):
        rel_root = os.path.relpath(root, base)
        depth = 0 if root == start else len(os.path.relpath(root, start).split(os.sep))
        if max_depth is not None and depth >= max_depth - 1:
            dirs[:] = []
        rel_prefix = [] if rel_root == "." else rel_root.split(os.sep)
        for name in sorted(files):
            names = [*rel_prefix, name]
            if _match_parts(names, parts):
                rel = "/".join(names)
                confine_path(base, rel, operation="glob")
                matches.append(rel)
    return sorted(matches)


# --------------------------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------------------------


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
            fd = _open_file_at(self._name, self._dir_fd, base=self._base, requested=self._requested, operation="read")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise file_error(exc, path=self.path, operation="read") from exc
        return os.fdopen(fd, "rb")


def _verify_parent(base: str, dirs: Sequence[str], dir_fd: int, requested: str) -> None:
    """Fail if the folder we hold is no longer what the path names (swapped for a symlink or moved)."""
    try:
        check_fd = _open_dir_chain(base, dirs, create=False, requested=requested, operation="write")
    except FileNotFoundError:
        raise _refuse(requested, base, "its folder was moved away while writing", "write") from None
    try:
        a, b = os.fstat(check_fd), os.fstat(dir_fd)
    finally:
        os.close(check_fd)
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
        raise _refuse(requested, base, "its folder was replaced while writing", "write")


def _temp_name(name: str) -> str:
    return f".{name[:150]}.{uuid.uuid4().hex[:12]}.tmp"


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
    (:class:`~airflow_provider_flow.runtimes.formats.RecordWriter` re-parses it via ``open_existing()``).
    """
    if mode not in WRITE_MODES:
        raise FlowValidationError(
            f"unknown write mode {mode!r}; use one of {', '.join(WRITE_MODES)}", field="mode", value=mode
        )
    resolved = confine_path(base, requested, operation="write")
    *dirs, name = _parts_of(base, resolved)
    writer = AtomicWriter(path=resolved, relative_path="/".join([*dirs, name]), mode=mode)
    try:
        dir_fd = _open_dir_chain(base, dirs, create=create_dirs, requested=requested, operation="write")
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
    tmp_name = _temp_name(name)
    committed = False
    created = False
    try:
        try:
            if mode == "append":
                fcntl.flock(dir_fd, fcntl.LOCK_EX)
            existing = _lstat_at(name, dir_fd)
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise _refuse(requested, base, f"file {name!r} became a symlink after the check", "write")
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
            os.fsync(writer._file.fileno())
            writer._file.close()
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
        if _lstat_at(name, dir_fd) is not None:
            raise FileError(
                f"cannot write {requested!r}: it already exists and mode is 'error_if_exists'",
                path=resolved,
                operation="rename",
                retryable=False,
            ) from None
        os.rename(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(tmp_name, dir_fd=dir_fd)


__all__ = [
    "RETRYABLE_ERRNOS",
    "WRITE_MODES",
    "AtomicWriter",
    "WriteMode",
    "atomic_write",
    "check_base",
    "check_relative",
    "confine_path",
    "file_error",
    "glob_confined",
    "is_glob",
    "open_append",
    "open_confined",
    "resolve_base",
]
