"""http.source and transform staging their ``output_path`` in object storage, against real servers.

A real SeaweedFS (tests/fixtures/s3.py) and the real HTTP test server (tests/fixtures/http_server.py): paginated
output streams into a multipart upload with flat memory, a failure mid-pagination publishes nothing and leaves no
open upload, a hostile ``output_path`` (the local hostile suite, case for case) is refused before any request, S3
references are read back by transform and http.sink. The last test is issue 12's Done-when DAG: http.source ->
transform -> file.sink, all staged on S3, run with ``dag.test()``; each task emits its object's ``s3://`` asset event.
(ai.transform on S3: tests/ai_s3/.)
"""

from __future__ import annotations

import json
import tracemalloc
import uuid
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError, HttpError, PathTraversalError
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.nodes.ai_transform import AiTransformConfig
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.object_keys import ObjectLocation
from airflow_provider_flow.storage.object_store import MIB, MIN_PART_SIZE
from tests.fixtures.http_server import FlowHttpServer, RecordedRequest
from tests.fixtures.s3 import BUCKET, OTHER_BUCKET, all_keys, make_fs, open_uploads
from tests.s3_server import SeaweedS3
from tests.storage.s3.test_object_keys import LOCAL_CASES, OBJECT_CASES

FAST = RetrySettings(max_attempts=2, max_elapsed=5, initial_backoff=0.01, max_backoff=0.01, jitter=0)
BIG_PAGES = {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"}


def state_for(
    server: SeaweedS3, location: ObjectLocation, http: FlowHttpServer | None = None, *, endpoint: str | None = None
) -> ExecutionState:
    """A worker's view: its own s3fs filesystem for the location's connection, and the HTTP test server as 'api'."""
    fs = make_fs(endpoint or server.endpoint, server.access_key, server.secret_key)
    apis = {"api": HttpSettings(base_url=http.url, retry=FAST)} if http else {}
    return ExecutionState(
        settings=StaticSettingsProvider(object_storage={f"s3://{location.conn_id}@{location.bucket}": fs}, http=apis)
    )


def on_s3(location: ObjectLocation, **config: Any) -> dict[str, Any]:
    return {"base_uri": location.uri, "conn_id": location.conn_id, **config}


def fetch(state: ExecutionState, location: ObjectLocation, **config: Any) -> Any:
    model = validate_config(HttpSourceConfig, on_s3(location, http_conn_id="api", **config))
    return HttpSourceRuntime().execute(model, None, state)


def get(admin: Any, key: str) -> bytes | None:
    try:
        return bytes(admin.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    except admin.exceptions.NoSuchKey:
        return None


def assert_object_reference(ref: Any, location: ObjectLocation) -> None:
    """Names the object base by URI and connection, and nothing of a worker's folders."""
    dumped = ref.model_dump() if isinstance(ref, FileReference) else ref
    assert (dumped["base_uri"], dumped["conn_id"]) == (location.uri, location.conn_id)
    assert dumped.get("base_path") is None and dumped.get("fs_conn_id") is None
    assert not dumped["path"].startswith("/")


def test_http_source_streams_many_pages_to_one_multipart_object_with_flat_memory(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, http_server: FlowHttpServer
) -> None:
    """100 pages of about 1 MB (18 parts of 5 MiB): the peak stays a few parts, not the output.

    A few parts: the one being filled, ``upload_concurrency`` (2) in flight, and one page's records."""
    state = state_for(s3_server, s3_location, http_server)
    tracemalloc.start()
    try:
        ref = fetch(
            state,
            s3_location,
            endpoint="/big/pages",
            params={"pages": 100, "per_page": 1000, "pad": 900},
            records_path="items",
            pagination=BIG_PAGES,
            output_path="raw/pages.ndjson",
            part_size=MIN_PART_SIZE,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nhttp.source to S3: {ref.bytes / MIB:.1f} MiB in 100 pages, tracemalloc peak {peak / MIB:.1f} MiB")
    assert isinstance(ref, FileReference)
    assert (ref.records, ref.pages, ref.path) == (100_000, 100, "raw/pages.ndjson")
    assert ref.bytes > 9 * MIN_PART_SIZE
    assert peak < 8 * MIN_PART_SIZE  # a buffered upload would hold all 18 parts
    assert_object_reference(ref, s3_location)
    head = s3_admin.head_object(Bucket=BUCKET, Key=f"{s3_location.prefix}/raw/pages.ndjson")
    assert head["ContentLength"] == ref.bytes and "-" in head["ETag"]  # multipart: "<md5>-<parts>"
    assert open_uploads(s3_admin, s3_location.key_prefix) == []
    ids = [r["id"] for r in input_records(ref.model_dump(), state_for(s3_server, s3_location))]
    assert ids == list(range(1, 100_001))


def test_ndjson_pass_through_lands_on_s3(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, http_server: FlowHttpServer
) -> None:
    state = state_for(s3_server, s3_location, http_server)
    ref = fetch(
        state,
        s3_location,
        endpoint="/ndjson",
        params={"records": 1500},
        response_format="ndjson",
        output_path="n.ndjson",
    )
    assert_object_reference(ref, s3_location)
    body = get(s3_admin, f"{s3_location.prefix}/n.ndjson")
    assert body is not None and [json.loads(line)["id"] for line in body.splitlines()] == list(range(1, 1501))


def failing_pages(fail_at: int) -> Any:
    """Big pages with a cursor; page ``fail_at`` answers 400 (not retryable) with a body naming nothing secret."""

    def handler(req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        page = int(req.query.get("page", 1))
        if page == fail_at:
            return 400, {"Content-Type": "application/json"}, b'{"error": "bad page"}'
        items = [{"id": (page - 1) * 1000 + i, "pad": "z" * 900} for i in range(1000)]
        return 200, {"Content-Type": "application/json"}, json.dumps({"items": items, "next_page": page + 1}).encode()

    return handler


def test_a_server_error_mid_pagination_publishes_nothing_and_leaves_no_upload(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, http_server: FlowHttpServer
) -> None:
    """Pages 1-11 (about 11 MB: two parts uploaded) arrive, page 12 is a 400: the old object stays, no upload."""
    key = f"{s3_location.prefix}/raw/keep.ndjson"
    s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b'{"old": true}\n')
    http_server.add_route("/failing/pages", failing_pages(12))
    state = state_for(s3_server, s3_location, http_server)
    for target in ("raw/new.ndjson", "raw/keep.ndjson"):
        with pytest.raises(HttpError) as caught:
            fetch(
                state,
                s3_location,
                endpoint="/failing/pages",
                records_path="items",
                pagination=BIG_PAGES,
                output_path=target,
                part_size=MIN_PART_SIZE,
            )
        assert caught.value.status_code == 400 and not caught.value.is_retryable
    assert http_server.hits("/failing/pages") == 24  # 12 pages, each once (no retry of a 400), twice over
    assert get(s3_admin, f"{s3_location.prefix}/raw/new.ndjson") is None
    assert get(s3_admin, key) == b'{"old": true}\n'
    assert open_uploads(s3_admin, s3_location.key_prefix) == []


#: The local hostile-path suite (tests/storage/test_storage.py) case for case, plus the object-storage cases.
HOSTILE = [path for path, _ in LOCAL_CASES + OBJECT_CASES]


@pytest.mark.parametrize("path", HOSTILE)
def test_a_hostile_output_path_is_refused_before_any_request(
    path: str, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, http_server: FlowHttpServer
) -> None:
    """No HTTP request is made, and on an S3 endpoint that answers nothing the refusal is still PathTraversalError."""
    before = {bucket: all_keys(s3_admin, bucket) for bucket in (BUCKET, OTHER_BUCKET)}
    dead = state_for(s3_server, s3_location, http_server, endpoint="http://127.0.0.1:9")
    for state in (dead, state_for(s3_server, s3_location, http_server)):
        with pytest.raises(PathTraversalError):
            fetch(state, s3_location, endpoint="/cursor/items", records_path="data", output_path=path)
        with pytest.raises(PathTraversalError):
            model = validate_config(TransformConfig, on_s3(s3_location, output_path=path, output_format="ndjson"))
            TransformRuntime().execute(model, [{"a": 1}], state)
    assert http_server.requests == []
    assert {bucket: all_keys(s3_admin, bucket) for bucket in (BUCKET, OTHER_BUCKET)} == before


def test_transform_and_http_sink_read_s3_references_and_transform_writes_to_s3(
    s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any, http_server: FlowHttpServer
) -> None:
    state = state_for(s3_server, s3_location, http_server)
    raw = fetch(
        state,
        s3_location,
        endpoint="/big/pages",
        params={"pages": 3, "per_page": 50, "pad": 5},
        records_path="items",
        pagination=BIG_PAGES,
        output_path="raw/items.ndjson",
    )
    operations = [{"filter": "id > `100`"}, {"select": {"id": "id", "label": "name"}}]
    model = validate_config(TransformConfig, on_s3(s3_location, operations=operations, output_path="t/out.csv"))
    out = TransformRuntime().execute(model, json.loads(json.dumps(raw.model_dump())), state)
    assert isinstance(out, FileReference) and (out.records, out.format) == (50, "csv")
    assert_object_reference(out, s3_location)
    body = get(s3_admin, f"{s3_location.prefix}/t/out.csv")
    assert body is not None and body.splitlines()[:2] == [b"id,label", b"101,item-101"]

    sink = validate_config(HttpSinkConfig, {"endpoint": "/sink/s3ref", "http_conn_id": "api", "batch_size": 20})
    result = HttpSinkRuntime().execute(sink, out.model_dump(), state)  # batches are sent concurrently, in any order
    assert result["accepted_records"] == 50
    sent = sorted((r for batch in http_server.sink_batches("s3ref") for r in batch.records), key=lambda r: int(r["id"]))
    assert sent == [{"id": str(i), "label": f"item-{i}"} for i in range(101, 151)]  # CSV reads back as text


def test_object_storage_fields_are_validated_with_the_fix() -> None:
    config = validate_config(HttpSourceConfig, {"endpoint": "/x", "output_path": "a", "base_uri": "s3://c@b-1/p"})
    assert (config.base_uri, config.conn_id, config.fs_conn_id) == ("s3://b-1/p", "c", None)
    with pytest.raises(FlowValidationError, match=r"base_path: base_uri .* and base_path .* are both set"):
        validate_config(TransformConfig, {"output_path": "a", "base_uri": "s3://b-1/p", "base_path": "/data"})
    with pytest.raises(FlowValidationError, match="part_size only applies to object storage"):
        validate_config(TransformConfig, {"output_path": "a", "part_size": MIN_PART_SIZE})
    with pytest.raises(FlowValidationError, match=r"base_uri: the object storage base URI .*s3://\*\*\*@b-1/p") as bad:
        validate_config(HttpSourceConfig, {"endpoint": "/x", "output_path": "a", "base_uri": "s3://k:hunter2@b-1/p"})
    assert "hunter2" not in str(bad.value)
    unused = validate_config(HttpSourceConfig, {"endpoint": "/x", "base_uri": "s3://b-1/p"})
    with pytest.raises(FlowValidationError, match="base_uri only apply with output_path"):
        HttpSourceRuntime().execute(unused, None, ExecutionState())


def test_lineage_names_s3_outputs_of_http_source_transform_and_ai_transform() -> None:
    from airflow_provider_flow.lineage import node_lineage

    settings = StaticSettingsProvider(http={"api": HttpSettings(base_url="http://127.0.0.1:9")})
    base = {"output_path": "out/b.ndjson", "base_uri": "s3://aws_x@stage-bucket/team"}
    ai = {"model": "m", "prompt": "p", "output_schema": {"type": "object", "properties": {"a": {}}}}
    planned = {
        "http.source": validate_config(HttpSourceConfig, {"endpoint": "/x", "http_conn_id": "api", **base}),
        "transform": validate_config(TransformConfig, base),
        "ai.transform": validate_config(AiTransformConfig, {**ai, **base}),
    }
    for runtime, config in planned.items():
        lineage = node_lineage(runtime, config, None, None, settings)
        assert [d.key for d in lineage.outputs] == [("s3://stage-bucket", "team/out/b.ndjson")], runtime


def test_dag_http_source_transform_file_sink_all_on_s3(
    airflow_db: Any,
    s3_server: SeaweedS3,
    s3_admin: Any,
    s3_airflow_conn: str,
    http_server: FlowHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 12's Done-when: every hand-off is an object on S3, XCom carries only references naming base_uri, and
    each task emits an asset event with its object's standard ``s3://bucket/key`` URI (downstream DAGs schedule on
    them as on any S3 asset)."""
    from airflow.models.asset import AssetEvent
    from airflow.sdk import DAG, Asset
    from airflow.utils.session import create_session

    from airflow_provider_flow.operators.file import FileSinkOperator
    from airflow_provider_flow.operators.http import HttpSourceOperator
    from airflow_provider_flow.operators.transform import TransformOperator
    from tests.airflow_harness import run_dag

    prefix = f"dag/{uuid.uuid4().hex[:10]}"
    host, port = http_server.url.removeprefix("http://").split(":")
    monkeypatch.setenv("AIRFLOW_CONN_API_S3", json.dumps({"conn_type": "http", "host": host, "port": int(port)}))
    base = f"s3://{s3_airflow_conn}@{BUCKET}/{prefix}"
    with DAG("s3_http_transform_sink", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        raw = HttpSourceOperator(
            task_id="fetch",
            http_conn_id="api_s3",
            endpoint="/big/pages",
            query_params={"pages": 4, "per_page": 500, "pad": 20},
            records_path="items",
            pagination=BIG_PAGES,
            output_path="stage/raw.ndjson",
            base_uri=base,
        )
        shaped = TransformOperator(
            task_id="shape",
            data=raw.output,
            operations=[{"filter": "id > `1990`"}, {"select": {"id": "id", "name": "name"}}],
            output_path="stage/shaped.ndjson",
            base_uri=f"s3://{BUCKET}/{prefix}",
            conn_id=s3_airflow_conn,
        )
        FileSinkOperator(task_id="publish", path="final/out.json", data=shaped.output, base_uri=base)
    objects = {task: f"s3://{BUCKET}/{prefix}/{path}" for task, path in OBJECTS.items()}
    assert raw.outlets == [Asset(uri=objects["fetch"])] and shaped.outlets == [Asset(uri=objects["shape"])]
    with DAG("s3_outlets_not_declared", schedule=None, start_date=datetime(2024, 1, 1)):
        templated = TransformOperator(  # a path known only at run time: nothing to declare at parse time
            task_id="templated", data=[], output_path="stage/{{ ds }}.ndjson", base_uri=base
        )
        refused = TransformOperator(task_id="refused", data=[], output_path="../x.ndjson", base_uri=base)
        chosen = HttpSourceOperator(task_id="chosen", endpoint="/x", output_path="a.ndjson", base_uri=base, outlets=[])
        local = TransformOperator(task_id="local", data=[], output_path="a.ndjson", base_path="/data")
    assert [t.outlets for t in (templated, refused, chosen, local)] == [[], [], [], []]

    result = run_dag(dag)
    log = capsys.readouterr().out + capsys.readouterr().err
    assert result.state == "success", log[-3000:]

    final = get(s3_admin, f"{prefix}/final/out.json")
    assert final is not None and json.loads(final) == [{"id": i, "name": f"item-{i}"} for i in range(1991, 2001)]
    refs = {task: result.xcom(task) for task in ("fetch", "shape", "publish")}
    expected = {"base_uri": f"s3://{BUCKET}/{prefix}", "conn_id": s3_airflow_conn}
    for task, ref in refs.items():
        assert {k: ref.get(k) for k in expected} == expected, task
        assert ref.get("base_path") is None and ref.get("fs_conn_id") is None and not ref["path"].startswith("/")
    assert (refs["fetch"]["records"], refs["fetch"]["pages"], refs["shape"]["records"]) == (2000, 4, 10)
    everything = log + json.dumps(refs)
    assert s3_server.secret_key not in everything
    assert "stage/raw.ndjson" in everything and "final/out.json" in log  # the log was captured at all
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == result.dag_run.run_id).all()
        emitted = {event.source_task_id: event.asset.uri for event in events}
    assert emitted == objects


#: What each task of the Done-when DAG writes, relative to its base.
OBJECTS = {"fetch": "stage/raw.ndjson", "shape": "stage/shaped.ndjson", "publish": "final/out.json"}
