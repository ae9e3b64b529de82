"""The object backend's promises against a real S3 server (SeaweedFS): atomic multipart publish, no clobbering
under ``error_if_exists``, refused appends, killed writers, confinement seen from the whole bucket, verified
references and bounded memory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_flow.errors import FileError, FlowValidationError, PathTraversalError
from airflow_provider_flow.records.reference import FileReference, as_reference
from airflow_provider_flow.storage.object_keys import ObjectLocation, parse_base_uri
from airflow_provider_flow.storage.object_store import MIB, MIN_PART_SIZE, ObjectStorage
from tests.child_processes import sigkill_when
from tests.fixtures.s3 import BUCKET, OTHER_BUCKET, all_keys, make_fs, open_uploads
from tests.s3_server import SeaweedS3
from tests.storage.s3.test_object_keys import LOCAL_CASES, OBJECT_CASES

REPO = Path(__file__).resolve().parents[3]


def get(admin: Any, key: str) -> bytes | None:
    try:
        return bytes(admin.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except admin.exceptions.NoSuchKey:
        return None


def test_multipart_round_trip_is_verified_and_hashed(object_store: ObjectStorage, s3_admin: Any) -> None:
    chunk = os.urandom(MIB)
    expected = hashlib.sha256()
    with object_store.atomic_write("big/data.bin") as writer:
        for _ in range(12):  # 12 MiB: two full 5 MiB parts and a 2 MiB last part
            writer.write(chunk)
            expected.update(chunk)
    assert (writer.parts, writer.bytes, writer.sha256) == (3, 12 * MIB, expected.hexdigest())
    assert writer.uri == f"s3://{BUCKET}/{object_store.location.prefix}/big/data.bin"
    with object_store.open_read("big/data.bin", verify_sha256=writer.sha256, verify_bytes=writer.bytes) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == writer.sha256
    assert open_uploads(s3_admin, object_store.location.key_prefix) == []


def test_readers_never_see_a_partial_object(object_store: ObjectStorage, s3_admin: Any) -> None:
    """While parts are uploaded, the key shows nothing (new object) or the whole old object (overwrite)."""
    key_new = object_store.key_of("new.bin")
    key_old = object_store.key_of("old.bin")
    s3_admin.put_object(Bucket=BUCKET, Key=key_old, Body=b"the old content")
    with object_store.atomic_write("new.bin") as new, object_store.atomic_write("old.bin") as old:
        for _ in range(3):
            new.write(b"n" * MIN_PART_SIZE)
            old.write(b"o" * MIN_PART_SIZE)
            assert get(s3_admin, key_new) is None
            assert get(s3_admin, key_old) == b"the old content"
            assert key_new not in all_keys(s3_admin)
        assert new.parts == old.parts == 3  # the parts are on the server, but no object is
        assert sorted(open_uploads(s3_admin, object_store.location.key_prefix)) == sorted([key_new, key_old])
    assert get(s3_admin, key_new) == b"n" * 3 * MIN_PART_SIZE
    assert get(s3_admin, key_old) == b"o" * 3 * MIN_PART_SIZE


@pytest.mark.parametrize("size", [10, 2 * MIN_PART_SIZE + 1], ids=["single-put", "multipart"])
def test_error_if_exists_does_not_clobber_an_object_that_appeared_meanwhile(
    object_store: ObjectStorage, s3_admin: Any, size: int
) -> None:
    """The up-front check passes, another writer creates the key mid-write; the conditional commit refuses."""
    key = object_store.key_of("race.json")
    with (
        pytest.raises(FileError, match="created by someone else during the write") as info,
        object_store.atomic_write("race.json", mode="error_if_exists") as writer,
    ):
        writer.write(b"m" * size)
        s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b"the other writer's object")
    assert not info.value.is_retryable and info.value.details["errno"] == "EEXIST"
    assert get(s3_admin, key) == b"the other writer's object"
    assert open_uploads(s3_admin, object_store.location.key_prefix) == []


def test_seaweedfs_honours_if_none_match(s3_admin: Any, object_store: ObjectStorage) -> None:
    """What the backend relies on, asked of the server directly (PutObject and CompleteMultipartUpload)."""
    key = object_store.key_of("cond.txt")
    s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b"1")
    with pytest.raises(s3_admin.exceptions.ClientError, match="PreconditionFailed"):
        s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b"2", IfNoneMatch="*")
    upload = s3_admin.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = s3_admin.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"3")["ETag"]
    with pytest.raises(s3_admin.exceptions.ClientError, match="PreconditionFailed"):
        s3_admin.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
            IfNoneMatch="*",
        )
    s3_admin.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
    assert get(s3_admin, key) == b"1"


def test_append_is_refused_and_writes_nothing(object_store: ObjectStorage, s3_admin: Any) -> None:
    with object_store.atomic_write("log.jsonl") as writer:
        writer.write(b"1\n")
    with (
        pytest.raises(FlowValidationError, match="cannot append") as info,
        object_store.atomic_write("log.jsonl", mode="append") as writer,
    ):
        writer.write(b"2\n")
    assert not info.value.is_retryable
    assert get(s3_admin, object_store.key_of("log.jsonl")) == b"1\n"


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from airflow_provider_flow.storage.object_keys import parse_base_uri
    from airflow_provider_flow.storage.object_store import MIN_PART_SIZE, ObjectStorage
    from tests.fixtures.s3 import make_fs

    fs = make_fs(os.environ["S3_ENDPOINT"], os.environ["S3_KEY"], os.environ["S3_SECRET"])
    store = ObjectStorage(fs, parse_base_uri(os.environ["S3_BASE"]), part_size=MIN_PART_SIZE)
    with store.atomic_write("victim.bin") as writer:
        for _ in range(2):
            writer.write(b"k" * MIN_PART_SIZE)
        open(os.environ["READY"], "w").close()
        time.sleep(120)
        writer.write(b"never")
    """
)


