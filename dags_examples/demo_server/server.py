"""A tiny offline API for the examples: sample data, two pagination styles, a sink, and an LLM-style endpoint.

Standard library only (``http.server``, threaded), bound to 127.0.0.1, fully deterministic, so the example DAGs
and the tests run without network access and give the same results every time.

Endpoints
---------
``GET  /api/orders?limit=N&cursor=C``     cursor pagination: ``{"data": [...], "next_cursor": "..."|null}``
                                           (120 orders; ``limit`` default 25, max 100).
``GET  /api/orders/<status>``             the same, only orders with that status (paid, pending, refunded).
``GET  /api/customers?page=P&per_page=N`` Link-header pagination (``Link: <...>; rel="next"``), body a JSON list
                                           (42 customers; ``per_page`` default 10, max 50).
``POST /api/sink/<name>``                 accepts a JSON list or ``{"records": [...]}``; stores records per name;
                                           answers ``{"accepted": n, "total": t}``. An ``Idempotency-Key`` header
                                           seen before is acknowledged without storing the batch again.
``GET  /api/sink/<name>``                 ``{"name": ..., "count": t, "batches": b, "records": [...]}``.
``DELETE /api/sink/<name>``               forget what ``<name>`` received.
``POST /v1/chat/completions``             OpenAI-compatible: a deterministic JSON answer for the record found in
                                           the last user message, shaped by ``response_format.json_schema`` when
                                           given (else ``{"sentiment", "summary"}``).
``GET  /api/products?updated_since=T&limit=N&cursor=C``
                                           an incremental feed: products with ``updated_at >= T`` (ISO 8601),
                                           oldest change first, cursor pagination as for orders. The catalog
                                           changes between syncs: every request without ``cursor`` (a new sync)
                                           first adds 5 products and updates 3 (see :class:`ProductCatalog`).
                                           Every request's query is logged (``DemoState.product_requests``).
``GET  /healthz``                         ``{"ok": true}``.

Run it: ``python dags_examples/demo_server/server.py --port 8765`` (``--port 0`` picks a free port); it prints
``demo server listening on http://127.0.0.1:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ORDER_COUNT = 120
CUSTOMER_COUNT = 42
_STATUSES = ("paid", "paid", "pending", "refunded", "paid")
_CITIES = ("Lisbon", "Oslo", "Kyoto", "Austin", "Nairobi", "Lima")
_PRODUCTS = ("kettle", "lamp", "desk", "chair", "mug", "rug", "shelf")


def order(i: int) -> dict[str, Any]:
    """Order number ``i`` (1-based): the same every time."""
    return {
        "id": i,
        "customer_id": (i * 7) % CUSTOMER_COUNT + 1,
        "status": _STATUSES[i % len(_STATUSES)],
        "product": _PRODUCTS[i % len(_PRODUCTS)],
        "quantity": i % 4 + 1,
        "amount": round(9.5 + (i * 37) % 200 + (i % 10) / 10, 2),
        "currency": "EUR",
        "created_at": f"2024-01-{(i % 28) + 1:02d}T{i % 24:02d}:{(i * 13) % 60:02d}:00Z",
    }


def customer(i: int) -> dict[str, Any]:
    return {"id": i, "name": f"Customer {i:03d}", "city": _CITIES[i % len(_CITIES)], "vip": i % 5 == 0}


def _int(query: dict[str, list[str]], name: str, default: int, *, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[0]
    if not raw.lstrip("-").isdigit():
        raise ValueError(f"query parameter {name!r} must be an integer, got {raw!r}")
    return max(low, min(high, int(raw)))


def _sample_value(schema: dict[str, Any], name: str, seed: int, record: Any) -> Any:
    """A deterministic value that satisfies a (simple) JSON schema."""
    if schema.get("enum"):
        return schema["enum"][seed % len(schema["enum"])]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _sample_value(v, k, seed + n, record) for n, (k, v) in enumerate(props.items())}
    if kind == "array":
        return [_sample_value(schema.get("items", {}), name, seed, record)]
    if kind == "integer":
        return max(int(schema.get("minimum", 0)), min(int(schema.get("maximum", 5)), seed % 6))
    if kind == "number":
        return round(max(float(schema.get("minimum", 0)), min(float(schema.get("maximum", 1)), (seed % 100) / 100)), 2)
    if kind == "boolean":
        return seed % 2 == 0
    text = record.get("text") or record.get("name") or record.get("product") if isinstance(record, dict) else None
    base = f"{name}: {str(text)[:40]}" if text else f"{name} #{seed % 1000}"
    return base[: int(schema.get("maxLength", 200))]


def _find_record(messages: list[dict[str, Any]]) -> Any:
    """The JSON value embedded in the last user message (the record being enriched), if any."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):  # content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        text = str(content or "")
        for start in [m.start() for m in re.finditer(r"[\[{]", text)]:
            try:
                value, _ = json.JSONDecoder().raw_decode(text[start:])
            except ValueError:
                continue
            return value
        return text
    return None


