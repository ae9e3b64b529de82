"""file.sink merge on object storage (a real SeaweedFS): the snapshot object is replaced only by a complete merge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.storage.object_keys import ObjectLocation
from tests.dispositions.helpers import s3_sink
from tests.fixtures.s3 import BUCKET, open_uploads
from tests.s3_server import SeaweedS3

MERGE = {"path": "snap/customers.ndjson", "disposition": "merge", "primary_key": "id", "cursor_field": "updated_at"}


def body(admin: Any, key: str) -> tuple[str, list[Any]]:
    reply = admin.get_object(Bucket=BUCKET, Key=key)
    return reply["ETag"], [json.loads(line) for line in reply["Body"].read().splitlines()]


def test_merge_on_s3_keeps_each_key_once_and_a_failed_merge_leaves_the_object(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    key = f"{s3_location.prefix}/snap/customers.ndjson"
    pad = "x" * 200
    first = [{"id": i, "updated_at": "2024-01-01", "pad": pad} for i in range(3000)]
    s3_sink(s3_server, s3_location, first, **MERGE)
    update = [{"id": i, "updated_at": "2024-01-02", "pad": "new"} for i in range(2900, 3100)]
    ref = s3_sink(s3_server, s3_location, update, **MERGE)
    etag, rows = body(s3_admin, key)
    assert ref.records == len(rows) == 3100 and ref.base_uri == s3_location.uri
    assert [r["id"] for r in rows] == list(range(3100))  # each key once, in the snapshot's order
    assert {r["pad"] for r in rows[2900:]} == {"new"} and rows[0]["pad"] == pad

    with pytest.raises(FlowValidationError, match=r"'id' \(primary_key\) is missing from record 1 of the input"):
        s3_sink(s3_server, s3_location, [{"id": 1, "updated_at": "2024-01-03"}, {"updated_at": "2024-01-03"}], **MERGE)
    assert body(s3_admin, key) == (etag, rows)
    assert open_uploads(s3_admin, s3_location.prefix) == []


def test_a_large_snapshot_streams_through_a_multipart_upload(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """A snapshot over one part (5 MiB) is read back from S3 and published as a multipart upload."""
    pad = "y" * 500
    s3_sink(
        s3_server,
        s3_location,
        ({"id": i, "updated_at": 1, "pad": pad} for i in range(14_000)),
        part_size=5 << 20,
        **MERGE,
    )
    ref = s3_sink(s3_server, s3_location, [{"id": 5, "updated_at": 2, "pad": ""}], part_size=5 << 20, **MERGE)
    etag, rows = body(s3_admin, f"{s3_location.prefix}/snap/customers.ndjson")
    assert ref.records == len(rows) == 14_000 and ref.bytes > 6 << 20
    assert "-" in etag.strip('"')  # a multipart ETag: the snapshot went up in parts
    assert rows[5] == {"id": 5, "updated_at": 2, "pad": ""} and rows[6]["pad"] == pad
