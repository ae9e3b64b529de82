"""Key confinement and base URIs for object storage: pure string rules, no server needed."""

from __future__ import annotations

import pytest

from airflow_provider_flow.errors import FlowValidationError, PathTraversalError
from airflow_provider_flow.storage.object_keys import MAX_KEY_BYTES, confine_key, parse_base_uri
from tests.storage.test_storage import HOSTILE

BASE = parse_base_uri("s3://aws_conn@flow-bucket/base/prefix")

# The local hostile suite, case for case (minus the symlink cases: an object store has no symlinks; those paths are
# plain keys there and land inside the prefix), plus what only object storage has to fear.
# A NUL is refused with the other control characters.
LOCAL_CASES = [(path, "control" if reason == "NUL" else reason) for path, reason in HOSTILE if reason != "symlink"]
OBJECT_CASES = [
    ("s3://other-bucket/x.json", "scheme"),
    ("s3:/flow-bucket/x.json", "scheme"),
    ("S3://flow-bucket/base/prefix/../x", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gs://bucket/x", "scheme"),
    ("x/s3://flow-bucket/y", "scheme"),
    ("%2e%2e/escape.json", "percent"),
    ("%2E%2E%2Fescape.json", "percent"),
    ("a%2f..%2f..%2fescape.json", "percent"),
    ("..%5cescape.json", "percent"),
    ("%252e%252e/escape.json", "percent"),
    ("a/\r\nb.json", "control"),
    ("a\tb.json", "control"),
    ("\ud800.json", "Unicode"),
    ("a/" + "x" * MAX_KEY_BYTES, "longer than"),
    ("/base/prefix/x.json", "is absolute"),
    ("../prefix/x.json", "'..'"),
    ("../prefix2/x.json", "'..'"),
    ("a/./../../prefix/x.json", "'..'"),
    ("folder//", "names a folder"),
    ("a/..", "names a folder"),
]


@pytest.mark.parametrize(("requested", "reason"), LOCAL_CASES + OBJECT_CASES)
def test_confine_key_refuses(requested: str, reason: str) -> None:
    with pytest.raises(PathTraversalError) as info:
        confine_key(BASE, requested, operation="write")
    assert reason in info.value.reason
    assert not info.value.is_retryable
    assert info.value.base == "s3://flow-bucket/base/prefix"


@pytest.mark.parametrize(
    ("requested", "key"),
    [
        ("out.json", "base/prefix/out.json"),
        ("a/b/../c.json", "base/prefix/a/c.json"),
        ("./a//b.json", "base/prefix/a/b.json"),
        ("50%.csv", "base/prefix/50%.csv"),  # a lone percent sign is no escape
        ("dir with space/x.csv", "base/prefix/dir with space/x.csv"),
        ("link_dir/escape.json", "base/prefix/link_dir/escape.json"),  # no symlinks in a bucket
        ("ünï/cöde.json", "base/prefix/ünï/cöde.json"),
    ],
)
def test_confine_key_normalises_inside(requested: str, key: str) -> None:
    assert confine_key(BASE, requested, operation="write") == key


def test_confine_key_whole_bucket_base() -> None:
    whole = parse_base_uri("s3://flow-bucket")
    assert whole.prefix == "" and confine_key(whole, "a/b.json", operation="read") == "a/b.json"
    with pytest.raises(PathTraversalError):
        confine_key(whole, "../other/x", operation="read")


def test_a_prefix_is_a_folder_not_a_string_prefix() -> None:
    """``base/prefix2/x`` shares the text ``base/prefix`` but is outside: only ``base/prefix/...`` keys are made."""
    for requested in ("../prefix2/x.json", "../prefix.json"):
        with pytest.raises(PathTraversalError):
            confine_key(BASE, requested, operation="read")
    assert confine_key(BASE, "x", operation="read").startswith("base/prefix/")


@pytest.mark.parametrize(
    ("uri", "conn_id", "expected"),
    [
        ("s3://conn@bucket-a/some/prefix", None, ("bucket-a", "some/prefix", "conn")),
        ("s3://bucket-a/some/prefix/", "conn", ("bucket-a", "some/prefix", "conn")),
        ("s3://bucket-a", None, ("bucket-a", "", None)),
        ("s3a://bucket-a/p", None, ("bucket-a", "p", None)),
    ],
)
def test_parse_base_uri(uri: str, conn_id: str | None, expected: tuple[str, str, str | None]) -> None:
    location = parse_base_uri(uri, conn_id)
    assert (location.bucket, location.prefix, location.conn_id) == expected
    assert "@" not in location.uri


@pytest.mark.parametrize(
    ("uri", "conn_id", "message"),
    [
        ("s3://AKIAEXAMPLE:secretvalue@bucket-a/p", None, "carries a secret"),
        ("s3://:secretvalue@bucket-a/p", None, "carries a secret"),
        ("http://bucket-a/p", None, "unsupported"),
        ("file:///tmp/x", None, "unsupported"),
        ("s3://bucket-a/p/../q", None, "not normalised"),
        ("s3://bucket-a/../q", None, "not usable"),
        ("s3://bucket-a/%2e%2e/q", None, "percent"),
        ("s3://bucket-a/p?versionId=1", None, "query"),
        ("s3://bucket-a:9000/p", None, "port"),
        ("s3://Bad_Bucket/p", None, "not a valid bucket"),
        ("s3://a@bucket-a/p", "b", "name one"),
        ("s3://bucket-a/p//q", None, "not normalised"),
        ("", None, "empty"),
    ],
)
def test_parse_base_uri_refuses(uri: str, conn_id: str | None, message: str) -> None:
    with pytest.raises(FlowValidationError, match=message) as info:
        parse_base_uri(uri, conn_id)
    assert "secretvalue" not in str(info.value) and "secretvalue" not in repr(info.value.value)
