"""How object-store failures are classified (retry or fail at once), against the real server and a fault proxy.

Every error is checked for the credentials too: the access key and secret must appear in no message, no
``to_dict()`` (what reaches XCom and callbacks), no pickle (how Airflow moves errors between processes).
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_flow.errors import FileError, FlowConnectionError, FlowError
from airflow_provider_flow.storage.object_keys import ObjectLocation, parse_base_uri
from airflow_provider_flow.storage.object_store import MIN_PART_SIZE, ObjectStorage
from tests.fixtures.s3 import BUCKET, all_keys, make_fs, open_uploads
from tests.s3_server import SeaweedS3
from tests.storage.s3.fault_proxy import FaultProxy


def assert_no_secrets(err: BaseException, server: SeaweedS3) -> None:
    dumped = [str(err), repr(err), pickle.dumps(err)]
    if isinstance(err, FlowError):
        dumped.append(repr(err.to_dict()))
    for text in dumped:
        for secret in (server.secret_key, server.access_key, "bad-secret-value", "AKIABADKEY"):
            assert (secret.encode() if isinstance(text, bytes) else secret) not in text
    assert err.__cause__ is None  # the botocore error (with the signed request's details) is not chained


@pytest.fixture
def proxy(s3_server: SeaweedS3) -> Iterator[FaultProxy]:
    fault = FaultProxy(s3_server.endpoint).start()
    yield fault
    fault.stop()


def store_on(
    endpoint: str, location: ObjectLocation, key: str, secret: str, attempts: int = 1, **config: Any
) -> ObjectStorage:
    return ObjectStorage(make_fs(endpoint, key, secret, attempts=attempts, **config), location, part_size=MIN_PART_SIZE)


def test_bad_credentials_are_not_retryable(s3_server: SeaweedS3, s3_location: ObjectLocation) -> None:
    for key, secret in (("AKIABADKEY", "bad-secret-value"), (s3_server.access_key, "bad-secret-value")):
        store = store_on(s3_server.endpoint, s3_location, key, secret)
        for call in (lambda s=store: s.stat("x.json"), lambda s=store: s.glob("*.json")):
            with pytest.raises(FileError) as info:
                call()
            err = info.value
            assert not err.is_retryable
            assert err.details["code"] in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403")
            assert_no_secrets(err, s3_server)
        with pytest.raises(FileError) as info, store.atomic_write("x.json") as writer:
            writer.write(b"data")
        assert not info.value.is_retryable and "credentials" in str(info.value)
        assert_no_secrets(info.value, s3_server)


def test_missing_bucket_is_not_retryable(s3_server: SeaweedS3) -> None:
    location = parse_base_uri("s3://no-such-bucket-here/prefix")
    store = store_on(s3_server.endpoint, location, s3_server.access_key, s3_server.secret_key)
    with pytest.raises(FileError) as info, store.atomic_write("x.json") as writer:
        writer.write(b"x" * (MIN_PART_SIZE + 1))  # the multipart path: CreateMultipartUpload meets the error
    assert info.value.details["code"] == "NoSuchBucket" and not info.value.is_retryable
    assert "bucket does not exist" in str(info.value)
    with pytest.raises(FileError) as info:
        store.glob("*")
    assert info.value.details["code"] == "NoSuchBucket" and not info.value.is_retryable


def test_unreachable_store_is_a_retryable_connection_error(s3_location: ObjectLocation) -> None:
    with socket.socket() as sock:  # a port nobody listens on (bound, never listening)
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        store = store_on(endpoint, s3_location, "k", "s")
        with pytest.raises(FlowConnectionError) as info:
            store.stat("x.json")
    assert info.value.is_retryable
    assert info.value.url == endpoint


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (503, "ServiceUnavailable", True),
        (429, "TooManyRequests", True),
        (400, "ExpiredToken", True),
        (403, "AccessDenied", False),
        (404, "NoSuchBucket", False),
        (400, "InvalidRequest", False),
    ],
)
def test_injected_replies_are_classified(
    proxy: FaultProxy, s3_server: SeaweedS3, s3_location: ObjectLocation, status: int, code: str, retryable: bool
) -> None:
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key)
    proxy.fail(method="GET", query="list-type=2", status=status, code=code)
    with pytest.raises(FileError) as info:
        store.glob("*.json")
    assert (info.value.details["code"], info.value.details["status"]) == (code, status)
    assert info.value.is_retryable is retryable


def test_slowdown_mid_upload_aborts_and_publishes_nothing(
    proxy: FaultProxy, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """A 503 SlowDown on the third part: a retryable error, no object at the key, no incomplete upload left."""
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key)
    with store.atomic_write("big.bin") as writer:
        writer.write(b"old" * 100)
    before = all_keys(s3_admin)
    rule = proxy.fail(method="PUT", query="partNumber=3", status=503, code="SlowDown")
    with pytest.raises(FileError) as info, store.atomic_write("big.bin") as writer:
        for _ in range(4):
            writer.write(b"n" * MIN_PART_SIZE)
    assert rule.hits == 1 and info.value.is_retryable and info.value.details["code"] == "SlowDown"
    assert all_keys(s3_admin) == before  # the old object untouched, nothing new anywhere in the bucket
    assert open_uploads(s3_admin, s3_location.key_prefix) == []
    with store.open_read("big.bin") as stream:
        assert stream.read() == b"old" * 100


def test_botocore_retries_absorb_one_slowdown(
    proxy: FaultProxy, s3_server: SeaweedS3, s3_location: ObjectLocation
) -> None:
    """With the client's own retries on (as in production), one 503 costs a retry, not the task."""
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key, attempts=3)
    rule = proxy.fail(method="PUT", query="partNumber=1", status=503, code="SlowDown")
    with store.atomic_write("a.bin") as writer:
        writer.write(b"z" * (MIN_PART_SIZE + 10))
    assert rule.hits == 1 and store.stat("a.bin") is not None
    assert s3_location.bucket == BUCKET


