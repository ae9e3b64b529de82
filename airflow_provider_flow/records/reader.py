"""Reading records back from files: a confined path, or a file reference handed on by another task.

File references are hostile input too: ``data`` may be rendered from ``dag_run.conf`` and XCom entries can be
edited over the REST API, so a reference's ``path`` is confined again on the reading worker, and its base (an
absolute ``base_path``, or any ``fs`` connection of the deployment) is only streamed as is when it lies inside
one of the reading node's own bases (``trusted_bases``). Any other referenced file is hashed in full *before*
the first record is handed on and must match the reference's ``bytes`` and ``sha256`` exactly: an invented
reference to ``/etc`` (or to another team's connection) cannot make an HTTP sink or an LLM call send a file's
lines before the end-of-file check fails; whoever can produce the right hash knows the content already. The
price is a second read of references from outside the reader's base (usually from the page cache).

References to object storage (``base_uri`` + ``conn_id``) follow the same rules through the storage protocol: the
reading worker resolves the connection itself, confines the key again, and the stream fails at EOF unless size
and sha256 match; a reference outside the reader's own bucket prefix (or through another connection) is hashed
in a first pass before any record is handed on.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_provider_flow.errors import FileError
from airflow_provider_flow.records.codecs import (
    check_encoding,
    count_records,
    detect_format,
    parse_stream,
    read_os_errors,
    record_blocks,
)
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.base import check_base, object_storage, object_trust_root, resolve_base
from airflow_provider_flow.storage.local import file_error, open_confined
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.paths import check_relative, confine_path
from airflow_provider_flow.storage.protocol import Storage

if TYPE_CHECKING:
    from airflow_provider_flow.core.state import ExecutionState


def _local_root(base: str | Storage) -> str | None:
    """The folder of a local base (then the local code path runs, unchanged), None for any other backend."""
    if isinstance(base, str):
        return base
    return base.root if isinstance(base, LocalStorage) else None


def _open(base: str | Storage, path: str) -> BinaryIO:
    root = _local_root(base)
    if root is not None:
        return open_confined(root, path, operation="read")
    assert not isinstance(base, str)
    return base.open_read(path)


def iter_records(
    base: str | Storage, path: str, *, format: str | None = None, encoding: str = "utf-8"
) -> Iterator[Any]:
    """Stream the records of ``path`` (confined to ``base``, a folder or a storage backend)."""
    fmt = detect_format(path, format)
    check_encoding(encoding)
    with _open(base, path) as stream:
        yield from read_os_errors(parse_stream(stream, fmt, encoding, path), path)


def stored_size(base: str | Storage, path: str) -> int:
    """Size of one file: locally measured on the file opened the confined way (``os.stat`` on the path string
    would follow symlinks), else the backend's ``stat`` (a missing object is a FileError naming it)."""
    root = _local_root(base)
    if root is not None:
        with open_confined(root, path, operation="read") as stream:
            return os.fstat(stream.fileno()).st_size
    assert not isinstance(base, str)
    found = base.stat(path)
    if found is None:
        raise FileError(
            f"{path!r} does not exist under the base; fix the path", path=path, operation="read", retryable=False
        )
    return found.size


class HashingReader(io.RawIOBase):
    """Counts and hashes bytes as they are read, so a reference is verified in the same single pass."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.sha.update(memoryview(buffer)[:n])
            self.count += n
        return n or 0


def reference_base(ref: FileReference, state: ExecutionState) -> str:
    """The base a reference's path is relative to, resolved on this worker."""
    if ref.base_path:
        return check_base(ref.base_path, source="the file reference's base_path")
    return resolve_base(state, fs_conn_id=ref.fs_conn_id, base_path=None)


def _inside_any(base: str, trusted_bases: Sequence[str]) -> bool:
    local = [trusted for trusted in trusted_bases if os.path.isabs(trusted)]
    return any(os.path.commonpath([trusted, base]) == trusted for trusted in local)


def _inside_any_object(root: str, trusted_bases: Sequence[str]) -> bool:
    """``root`` (``s3://conn@bucket/prefix``) equals or lies under one of the reader's own object bases."""
    return any(root == trusted or root.startswith(trusted + "/") for trusted in trusted_bases if "://" in trusted)


