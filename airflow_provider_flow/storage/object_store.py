"""Object storage (S3 and S3-compatible stores): the same promises as local files, kept with the store's own API.

The backend drives the S3 client of an ``s3fs`` filesystem: the one Airflow's ``ObjectStoragePath`` builds from
a connection (``ObjectStoragePath("s3://my_aws_conn@bucket/prefix").fs``, in the hooks layer), or one built
directly for tests and scripts. It never sees the credentials themselves and never imports Airflow.

* **Confinement**: every rendered path goes through :func:`~.object_keys.confine_key` (normalised first, then
  checked); the key always lies under the base prefix.
* **Atomic publish**: :meth:`ObjectStorage.atomic_write` buffers one part (``part_size``, at least S3's 5 MiB) at a
  time and streams it as a multipart upload part. The next part is buffered while up to
  ``upload_concurrency - 1`` earlier parts are still uploading (the writer waits for the oldest first), so the
  link is not idle during each round trip and memory stays at about ``upload_concurrency + 1`` parts whatever the
  size. Each part carries its CRC32 (``ChecksumCRC32``, as boto3 sends it): the store refuses a part that arrives
  otherwise and echoes the checksum it verified, which must be the one sent; a store that echoes none (or a
  client configured with ``request_checksum_calculation="when_required"``, which sends none) gets the part's
  MD5 compared with its ETag instead. Before completing, the server's list of parts must match what was sent
  (numbers, ETags and sizes). Only ``CompleteMultipartUpload`` makes the object visible, and only after the
  ``with`` block ended cleanly; on any exception the parts in flight are waited for and the upload is aborted.
  Outputs smaller than a part are one ``PutObject`` (atomic too). A worker killed mid-write leaves at most an
  *incomplete multipart upload*, never an object: the first write each store (a node's, once per task) commits
  under the base aborts incomplete uploads under the base prefix that are older than ``stale_upload_seconds``
  (default a day, so a slow live writer is never touched; once, because listing the uploads after every write
  cost a staged http.source a request per page); a bucket lifecycle rule ``AbortIncompleteMultipartUpload`` is
  the belt to these braces and is recommended in the README.
* **error_if_exists**: refused up front when the object exists, and the commit carries ``If-None-Match: *``, so an
  object that appeared meanwhile is not clobbered (S3 since 2024, SeaweedFS 4.x, MinIO honour it). With
  ``conditional_writes=False`` (for stores that reject the header) it is check-then-write, with a race window.
* **append** is refused: objects cannot be extended in place, and re-uploading old + new would not be atomic
  against a concurrent overwrite. Write one object per run (a templated path) instead.
* **Errors** are classified by :mod:`.object_errors` (retryable: throttling, 5xx, network; not: auth, missing
  bucket); no message carries credentials.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import concurrent.futures
import hashlib
import inspect
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, BinaryIO

from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.storage.object_errors import error_code, object_error
from airflow_provider_flow.storage.object_keys import ObjectLocation, check_key_text, confine_key, relative_key
from airflow_provider_flow.storage.paths import check_relative, is_glob, match_parts, refuse
from airflow_provider_flow.storage.protocol import StoredFile, verifying

MIB = 1 << 20
#: S3's smallest part (every part but the last) and largest part.
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
#: S3 allows at most this many parts in one upload.
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 8 * MIB
#: Parts of one writer uploading at once: one at a time left the link idle during each round trip (0.63-0.69x
#: boto3's upload_fileobj on SeaweedFS, benchmarks/s3_staging.py); 2 overlaps buffering and upload and reaches
#: boto3 while holding about 3 parts (4 held about 10 in the 100 MiB memory test: aiobotocore keeps copies).
DEFAULT_UPLOAD_CONCURRENCY = 2
#: Incomplete uploads older than this under the base are leftovers of killed writers.
DEFAULT_STALE_UPLOAD_SECONDS = 24 * 3600

_WRITE_MODES = ("overwrite", "append", "error_if_exists")


def _sync(fs: Any, func: Any, **kwargs: Any) -> Any:
    """Run one coroutine function of the filesystem's async client on the filesystem's own event loop."""
    from fsspec.asyn import sync

    return sync(fs.loop, func, **kwargs)


@dataclass
class ObjectWriter:
    """What an :meth:`ObjectStorage.atomic_write` block writes into; ``bytes``/``sha256`` are final after it."""

    relative_path: str
    uri: str
    key: str
    mode: str
    bytes: int = 0
    sha256: str = ""
    parts: int = 0
    _store: ObjectStorage = field(repr=False, default=None)  # type: ignore[assignment]
    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)
    _upload_id: str | None = field(default=None, repr=False)
    _sent: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _sizes: list[int] = field(default_factory=list, repr=False)
    _inflight: list[tuple[int, builtins.bytes, dict[str, str], concurrent.futures.Future[Any]]] = field(
        default_factory=list, repr=False
    )

    def write(self, data: builtins.bytes) -> None:
        """Add bytes; a full part is uploaded at once (nothing is visible at the key until the commit)."""
        size = self._store.part_size
        view = memoryview(data)
        self._hash.update(view)
        self.bytes += len(view)
        while view:
            room = size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= size:
                self._upload_part()

    def _upload_part(self) -> None:
        store = self._store
        if self._upload_id is None:
            reply = store._call(
                "create_multipart_upload",
                self.uri,
                "write",
                Bucket=store.location.bucket,
                Key=self.key,
                **({"ChecksumAlgorithm": "CRC32"} if store.sends_checksums else {}),
            )
            self._upload_id = str(reply["UploadId"])
        number = len(self._sent) + len(self._inflight) + 1
        if number > MAX_PARTS:
            raise FileError(
                f"cannot write {self.uri!r}: more than {MAX_PARTS} parts of {store.part_size} bytes; raise part_size",
                path=self.uri,
                operation="write",
                retryable=False,
            )
        body = bytes(self._buffer)
        self._buffer.clear()
        checksum = store.checksum_args(body)
        request = store.client.upload_part(
            Bucket=store.location.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            **checksum,
        )
        self._inflight.append((number, body, checksum, asyncio.run_coroutine_threadsafe(request, store.fs.loop)))
        self.parts = number
        while len(self._inflight) >= store.upload_concurrency:
            self._finish_oldest()

    def _finish_oldest(self) -> None:
        """Wait for the oldest part in flight and record it (in part order, as the commit needs)."""
        number, body, checksum, future = self._inflight.pop(0)
        try:
            reply = future.result()
        except Exception as exc:
            raise self._store._error(exc, self.uri, "write") from None
        etag = str(reply.get("ETag", ""))
        _check_received(reply, body, checksum, self.uri)
        self._sent.append({"PartNumber": number, "ETag": etag, **checksum})
        self._sizes.append(len(body))

    def _drain(self) -> None:
        """Wait for every part in flight (before the commit's checks)."""
        while self._inflight:
            self._finish_oldest()

    def _settle(self) -> None:
        """On failure: let the parts in flight end (errors ignored) so none lands after the abort."""
        for *_, future in self._inflight:
            with suppress(Exception):
                future.result()
        self._inflight.clear()


def crc32_checksum(body: builtins.bytes) -> str:
    """S3's ``ChecksumCRC32``: the big-endian CRC32, base64 (zlib's runs at several GB/s, MD5 at under one)."""
    return base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def _check_received(reply: dict[str, Any], body: builtins.bytes, checksum: dict[str, str], uri: str) -> None:
    """The store must have received ``body``: the CRC32 it verified and echoed must be the one sent; when it echoes
    none, a plain ETag (the MD5 of what it stored) must be ``body``'s MD5 (encrypted stores' ETags: not comparable)."""
    sent = checksum.get("ChecksumCRC32")
    echoed = reply.get("ChecksumCRC32")
    if sent and echoed:
        if echoed != sent:
            raise _received_error(uri, "checksum")
        return
    plain = str(reply.get("ETag", "")).strip('"')
    if len(plain) != 32 or not all(c in "0123456789abcdef" for c in plain.lower()):
        return
    if plain.lower() != hashlib.md5(body, usedforsecurity=False).hexdigest():
        raise _received_error(uri, "ETag")


def _received_error(uri: str, what: str) -> FileError:
    return FileError(
        f"cannot write {uri!r}: the store received different bytes than were sent ({what} mismatch); "
        "nothing was published",
        path=uri,
        operation="write",
        retryable=True,
    )


class _SyncBody(io.RawIOBase):
    """A blocking reader over an async S3 response body (each read runs on the filesystem's loop)."""

    def __init__(self, store: ObjectStorage, body: Any, uri: str) -> None:
        self._store, self._body, self._uri = store, body, uri

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        try:
            data = _sync(self._store.fs, self._body.read, amt=len(view))
        except Exception as exc:
            raise self._store._error(exc, self._uri, "read") from None
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with suppress(Exception):
                result = self._body.close()
                if inspect.iscoroutine(result):  # the httpx-based body closes asynchronously
                    _sync(self._store.fs, lambda: result)
        super().close()


class ObjectStorage:
    """One base (``s3://bucket/prefix`` + connection) on an S3 client; satisfies :class:`~.protocol.Storage`.

    :param fs: an ``s3fs.S3FileSystem`` (from ``ObjectStoragePath(...).fs`` or built directly).
    :param location: the parsed base (:func:`~.object_keys.parse_base_uri`).
    :param part_size: bytes per multipart part (5 MiB to 5 GiB): the memory one write holds, about twice.
    :param upload_concurrency: parts of one write uploaded at once (1 to 16); memory is about this many parts + 1.
    :param stale_upload_seconds: age past which an incomplete upload under the base is aborted by a later write.
    :param conditional_writes: send ``If-None-Match: *`` for ``error_if_exists`` (turn off only for stores that
        reject the header; the check is then racy).
    """

    def __init__(
        self,
        fs: Any,
        location: ObjectLocation,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        stale_upload_seconds: float = DEFAULT_STALE_UPLOAD_SECONDS,
        conditional_writes: bool = True,
    ) -> None:
        if not isinstance(part_size, int) or not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise FlowValidationError(
                f"part_size must be between {MIN_PART_SIZE} (S3's minimum part) and {MAX_PART_SIZE} bytes",
                field="part_size",
                value=part_size,
            )
        if not isinstance(upload_concurrency, int) or not 1 <= upload_concurrency <= 16:
            raise FlowValidationError(
                "upload_concurrency must be between 1 and 16 parts in flight",
                field="upload_concurrency",
                value=upload_concurrency,
            )
        if not 0 <= stale_upload_seconds <= 365 * 24 * 3600:
            raise FlowValidationError(
                "stale_upload_seconds must be between 0 and a year",
                field="stale_upload_seconds",
                value=stale_upload_seconds,
            )
        self.fs = fs
        self.location = location
        self.part_size = part_size
        self.upload_concurrency = upload_concurrency
        self.stale_upload_seconds = stale_upload_seconds
        self.conditional_writes = conditional_writes
        self._client: Any = None
        self._swept = False  # leftovers of killed writers aborted (after this store's first committed write)

    @property
    def sends_checksums(self) -> bool:
        """Whether parts carry a CRC32: as botocore does by default, unless the client was configured to send
        checksums only where an operation requires them (``request_checksum_calculation="when_required"``, for
        stores that reject the headers)."""
        config = getattr(getattr(self.client, "meta", None), "config", None)
        return getattr(config, "request_checksum_calculation", "when_supported") != "when_required"

    def checksum_args(self, body: builtins.bytes) -> dict[str, str]:
        """The checksum arguments of an upload of ``body`` (none when the client sends none)."""
        return {"ChecksumCRC32": crc32_checksum(body)} if self.sends_checksums else {}

    # -- plumbing ------------------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The filesystem's S3 client (an aiobotocore client; its calls run on the filesystem's loop)."""
        if self._client is None:
            try:
                self._client = _sync(self.fs, self.fs.set_session)
            except Exception as exc:
                raise self._error(exc, self.location.uri, "connect") from None
        return self._client

    @property
    def endpoint(self) -> str | None:
        """The store's endpoint URL (for errors; it holds no credentials)."""
        return getattr(getattr(self._client, "meta", None), "endpoint_url", None)

    def _error(self, exc: BaseException, uri: str, operation: str) -> Exception:
        return object_error(exc, uri=uri, operation=operation, endpoint=self.endpoint)

    def _call(self, method: str, uri: str, operation: str, **kwargs: Any) -> Any:
        client = self.client
        try:
            return _sync(self.fs, getattr(client, method), **kwargs)
        except Exception as exc:
            raise self._error(exc, uri, operation) from None

    def _uri(self, key: str) -> str:
        return self.location.key_uri(key)

    # -- the protocol --------------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """What a FileReference records: the base URI and the connection id (resolved again by each reader)."""
        return {"base_uri": self.location.uri, "conn_id": self.location.conn_id}

    def key_of(self, path: str, *, operation: str = "resolve") -> str:
        """The confined full key of a rendered path (PathTraversalError otherwise)."""
        return confine_key(self.location, path, operation=operation)

    def open_read(self, path: str, *, verify_sha256: str | None = None, verify_bytes: int | None = None) -> BinaryIO:
        """Stream one object; with ``verify_*``, the stream raises FileError at EOF on a mismatch."""
        key = self.key_of(path, operation="read")
        uri = self._uri(key)
        reply = self._call("get_object", uri, "read", Bucket=self.location.bucket, Key=key)
        raw = io.BufferedReader(_SyncBody(self, reply["Body"], uri), buffer_size=MIB)
        return verifying(raw, path=uri, sha256=verify_sha256, size=verify_bytes)

    def stat(self, path: str) -> StoredFile | None:
        """Size and ETag of one object, or None when there is none."""
        key = self.key_of(path, operation="stat")
        return self._head(key)

    def _head(self, key: str) -> StoredFile | None:
        uri = self._uri(key)
        client = self.client
        try:
            reply = _sync(self.fs, client.head_object, Bucket=self.location.bucket, Key=key)
        except Exception as exc:
            code, status = error_code(exc)
            if status == 404 and code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, uri, "stat") from None
        return StoredFile(relative_key(self.location, key), int(reply.get("ContentLength", 0)), reply.get("ETag"))

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def delete(self, path: str) -> None:
        """Remove one object (no error when it is already gone, as on S3)."""
        key = self.key_of(path, operation="delete")
        self._call("delete_object", self._uri(key), "delete", Bucket=self.location.bucket, Key=key)

    def glob(self, pattern: str) -> list[str]:
        """Relative paths of objects under the base matching ``pattern`` (``**`` spans folders), sorted.

        A matching key that does not normalise to itself (``a//b``, ``a/../b``: written by someone else) is
        refused with PathTraversalError rather than read under another name or silently skipped.
        """
        base = self.location.uri
        check_key_text(self.location, pattern, operation="glob")
        parts = check_relative(base, pattern, operation="glob")
        fixed: list[str] = []
        for part in parts:
            if is_glob(part):
                break
            fixed.append(part)
        prefix = self.location.key_prefix + "/".join(fixed)
        if fixed and len(fixed) < len(parts):
            prefix += "/"
        matches: list[str] = []
        for key in self._list_keys(prefix):
            rel = relative_key(self.location, key)
            names = rel.split("/")
            if not match_parts(names, parts):
                continue
            try:
                normalised = confine_key(self.location, rel, operation="glob")
            except FileError:
                normalised = ""
            if normalised != key:
                raise refuse(rel, base, f"the store holds a key that does not normalise to itself: {key!r}", "glob")
            matches.append(rel)
        return sorted(matches)

    def _list_keys(self, prefix: str) -> Iterator[str]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            reply = self._call("list_objects_v2", self._uri(prefix), "glob", **kwargs)
            for item in reply.get("Contents") or []:
                key = str(item["Key"])
                if key.startswith(self.location.key_prefix) and not key.endswith("/"):
                    yield key
            if not reply.get("IsTruncated"):
                return
            token = reply.get("NextContinuationToken")

    @contextmanager
    def atomic_write(self, path: str, *, mode: str = "overwrite") -> Iterator[ObjectWriter]:
        """Publish ``path`` all or nothing (see the module docstring); the writer's ``sha256`` is set after."""
        if mode not in _WRITE_MODES:
            raise FlowValidationError(
                f"unknown write mode {mode!r}; use one of {', '.join(_WRITE_MODES)}", field="mode", value=mode
            )
        key = self.key_of(path, operation="write")
        uri = self._uri(key)
        if mode == "append":
            raise FlowValidationError(
                f"cannot append to {uri!r}: objects in object storage cannot be extended atomically; use "
                "disposition='append' (file.sink adds one object per run to a folder), a templated path such as "
                ".../{{ ds }}/part.jsonl, or mode='overwrite'",
                field="mode",
                value=mode,
            )
        if mode == "error_if_exists" and self._head(key) is not None:
            raise _exists_error(uri, during=False)
        writer = ObjectWriter(relative_path=relative_key(self.location, key), uri=uri, key=key, mode=mode, _store=self)
        committed = False
        try:
            yield writer
            self._commit(writer)
            committed = True
        finally:
            if not committed and writer._upload_id is not None:
                writer._settle()
                self._abort(key, writer._upload_id)
        writer.sha256 = writer._hash.hexdigest()
        if not self._swept:
            self._swept = True
            with suppress(Exception):  # cleaning never fails a committed write
                self.abort_stale_uploads()

    def _commit(self, writer: ObjectWriter) -> None:
        conditional: dict[str, Any] = {}
        if writer.mode == "error_if_exists" and self.conditional_writes:
            conditional["IfNoneMatch"] = "*"
        bucket = self.location.bucket
        try:
            if writer._upload_id is None:
                body = bytes(writer._buffer)
                writer._buffer.clear()
                checksum = self.checksum_args(body)
                reply = self._call(
                    "put_object",
                    writer.uri,
                    "write",
                    Bucket=bucket,
                    Key=writer.key,
                    Body=body,
                    **checksum,
                    **conditional,
                )
                _check_received(reply, body, checksum, writer.uri)
                writer.parts = 1
                return
            if writer._buffer:
                writer._upload_part()
            writer._drain()
            self._verify_parts(writer)
            if writer.mode == "error_if_exists" and not self.conditional_writes and self._head(writer.key) is not None:
                raise _exists_error(writer.uri, during=True)
            self._call(
                "complete_multipart_upload",
                writer.uri,
                "write",
                Bucket=bucket,
                Key=writer.key,
                UploadId=writer._upload_id,
                MultipartUpload={"Parts": writer._sent},
                **conditional,
            )
        except FileError as err:
            if err.details.get("code") == "PreconditionFailed":
                raise _exists_error(writer.uri, during=True) from None
            raise

    def _verify_parts(self, writer: ObjectWriter) -> None:
        """Before completing: the store must hold exactly the parts sent (numbers, ETags, sizes)."""
        held: dict[int, tuple[str, int]] = {}
        marker = 0
        while True:
            reply = self._call(
                "list_parts",
                writer.uri,
                "verify",
                Bucket=self.location.bucket,
                Key=writer.key,
                UploadId=writer._upload_id,
                PartNumberMarker=marker,
            )
            for part in reply.get("Parts") or []:
                held[int(part["PartNumber"])] = (str(part.get("ETag", "")).strip('"'), int(part.get("Size", -1)))
            if not reply.get("IsTruncated"):
                break
            marker = int(reply.get("NextPartNumberMarker") or 0)
        sent = {
            p["PartNumber"]: (str(p["ETag"]).strip('"'), size)
            for p, size in zip(writer._sent, writer._sizes, strict=True)
        }
        if held != sent or sum(writer._sizes) != writer.bytes:
            raise FileError(
                f"cannot write {writer.uri!r}: the store does not hold the parts that were sent "
                f"({len(held)} held, {len(sent)} sent); nothing was published",
                path=writer.uri,
                operation="verify",
                retryable=True,
            )

    def _abort(self, key: str, upload_id: str) -> None:
        """Best effort: a failed abort leaves an incomplete upload that :meth:`abort_stale_uploads` removes later."""
        with suppress(Exception):
            bucket = self.location.bucket
            _sync(self.fs, self.client.abort_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id)

    def abort_stale_uploads(self, *, older_than: float | None = None) -> list[str]:
        """Abort incomplete multipart uploads under the base prefix started more than ``older_than`` seconds ago
        (default ``stale_upload_seconds``); returns their keys. Uploads outside the prefix are never touched."""
        age = self.stale_upload_seconds if older_than is None else older_than
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=age)
        aborted: list[str] = []
        for key, upload_id, initiated in self.incomplete_uploads():
            if initiated is not None and initiated <= cutoff:
                self._call(
                    "abort_multipart_upload",
                    self._uri(key),
                    "abort",
                    Bucket=self.location.bucket,
                    Key=key,
                    UploadId=upload_id,
                )
                aborted.append(key)
        return aborted

    def incomplete_uploads(self) -> list[tuple[str, str, datetime | None]]:
        """``(key, upload id, initiated)`` of every incomplete multipart upload under the base prefix."""
        found: list[tuple[str, str, datetime | None]] = []
        kwargs: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": self.location.key_prefix}
        while True:
            reply = self._call("list_multipart_uploads", self.location.uri, "list uploads", **kwargs)
            for upload in reply.get("Uploads") or []:
                key = str(upload["Key"])
                if key.startswith(self.location.key_prefix):
                    initiated = upload.get("Initiated")
                    found.append((key, str(upload["UploadId"]), initiated if isinstance(initiated, datetime) else None))
            if not reply.get("IsTruncated"):
                return found
            kwargs["KeyMarker"] = reply.get("NextKeyMarker")
            kwargs["UploadIdMarker"] = reply.get("NextUploadIdMarker")

    # -- small documents updated in place (read-modify-write with a compare-and-swap) ----------------------------

    def read_versioned(self, path: str) -> tuple[builtins.bytes, str] | None:
        """The whole (small) object and its ETag, or None when there is none: the version a later
        :meth:`replace_if_unchanged` compares against."""
        key = self.key_of(path, operation="read")
        uri = self._uri(key)
        client = self.client
        try:
            reply = _sync(self.fs, client.get_object, Bucket=self.location.bucket, Key=key)
            with _SyncBody(self, reply["Body"], uri) as body:
                data = body.read()
        except FileError:
            raise
        except Exception as exc:
            code, status = error_code(exc)
            if status == 404 and code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, uri, "read") from None
        return bytes(data or b""), str(reply.get("ETag", ""))

    def replace_if_unchanged(self, path: str, body: builtins.bytes, *, etag: str | None) -> bool:
        """Write a small object only if it is still the version read (``etag``; None: only if there is none).

        One ``PutObject`` with ``If-Match`` / ``If-None-Match: *``; False when someone else wrote in between (read
        again and retry). With ``conditional_writes=False`` the write is unconditional (last writer wins)."""
        key = self.key_of(path, operation="write")
        uri = self._uri(key)
        condition: dict[str, Any] = {}
        if self.conditional_writes:
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self._call("put_object", uri, "write", Bucket=self.location.bucket, Key=key, Body=body, **condition)
        except FileError as err:
            if err.details.get("code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True


def _exists_error(uri: str, *, during: bool) -> FileError:
    when = "was created by someone else during the write" if during else "already exists"
    return FileError(
        f"cannot write {uri!r}: it {when} and mode is 'error_if_exists'; use mode='overwrite' or another path",
        path=uri,
        operation="write",
        details={"errno": "EEXIST"},
        retryable=False,
    )
