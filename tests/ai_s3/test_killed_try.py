"""A try SIGKILLed mid-run, with its cache on S3: what it flushed survives, what it had not is asked again, and a
kill between a segment and the manifest update leaves an unlisted segment that readers ignore and a load cleans.

The try is a real child process (tests/child_processes.py) writing to the real SeaweedFS; the parent kills it at
the moment it reports, and reads the bucket afterwards as the next try would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from airflow_provider_flow.llm.object_cache import ObjectResultCache
from airflow_provider_flow.storage.object_keys import ObjectLocation
from airflow_provider_flow.storage.object_store import ObjectStorage
from tests.child_processes import sigkill_when
from tests.fixtures.s3 import BUCKET, all_keys, make_fs
from tests.s3_server import SeaweedS3

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from airflow_provider_flow.llm.object_cache import ObjectResultCache
    from airflow_provider_flow.storage.object_keys import parse_base_uri
    from airflow_provider_flow.storage.object_store import ObjectStorage
    from tests.fixtures.s3 import make_fs

    fs = make_fs(os.environ["S3_ENDPOINT"], os.environ["S3_KEY"], os.environ["S3_SECRET"])
    store = ObjectStorage(fs, parse_base_uri(os.environ["S3_BASE"]))
    if sys.argv[1] == "between":  # stop for good right after a segment is written, before the manifest update
        publish = ObjectResultCache._publish

        def frozen(self, *, add, remove):
            if add and self.segments_written > 1:
                print("SEGMENT-WRITTEN", flush=True)
                time.sleep(600)
            return publish(self, add=add, remove=remove)

        ObjectResultCache._publish = frozen
    cache = ObjectResultCache(store, "c.ndjson", flush_records=5, flush_seconds=3600)
    for i in range(12):
        cache.put({"key": f"k{i}", "status": "ok", "output": {"n": i}, "total_tokens": 1})
    print("READY", flush=True)  # 10 flushed in two segments, 2 pending: never closed
    time.sleep(600)
    """
)


def killed_try(server: SeaweedS3, location: ObjectLocation, mode: str, marker: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "S3_ENDPOINT": server.endpoint,
        "S3_KEY": server.access_key,
        "S3_SECRET": server.secret_key,
        "S3_BASE": f"s3://{location.bucket}/{location.prefix}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    seen: list[bytes] = []

    def reported() -> bool:
        assert proc.stdout is not None
        if not seen or seen[-1].strip() != marker.encode():
            seen.append(proc.stdout.readline())  # blocks until the child reports (or dies: then b"")
        return seen[-1].strip() == marker.encode()

    sigkill_when(proc, reported, timeout=120)


def reader(server: SeaweedS3, location: ObjectLocation, **kwargs: Any) -> ObjectResultCache:
    fs = make_fs(server.endpoint, server.access_key, server.secret_key)
    return ObjectResultCache(ObjectStorage(fs, location), "c.ndjson", **kwargs)


def test_a_killed_try_loses_only_what_it_had_not_flushed(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    killed_try(s3_server, s3_location, "steady", "READY")
    assert sorted(reader(s3_server, s3_location).entries) == sorted(f"k{i}" for i in range(10))


def test_a_kill_between_segment_and_manifest_leaves_an_ignored_segment_that_a_load_cleans(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    killed_try(s3_server, s3_location, "between", "SEGMENT-WRITTEN")
    segments = {k for k in all_keys(s3_admin) if k.startswith(f"{s3_location.key_prefix}c/segments/")}
    assert len(segments) == 2  # the first listed, the second written but never listed
    assert sorted(reader(s3_server, s3_location).entries) == sorted(f"k{i}" for i in range(5))
    assert {k for k in all_keys(s3_admin) if k.startswith(f"{s3_location.key_prefix}c/segments/")} == segments
    reader(s3_server, s3_location, stale_segment_seconds=0)  # as a load an hour later
    left = {k for k in all_keys(s3_admin) if k.startswith(f"{s3_location.key_prefix}c/segments/")}
    assert len(left) == 1 and left < segments
    body = s3_admin.get_object(Bucket=BUCKET, Key=f"{s3_location.key_prefix}c/manifest.json")["Body"].read()
    assert left == {f"{s3_location.key_prefix}c/{name}" for name in json.loads(body)["segments"]}