def _check_whole_file(raw: BinaryIO, ref: FileReference, *, rewind: bool = True) -> None:
    """Hash an opened referenced file before any record is read from it (then rewind); refuse it unless it matches.

    Same descriptor for the check and the read, so the file cannot be swapped in between. The message shows
    what the reference claimed, never what was found: the folder is not one this node trusts, so its files'
    sizes and hashes are not for the log.
    """
    where = _where(ref)
    sha, count = hashlib.sha256(), 0
    try:
        while chunk := raw.read(1 << 20):
            sha.update(chunk)
            count += len(chunk)
        if rewind:
            raw.seek(0)
    except OSError as exc:
        raise file_error(exc, path=ref.path, operation="read") from exc
    if count != ref.bytes or sha.hexdigest() != ref.sha256:
        raise FileError(
            f"{ref.path!r} under {where} does not match its file reference (bytes/sha256): "
            "a reference to a folder outside this node's own base is only read when it matches exactly; re-run "
            "the task that wrote it, or give this node a base_path/fs_conn_id covering that folder",
            path=ref.path,
            operation="verify",
            retryable=False,
        )


def _missing_reference(ref: FileReference, base: str) -> FileError:
    """The error for a referenced file this worker cannot find: says why it happens on clusters and the fix.

    A raw "no such file" here usually means the task that wrote the file ran on another worker, whose local
    folder this worker does not see; retrying cannot help, so the error is not retryable.
    """
    where = f"base_path {ref.base_path!r}" if ref.base_path else f"fs connection {ref.fs_conn_id or 'fs_default'!r}"
    return FileError(
        f"file reference {ref.path!r} ({where}, {base!r} on this worker) is missing here: the upstream task that "
        "wrote it ran on another worker, whose local folder this worker cannot see, or the file was removed. "
        "Stage in shared storage that every worker reads (an s3:// base, or one shared filesystem behind the same "
        "connection on every worker), then re-run the upstream task",
        path=ref.path,
        operation="read",
        details={"errno": "ENOENT", "base": base},
        retryable=False,
    )


def iter_reference(
    ref: FileReference, state: ExecutionState, *, verify: bool = True, trusted_bases: Sequence[str] = ()
) -> Iterator[Any]:
    """Stream a referenced file's records (confined again); with ``verify``, check its size and sha256 at EOF.

    A mismatch means the file changed after the upstream task wrote it; the error comes after the last record,
    which is still before any sink commits, so nothing half-verified is published. A file outside
    ``trusted_bases`` (the reading node's own real bases) is verified in full first (see the module docstring).
    """
    fmt = detect_format(ref.path, ref.format)
    with _opened_reference(ref, state, verify=verify, trusted_bases=trusted_bases) as stream:
        yield from parse_stream(stream, fmt, check_encoding(ref.encoding), ref.path)


def reference_blocks(
    ref: FileReference,
    state: ExecutionState,
    *,
    verify: bool = True,
    trusted_bases: Sequence[str] = (),
    text_only: bool = False,
) -> Iterator[tuple[list[Any], bytes | memoryview | None]]:
    """:func:`iter_reference` a block at a time (:func:`~airflow_provider_flow.records.codecs.record_blocks`,
    which says what ``text_only`` does): the same records, checks and errors, with the original NDJSON text where
    it is the records' exact JSON."""
    fmt = detect_format(ref.path, ref.format)
    with _opened_reference(ref, state, verify=verify, trusted_bases=trusted_bases) as stream:
        yield from record_blocks(stream, fmt, check_encoding(ref.encoding), ref.path, text_only=text_only)


@contextmanager
def _opened_reference(
    ref: FileReference, state: ExecutionState, *, verify: bool, trusted_bases: Sequence[str]
) -> Iterator[BinaryIO]:
    """The referenced file opened for reading (confined again, verified first when outside ``trusted_bases``);
    once the block ends without an error, the rest is read and size and sha256 are checked (with ``verify``)."""
    if ref.is_object:
        with _opened_object_reference(ref, state, verify=verify, trusted_bases=trusted_bases) as stream:
            yield stream
        return
    base = reference_base(ref, state)
    try:
        opened = open_confined(base, ref.path, operation="read")
    except FileError as exc:
        if exc.details.get("errno") == "ENOENT":
            raise _missing_reference(ref, base) from exc
        raise
    with opened as raw:
        if not _inside_any(base, trusted_bases):
            _check_whole_file(raw, ref)
        hashing = HashingReader(raw)
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        try:
            yield buffered
            while buffered.read(1 << 20):
                pass
        except OSError as exc:
            raise file_error(exc, path=ref.path, operation="read") from exc
    if verify and (hashing.count != ref.bytes or hashing.sha.hexdigest() != ref.sha256):
        raise FileError(
            f"{ref.path!r} changed after it was written (expected {ref.bytes} bytes, sha256 {ref.sha256[:12]}..., "
            f"found {hashing.count} bytes, sha256 {hashing.sha.hexdigest()[:12]}...); re-run the task that wrote it",
            path=ref.path,
            operation="verify",
            retryable=False,
        )


