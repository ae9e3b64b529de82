"""file.sink and file.source staged in object storage, against a real S3 server (SeaweedFS, tests/fixtures/s3.py).

The same promises as the local tests in test_file_nodes.py: every format round-trips, big outputs stream as a
multipart upload with flat memory, a failing input publishes nothing, hostile paths are refused before any request,
a reference is re-verified on the reading worker, and error_if_exists never clobbers. The last test runs a real
Airflow DAG (dag.test()) with an ``aws`` connection and checks that its secret reaches neither the log nor XCom.
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowValidationError, PathTraversalError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.object_keys import ObjectLocation
from airflow_provider_flow.storage.object_store import MIB, MIN_PART_SIZE
from tests.fixtures.s3 import BUCKET, OTHER_BUCKET, all_keys, make_fs, open_uploads
from tests.s3_server import SeaweedS3
from tests.storage.s3.test_object_keys import LOCAL_CASES, OBJECT_CASES

ROWS = [
    {"id": 1, "city": "Köln", "note": 'says "hi", twice'},
    {"id": 2, "city": "Zürich", "note": ""},
    {"id": 3, "city": "Montréal", "note": "line, with comma"},
]


def settings_for(server: SeaweedS3, location: ObjectLocation, *, endpoint: str | None = None) -> StaticSettingsProvider:
    """What a worker resolves for the location's connection: its own s3fs filesystem (a fresh client each time)."""
    fs = make_fs(endpoint or server.endpoint, server.access_key, server.secret_key)
    return StaticSettingsProvider(object_storage={f"s3://{location.conn_id}@{location.bucket}": fs})


def s3_config(location: ObjectLocation, **config: Any) -> dict[str, Any]:
    return {"base_uri": location.uri, "conn_id": location.conn_id, **config}


def sink(
    server: SeaweedS3, location: ObjectLocation, data: Any, *, state: ExecutionState | None = None, **config: Any
) -> FileReference:
    state = state or ExecutionState(settings=settings_for(server, location))
    return FileSinkRuntime().execute(validate_config(FileSinkConfig, s3_config(location, **config)), data, state)


def source(server: SeaweedS3, location: ObjectLocation, **config: Any) -> Any:
    state = ExecutionState(settings=settings_for(server, location))
    return FileSourceRuntime().execute(validate_config(FileSourceConfig, s3_config(location, **config)), None, state)


