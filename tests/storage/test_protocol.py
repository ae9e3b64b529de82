"""The storage protocol, the same contract on both backends: a local folder and an S3 prefix (real SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.errors import FileError, PathTraversalError
from airflow_provider_flow.storage.local_store import LocalStorage
from airflow_provider_flow.storage.object_store import ObjectStorage
from airflow_provider_flow.storage.protocol import Storage, StorageWriter


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(os.path.realpath(tmp_path), fs_conn_id="fs_test")
    store: ObjectStorage = request.getfixturevalue("object_store")
    return store


def write(storage: Storage, path: str, data: bytes, mode: str = "overwrite") -> Any:
    with storage.atomic_write(path, mode=mode) as writer:
        assert isinstance(writer, StorageWriter)
        writer.write(data)
    return writer


def read(storage: Storage, path: str, **verify: Any) -> bytes:
    with storage.open_read(path, **verify) as stream:
        return stream.read()


def test_both_backends_satisfy_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


def test_write_read_stat_delete_round_trip(storage: Storage) -> None:
    data = b'{"id": 1}\n' * 1000
    writer = write(storage, "out/nested/a.jsonl", data)
    assert writer.relative_path == "out/nested/a.jsonl"
    assert (writer.bytes, writer.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert read(storage, "out/nested/a.jsonl") == data
    assert read(storage, "./out//nested/../nested/a.jsonl") == data  # normalised before use
    found = storage.stat("out/nested/a.jsonl")
    assert found is not None and (found.path, found.size) == ("out/nested/a.jsonl", len(data))
    assert storage.exists("out/nested/a.jsonl") and not storage.exists("out/nested/b.jsonl")
    assert storage.stat("missing.jsonl") is None
    storage.delete("out/nested/a.jsonl")
    storage.delete("out/nested/a.jsonl")  # already gone: no error on either backend
    assert not storage.exists("out/nested/a.jsonl")


def test_overwrite_replaces_and_error_if_exists_refuses(storage: Storage) -> None:
    write(storage, "a.csv", b"old\n")
    write(storage, "a.csv", b"new\n")
    assert read(storage, "a.csv") == b"new\n"
    with pytest.raises(FileError) as info:
        write(storage, "a.csv", b"other\n", mode="error_if_exists")
    assert not info.value.is_retryable and info.value.details.get("errno") == "EEXIST"
    assert read(storage, "a.csv") == b"new\n"
    write(storage, "b.csv", b"fresh\n", mode="error_if_exists")
    assert read(storage, "b.csv") == b"fresh\n"


def test_a_failed_write_publishes_nothing(storage: Storage) -> None:
    write(storage, "keep.txt", b"old")
    with pytest.raises(RuntimeError), storage.atomic_write("keep.txt") as writer:
        writer.write(b"half of the new content")
        raise RuntimeError("the source died")
    with pytest.raises(RuntimeError), storage.atomic_write("never.txt") as writer:
        writer.write(b"x")
        raise RuntimeError("the source died")
    assert read(storage, "keep.txt") == b"old"
    assert not storage.exists("never.txt")


def test_glob_semantics_match(storage: Storage) -> None:
    for path in ["a.csv", "b.csv", "sub/c.csv", "sub/deep/d.csv", "sub/e.json", ".hidden.csv"]:
        write(storage, path, b"1\n")
    assert storage.glob("*.csv") == ["a.csv", "b.csv"]
    assert storage.glob("**/*.csv") == ["a.csv", "b.csv", "sub/c.csv", "sub/deep/d.csv"]
    assert storage.glob("sub/*") == ["sub/c.csv", "sub/e.json"]
    assert storage.glob("sub/**/*.csv") == ["sub/c.csv", "sub/deep/d.csv"]
    assert storage.glob(".*.csv") == [".hidden.csv"]
    assert storage.glob("nothing/*.csv") == []


def test_reader_verifies_sha256_and_size(storage: Storage) -> None:
    data = b"line\n" * 100
    writer = write(storage, "ref.txt", data)
    assert read(storage, "ref.txt", verify_sha256=writer.sha256, verify_bytes=writer.bytes) == data
    with pytest.raises(FileError, match="does not match its file reference") as info:
        read(storage, "ref.txt", verify_sha256="0" * 64, verify_bytes=writer.bytes)
    assert not info.value.is_retryable
    with pytest.raises(FileError, match="does not match"):
        read(storage, "ref.txt", verify_sha256=writer.sha256, verify_bytes=writer.bytes - 1)


@pytest.mark.parametrize("requested", ["../x.txt", "/abs.txt", "a/../../x.txt", "folder/", "", "a\\..\\x.txt", "~/x"])
def test_hostile_paths_refused_on_every_operation(storage: Storage, requested: str) -> None:
    for call in (
        lambda: storage.open_read(requested),
        lambda: write(storage, requested, b"x"),
        lambda: storage.stat(requested),
        lambda: storage.delete(requested),
    ):
        with pytest.raises(PathTraversalError) as info:
            call()
        assert not info.value.is_retryable


def test_describe_names_the_base_not_a_secret(storage: Storage) -> None:
    described = storage.describe()
    if isinstance(storage, LocalStorage):
        assert described == {"base_path": None, "fs_conn_id": "fs_test"}
    else:
        assert described["conn_id"] == "aws_test"
        assert described["base_uri"].startswith("s3://flow-test/t/")
        assert "aws_test" not in described["base_uri"]
