"""The hidden temporary files atomic writes publish from: their names, and how long names are made to fit.

A temporary file is ``.<name>.<12 hex>.tmp`` in the target's folder (hidden, so globs and readers skip it). The
target's name may use nearly all of the filesystem's NAME_MAX, which counts *bytes* of the filesystem encoding,
not characters: the name part is trimmed to what fits, on a character boundary (a cut inside a multibyte
character would make an undecodable name).

A killed write leaves its temporary file behind. The next write that commits into the same folder removes such
leftovers (:func:`remove_stale_temp_files`): only names of this pattern, only files last modified more than
:data:`STALE_TEMP_SECONDS` ago, and never one a live writer holds: every writer keeps an exclusive ``flock`` on
its temporary file until its commit, and a file whose lock cannot be taken is kept whatever its age (a writer
waiting an hour on a slow source). Nothing is followed: a symlink named like a temporary file is removed as a
link, its target untouched; folders and other non-files are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import time
import uuid

from airflow_provider_flow.errors import FlowValidationError

#: NAME_MAX when ``fpathconf`` cannot tell: what Linux and macOS filesystems allow (bytes per name).
DEFAULT_NAME_MAX = 255

#: Random hex digits in a temporary name: unique among concurrent writers of one target.
_TAG_DIGITS = 12

#: Age (seconds since the last write) past which an unlocked temporary file is a leftover of a killed write.
STALE_TEMP_SECONDS = 3600

_TEMP_NAME = re.compile(rf"\..+\.[0-9a-f]{{{_TAG_DIGITS}}}\.tmp", re.DOTALL)


def name_max(dir_fd: int) -> int:
    """The longest name in bytes the folder's filesystem accepts."""
    try:
        limit = os.fpathconf(dir_fd, "PC_NAME_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX
    return limit if limit > 0 else DEFAULT_NAME_MAX


def encoded_size(name: str) -> int:
    """Bytes ``name`` takes in the filesystem encoding (what NAME_MAX counts)."""
    return len(os.fsencode(name))


def fit_name(name: str, limit: int) -> str:
    """The longest prefix of ``name`` that takes at most ``limit`` bytes, cut between characters."""
    size = 0
    for index, char in enumerate(name):
        size += encoded_size(char)
        if size > limit:
            return name[:index]
    return name


def temp_name(name: str, *, name_max: int = DEFAULT_NAME_MAX) -> str:
    """A fresh temporary name for target ``name`` that fits ``name_max`` bytes."""
    tag = uuid.uuid4().hex[:_TAG_DIGITS]
    room = name_max - encoded_size(f"..{tag}.tmp")
    return f".{fit_name(name, room)}.{tag}.tmp"


def check_name_fits(name: str, limit: int, requested: str) -> None:
    """Refuse a target name the filesystem cannot hold before anything is written (not retryable)."""
    size = encoded_size(name)
    if size > limit:
        raise FlowValidationError(
            f"the file name {name!r} is {size} bytes in the filesystem encoding; this filesystem allows at most "
            f"{limit} bytes per name; use a shorter name",
            field="path",
            value=requested,
        )


def hold(fd: int) -> None:
    """Mark a temporary file as in use by a live writer (released when the process closes it or dies)."""
    fcntl.flock(fd, fcntl.LOCK_EX)


def remove_stale_temp_files(dir_fd: int, *, max_age: float = STALE_TEMP_SECONDS) -> list[str]:
    """Remove the folder's leftover temporary files (see the module docstring); returns the names removed.

    Best effort: a file that cannot be checked or removed is skipped, so cleaning never fails a write.
    """
    cutoff = time.time() - max_age
    with os.scandir(dir_fd) as entries:
        names = [entry.name for entry in entries if _TEMP_NAME.fullmatch(entry.name)]
    removed = []
    for name in names:
        with contextlib.suppress(OSError):
            if _remove_if_stale(name, dir_fd, cutoff):
                removed.append(name)
    return removed


def _remove_if_stale(name: str, dir_fd: int, cutoff: float) -> bool:
    found = os.lstat(name, dir_fd=dir_fd)
    if found.st_mtime > cutoff:
        return False
    if stat.S_ISLNK(found.st_mode):
        os.unlink(name, dir_fd=dir_fd)  # unlink never follows: the link goes, its target stays
        return True
    if not stat.S_ISREG(found.st_mode):
        return False
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer holds it
        held, now = os.fstat(fd), os.lstat(name, dir_fd=dir_fd)
        if (held.st_dev, held.st_ino) != (now.st_dev, now.st_ino) or held.st_mtime > cutoff:
            return False  # replaced or written to since we looked
        os.unlink(name, dir_fd=dir_fd)
        return True
    finally:
        os.close(fd)
