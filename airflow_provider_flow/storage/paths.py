"""The path rules: which rendered paths a node may use under its base, decided before anything is opened.

Paths reaching a runtime are rendered templates, often from ``params`` or ``dag_run.conf`` typed by whoever
triggered the DAG, so every path is hostile input. :func:`confine_path` is the one check: it refuses absolute
paths, ``~``, NUL bytes, backslashes, empty or folder-only names and ``..`` that climbs above the base, then
resolves symlinks with ``realpath`` and refuses anything whose real location is outside the base
(``commonpath``). Refusals raise :class:`~airflow_provider_flow.errors.PathTraversalError` naming the requested
path and the base. A path that changes while it is resolved (a symlink swapped between ``lstat`` and
``readlink``) makes ``realpath`` raise an ``OSError``: that is hostile input too, refused the same way, never a
raw error (the operator would retry a raw one as a bug). The lexical half (:func:`check_relative`) needs no
filesystem, so asset URIs are built with it at DAG-parse time.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Sequence
from typing import Any

from airflow_provider_flow.errors import PathTraversalError

_GLOB_CHARS = frozenset("*?[")


def refuse(requested: Any, base: str, reason: str, operation: str) -> PathTraversalError:
    return PathTraversalError(requested_path=str(requested), base=base, reason=reason, operation=operation)


def check_relative(base: str, requested: Any, *, operation: str) -> list[str]:
    """The lexical half of confinement; returns the path's meaningful parts. Raises PathTraversalError."""
    if not isinstance(requested, str):
        raise refuse(requested, base, f"is a {type(requested).__name__}, not a string", operation)
    if "\x00" in requested:
        raise refuse(requested, base, "contains a NUL byte", operation)
    try:
        os.fsencode(requested)
    except UnicodeEncodeError:
        raise refuse(requested, base, "has characters the filesystem encoding cannot represent", operation) from None
    if not requested.strip():
        raise refuse(requested, base, "is empty", operation)
    if requested.startswith("~"):
        raise refuse(requested, base, "starts with '~' (home folders are never expanded)", operation)
    if "\\" in requested:
        raise refuse(requested, base, "contains a backslash; separate folders with '/'", operation)
    if os.path.isabs(requested):
        raise refuse(requested, base, "is absolute", operation)
    raw_parts = requested.split("/")
    if raw_parts[-1] in ("", ".", ".."):
        raise refuse(requested, base, "names a folder, not a file", operation)
    parts: list[str] = []
    for part in raw_parts:
        if part in ("", "."):
            continue
        if not part.strip():
            raise refuse(requested, base, "contains a blank folder or file name", operation)
        if part == "..":
            if not parts:
                raise refuse(requested, base, "uses '..' to climb above the base directory", operation)
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise refuse(requested, base, "names the base directory itself, not a file", operation)
    return parts


def confine_path(base: str, requested: str, *, operation: str) -> str:
    """The absolute real path of ``requested`` inside ``base``, or :class:`PathTraversalError`.

    ``base`` must be a real path (from :func:`resolve_base`). Symlinks anywhere along the path, the final file
    included, are resolved; the result must stay inside the base. Callers open the result with
    :func:`open_confined` / :func:`atomic_write`, which re-check each component with ``O_NOFOLLOW``.
    """
    check_relative(base, requested, operation=operation)
    resolved = real_path(os.path.join(base, requested), requested=requested, base=base, operation=operation)
    if os.path.commonpath([base, resolved]) != base:
        raise refuse(requested, base, f"resolves through a symlink to {resolved!r}, outside", operation)
    if resolved == base:
        raise refuse(requested, base, "resolves to the base directory itself, not a file", operation)
    return resolved


def real_path(path: str, *, requested: Any, base: str, operation: str) -> str:
    """``os.path.realpath(path)``; a path that changes while it is resolved is refused, not a raw OSError."""
    try:
        return os.path.realpath(path)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "OSError")
        raise refuse(
            requested, base, f"changed while it was being checked ({name}: a symlink swapped?)", operation
        ) from None


def is_glob(path: str) -> bool:
    """True when ``path`` holds glob characters (``*``, ``?``, ``[``)."""
    return any(ch in _GLOB_CHARS for ch in path)


def match_parts(names: Sequence[str], patterns: Sequence[str]) -> bool:
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(match_parts(names[i:], rest) for i in range(len(names) + 1))
    if not names:
        return False
    name = names[0]
    if name.startswith(".") and not head.startswith("."):
        return False  # like glob: hidden files (and our temp files) only match patterns that start with '.'
    return fnmatch.fnmatchcase(name, head) and match_parts(names[1:], rest)
