"""ai.transform's resume cache on object storage (llm/object_cache.py), against a real SeaweedFS and the LLM server.

Each "worker" gets its own s3fs filesystem and nothing local: what a retry reuses can only come from the bucket.
The cache is looked at behind the backend's back with a plain S3 client (the manifest, the segment objects).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError, HttpError, PathTraversalError
from airflow_provider_flow.http.settings import RetrySettings
from airflow_provider_flow.llm.object_cache import ObjectResultCache, segment_name
from airflow_provider_flow.llm.settings import LlmSettings
from airflow_provider_flow.nodes.ai_transform import AiTransformConfig, AiTransformRuntime
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.object_keys import ObjectLocation
from airflow_provider_flow.storage.object_store import ObjectStorage
from tests.fixtures.llm_server import DEFAULT_REPLY_SCHEMA, FakeLlmServer
from tests.fixtures.s3 import BUCKET, all_keys, make_fs
from tests.s3_server import SeaweedS3

PROMPT = "[id:${id}] Describe: ${text}"
RECORDS = [{"id": str(i), "text": f"item number {i} is here"} for i in range(30)]
#: Where the default cache_path (.flow_cache/ai_transform/<dag>/<task>.ndjson) lives on object storage.
CACHE = ".flow_cache/ai_transform/d/t"


def worker(server: SeaweedS3, location: ObjectLocation, llm: FakeLlmServer, name: str = "test.ai_s3") -> ExecutionState:
    """One worker: its own S3 client for the location's connection, the LLM server, fast in-task retries."""
    settings = LlmSettings(
        base_url=llm.base_url,
        api_key=llm.api_key,
        retry=RetrySettings(max_attempts=2, max_elapsed=5, initial_backoff=0.01, max_backoff=0.01, jitter=0),
    )
    fs = make_fs(server.endpoint, server.access_key, server.secret_key)
    return ExecutionState(
        dag_id="d",
        task_id="t",
        settings=StaticSettingsProvider(
            llm={"llm_default": settings}, object_storage={f"s3://{location.conn_id}@{location.bucket}": fs}
        ),
        log=logging.getLogger(name),
    )


def run(state: ExecutionState, location: ObjectLocation, records: Any = RECORDS, **overrides: Any) -> Any:
    values = {
        "model": "m",
        "prompt": PROMPT,
        "output_schema": DEFAULT_REPLY_SCHEMA,
        "base_uri": location.uri,
        "conn_id": location.conn_id,
        "max_concurrency": 2,
        **overrides,
    }
    return AiTransformRuntime().execute(validate_config(AiTransformConfig, values), records, state).value


def store(server: SeaweedS3, location: ObjectLocation) -> ObjectStorage:
    return ObjectStorage(make_fs(server.endpoint, server.access_key, server.secret_key), location)


def manifest(admin: Any, location: ObjectLocation, cache: str = CACHE) -> list[str]:
    body = admin.get_object(Bucket=BUCKET, Key=f"{location.key_prefix}{cache}/manifest.json")["Body"].read()
    names: list[str] = json.loads(body)["segments"]
    return names


