"""The hidden temporary files atomic writes publish from: their names, and how long names are made to fit.

A temporary file is ``.<name>.<12 hex>.tmp`` in the target's folder (hidden, so globs and readers skip it). The
target's name may use nearly all of the filesystem's NAME_MAX, which counts *bytes* of the filesystem encoding,
not characters: the name part is trimmed to what fits, on a character boundary (a cut inside a multibyte
character would make an undecodable name).
"""

from __future__ import annotations

import os
import uuid

from airflow_provider_flow.errors import FlowValidationError

#: NAME_MAX when ``fpathconf`` cannot tell: what Linux and macOS filesystems allow (bytes per name).
DEFAULT_NAME_MAX = 255

#: Random hex digits in a temporary name: unique among concurrent writers of one target.
_TAG_DIGITS = 12


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
