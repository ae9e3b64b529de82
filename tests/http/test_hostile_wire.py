"""Hostile servers on the wire: decompression bombs, trickled headers and TLS, and size hints that fit the case.

Every case runs against a real loopback server (``tests/fixtures/hostile_wire_server.py``) that writes exactly the
bytes a hostile or broken server would. Memory is measured with tracemalloc (it sees zlib's buffers too), time
only with bounds generous enough for a loaded two-core machine.
"""

from __future__ import annotations

import json
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowTimeoutError, HttpError, InvalidResponseError, ResponseTooLargeError
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings, TimeoutSettings
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from tests.fixtures.hostile_wire_server import (
    HostileWireServer,
    WireRequest,
    gzip_layer,
    gzip_of_zeros,
    send_response,
    stacked_gzip_bomb,
    trickle,
)

ONCE = RetrySettings(max_attempts=1, max_elapsed=5)
MiB = 1024 * 1024


def client(server: HostileWireServer, *, total: float | None = 30.0, scheme: str = "http") -> HttpClient:
    timeout = TimeoutSettings(connect=5, read=30, write=5, pool=5, total=total)
    base = server.url.replace("http://", f"{scheme}://")
    return HttpClient(HttpSettings(base_url=base, retry=ONCE, timeout=timeout, verify=False))


def serve(body: bytes, *, encoding: str | None = None, status: str = "200 OK") -> Callable[..., None]:
    headers = {"content-type": "application/json"}
    if encoding is not None:
        headers["content-encoding"] = encoding
    return lambda conn, request: send_response(conn, body, status=status, headers=headers)


def peak_memory(fn: Callable[[], Any]) -> tuple[int, BaseException | None]:
    """Peak bytes traced while ``fn`` runs, and what it raised."""
    tracemalloc.start()
    try:
        fn()
        raised = None
    except Exception as exc:  # returned to the test, which asserts on it
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


# -- decompression bombs -------------------------------------------------------------------------------------------

BOMB_LAYERS = 10
BOMB = stacked_gzip_bomb(2 * 1024 * MiB, BOMB_LAYERS)  # 2 GiB of zeros in a few hundred bytes


def test_stacked_gzip_bomb_stops_at_the_limit_with_bounded_memory(wire_server) -> None:
    assert len(BOMB) < 2048
    wire_server.route("/bomb", serve(BOMB, encoding=", ".join(["gzip"] * BOMB_LAYERS)))
    with client(wire_server) as c:
        peak, raised = peak_memory(lambda: c.request("GET", "/bomb", max_response_bytes=8 * MiB))
    assert isinstance(raised, ResponseTooLargeError), raised
    assert "max_response_bytes=8388608" in str(raised) and not raised.is_retryable
    assert peak < 64 * MiB, f"peak {peak / MiB:.1f} MiB while decoding a bomb"


def test_stacked_gzip_bomb_in_a_streamed_response_stops_at_the_limit(wire_server) -> None:
    wire_server.route("/bomb", serve(BOMB, encoding=", ".join(["gzip"] * BOMB_LAYERS)))
    seen = 0

    def read() -> None:
        nonlocal seen
        with client(wire_server) as c, c.stream("GET", "/bomb", max_response_bytes=8 * MiB) as response:
            for chunk in response.iter_bytes():
                seen += len(chunk)

    peak, raised = peak_memory(read)
    assert isinstance(raised, ResponseTooLargeError), raised
    assert 8 * MiB - 256 * 1024 <= seen <= 8 * MiB  # every byte up to the limit was handed out, none past it
    assert peak < 64 * MiB, f"peak {peak / MiB:.1f} MiB while streaming a bomb"


