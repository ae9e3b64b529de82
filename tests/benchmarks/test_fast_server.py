"""The fast loopback server serves what its docstring promises, through the real runtimes (no timing here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from tests.fixtures.fast_server import FastServer, ndjson_blocks, page_body
from tests.fixtures.http_server import _records, _records_json, _Server


def _state(server: FastServer) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(http={"fast": HttpSettings(base_url=server.url)}))


def _source(server: FastServer, **config: Any) -> Any:
    model = validate_config(HttpSourceConfig, {"http_conn_id": "fast", **config})
    return HttpSourceRuntime().execute(model, None, _state(server))


@pytest.mark.parametrize(
    "pagination",
    [
        {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"},
        {"type": "page", "page_param": "page"},
    ],
)
def test_json_pages_follow_cursor_and_page_pagination_with_unique_ids(
    fast_server: FastServer, pagination: dict[str, Any]
) -> None:
    records = _source(
        fast_server,
        endpoint="/pages",
        params={"pages": 4, "per_page": 25, "pad": 10},
        records_path="items",
        pagination=pagination,
    )
    assert len(records) == 100
    assert len({r["id"] for r in records}) == 100  # so the loop guard never sees a repeated page
    assert records[0] == {"id": 1_000_000, "name": "item-0", "pad": "x" * 10}
    assert records[-1]["id"] == 4_000_024


def test_ndjson_body_streams_to_a_file_with_its_announced_length(fast_server: FastServer, tmp_path: Path) -> None:
    ref = _source(
        fast_server,
        endpoint="/ndjson",
        params={"records": 2_345, "pad": 7},
        response_format="ndjson",
        output_path="out.ndjson",
        base_path=str(tmp_path),
    )
    lines = (tmp_path / "out.ndjson").read_bytes().splitlines()
    assert ref.records == len(lines) == 2_345
    assert len({orjson.loads(line)["id"] for line in lines}) == 2_345
    total, blocks = ndjson_blocks(2_345, 7)
    body = b"".join(blocks)
    assert len(body) == total  # the Content-Length it announces
    assert httpx.get(f"{fast_server.url}/ndjson", params={"records": 2_345, "pad": 7}).content == body


def test_pages_are_valid_json_and_empty_after_the_last() -> None:
    page = orjson.loads(page_body(3, 3, 5, 0))
    assert page == {"items": [{"id": 3_000_000 + r, "name": f"item-{r}"} for r in range(5)], "next_page": None}
    assert orjson.loads(page_body(4, 3, 5, 0)) == {"items": [], "next_page": None}


def test_http_sink_batches_are_counted_on_the_server(fast_server: FastServer) -> None:
    rows = [{"id": i} for i in range(1_050)]
    config = validate_config(
        HttpSinkConfig,
        {"http_conn_id": "fast", "endpoint": "/sink/s1?latency_ms=1", "batch_size": 100, "max_concurrency": 4},
    )
    HttpSinkRuntime().execute(config, rows, _state(fast_server))
    counts = fast_server.sink_counts("s1")
    assert (counts.requests, counts.records) == (11, 1_050)
    assert httpx.get(f"{fast_server.url}/sink/s1").json()["records"] == 1_050


def test_sink_reads_chunked_and_wrapped_bodies_and_rejects_what_is_not_records(fast_server: FastServer) -> None:
    with httpx.Client(base_url=fast_server.url) as client:
        chunked = client.post("/sink/s2", content=iter([b'[{"a": 1},', b'{"a": 2}]']))
        wrapped = client.post("/sink/s2", json={"records": [1, 2, 3]})
        bad = client.post("/sink/s2", content=b"not json")
        scalar = client.post("/sink/s2", json=5)
        assert (chunked.status_code, chunked.json()) == (202, {"accepted": 2})
        assert (wrapped.status_code, wrapped.json()) == (202, {"accepted": 3})
        assert bad.status_code == scalar.status_code == 400
        assert client.delete("/sink/s2").status_code == 204
    assert fast_server.sink_counts("s2").records == 0


def test_replies_go_out_without_nagle(fast_server: FastServer) -> None:
    from tests.fixtures import fast_server as module
    from tests.fixtures import http_server

    assert module._Handler.disable_nagle_algorithm is True
    assert http_server._Handler.disable_nagle_algorithm is True


def test_test_server_big_bodies_are_byte_identical_to_json_dumps() -> None:
    """The speed-up of tests/fixtures/http_server.py must not change a byte of what it serves."""
    for pad in (0, 3, 900):
        expected = "\n".join(json.dumps(r) for r in _records(7, 40, pad))
        assert _records_json(7, 40, pad, "\n") == expected
    server = _Server()
    try:
        for nxt in (3, None):
            page = server.big_page(2, 50, 900, nxt)
            assert page == json.dumps({"items": _records(51, 50, 900), "next_page": nxt}).encode()
    finally:
        server.server_close()


def test_a_request_that_is_not_http_closes_its_connection_only(fast_server: FastServer) -> None:
    import socket

    host, port = fast_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"garbage\r\n\r\n")
        assert raw.recv(100) == b""  # hung up without an answer
    assert httpx.get(f"{fast_server.url}/health").json() == {"ok": True}
