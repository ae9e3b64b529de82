"""``http.source`` against the real test server: pagination styles, records_path, guards, streaming to files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import (
    FlowError,
    FlowValidationError,
    HttpError,
    InvalidResponseError,
    PathTraversalError,
    ResponseTooLargeError,
)
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from airflow_provider_flow.records.reference import FileReference

FAST = RetrySettings(max_attempts=2, max_elapsed=5, initial_backoff=0.01, max_backoff=0.01, jitter=0)


class ListLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(str(msg) % args if args else str(msg))

    debug = info = warning = error = exception = _add


@pytest.fixture
def state(http_server) -> ExecutionState:
    settings = HttpSettings(base_url=http_server.url, retry=FAST)
    return ExecutionState(log=ListLog(), settings=StaticSettingsProvider(http={"api": settings}))


def run(state: ExecutionState, **config: Any) -> Any:
    model = validate_config(HttpSourceConfig, {"http_conn_id": "api", **config})
    return HttpSourceRuntime().execute(model, None, state)


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records]


def test_cursor_pagination(http_server, state) -> None:
    records = run(
        state,
        endpoint="/cursor/items",
        params={"filter": "x"},
        records_path="data",
        pagination={"type": "cursor", "cursor_path": "meta.next_cursor"},
    )
    assert ids(records) == [1, 2, 3, 4, 5, 6]
    seen = [r.query for r in http_server.requests]
    assert seen == [{"filter": "x"}, {"filter": "x", "cursor": "c2"}, {"filter": "x", "cursor": "c3"}]


def test_link_header_pagination(http_server, state) -> None:
    records = run(state, endpoint="/link/items", records_path="items", pagination={"type": "link"})
    assert ids(records) == [1, 2, 3, 4, 5, 6] and http_server.hits("/link/items") == 3


def test_next_url_in_body(http_server, state) -> None:
    records = run(
        state, endpoint="/next/items", records_path="results", pagination={"type": "next_url", "next_url_path": "next"}
    )
    assert ids(records) == [1, 2, 3, 4, 5, 6]


def test_page_counter_stops_on_short_or_empty_page(http_server, state) -> None:
    pag = {"type": "page", "page_size": 10, "page_size_param": "per_page"}
    records = run(state, endpoint="/paged/items", params={"total": 25}, records_path="items", pagination=pag)
    assert ids(records) == list(range(1, 26)) and http_server.hits("/paged/items") == 3
    http_server.reset()
    records = run(
        state, endpoint="/paged/items", params={"total": 20}, records_path="items", pagination={"type": "page"}
    )
    assert len(records) == 20 and http_server.hits("/paged/items") == 3  # 10, 10, then an empty page


def test_offset_pagination(http_server, state) -> None:
    pag = {"type": "offset", "limit": 10}
    records = run(state, endpoint="/offset/items", params={"total": 25}, records_path="items", pagination=pag)
    assert ids(records) == list(range(1, 26))
    assert [r.query["offset"] for r in http_server.requests] == ["0", "10", "20"]


def test_max_pages_stops_with_a_warning_or_fails(http_server, state) -> None:
    records = run(state, endpoint="/link/items", records_path="items", pagination={"type": "link"}, max_pages=2)
    assert ids(records) == [1, 2, 3, 4]
    assert any("max_pages=2" in line for line in state.log.lines)  # type: ignore[attr-defined]
    with pytest.raises(FlowError, match="max_pages=2") as info:
        run(
            state,
            endpoint="/link/items",
            records_path="items",
            pagination={"type": "link"},
            max_pages=2,
            on_max_pages="fail",
        )
    assert not info.value.is_retryable


def test_records_path_that_finds_nothing_names_the_keys(state) -> None:
    with pytest.raises(InvalidResponseError, match=r"records_path 'rows'.*\['data', 'meta'\]"):
        run(state, endpoint="/cursor/items", records_path="rows")


def test_object_body_without_records_path_is_one_record(state) -> None:
    [record] = run(state, endpoint="/cursor/items")
    assert set(record) == {"data", "meta"}


def test_xcom_result_is_bounded_by_max_response_bytes(state) -> None:
    with pytest.raises(ResponseTooLargeError, match="output_path"):
        run(
            state,
            endpoint="/paged/items",
            params={"total": 500},
            records_path="items",
            pagination={"type": "page"},
            max_response_bytes=1500,
        )


def test_next_page_on_another_origin_is_refused(http_server, state) -> None:
    def evil(req: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Link": '<http://evil.example/steal>; rel="next"'}, b"[1]"

    http_server.add_route("/evil", evil)
    with pytest.raises(InvalidResponseError, match="another origin"):
        run(state, endpoint="/evil", pagination={"type": "link"})


def test_streams_pages_to_a_confined_file(http_server, state, tmp_path: Path) -> None:
    ref = run(
        state,
        endpoint="/cursor/items",
        records_path="data",
        pagination={"type": "cursor", "cursor_path": "meta.next_cursor"},
        output_path="out/items.ndjson",
        base_path=str(tmp_path),
    )
    assert isinstance(ref, FileReference)
    assert (ref.path, ref.records, ref.pages, ref.format) == ("out/items.ndjson", 6, 3, "ndjson")
    raw = (tmp_path / "out/items.ndjson").read_bytes()
    assert [json.loads(line)["id"] for line in raw.splitlines()] == [1, 2, 3, 4, 5, 6]
    assert ref.bytes == len(raw) and ref.sha256 == hashlib.sha256(raw).hexdigest()


def test_streams_ndjson_response_line_by_line(state, tmp_path: Path) -> None:
    ref = run(
        state,
        endpoint="/ndjson",
        params={"records": 3000},
        response_format="ndjson",
        output_path="big.csv",
        output_format="csv",
        base_path=str(tmp_path),
    )
    lines = (tmp_path / "big.csv").read_text().splitlines()
    assert ref.records == 3000 and lines[0] == "id,name" and lines[-1] == "3000,item-3000"


def test_failure_mid_stream_leaves_no_partial_file(http_server, state, tmp_path: Path) -> None:
    def broken_second_page(req: Any) -> tuple[int, dict[str, str], bytes]:
        if req.query.get("page") == "2":
            return 404, {}, b'{"error": "gone"}'
        return 200, {"Link": f'<{http_server.url}/broken?page=2>; rel="next"'}, b'[{"id": 1}]'

    http_server.add_route("/broken", broken_second_page)
    (tmp_path / "keep.ndjson").write_text('{"id": "old"}\n')
    with pytest.raises(HttpError) as info:
        run(state, endpoint="/broken", pagination={"type": "link"}, output_path="keep.ndjson", base_path=str(tmp_path))
    assert info.value.status_code == 404
    assert os.listdir(tmp_path) == ["keep.ndjson"]  # no temp file left behind
    assert (tmp_path / "keep.ndjson").read_text() == '{"id": "old"}\n'  # old version untouched


def test_output_path_is_confined(state, tmp_path: Path) -> None:
    with pytest.raises(PathTraversalError):
        run(state, endpoint="/cursor/items", output_path="../escape.ndjson", base_path=str(tmp_path))


def test_output_path_without_base_uses_fs_default(http_server, tmp_path: Path) -> None:
    settings = StaticSettingsProvider(
        http={"api": HttpSettings(base_url=http_server.url)}, fs={"fs_default": str(tmp_path)}
    )
    ref = run(
        ExecutionState(settings=settings),
        endpoint="/cursor/items",
        records_path="data",
        output_path="a.json",
        output_format="json",
    )
    assert ref.fs_conn_id == "fs_default" and ref.base_path is None
    assert json.loads((tmp_path / "a.json").read_text()) == [{"id": 1, "name": "item-1"}, {"id": 2, "name": "item-2"}]


def test_config_errors_name_the_field(state) -> None:
    with pytest.raises(FlowValidationError, match=r"pagination\.type"):
        run(state, endpoint="/ndjson", response_format="ndjson", pagination={"type": "cursor", "cursor_path": "x"})
    with pytest.raises(FlowValidationError, match="records_path"):
        run(state, endpoint="/cursor/items", records_path="data[")
    with pytest.raises(FlowValidationError, match="not both"):
        run(state, endpoint="/echo", json={"a": 1}, body="x")
    with pytest.raises(FlowValidationError, match="unknown key 'paginate'"):
        run(state, endpoint="/echo", paginate={"type": "link"})


def test_request_body_and_headers_are_sent(http_server, state) -> None:
    [echo] = run(state, endpoint="/echo", method="POST", json={"q": 1}, headers={"X-Run": "r1"})
    assert echo["method"] == "POST" and json.loads(echo["body"]) == {"q": 1} and echo["headers"]["x-run"] == "r1"
    [echo] = run(state, endpoint="/echo", method="POST", body={"a": "b"})
    assert echo["body"] == "a=b"


def test_base_path_without_output_path_is_refused(state, tmp_path: Path) -> None:
    with pytest.raises(FlowValidationError, match="only apply with output_path"):
        run(state, endpoint="/cursor/items", base_path=str(tmp_path))


def test_a_next_page_that_repeats_the_current_one_stops_the_loop(http_server, state) -> None:
    page = lambda req: {"data": [{"id": 2 if req.query.get("cursor") else 1}], "next": "same"}  # noqa: E731
    http_server.add_route("/echo-cursor", lambda req: (200, {}, json.dumps(page(req)).encode()))
    records = run(
        state,
        endpoint="/echo-cursor",
        records_path="data",
        pagination={"type": "cursor", "cursor_path": "next"},
        max_pages=50,
    )
    assert ids(records) == [1, 2] and http_server.hits("/echo-cursor") == 2  # no cursor, then cursor=same
    assert any("page just fetched" in line for line in state.log.lines)
    http_server.reset()
    http_server.add_route(
        "/self-link", lambda req: (200, {"Link": f'<{http_server.url}/self-link>; rel="next"'}, b"[7]")
    )
    assert run(state, endpoint="/self-link", pagination={"type": "link"}, max_pages=50) == [7]