def test_bomb_in_an_error_body_costs_no_memory_and_keeps_the_status(wire_server) -> None:
    wire_server.route("/bomb", serve(BOMB, encoding=", ".join(["gzip"] * BOMB_LAYERS), status="503 Unavailable"))
    with client(wire_server) as c:
        peak, raised = peak_memory(lambda: c.request("GET", "/bomb"))
    assert isinstance(raised, HttpError) and raised.status_code == 503 and raised.is_retryable, raised
    assert peak < 64 * MiB, f"peak {peak / MiB:.1f} MiB while reading an error excerpt"


@pytest.mark.parametrize("max_response_bytes", [8 * MiB, None], ids=["limit", "no-limit"])
def test_bomb_in_a_redirect_body_is_not_held_in_memory(wire_server, max_response_bytes) -> None:
    redirect = {"content-encoding": ", ".join(["gzip"] * BOMB_LAYERS), "location": "/ok"}
    wire_server.route("/moved", lambda conn, request: send_response(conn, BOMB, status="302 Found", headers=redirect))
    wire_server.route("/ok", serve(b'{"ok": true}'))
    with client(wire_server) as c:
        peak, raised = peak_memory(lambda: c.request("GET", "/moved", max_response_bytes=max_response_bytes).json())
    assert raised is None, raised
    assert peak < 64 * MiB, f"peak {peak / MiB:.1f} MiB while following a redirect"


def test_small_limit_never_hides_an_error_status(wire_server) -> None:
    wire_server.route("/busy", serve(gzip_layer(b"busy " * 100), encoding="gzip", status="503 Unavailable"))
    with client(wire_server) as c, pytest.raises(HttpError) as info:
        c.request("GET", "/busy", max_response_bytes=100)
    assert info.value.status_code == 503 and info.value.is_retryable


def test_single_gzip_body_over_the_limit(wire_server) -> None:
    wire_server.route("/big", serve(gzip_of_zeros(32 * MiB), encoding="gzip"))
    with client(wire_server) as c, pytest.raises(ResponseTooLargeError, match="max_response_bytes=1048576"):
        c.request("GET", "/big", max_response_bytes=1 * MiB)


def test_legit_multi_layer_body_decodes_exactly(wire_server) -> None:
    payload = json.dumps([{"id": i, "name": f"record {i}" * 20} for i in range(5000)]).encode()
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    # applied in header order: zlib-wrapped deflate, gzip, then raw deflate (the fallback some servers send)
    body = zlib.compress(payload)
    body = gzip_layer(body)
    body = raw_deflate.compress(body) + raw_deflate.flush()
    wire_server.route("/layers", serve(body, encoding="deflate, identity, gzip, deflate"))
    with client(wire_server) as c:
        response = c.request("GET", "/layers", max_response_bytes=len(payload))
    assert response.content == payload
    assert len(response.json()) == 5000


def test_unsupported_encoding_is_a_clear_non_retryable_error(wire_server) -> None:
    wire_server.route("/br", serve(b"\x0b\x02\x80[]\x03", encoding="br"))
    with client(wire_server) as c, pytest.raises(InvalidResponseError) as info:
        c.request("GET", "/br")
    assert not info.value.is_retryable
    assert "'br'" in str(info.value) and "gzip, deflate" in str(info.value)


def test_only_decodable_encodings_are_advertised(wire_server) -> None:
    wire_server.route("/echo", serve(b"{}"))
    with client(wire_server) as c:
        c.request("GET", "/echo")
    assert wire_server.requests[-1].headers["accept-encoding"] == "gzip, deflate"


# -- slow headers: the overall deadline covers every phase ------------------------------------------------------


def _trickled_headers(conn: socket.socket, request: WireRequest) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    trickle(conn, b"x-slow: " + b"a" * 100 + b"\r\ncontent-length: 2\r\n\r\n[]", interval=0.2)  # ~20 s


def _trickled_body(conn: socket.socket, request: WireRequest) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
    trickle(conn, b"[" + b" " * 98 + b"]", interval=0.2)  # ~20 s