def get(admin: Any, key: str) -> bytes | None:
    try:
        return bytes(admin.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except admin.exceptions.NoSuchKey:
        return None


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "text"])
def test_every_format_round_trips_through_s3(
    fmt: str, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    rows: list[Any] = [f"{r['city']} {r['note']}" for r in ROWS] if fmt == "text" else ROWS
    if fmt == "csv":
        rows = [{k: str(v) for k, v in r.items()} for r in ROWS]  # CSV reads every cell back as text
    ref = sink(s3_server, s3_location, rows, path=f"out/data.{fmt}")
    assert (ref.base_uri, ref.conn_id, ref.base_path, ref.fs_conn_id) == (s3_location.uri, "aws_test", None, None)
    assert (ref.path, ref.records, ref.format) == (f"out/data.{fmt}", 3, fmt)
    assert ref.uri == f"s3://{BUCKET}/{s3_location.prefix}/out/data.{fmt}"
    body = get(s3_admin, f"{s3_location.prefix}/out/data.{fmt}")
    assert body is not None and len(body) == ref.bytes
    # Back as records (a plain key) and as references (a glob over the store's listing).
    assert source(s3_server, s3_location, path=f"out/data.{fmt}") == rows
    refs = source(s3_server, s3_location, path="out/*", output="reference")
    assert [(r.path, r.records, r.sha256, r.base_uri) for r in refs] == [(ref.path, 3, ref.sha256, s3_location.uri)]
    assert list(input_records(refs, ExecutionState(settings=settings_for(s3_server, s3_location)))) == rows


def test_glob_lists_only_matching_keys_under_the_base(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    for name in ("in/2024-05-01.ndjson", "in/2024-05-02.ndjson", "in/skip.csv", "other/2024-05-03.ndjson"):
        s3_admin.put_object(Bucket=BUCKET, Key=f"{s3_location.prefix}/{name}", Body=json.dumps({"f": name}) + "\n")
    s3_admin.put_object(Bucket=BUCKET, Key=f"{s3_location.prefix}-sibling/in/x.ndjson", Body=b'{"f": "outside"}\n')
    assert source(s3_server, s3_location, path="in/*.ndjson") == [
        {"f": "in/2024-05-01.ndjson"},
        {"f": "in/2024-05-02.ndjson"},
    ]
    assert len(source(s3_server, s3_location, path="**/*.ndjson")) == 3
    assert source(s3_server, s3_location, path="none/*.ndjson", allow_empty=True) == []
    with pytest.raises(FileError, match=r"no file matches 'none/\*\.ndjson' under the base directory 's3://"):
        source(s3_server, s3_location, path="none/*.ndjson")


def test_a_large_output_is_a_multipart_upload_with_flat_memory(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """About 80 MiB of records (16 parts of 5 MiB): Python's peak allocation stays a few parts, not the output."""
    pad = "x" * 1000

    def records() -> Iterator[dict[str, Any]]:
        for i in range(80_000):
            yield {"i": i, "pad": pad}

    state = ExecutionState(settings=settings_for(s3_server, s3_location))  # its client made before the count starts
    tracemalloc.start()
    try:
        ref = sink(s3_server, s3_location, records(), state=state, path="big/out.ndjson", part_size=MIN_PART_SIZE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nfile.sink to S3: {ref.bytes / MIB:.1f} MiB, tracemalloc peak {peak / MIB:.1f} MiB")
    assert ref.records == 80_000 and ref.bytes > 15 * MIN_PART_SIZE
    assert (
        peak < 8 * MIN_PART_SIZE
    )  # filling 1 + 2 in flight + records; the output is 16 parts; a buffered upload would hold all of them
    head = s3_admin.head_object(Bucket=BUCKET, Key=f"{s3_location.prefix}/big/out.ndjson")
    assert head["ContentLength"] == ref.bytes and "-" in head["ETag"]  # a multipart ETag: "<md5>-<parts>"
    assert open_uploads(s3_admin, s3_location.key_prefix) == []
    # Read back on the same base: streamed and verified at EOF.
    state = ExecutionState(settings=settings_for(s3_server, s3_location))
    assert sum(1 for _ in input_records(ref.model_dump(), state)) == 80_000


def test_a_failing_input_publishes_nothing_and_leaves_no_upload(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    s3_admin.put_object(Bucket=BUCKET, Key=f"{s3_location.prefix}/keep.ndjson", Body=b'{"old": true}\n')

    def records() -> Iterator[dict[str, Any]]:
        for i in range(20_000):  # about 12 MiB before the failure: two parts were uploaded
            yield {"i": i, "pad": "y" * 600}
        raise RuntimeError("upstream broke after 20000 records")

    for target in ("new.ndjson", "keep.ndjson"):
        with pytest.raises(RuntimeError, match="upstream broke"):
            sink(s3_server, s3_location, records(), path=target, part_size=MIN_PART_SIZE)
    assert get(s3_admin, f"{s3_location.prefix}/new.ndjson") is None
    assert get(s3_admin, f"{s3_location.prefix}/keep.ndjson") == b'{"old": true}\n'
    assert open_uploads(s3_admin, s3_location.key_prefix) == []


#: The local hostile-path suite (tests/storage/test_storage.py) case for case, plus the object-storage cases.
HOSTILE = [path for path, _ in LOCAL_CASES + OBJECT_CASES]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_refused_before_any_request(
    path: str, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    """On a filesystem whose endpoint answers nothing, any request would fail with a connection error: getting
    PathTraversalError proves none was made. The real server's buckets are unchanged as well."""
    before = {bucket: all_keys(s3_admin, bucket) for bucket in (BUCKET, OTHER_BUCKET)}
    dead = ExecutionState(settings=settings_for(s3_server, s3_location, endpoint="http://127.0.0.1:9"))
    for state in (dead, ExecutionState(settings=settings_for(s3_server, s3_location))):
        # format given: an extension-less case ('..') must fail on its path, not on format detection
        sink_config = validate_config(FileSinkConfig, s3_config(s3_location, path=path, format="ndjson"))
        with pytest.raises(PathTraversalError):
            FileSinkRuntime().execute(sink_config, ROWS, state)
        source_config = validate_config(FileSourceConfig, s3_config(s3_location, path=path, format="ndjson"))
        with pytest.raises(PathTraversalError):
            FileSourceRuntime().execute(source_config, None, state)
    assert {bucket: all_keys(s3_admin, bucket) for bucket in (BUCKET, OTHER_BUCKET)} == before


def test_a_reference_is_verified_on_another_worker_and_a_tampered_object_refused(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, tmp_path: Path
) -> None:
    ref = sink(s3_server, s3_location, [{"n": i} for i in range(1000)], path="handoff/part.ndjson")
    payload = json.loads(json.dumps(ref.model_dump()))  # as XCom stores it
    assert "base_path" not in json.dumps(payload) or payload.get("base_path") is None
    # Another worker: its own settings (own client), the reference only names base_uri + conn_id.
    other = ExecutionState(settings=settings_for(s3_server, s3_location))
    assert [r["n"] for r in input_records(payload, other)] == list(range(1000))

    key = f"{s3_location.prefix}/handoff/part.ndjson"
    original = get(s3_admin, key)
    assert original is not None
    tampered = original.replace(b'{"n":7}', b'{"n":8}')  # the writer's compact JSON
    assert len(tampered) == len(original) and tampered != original
    s3_admin.put_object(Bucket=BUCKET, Key=key, Body=tampered)

    # Read by a node on the same base (trusted): streamed, refused at EOF, so the sink publishes nothing.
    with pytest.raises(FileError, match="does not match its file reference"):
        sink(s3_server, s3_location, payload, path="handoff/copy.ndjson")
    assert get(s3_admin, f"{s3_location.prefix}/handoff/copy.ndjson") is None
    # Read by a node writing elsewhere (a local base: untrusted): refused before the first record.
    seen: list[Any] = []
    local = tmp_path / "base"
    local.mkdir()
    state = ExecutionState(settings=settings_for(s3_server, s3_location))
    with pytest.raises(FileError, match="does not match its file reference"):
        for record in input_records(payload, state, trusted_bases=(str(local),)):
            seen.append(record)
    assert seen == []


def test_error_if_exists_refuses_an_existing_object_and_append_is_refused(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    key = f"{s3_location.prefix}/out/exists.json"
    s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b'[{"keep": true}]\n')
    with pytest.raises(FileError, match="already exists and mode is 'error_if_exists'") as caught:
        sink(s3_server, s3_location, [{"new": True}], path="out/exists.json", mode="error_if_exists")
    assert not caught.value.is_retryable
    ref = sink(s3_server, s3_location, [{"new": True}], path="out/fresh.json", mode="error_if_exists")
    assert ref.records == 1
    with pytest.raises(FlowValidationError, match=r"cannot append to .*objects in object storage cannot be extended"):
        sink(s3_server, s3_location, [{"new": True}], path="out/exists.json", mode="append")
    assert get(s3_admin, key) == b'[{"keep": true}]\n'


def test_storage_choice_is_validated_with_the_fix() -> None:
    split = validate_config(FileSinkConfig, {"path": "a.json", "base_uri": "s3://my_conn@my-bucket/stage/"})
    assert (split.base_uri, split.conn_id, split.fs_conn_id) == ("s3://my-bucket/stage", "my_conn", None)
    local = validate_config(FileSourceConfig, {"path": "a.json"})
    assert (local.fs_conn_id, local.base_uri) == ("fs_default", None)
    cases = [
        ({"base_uri": "s3://b-1/p", "base_path": "/data"}, "base_path: base_uri .* and base_path .* are both set"),
        ({"base_uri": "s3://b-1/p", "fs_conn_id": "fs_other"}, "fs_conn_id: base_uri .* and fs_conn_id"),
        ({"conn_id": "aws_x"}, "conn_id: conn_id names the connection of an object storage base_uri"),
        ({"base_uri": "s3://a@b-1/p", "conn_id": "c"}, "names connection 'a' but conn_id is 'c'"),
        (
            {"base_uri": "s3://key:secret@b-1/p"},
            "base_uri: the object storage base URI is not usable.*s3://\\*\\*\\*@b-1/p",
        ),
        ({"base_uri": "s3://a@b-1/p", "conn_id": "c"}, "names connection 'a' but conn_id is 'c'"),
        ({"base_uri": "s3://b-1/../p"}, "prefix is not usable"),
        ({"base_uri": "gs://b-1/p"}, "unsupported object storage scheme"),
        ({"part_size": MIN_PART_SIZE}, "part_size only applies to object storage"),
        ({"base_uri": "s3://b-1/p", "part_size": 1}, "part_size: .*greater than or equal to 5242880"),
    ]
    for extra, message in cases:
        with pytest.raises(FlowValidationError, match=message) as caught:
            validate_config(FileSinkConfig, {"path": "a.json", **extra})
        assert "secret@" not in str(caught.value)


def test_dag_stages_in_s3_with_an_aws_connection_and_never_shows_its_secret(
    airflow_db: Any, s3_server: SeaweedS3, s3_admin: Any, s3_airflow_conn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG, Asset

    from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator
    from airflow_provider_flow.operators.transform import TransformOperator
    from tests.airflow_harness import run_dag

    prefix = f"dag/{uuid.uuid4().hex[:10]}"
    rows = [{"i": i, "city": "Köln"} for i in range(3000)]
    with DAG("s3_file_flow", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        write = FileSinkOperator(
            task_id="write", path="stage/rows.ndjson", data=rows, base_uri=f"s3://{s3_airflow_conn}@{BUCKET}/{prefix}"
        )
        read = FileSourceOperator(
            task_id="read",
            path="stage/*.ndjson",
            base_uri=f"s3://{BUCKET}/{prefix}",
            conn_id=s3_airflow_conn,
            output="reference",
        )
        count = TransformOperator(task_id="count", data=read.output, operations=[{"filter": "i < `10`"}])
        write >> read >> count
    assert write.outlets == [Asset(uri=f"s3://{BUCKET}/{prefix}/stage/rows.ndjson")]

    result = run_dag(dag)
    log = capsys.readouterr().out + capsys.readouterr().err
    assert result.state == "success", log[-3000:]

    body = get(s3_admin, f"{prefix}/stage/rows.ndjson")
    assert body is not None and [json.loads(line) for line in body.splitlines()] == rows
    written, listed, counted = result.xcom("write"), result.xcom("read"), result.xcom("count")
    assert written["base_uri"] == f"s3://{BUCKET}/{prefix}" and written["conn_id"] == s3_airflow_conn
    assert written["records"] == 3000 and "base_path" not in written and "fs_conn_id" not in written
    assert [r["sha256"] for r in listed] == [written["sha256"]]
    assert counted == [{"i": i, "city": "Köln"} for i in range(10)]
    everything = log + json.dumps([written, listed, counted])
    assert s3_server.secret_key not in everything
    assert "stage/rows.ndjson" in log  # the log was captured at all


def test_lineage_names_s3_datasets_of_an_object_storage_sink() -> None:
    from airflow_provider_flow.lineage import node_lineage

    config = validate_config(FileSinkConfig, {"path": "out/b.ndjson", "base_uri": "s3://aws_x@stage-bucket/team"})
    ref = FileReference(
        path="in/a.ndjson",
        base_uri="s3://stage-bucket/team",
        conn_id="aws_x",
        format="ndjson",
        records=1,
        bytes=2,
        sha256="0" * 64,
    )
    lineage = node_lineage("file.sink", config, ref.model_dump(), None, StaticSettingsProvider())
    assert [d.key for d in lineage.inputs] == [("s3://stage-bucket", "team/in/a.ndjson")]
    assert [d.key for d in lineage.outputs] == [("s3://stage-bucket", "team/out/b.ndjson")]
