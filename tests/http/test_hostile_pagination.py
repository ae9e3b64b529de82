"""Pagination against hostile or broken APIs: loops are stopped by a named rule, never followed until a timeout.

Each API here is a real route on the loopback test server. ``max_pages=50`` keeps a regression from looping
forever: without the loop rules these tests would collect 50 pages of duplicates instead of failing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import InvalidResponseError, PaginationLoopError
from airflow_provider_flow.http.pagination import DEFAULT_MAX_PAGES, LoopGuard
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.nodes.http_source import HttpSourceConfig
from tests.nodes.test_http_source import FAST, ListLog, ids, run

LOOP_GUARD = 50
CURSOR = {"type": "cursor", "cursor_path": "next"}


@pytest.fixture
def state(http_server) -> ExecutionState:
    settings = HttpSettings(base_url=http_server.url, retry=FAST)
    return ExecutionState(log=ListLog(), settings=StaticSettingsProvider(http={"api": settings}))


def _json(payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return 200, headers or {}, json.dumps(payload).encode()


def loop_message(state: ExecutionState, rule: str, endpoint: str, **config: Any) -> str:
    """Run the source (bounded by LOOP_GUARD pages) and return the message of the loop error it must raise."""
    with pytest.raises(PaginationLoopError) as info:
        run(state, endpoint=endpoint, max_pages=LOOP_GUARD, **config)
    err = info.value
    assert isinstance(err, InvalidResponseError) and not err.is_retryable
    assert err.details["rule"] == rule
    return err.message


def cursor(req: Any, default: str = "0") -> str:
    return req.query.get("cursor", default)


def test_a_cursor_cycle_fails_before_fetching_a_page_twice(http_server, state) -> None:
    following = {"0": "c1", "c1": "c2", "c2": "c1"}  # c1 -> c2 -> c1 -> ...
    http_server.add_route("/cycle-cursor", lambda req: _json({"data": [cursor(req)], "next": following[cursor(req)]}))
    message = loop_message(state, "repeated_request", "/cycle-cursor", records_path="data", pagination=CURSOR)
    assert "cursor=c1" in message and "page 2" in message and "repeated request" in message
    assert http_server.hits("/cycle-cursor") == 3  # start, c1, c2: the repeated c1 is never requested


@pytest.mark.parametrize(
    "pagination",
    [{"type": "page", "page_size": 2, "page_size_param": "per_page"}, {"type": "offset", "limit": 2}],
    ids=["page", "offset"],
)
def test_an_api_ignoring_the_page_parameter_fails_on_the_repeated_page(http_server, state, pagination) -> None:
    http_server.add_route("/same-page", lambda req: _json({"items": [{"id": 1}, {"id": 2}]}))
    message = loop_message(state, "repeated_page", "/same-page", records_path="items", pagination=pagination)
    assert "page 2" in message and "same 2 records as page 1" in message
    assert http_server.hits("/same-page") == 2


def test_the_same_repeated_page_as_ndjson_fails_too(http_server, state) -> None:
    http_server.add_route("/same-ndjson", lambda req: (200, {}, b'{"id": 1}\n{"id": 2}\n'))
    pagination = {"type": "offset", "limit": 2}
    loop_message(state, "repeated_page", "/same-ndjson", response_format="ndjson", pagination=pagination)
    assert http_server.hits("/same-ndjson") == 2


def test_empty_pages_with_new_cursors_are_not_a_loop(http_server, state) -> None:
    """Scanning APIs may return empty pages while they move on: only repeated records count as a loop."""

    def scan(req: Any) -> tuple[int, dict[str, str], bytes]:
        n = int(cursor(req))
        return _json({"data": [{"id": n}] if n in (0, 4) else [], "next": str(n + 1) if n < 4 else None})

    http_server.add_route("/scan", scan)
    records = run(state, endpoint="/scan", records_path="data", pagination=CURSOR)
    assert ids(records) == [0, 4]


def test_a_next_url_cycle_fails(http_server, state) -> None:
    http_server.add_route("/nu/a", lambda req: _json({"results": [{"id": "a"}], "next": "/nu/b"}))
    http_server.add_route("/nu/b", lambda req: _json({"results": [{"id": "b"}], "next": "/nu/a"}))
    pagination = {"type": "next_url", "next_url_path": "next"}
    assert "/nu/a" in loop_message(state, "repeated_request", "/nu/a", records_path="results", pagination=pagination)
    assert http_server.hits("/nu/") == 2


def test_a_link_header_cycle_fails(http_server, state) -> None:
    def link(to: str, record: str) -> Any:
        return lambda req: _json([{"id": record}], {"Link": f'<{http_server.url}{to}>; rel="next"'})

    http_server.add_route("/lk/a", link("/lk/b", "a"))
    http_server.add_route("/lk/b", link("/lk/a", "b"))
    assert "/lk/a" in loop_message(state, "repeated_request", "/lk/a", pagination={"type": "link"})
    assert http_server.hits("/lk/") == 2


def test_max_pages_has_a_finite_default_and_says_it_stopped_the_loop(http_server, state) -> None:
    assert HttpSourceConfig.model_fields["max_pages"].default == DEFAULT_MAX_PAGES == 10_000
    assert HttpSourceConfig(endpoint="/x").max_pages == DEFAULT_MAX_PAGES
    http_server.add_route("/endless", lambda req: _json({"data": [cursor(req)], "next": str(int(cursor(req)) + 1)}))
    records = run(state, endpoint="/endless", records_path="data", pagination=CURSOR, max_pages=5)
    assert records == ["0", "1", "2", "3", "4"] and http_server.hits("/endless") == 5
    assert any("max_pages=5" in line and "rule: max_pages" in line for line in state.log.lines)


def test_the_loop_memory_is_bounded_and_forgets_the_oldest_first() -> None:
    guard = LoopGuard(safe_url=str, memory=3)
    for page in range(1, 5):  # four distinct requests, room for three
        guard.request("http://api/items", {"page": page}, page=page)
    guard.request("http://api/items", {"page": 1}, page=5)  # forgotten: not recognised (max_pages still applies)
    with pytest.raises(PaginationLoopError, match="already fetched as page 5"):
        guard.request("http://api/items", {"page": 1}, page=6)