def _find_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return schema
    for tool in body.get("tools") or []:
        params = (tool.get("function") or {}).get("parameters")
        if isinstance(params, dict):
            return params
    return None


PRODUCT_START_COUNT = 30
PRODUCTS_ADDED_PER_SYNC = 5
PRODUCTS_UPDATED_PER_SYNC = 3
_CATALOG_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ProductCatalog:
    """Products that change between syncs, deterministically: the source of the incremental example.

    At step 0 there are 30 products, changed one minute apart. Each :meth:`advance` is one hour later: it adds 5
    products and re-prices 3 existing ones, each change a second apart, so every ``updated_at`` is distinct and
    later than every earlier one (what an ``updated_since`` API promises). Not thread-safe: callers hold the lock.
    """

    def __init__(self) -> None:
        self.step = 0
        self.products: dict[int, dict[str, Any]] = {}
        for i in range(1, PRODUCT_START_COUNT + 1):
            self._put(i, version=1, moment=_CATALOG_EPOCH + timedelta(minutes=i))

    def _put(self, product_id: int, *, version: int, moment: datetime) -> None:
        self.products[product_id] = {
            "id": product_id,
            "name": f"{_PRODUCTS[product_id % len(_PRODUCTS)]} {product_id:03d}",
            "price": round(5 + (product_id * 13 + version * 7) % 90 + 0.99, 2),
            "version": version,
            "updated_at": _stamp(moment),
        }

    def advance(self) -> None:
        self.step += 1
        hour = _CATALOG_EPOCH + timedelta(hours=self.step)
        count = len(self.products)
        changed = sorted({(self.step * 7 + n * 11) % count + 1 for n in range(PRODUCTS_UPDATED_PER_SYNC)})
        for offset, product_id in enumerate(changed):
            version = self.products[product_id]["version"] + 1
            self._put(product_id, version=version, moment=hour + timedelta(seconds=offset))
        for n in range(PRODUCTS_ADDED_PER_SYNC):
            self._put(count + n + 1, version=1, moment=hour + timedelta(seconds=len(changed) + n))

    def changed_since(self, since: str | None) -> list[dict[str, Any]]:
        """Products with ``updated_at >= since`` (every product without ``since``), oldest change first."""
        floor = _parse_instant(since) if since else None
        rows = [p for p in self.products.values() if floor is None or _parse_instant(p["updated_at"]) >= floor]
        return sorted(rows, key=lambda p: (p["updated_at"], p["id"]))


