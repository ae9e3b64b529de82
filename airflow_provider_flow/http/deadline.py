"""One overall deadline per request that every blocking network operation obeys: connect, TLS, send, headers, body.

httpx's timeouts are per operation, and a read timeout starts afresh with every byte: a server trickling its
status line or headers one byte at a time would hold a worker for as long as it likes, long past ``total``. So the
deadline is enforced below httpx, in the network stream every byte of every request goes through: each operation
gets at most the time left, and once none is left it raises :class:`FlowTimeoutError` naming the phase it was in.

Which deadline applies is held per thread: httpx's sync client does all of a request's I/O in the calling thread,
and the client (``http/client.py``) sets the deadline only around its own blocking calls (:func:`deadline_scope`),
so a suspended generator never leaves one behind for another request. Outside a scope the streams behave exactly
like httpcore's own.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

from airflow_provider_flow.errors import FlowTimeoutError

#: Largest slice handed to one socket write, so a peer that reads slowly cannot stretch one write past the deadline.
_WRITE_SLICE = 64 * 1024

#: What a blocking operation is doing, by operation and by the part of the exchange the client is in.
_DURING = {
    ("connect", "request"): "before the response started, while connecting",
    ("tls", "request"): "before the response started, in the TLS handshake",
    ("write", "request"): "before the response started, while sending the request",
    ("read", "request"): "before the response started, while waiting for or reading the response headers",
    ("read", "body"): "while reading the body",
    ("write", "body"): "while sending the request",
}


@dataclass(frozen=True)
class RequestDeadline:
    """When one request must be done (``at``, monotonic), what it is (``label``: method and redacted URL) and where
    the deadline came from (``source``, e.g. ``total_timeout=2.0s``), for a message that says what to change."""

    at: float
    label: str
    source: str
    seconds: float | None = None

    def left(self) -> float:
        return self.at - time.monotonic()

    def expired(self, during: str) -> FlowTimeoutError:
        return FlowTimeoutError(
            f"{self.label}: the overall deadline ({self.source}) passed {during}; the server is too slow "
            "(raise the deadline only if it is legitimately this slow)",
            phase="deadline",
            timeout_seconds=self.seconds,
            details={"during": during, "deadline": self.source},
        )


_active = threading.local()


@contextmanager
def deadline_scope(deadline: RequestDeadline | None, part: str) -> Iterator[None]:
    """Network operations of this thread obey ``deadline`` inside the block; ``part`` is ``request`` (connect to
    headers) or ``body``. Keep the block to a blocking call: never yield from inside it."""
    previous = getattr(_active, "scope", None)
    _active.scope = (deadline, part) if deadline is not None else None
    try:
        yield
    finally:
        _active.scope = previous


def _clip(timeout: float | None, operation: str) -> float | None:
    """``timeout`` cut to the time left before the active deadline; raises once it has passed."""
    scope = getattr(_active, "scope", None)
    if scope is None:
        return timeout
    deadline, part = scope
    left = deadline.left()
    if left <= 0:
        raise deadline.expired(_DURING.get((operation, part), part))
    return left if timeout is None else min(timeout, left)


@contextmanager
def _deadline_named(operation: str) -> Iterator[None]:
    """A timeout caused by the clipping is the deadline's, and says so (not "read timeout after 30s")."""
    try:
        yield
    except httpcore.TimeoutException:
        scope = getattr(_active, "scope", None)
        if scope is not None and scope[0].left() <= 0.01:
            deadline, part = scope
            raise deadline.expired(_DURING.get((operation, part), part)) from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """httpcore's network stream, each operation bounded by the active deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _deadline_named("read"):
            return self._inner.read(max_bytes, _clip(timeout, "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _deadline_named("write"):
            for start in range(0, len(buffer), _WRITE_SLICE):
                self._inner.write(buffer[start : start + _WRITE_SLICE], _clip(timeout, "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        # CPython bounds a whole handshake by one socket timeout, so clipping it bounds the handshake
        with _deadline_named("tls"):
            return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clip(timeout, "tls")))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Opens connections through ``inner`` (httpcore's own backend) and bounds them by the active deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        with _deadline_named("connect"):
            stream = self._inner.connect_tcp(host, port, _clip(timeout, "connect"), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.NetworkStream:
        with _deadline_named("connect"):
            stream = self._inner.connect_unix_socket(path, _clip(timeout, "connect"), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadline_backend(client: httpx.Client) -> None:
    """Route every connection ``client`` opens (direct or through an environment proxy) through
    :class:`DeadlineBackend`.

    httpx offers no public way to choose httpcore's network backend, so this sets the backend of each transport's
    pool. Should a future httpx lay its transports out differently, this fails loudly here, at client creation,
    rather than leaving header reads silently unbounded (``tests/http/test_hostile_wire.py`` covers it too)."""
    transports = [client._transport, *(t for t in client._mounts.values() if t is not None)]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            raise RuntimeError(
                f"cannot bound header reads by the request deadline: {type(transport).__name__} has no httpcore "
                "connection pool where httpx 0.28 keeps one; check airflow_provider_flow/http/deadline.py "
                "against the installed httpx"
            )
        if not isinstance(backend, DeadlineBackend):
            pool._network_backend = DeadlineBackend(backend)  # type: ignore[union-attr]