def _write_three_parts(store: ObjectStorage) -> None:
    with store.atomic_write("big.bin") as writer:
        for n in range(3):
            writer.write(bytes([n]) * MIN_PART_SIZE)


def test_parts_carry_a_crc32_the_store_verifies(
    proxy: FaultProxy, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """Every part and the upload itself name CRC32 (as boto3 does), so the store checks each body on arrival; the
    object comes out whole, and the store's record of it carries the composite CRC32."""
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key)
    _write_three_parts(store)
    parts = [names for method, path, names in proxy.headers if method == "PUT" and "partNumber=" in path]
    assert len(parts) == 3 and all("x-amz-checksum-crc32" in names for names in parts)
    (create,) = [names for method, path, names in proxy.headers if method == "POST" and path.endswith("?uploads")]
    assert "x-amz-checksum-algorithm" in create
    with store.open_read("big.bin") as stream:
        assert stream.read() == b"".join(bytes([n]) * MIN_PART_SIZE for n in range(3))


def test_a_part_damaged_in_transit_is_refused_and_nothing_is_published(
    proxy: FaultProxy, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """One byte flipped on the wire: the store refuses the part (its checksum or the signed payload hash), the error
    is retryable (the next try sends it whole), the upload is aborted and the old object stays."""
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key)
    with store.atomic_write("big.bin") as writer:
        writer.write(b"old")
    before = all_keys(s3_admin)
    rule = proxy.corrupt(method="PUT", query="partNumber=2")
    with pytest.raises(FileError) as info:
        _write_three_parts(store)
    assert rule.hits == 1 and info.value.is_retryable
    assert info.value.details["code"] in ("BadDigest", "XAmzContentSHA256Mismatch"), info.value.details
    assert all_keys(s3_admin) == before and open_uploads(s3_admin, s3_location.key_prefix) == []
    with store.open_read("big.bin") as stream:
        assert stream.read() == b"old"
    assert_no_secrets(info.value, s3_server)


@pytest.mark.parametrize(
    ("config", "header", "what"),
    [
        ({}, "x-amz-checksum-crc32", "checksum"),
        ({"request_checksum_calculation": "when_required"}, "etag", "ETag"),
    ],
    ids=["crc32-echo", "md5-etag-without-checksums"],
)
def test_a_store_that_received_other_bytes_publishes_nothing(
    proxy: FaultProxy,
    s3_server: SeaweedS3,
    s3_location: ObjectLocation,
    s3_admin: Any,
    config: dict[str, str],
    header: str,
    what: str,
) -> None:
    """The store's reply to a part says it holds other bytes (its CRC32 echo, or, for a client that sends no
    checksums, the ETag that is the MD5 of what it stored): retryable, aborted, nothing at the key."""
    store = store_on(proxy.url, s3_location, s3_server.access_key, s3_server.secret_key, **config)
    value = "AAAAAA==" if header.startswith("x-amz") else '"0123456789abcdef0123456789abcdef"'
    before = all_keys(s3_admin)
    rule = proxy.tamper(method="PUT", query="partNumber=2", header=header, value=value)
    with pytest.raises(FileError) as info:
        _write_three_parts(store)
    assert rule.hits == 1 and info.value.is_retryable
    assert f"({what} mismatch)" in str(info.value) and "nothing was published" in str(info.value)
    assert all_keys(s3_admin) == before
    assert open_uploads(s3_admin, s3_location.key_prefix) == []
    sent = [names for method, path, names in proxy.headers if method == "PUT" and "partNumber=" in path]
    assert all(("x-amz-checksum-crc32" in names) is (not config) for names in sent)