def _parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"updated_since must be an ISO 8601 date-time, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class DemoState:
    """What the sink endpoints received, shared by the server's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.catalog = ProductCatalog()
        self.product_requests: list[dict[str, str]] = []
        """The query of every ``GET /api/products``, in order (the proof of what an incremental run asked)."""
        self.sinks: dict[str, list[Any]] = {}
        self.batches: dict[str, int] = {}
        self.idempotency_keys: set[str] = set()
        self.chat_calls = 0


class DemoHandler(BaseHTTPRequestHandler):
    server_version = "FlowDemo/1.0"
    state: DemoState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # --- helpers -----------------------------------------------------------------------------------------
    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"null")

    def _base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- routes ------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/healthz":
                self._send(200, {"ok": True})
            elif url.path == "/api/orders" or url.path.startswith("/api/orders/"):
                self._orders(query, status=url.path.removeprefix("/api/orders").strip("/") or None)
            elif url.path == "/api/customers":
                self._customers(query)
            elif url.path == "/api/products":
                self._products(query)
            elif url.path.startswith("/api/sink/"):
                name = url.path.removeprefix("/api/sink/")
                with self.state.lock:
                    records = list(self.state.sinks.get(name, []))
                    batches = self.state.batches.get(name, 0)
                self._send(200, {"name": name, "count": len(records), "batches": batches, "records": records})
            else:
                self._send(404, {"error": f"no route {url.path}"})
        except ValueError as exc:
            self._send(400, {"error": str(exc)})

    def _orders(self, query: dict[str, list[str]], *, status: str | None) -> None:
        if status is not None and status not in _STATUSES:
            self._send(404, {"error": f"no order status {status!r}; use one of {sorted(set(_STATUSES))}"})
            return
        limit = _int(query, "limit", 25, low=1, high=100)
        cursor = query.get("cursor", [""])[0]
        start = 0
        if cursor:
            if not re.fullmatch(r"o\d+", cursor):
                raise ValueError(f"bad cursor {cursor!r}")
            start = int(cursor[1:])
        matching = [i for i in range(1, ORDER_COUNT + 1) if status is None or order(i)["status"] == status]
        page = [i for i in matching if i > start][:limit]
        more = bool(page) and page[-1] < matching[-1]
        self._send(200, {"data": [order(i) for i in page], "next_cursor": f"o{page[-1]}" if more else None})

    def _products(self, query: dict[str, list[str]]) -> None:
        limit = _int(query, "limit", 25, low=1, high=100)
        cursor = query.get("cursor", [""])[0]
        if cursor and not re.fullmatch(r"p\d+", cursor):
            raise ValueError(f"bad cursor {cursor!r}")
        since = query.get("updated_since", [None])[0]
        with self.state.lock:
            self.state.product_requests.append({key: values[0] for key, values in query.items()})
            if not cursor:  # a new sync: the catalog moved on since the last one
                self.state.catalog.advance()
            rows = self.state.catalog.changed_since(since)
        start = int(cursor[1:]) if cursor else 0
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        self._send(200, {"data": page, "next_cursor": f"p{start + limit}" if more else None})

    def _customers(self, query: dict[str, list[str]]) -> None:
        page = _int(query, "page", 1, low=1, high=10_000)
        per_page = _int(query, "per_page", 10, low=1, high=50)
        first = (page - 1) * per_page
        items = [customer(i) for i in range(first + 1, min(first + per_page, CUSTOMER_COUNT) + 1)]
        headers = {}
        if first + per_page < CUSTOMER_COUNT:
            nxt = f"{self._base()}/api/customers?{urlencode({'page': page + 1, 'per_page': per_page})}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._send(200, items, headers)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._body()
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return
        if url.path.startswith("/api/sink/"):
            self._sink(url.path.removeprefix("/api/sink/"), body)
        elif url.path in ("/v1/chat/completions", "/chat/completions"):
            self._chat(body)
        else:
            self._send(404, {"error": f"no route {url.path}"})

    def _sink(self, name: str, body: Any) -> None:
        records = body.get("records") if isinstance(body, dict) and "records" in body else body
        if not isinstance(records, list):
            records = [records]
        key = self.headers.get("Idempotency-Key")
        with self.state.lock:
            stored = self.state.sinks.setdefault(name, [])
            if key and key in self.state.idempotency_keys:
                self._send(200, {"accepted": 0, "duplicate": True, "total": len(stored)})
                return
            if key:
                self.state.idempotency_keys.add(key)
            stored.extend(records)
            self.state.batches[name] = self.state.batches.get(name, 0) + 1
            total = len(stored)
        self._send(200, {"accepted": len(records), "total": total})

    def _chat(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send(400, {"error": {"message": "messages is required", "type": "invalid_request_error"}})
            return
        record = _find_record(body["messages"])
        seed = int(hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:8], 16)
        schema = _find_schema(body) or {
            "type": "object",
            "properties": {
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
                "summary": {"type": "string"},
            },
        }
        answer = _sample_value({**schema, "type": "object"}, "answer", seed, record)
        with self.state.lock:
            self.state.chat_calls += 1
            n = self.state.chat_calls
        content = json.dumps(answer)
        self._send(
            200,
            {
                "id": f"chatcmpl-demo-{n}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body.get("model", "demo"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(content) // 4, "total_tokens": 10},
            },
        )

    def do_DELETE(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/api/sink/"):
            name = url.path.removeprefix("/api/sink/")
            with self.state.lock:
                self.state.sinks.pop(name, None)
                self.state.batches.pop(name, None)
            self._send(200, {"name": name, "count": 0})
        else:
            self._send(404, {"error": f"no route {url.path}"})


class DemoServer:
    """The server on a background thread: ``with DemoServer() as s: s.url`` (port 0 = any free port)."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", verbose: bool = False) -> None:
        self.state = DemoState()
        handler = type("BoundDemoHandler", (DemoHandler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.httpd.verbose = verbose  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="flow-demo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline demo API for the airflow-provider-flow examples.")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    server = DemoServer(args.port, verbose=args.verbose)
    print(f"demo server listening on {server.url}", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