@pytest.mark.parametrize(
    ("handler", "during"), [(_trickled_headers, "response headers"), (_trickled_body, "body")], ids=["headers", "body"]
)
def test_trickled_response_hits_the_overall_deadline(wire_server, handler, during) -> None:
    wire_server.route("/slow", handler)
    started = time.monotonic()
    with client(wire_server, total=1.0) as c, pytest.raises(FlowTimeoutError) as info:
        c.request("GET", "/slow")
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"held {elapsed:.1f}s past total_timeout=1"
    assert info.value.is_retryable and info.value.phase == "deadline"
    assert during in str(info.value) and "1.0s" in str(info.value)


def test_slowly_read_request_body_hits_the_overall_deadline(wire_server) -> None:
    def slow_reader(conn: socket.socket, request: WireRequest) -> None:
        while conn.recv(4096):  # ~80 KB/s: 8 MB would take ~100 s
            time.sleep(0.05)

    wire_server.route("/upload", slow_reader)
    started = time.monotonic()
    with client(wire_server, total=1.0) as c, pytest.raises(FlowTimeoutError, match="sending the request"):
        c.request("POST", "/upload", content=b"x" * (8 * MiB))
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"held {elapsed:.1f}s past total_timeout=1"


def test_trickled_headers_hit_the_task_deadline(wire_server) -> None:
    wire_server.route("/slow", _trickled_headers)
    timeout = TimeoutSettings(connect=5, read=30, write=5, pool=5, total=None)
    settings = HttpSettings(base_url=wire_server.url, retry=ONCE, timeout=timeout)
    state = ExecutionState(deadline=time.monotonic() + 1.0)
    started = time.monotonic()
    with HttpClient(settings, state=state) as c, pytest.raises(FlowTimeoutError, match="response headers"):
        c.request("GET", "/slow")
    assert time.monotonic() - started < 5


def test_trickled_tls_handshake_hits_the_overall_deadline(wire_server) -> None:
    def slow_server_hello(conn: socket.socket) -> None:
        conn.recv(65536)  # the ClientHello
        conn.sendall(b"\x16\x03\x03\x40\x00")  # a 16 KiB handshake record announced...
        trickle(conn, b"\x02" * 200, interval=0.2)  # ...and trickled

    wire_server.raw = slow_server_hello
    started = time.monotonic()
    with client(wire_server, total=1.0, scheme="https") as c, pytest.raises(FlowTimeoutError) as info:
        c.request("GET", "/tls")
    assert time.monotonic() - started < 5
    assert "TLS handshake" in str(info.value)


# -- a ResponseTooLargeError's hint fits the case ------------------------------------------------------------------


def _source_state(server: HostileWireServer) -> ExecutionState:
    settings = HttpSettings(base_url=server.url, retry=ONCE)
    return ExecutionState(settings=StaticSettingsProvider(http={"api": settings}))


def _run_source(server: HostileWireServer, **config: Any) -> Any:
    model = validate_config(
        HttpSourceConfig, {"http_conn_id": "api", "endpoint": "/big", "max_response_bytes": 1000, **config}
    )
    return HttpSourceRuntime().execute(model, None, _source_state(server))


@pytest.mark.parametrize("response_format", ["json", "ndjson"])
def test_too_large_hint_with_output_path_does_not_advise_output_path(wire_server, tmp_path: Path, response_format):
    wire_server.route("/big", serve(b"\n".join(b'{"id": %d}' % i for i in range(1000))))
    with pytest.raises(ResponseTooLargeError) as info:
        _run_source(wire_server, output_path="out.ndjson", base_path=str(tmp_path), response_format=response_format)
    message = str(info.value)
    assert "set output_path" not in message and "with output_path" not in message
    assert "max_response_bytes=1000" in message and "already" in message and "page" in message


def test_too_large_hint_without_output_path_advises_it(wire_server) -> None:
    wire_server.route("/big", serve(b"[" + b" " * 5000 + b"]"))
    with pytest.raises(ResponseTooLargeError, match="output_path") as info:
        _run_source(wire_server)
    assert "max_response_bytes=1000" in str(info.value)