def _where(ref: FileReference) -> str:
    if ref.base_uri:
        return f"base_uri {ref.base_uri!r} (connection {ref.conn_id!r})"
    return f"base_path {ref.base_path!r}" if ref.base_path else f"fs connection {ref.fs_conn_id!r}"


@contextmanager
def _opened_object_reference(
    ref: FileReference, state: ExecutionState, *, verify: bool, trusted_bases: Sequence[str]
) -> Iterator[BinaryIO]:
    """An object-storage reference: resolved on this worker, confined again, size and sha256 checked at EOF."""
    assert ref.base_uri is not None
    store = object_storage(state, ref.base_uri, ref.conn_id)
    if not _inside_any_object(object_trust_root(store.location), trusted_bases):
        with store.open_read(ref.path) as first:
            _check_whole_file(first, ref, rewind=False)
    sha, size = (ref.sha256, ref.bytes) if verify else (None, None)
    with store.open_read(ref.path, verify_sha256=sha, verify_bytes=size) as stream:
        yield stream
        while stream.read(1 << 20):  # the verifying stream checks at EOF: read to it
            pass


def describe_file(
    base: str | Storage,
    path: str,
    *,
    format: str | None = None,
    fs_conn_id: str | None = None,
    base_path: str | None = None,
    encoding: str = "utf-8",
) -> FileReference:
    """A reference to an existing file: one pass parses it (so a broken file fails here, not downstream),
    counts its records and hashes its bytes. Readers decode it with the ``encoding`` it records.

    ``base`` is a folder (the reference names it by ``base_path``/``fs_conn_id``) or a storage backend (it names
    itself, e.g. ``base_uri``/``conn_id``)."""
    fmt = detect_format(path, format)
    check_encoding(encoding)
    root = _local_root(base)
    if root is None:
        assert not isinstance(base, str)
        return _describe_stored(base, path, fmt, encoding)
    if not isinstance(base, str) and not (fs_conn_id or base_path):
        return _describe_local(root, path, fmt, encoding, **base.describe())
    return _describe_local(root, path, fmt, encoding, fs_conn_id=fs_conn_id, base_path=base_path)


def _describe_stored(storage: Storage, path: str, fmt: str, encoding: str) -> FileReference:
    with storage.open_read(path) as raw:
        hashing = HashingReader(raw)
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        count = count_records(buffered, fmt, encoding, path)
        while buffered.read(1 << 20):
            pass
    return FileReference(
        path="/".join(check_relative("<base>", path, operation="read")),
        **storage.describe(),
        format=fmt,
        encoding=encoding,
        records=count,
        bytes=hashing.count,
        sha256=hashing.sha.hexdigest(),
    )


def _describe_local(
    base: str, path: str, fmt: str, encoding: str, *, fs_conn_id: str | None, base_path: str | None
) -> FileReference:
    resolved = confine_path(base, path, operation="read")
    with open_confined(base, path, operation="read", resolved=resolved) as raw:
        hashing = HashingReader(raw)
        buffered = io.BufferedReader(hashing, buffer_size=1 << 20)
        try:
            count = count_records(buffered, fmt, encoding, path)
        except OSError as exc:
            raise file_error(exc, path=path, operation="read") from exc
        while buffered.read(1 << 20):
            pass
    return FileReference(
        path="/".join(os.path.relpath(resolved, base).split(os.sep)),
        base_path=base_path if base_path else (None if fs_conn_id else base),
        fs_conn_id=fs_conn_id,
        format=fmt,
        encoding=encoding,
        records=count,
        bytes=hashing.count,
        sha256=hashing.sha.hexdigest(),
    )
