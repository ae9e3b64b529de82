"""The storage protocol: the few operations a runtime needs, whichever backend holds the bytes.

Two backends satisfy it: local folders (:class:`~airflow_provider_flow.storage.local_store.LocalStorage`, the
dir-fd walks of :mod:`.local` and the atomic rename of :mod:`.atomic`) and object stores
(:class:`~airflow_provider_flow.storage.object_store.ObjectStorage`, multipart uploads). Every method takes a
*rendered* path relative to the backend's base and confines it first; the promises are the same on both:

* ``open_read`` opens one file (never a folder); ``verify_sha256``/``verify_bytes`` make the stream fail at EOF
  when the content is not what a file reference recorded.
* ``atomic_write`` publishes all or nothing: inside the ``with`` block nothing is visible at the target; after a
  clean exit the whole content is; after an exception (or a kill) the old content, if any, is untouched.
* ``glob`` lists files matching a pattern (``**`` spans folders; hidden names only match patterns starting with
  ``.``), sorted, relative to the base.
* ``describe`` is what a file reference records about the base: never a worker's folder when a connection
  names it, never credentials.
"""

from __future__ import annotations

import builtins
import hashlib
import io
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, runtime_checkable

from airflow_provider_flow.errors import FileError


@dataclass(frozen=True)
class StoredFile:
    """What ``stat`` tells about one file: its path relative to the base and its size."""

    path: str
    size: int
    etag: str | None = None


@runtime_checkable
class StorageWriter(Protocol):
    """The object an ``atomic_write`` block writes into; ``sha256``/``bytes`` are final after the block."""

    relative_path: str
    bytes: int
    sha256: str

    def write(self, data: builtins.bytes) -> None: ...


@runtime_checkable
class Storage(Protocol):
    """One base (a folder or a bucket prefix) and the confined operations on it."""

    def describe(self) -> dict[str, Any]:
        """Fields a FileReference records to name this base (``base_path``/``fs_conn_id`` or ``base_uri``/
        ``conn_id``)."""
        ...

    def open_read(
        self, path: str, *, verify_sha256: str | None = None, verify_bytes: int | None = None
    ) -> BinaryIO: ...

    def atomic_write(self, path: str, *, mode: str = "overwrite") -> AbstractContextManager[StorageWriter]: ...

    def glob(self, pattern: str) -> list[str]: ...

    def stat(self, path: str) -> StoredFile | None: ...

    def exists(self, path: str) -> bool: ...

    def delete(self, path: str) -> None: ...


class VerifyingReader(io.RawIOBase):
    """Hashes and counts what is read; at EOF, raises FileError unless it matches the expected sha256/size.

    The check sits in the stream itself, so a consumer that reads to the end cannot miss it; the error comes after
    the last byte, before anything downstream commits.
    """

    def __init__(self, raw: Any, *, path: str, sha256: str | None, size: int | None) -> None:
        self._raw = raw
        self._path = path
        self._expected_sha = sha256
        self._expected_size = size
        self._sha = hashlib.sha256()
        self.count = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self._raw.read(len(view))
        n = len(data or b"")
        if n:
            view[:n] = data
            self._sha.update(data)
            self.count += n
            if self._expected_size is not None and self.count > self._expected_size:
                self._mismatch()
        elif not self._checked:
            self._checked = True
            if (self._expected_size is not None and self.count != self._expected_size) or (
                self._expected_sha is not None and self._sha.hexdigest() != self._expected_sha
            ):
                self._mismatch()
        return n

    def _mismatch(self) -> None:
        raise FileError(
            f"{self._path!r} does not match its file reference (expected {self._expected_size} bytes, sha256 "
            f"{(self._expected_sha or '?')[:12]}...); it changed after it was written: re-run the task that wrote it",
            path=self._path,
            operation="verify",
            retryable=False,
        )

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def verifying(raw: Any, *, path: str, sha256: str | None, size: int | None) -> BinaryIO:
    """``raw`` wrapped in a buffered :class:`VerifyingReader` (or as is when nothing is to be verified)."""
    if sha256 is None and size is None:
        return raw
    return io.BufferedReader(VerifyingReader(raw, path=path, sha256=sha256, size=size), buffer_size=1 << 20)