def test_a_killed_writer_leaves_no_object_and_the_next_write_cleans_up(
    object_store: ObjectStorage, s3_server: SeaweedS3, s3_admin: Any, tmp_path: Path
) -> None:
    """SIGKILL mid-upload: the old object stays whole; the incomplete upload is aborted by a later write once it is
    older than ``stale_upload_seconds`` (0 here; a day by default, so live writers are never touched)."""
    key = object_store.key_of("victim.bin")
    s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b"the old victim")
    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_KEY": s3_server.access_key,
        "S3_SECRET": s3_server.secret_key,
        "S3_BASE": object_store.location.uri,
        "READY": str(ready),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stderr=subprocess.PIPE, cwd=str(REPO))
    sigkill_when(child, ready.exists, timeout=60)
    assert get(s3_admin, key) == b"the old victim"
    assert open_uploads(s3_admin, object_store.location.key_prefix) == [key]

    # A write under the same base with the default age leaves the young upload alone...
    with object_store.atomic_write("other.txt") as writer:
        writer.write(b"x")
    assert open_uploads(s3_admin, object_store.location.key_prefix) == [key]
    # ...and one whose age limit it has passed aborts it.
    sweeper = ObjectStorage(object_store.fs, object_store.location, stale_upload_seconds=0)
    with sweeper.atomic_write("other.txt") as writer:
        writer.write(b"y")
    assert open_uploads(s3_admin, object_store.location.key_prefix) == []
    assert get(s3_admin, key) == b"the old victim"


def test_stale_upload_cleanup_stays_inside_the_base(object_store: ObjectStorage, s3_admin: Any) -> None:
    sibling = object_store.location.prefix + "-sibling/x.bin"  # shares the prefix text, not the folder
    upload = s3_admin.create_multipart_upload(Bucket=BUCKET, Key=sibling)["UploadId"]
    try:
        assert object_store.abort_stale_uploads(older_than=0) == []
        assert open_uploads(s3_admin, sibling) == [sibling]
    finally:
        s3_admin.abort_multipart_upload(Bucket=BUCKET, Key=sibling, UploadId=upload)


@pytest.mark.parametrize(("requested", "reason"), LOCAL_CASES + OBJECT_CASES)
def test_hostile_paths_write_nothing_anywhere(
    object_store: ObjectStorage, s3_admin: Any, requested: str, reason: str
) -> None:
    """The hostile-path suite, against the server: both buckets listed whole before and after are unchanged."""
    before = (all_keys(s3_admin), all_keys(s3_admin, OTHER_BUCKET))
    uploads_before = open_uploads(s3_admin, "")
    for mode in ("overwrite", "error_if_exists"):
        with pytest.raises(PathTraversalError) as info, object_store.atomic_write(requested, mode=mode) as writer:
            writer.write(b"escaped")
        assert reason in info.value.reason and not info.value.is_retryable
    for call in (object_store.open_read, object_store.stat, object_store.delete):
        with pytest.raises(PathTraversalError):
            call(requested)
    assert (all_keys(s3_admin), all_keys(s3_admin, OTHER_BUCKET)) == before
    assert open_uploads(s3_admin, "") == uploads_before


def test_glob_refuses_keys_that_do_not_normalise(object_store: ObjectStorage, s3_admin: Any) -> None:
    """Keys written by others with ``//`` or ``..`` would be read under another name: refused, not skipped."""
    prefix = object_store.location.key_prefix
    s3_admin.put_object(Bucket=BUCKET, Key=prefix + "ok/a.csv", Body=b"1")
    assert object_store.glob("**/*.csv") == ["ok/a.csv"]
    for odd in ("odd//b.csv", "odd/../../escape.csv"):
        try:
            s3_admin.put_object(Bucket=BUCKET, Key=prefix + odd, Body=b"1")
        except s3_admin.exceptions.ClientError:  # SeaweedFS refuses such keys itself (InvalidRequest)
            continue
        listed = [key for key in all_keys(s3_admin) if key.startswith(prefix)]
        if prefix + odd in listed:  # AWS keeps such keys verbatim: the glob must refuse them
            with pytest.raises(PathTraversalError, match="does not normalise"):
                object_store.glob("**/*.csv")
        else:  # SeaweedFS (a filer underneath) normalises the key itself: whatever it stored stays confined
            for rel in object_store.glob("**/*.csv"):
                assert object_store.key_of(rel) == prefix + rel
        for key in listed:
            if key != prefix + "ok/a.csv":
                s3_admin.delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(PathTraversalError):
        object_store.glob("../*.csv")
    with pytest.raises(PathTraversalError):
        object_store.glob("%2e%2e/*.csv")