def segment_entries(admin: Any, location: ObjectLocation, name: str, cache: str = CACHE) -> list[dict[str, Any]]:
    body = admin.get_object(Bucket=BUCKET, Key=f"{location.key_prefix}{cache}/{name}")["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def entry(i: int) -> dict[str, Any]:
    return {"key": f"k{i}", "status": "ok", "output": {"id": str(i), "words": i, "shout": "X"}, "total_tokens": 3}


def test_a_retry_on_another_worker_asks_only_for_what_the_failed_try_did_not_finish(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, llm_server: FakeLlmServer
) -> None:
    llm_server.inject("20", "500", times=None)
    with pytest.raises(HttpError) as failed:
        run(worker(s3_server, s3_location, llm_server), s3_location)
    assert failed.value.is_retryable  # Airflow retries it
    first = {i: llm_server.requests_for(str(i)) for i in range(30)}
    assert all(first[i] == 1 for i in range(20))
    # The failed try published what it paid for as one segment, listed in the manifest.
    [segment] = manifest(s3_admin, s3_location)
    saved = {e["output"]["id"] for e in segment_entries(s3_admin, s3_location, segment)}
    assert {str(i) for i in range(20)} <= saved and "20" not in saved

    llm_server.clear_faults()
    out = run(worker(s3_server, s3_location, llm_server), s3_location, output_path="out/enriched.ndjson")
    assert isinstance(out, FileReference) and out.records == 30 and out.base_uri == s3_location.uri
    again = {i: llm_server.requests_for(str(i)) - first[i] for i in range(30)}
    assert {i for i, n in again.items() if n} == {i for i in range(30) if str(i) not in saved}
    assert all(n <= 1 for n in again.values())
    assert len(manifest(s3_admin, s3_location)) == 2  # the retry's records: a second segment
    body = s3_admin.get_object(Bucket=BUCKET, Key=f"{s3_location.key_prefix}out/enriched.ndjson")["Body"].read()
    assert [json.loads(line)["id"] for line in body.splitlines()] == [str(i) for i in range(30)]

    # A third run on yet another worker sends nothing at all.
    before = len(llm_server.requests)
    run(worker(s3_server, s3_location, llm_server), s3_location)
    assert len(llm_server.requests) == before


def test_a_long_run_publishes_as_it_goes_so_a_kill_loses_at_most_one_flush(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """A try that is never closed (SIGKILL) left every flushed segment behind: a new reader sees 10 of 12."""
    cache = ObjectResultCache(store(s3_server, s3_location), "c.ndjson", flush_records=5, flush_seconds=3600)
    for i in range(12):
        cache.put(entry(i))
    assert cache.segments_written == 2 and len(manifest(s3_admin, s3_location, "c")) == 2
    reader = ObjectResultCache(store(s3_server, s3_location), "c.ndjson")
    assert sorted(reader.entries) == sorted(f"k{i}" for i in range(10))
    cache.close()
    assert len(ObjectResultCache(store(s3_server, s3_location), "c.ndjson").entries) == 12


def test_an_unlisted_segment_of_a_killed_try_is_ignored_then_cleaned(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """Killed between writing its segment and listing it: readers ignore it; once stale, the next load deletes it
    (a young one may be a live writer about to publish: kept)."""
    ObjectResultCache(store(s3_server, s3_location), "c.ndjson", flush_records=1).put(entry(0))
    now = datetime.now(timezone.utc)
    old, young = segment_name(now - timedelta(hours=2)), segment_name(now)
    for name, i in ((old, 1), (young, 2)):
        line = json.dumps(entry(i)).encode() + b"\n"
        s3_admin.put_object(Bucket=BUCKET, Key=f"{s3_location.key_prefix}c/{name}", Body=line)
    cache = ObjectResultCache(store(s3_server, s3_location), "c.ndjson")
    assert list(cache.entries) == ["k0"]
    keys = set(all_keys(s3_admin))
    assert f"{s3_location.key_prefix}c/{old}" not in keys and f"{s3_location.key_prefix}c/{young}" in keys
    assert len(manifest(s3_admin, s3_location, "c")) == 1


def test_many_segments_are_compacted_to_the_newest_entry_per_key_within_max_entries(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    writer = ObjectResultCache(store(s3_server, s3_location), "c.ndjson", flush_records=1)
    for i in [*range(8), 3]:  # key 3 twice: the newer wins
        writer.put({**entry(i), "total_tokens": 100 + i} if i == 3 else entry(i))
    assert len(manifest(s3_admin, s3_location, "c")) == 9
    compacted = ObjectResultCache(store(s3_server, s3_location), "c.ndjson", max_segments=4, max_entries=5)
    assert list(compacted.entries) == ["k4", "k5", "k6", "k7", "k3"]  # the 5 newest, oldest first
    [segment] = manifest(s3_admin, s3_location, "c")
    assert [e["key"] for e in segment_entries(s3_admin, s3_location, segment, "c")] == list(compacted.entries)
    mine = {k for k in all_keys(s3_admin) if k.startswith(s3_location.key_prefix) and "/segments/" in k}
    assert mine == {f"{s3_location.key_prefix}c/{segment}"}
    assert ObjectResultCache(store(s3_server, s3_location), "c.ndjson").entries == compacted.entries


def test_writers_flushing_at_once_lose_no_segment(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """Two runs of the task publishing 15 segments each, in parallel: the manifest's compare-and-swap keeps all."""
    caches = [ObjectResultCache(store(s3_server, s3_location), "c.ndjson", flush_records=1) for _ in range(2)]
    errors: list[BaseException] = []

    def publish(cache: ObjectResultCache, first: int) -> None:
        try:
            for i in range(first, first + 15):
                cache.put(entry(i))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(c, n * 100)) for n, c in enumerate(caches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(manifest(s3_admin, s3_location, "c")) == 30
    loaded = ObjectResultCache(store(s3_server, s3_location), "c.ndjson", max_segments=64)
    assert sorted(loaded.entries) == sorted(f"k{i}" for i in [*range(15), *range(100, 115)])


def test_a_stale_compare_and_swap_is_refused(s3_server: SeaweedS3, s3_location: ObjectLocation) -> None:
    backend = store(s3_server, s3_location)
    assert backend.replace_if_unchanged("m.json", b"1", etag=None)
    assert not backend.replace_if_unchanged("m.json", b"2", etag=None)  # exists already
    found = backend.read_versioned("m.json")
    assert found is not None and found[0] == b"1"
    assert backend.replace_if_unchanged("m.json", b"3", etag=found[1])
    assert not backend.replace_if_unchanged("m.json", b"4", etag=found[1])  # someone wrote in between
    assert backend.read_versioned("m.json") == (b"3", backend.read_versioned("m.json")[1])  # type: ignore[index]
    assert backend.read_versioned("none.json") is None


def test_untrusted_segments_and_manifest_are_misses_with_one_warning(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, llm_server: FakeLlmServer, caplog: Any
) -> None:
    caplog.set_level(logging.INFO, logger="test.ai_s3")
    run(worker(s3_server, s3_location, llm_server), s3_location, RECORDS[:4])
    [segment] = manifest(s3_admin, s3_location)
    entries = {e["output"]["id"]: e for e in segment_entries(s3_admin, s3_location, segment)}
    off_schema = {**entries["1"], "output": {"id": "1", "words": "many", "shout": "X"}}
    spoiled = [entries["0"] | {"status": "maybe"}, off_schema, entries["2"], entries["3"]]
    body = b"".join(json.dumps(e).encode() + b"\n" for e in spoiled) + b'{"key": "cut'
    prefix = f"{s3_location.key_prefix}{CACHE}"
    s3_admin.put_object(Bucket=BUCKET, Key=f"{prefix}/{segment}", Body=body)
    listed = [segment, "../../../escape.ndjson", segment_name()]  # not a segment name; a segment that is gone
    s3_admin.put_object(
        Bucket=BUCKET, Key=f"{prefix}/manifest.json", Body=json.dumps({"version": 1, "segments": listed})
    )
    llm_server.reset()
    out = run(worker(s3_server, s3_location, llm_server), s3_location, RECORDS[:4])
    assert [r["words"] for r in out] == [7, 7, 7, 7]
    assert [llm_server.requests_for(str(i)) for i in range(4)] == [1, 1, 0, 0]
    [warning] = [r.getMessage() for r in caplog.records if "not usable" in r.getMessage()]
    assert "5 cache lines" in warning and f"s3://{BUCKET}/{prefix}" in warning
    for reason in ("wrong shape (1)", "output fails the schema (1)", "unreadable (1)", "missing segment (1)"):
        assert reason in warning, warning
    assert "manifest entry that is not a segment (1)" in warning

    s3_admin.put_object(Bucket=BUCKET, Key=f"{prefix}/manifest.json", Body=b"{not json")
    caplog.clear()
    llm_server.reset()
    run(worker(s3_server, s3_location, llm_server), s3_location, RECORDS[:4])
    assert len(llm_server.requests) == 4  # nothing listed: everything asked again, and listed anew
    assert any("unreadable manifest (1)" in r.getMessage() for r in caplog.records)
    assert len(manifest(s3_admin, s3_location)) == 1


def test_a_hostile_cache_path_is_refused_before_any_request(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, llm_server: FakeLlmServer
) -> None:
    before = all_keys(s3_admin)
    for path in ("../escape.ndjson", "/abs.ndjson", "%2e%2e/x.ndjson", "s3://flow-other/x.ndjson"):
        with pytest.raises(PathTraversalError):
            run(worker(s3_server, s3_location, llm_server), s3_location, RECORDS[:1], cache_path=path)
    assert llm_server.requests == [] and all_keys(s3_admin) == before


def test_object_storage_fields_of_ai_transform_are_validated_with_the_fix() -> None:
    base = {"model": "m", "prompt": "p", "output_schema": {"type": "object", "properties": {"a": {}}}}
    config = validate_config(AiTransformConfig, {**base, "base_uri": "s3://aws_x@b-1/cache"})
    assert (config.base_uri, config.conn_id, config.fs_conn_id) == ("s3://b-1/cache", "aws_x", None)
    cases = [
        ({"base_uri": "s3://key:hunter2@b-1/cache"}, r"base_uri: the object storage base URI .*s3://\*\*\*@b-1"),
        ({"conn_id": "aws_x"}, "conn_id: conn_id names the connection of an object storage base_uri"),
        ({"base_uri": "s3://b-1/p", "base_path": "/data"}, "base_path: base_uri .* and base_path .* are both set"),
        ({"part_size": 5 << 20}, "part_size only applies to object storage"),
    ]
    for extra, message in cases:
        with pytest.raises(FlowValidationError, match=message) as caught:
            validate_config(AiTransformConfig, {**base, **extra})
        assert "hunter2" not in str(caught.value)
