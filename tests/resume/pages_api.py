"""A 10-page API on the shared test server that fails one page once: what a resumed retry must get through."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

from tests.fixtures.http_server import FlowHttpServer, RecordedRequest

PER_PAGE = 5
PAGES = 10
ALL_IDS = list(range(1, PAGES * PER_PAGE + 1))


class PagesApi:
    """``GET <path>?page=N``: ``PER_PAGE`` records per page for pages 1..10, then an empty page; ``fail_page``
    answers 503 on its first ``fail_times`` visits. ``pages_requested`` is the request log, in order.
    ``ndjson_links``: NDJSON pages linked by ``Link`` headers (plus ``link_extra`` in their query) instead."""

    def __init__(
        self,
        server: FlowHttpServer,
        path: str,
        *,
        fail_page: int | None = None,
        fail_times: int = 1,
        ndjson_links: bool = False,
        link_extra: str = "",
    ):
        self.server = server
        self.path = path
        self.ndjson_links = ndjson_links
        self.link_extra = link_extra
        self.fail_page = fail_page
        self.fail_times = fail_times
        self.pages_requested: list[int] = []
        self._lock = threading.Lock()
        self._visits: Counter[int] = Counter()
        server.add_route(path, self._handle)

    def _handle(self, req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        page = int(req.query.get("page", 1))
        with self._lock:
            self.pages_requested.append(page)
            self._visits[page] += 1
            failing = page == self.fail_page and self._visits[page] <= self.fail_times
        if failing:
            return 503, {"Content-Type": "application/json"}, b'{"error": "page unavailable, try again"}'
        first = (page - 1) * PER_PAGE + 1
        count = PER_PAGE if 1 <= page <= PAGES else 0
        if self.ndjson_links:  # NDJSON bodies, the next page in a Link header (absolute URL) up to page 10
            lines = b"".join(json.dumps({"id": i}).encode() + b"\n" for i in range(first, first + count))
            headers = {"Content-Type": "application/x-ndjson"}
            if page < PAGES:
                headers["Link"] = f'<{self.server.url}{self.path}?page={page + 1}{self.link_extra}>; rel="next"'
            return 200, headers, lines
        body: dict[str, Any] = {"items": [{"id": i, "name": f"item-{i}"} for i in range(first, first + count)]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def http_conn(server: FlowHttpServer) -> str:
    """The server as an Airflow connection (JSON for an ``AIRFLOW_CONN_*`` variable)."""
    host, port = server.url.removeprefix("http://").split(":")
    return json.dumps({"conn_type": "http", "host": host, "port": int(port), "schema": "http"})


def run_source(
    server: FlowHttpServer,
    path: str,
    base: str,
    store: Any,
    *,
    try_number: int = 1,
    params: dict[str, Any] | None = None,
) -> Any:
    """One try of an http.source (no Airflow) over ``path`` to ``<base>/items.ndjson``, a retry allowed, with
    ``store`` as the task state store kept across tries (as Airflow keeps it); no HTTP retries inside the try."""
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    settings = HttpSettings(base_url=server.url, retry=RetrySettings(max_attempts=1))
    state = ExecutionState(
        try_number=try_number,
        max_tries=1,
        settings=StaticSettingsProvider(http={"api": settings}),
        task_store=store,
    )
    values = {
        "http_conn_id": "api",
        "endpoint": path,
        "params": params or {},
        "pagination": {"type": "page"},
        "records_path": "items",
        "output_path": "items.ndjson",
        "base_path": base,
    }
    return HttpSourceRuntime().execute(validate_config(HttpSourceConfig, values), None, state)