def test_file_reference_round_trip_through_xcom(
    object_store: ObjectStorage, s3_server: SeaweedS3, s3_admin: Any
) -> None:
    """A reference names the store by URI + connection id; another worker's reader re-confines and re-verifies."""
    data = b'{"id": 1}\n{"id": 2}\n'
    with object_store.atomic_write("out/records.jsonl") as writer:
        writer.write(data)
    ref = FileReference(
        path=writer.relative_path,
        format="jsonl",
        records=2,
        bytes=writer.bytes,
        sha256=writer.sha256,
        **object_store.describe(),
    )
    payload = json.loads(ref.model_dump_json())  # what XCom stores
    for secret in (s3_server.access_key, s3_server.secret_key, "/tmp", str(REPO)):
        assert secret not in json.dumps(payload)
    assert ref.uri == f"s3://{BUCKET}/{object_store.location.prefix}/out/records.jsonl"

    loaded = as_reference(payload)
    assert loaded is not None and loaded.is_object
    fs = make_fs(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)  # the next worker's own client
    reader = ObjectStorage(fs, parse_base_uri(loaded.base_uri or "", loaded.conn_id))
    with reader.open_read(loaded.path, verify_sha256=loaded.sha256, verify_bytes=loaded.bytes) as stream:
        assert stream.read() == data

    s3_admin.put_object(Bucket=BUCKET, Key=reader.key_of(loaded.path), Body=b'{"id": 666}\n{"id": 2}\n')
    with (
        pytest.raises(FileError, match="does not match its file reference"),
        reader.open_read(loaded.path, verify_sha256=loaded.sha256, verify_bytes=loaded.bytes) as stream,
    ):
        stream.read()
    hostile = as_reference({**payload, "path": "../../other/secret.jsonl"})
    assert hostile is not None
    with pytest.raises(PathTraversalError):
        reader.open_read(hostile.path)


def test_old_local_reference_payloads_still_load() -> None:
    old = {
        "kind": "file",
        "path": "a.csv",
        "base_path": None,
        "fs_conn_id": "fs_default",
        "format": "csv",
        "encoding": "utf-8",
        "records": 1,
        "bytes": 2,
        "sha256": "ab",
        "pages": None,
    }
    ref = as_reference(old)
    assert ref is not None and not ref.is_object and ref.uri is None
    assert ref.model_dump() == old  # a local reference's payload is unchanged: no new keys


def test_memory_stays_bounded_for_a_100_mb_upload(object_store: ObjectStorage, s3_admin: Any) -> None:
    """100 MiB streamed in 1 MiB writes with 5 MiB parts: Python's peak allocation stays a few parts, whatever the
    size (reported; the bound is generous so it never flakes, and far below the 100 MiB a buffered upload holds)."""
    chunk = os.urandom(MIB)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        with object_store.atomic_write("hundred.bin") as writer:
            for _ in range(100):
                writer.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = process.memory_info().rss
    print(
        f"\n100 MiB upload, part size {MIN_PART_SIZE // MIB} MiB: tracemalloc peak {peak / MIB:.1f} MiB, "
        f"RSS {rss_before / MIB:.0f} -> {rss_after / MIB:.0f} MiB, {writer.parts} parts"
    )
    assert writer.parts == 20 and writer.bytes == 100 * MIB
    assert peak < 8 * MIN_PART_SIZE
    head = s3_admin.head_object(Bucket=BUCKET, Key=object_store.key_of("hundred.bin"))
    assert head["ContentLength"] == 100 * MIB


def test_part_size_is_bounded(object_store: ObjectStorage) -> None:
    for bad in (MIN_PART_SIZE - 1, 0, 6 * 1024 * MIB):
        with pytest.raises(FlowValidationError, match="part_size"):
            ObjectStorage(object_store.fs, object_store.location, part_size=bad)


def test_upload_concurrency_is_bounded(object_store: ObjectStorage) -> None:
    for bad in (0, 17, 2.0):
        with pytest.raises(FlowValidationError, match="upload_concurrency") as info:
            ObjectStorage(object_store.fs, object_store.location, upload_concurrency=bad)  # type: ignore[arg-type]
        assert info.value.field == "upload_concurrency"


def test_location_fixture_is_isolated(s3_location: ObjectLocation) -> None:
    assert s3_location.prefix.startswith("t/") and s3_location.conn_id == "aws_test"
