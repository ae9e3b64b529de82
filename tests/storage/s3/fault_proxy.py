"""A tiny fault-injecting HTTP proxy in front of the S3 server: forwards every request as is (so signatures made
for the proxy's host still verify), except those a rule picks, which get an S3 error reply instead.

``FaultProxy(upstream).start()``; ``proxy.fail(method="PUT", query="partNumber=2", status=503, code="SlowDown",
times=1)``; a rule's ``hits`` counts the requests it answered. Two more kinds of fault: ``corrupt`` flips one byte
of a request body on its way to the store (bytes damaged in transit), ``tamper`` replaces a header of the store's
reply (a store that reports having received other bytes). ``headers`` keeps each forwarded request's method, path
and header names, lower-cased.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


@dataclass
class Rule:
    method: str
    query: str
    status: int
    code: str
    times: int | None
    hits: int = 0
    action: str = "fail"
    header: str = ""
    value: str = ""


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rules: list[Rule] = []
        self.headers: list[tuple[str, str, frozenset[str]]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self, *, method: str, query: str = "", status: int = 503, code: str = "SlowDown", times: int | None = 1
    ) -> Rule:
        return self._add(Rule(method.upper(), query, status, code, times))

    def corrupt(self, *, method: str, query: str = "", times: int | None = 1) -> Rule:
        return self._add(Rule(method.upper(), query, 0, "", times, action="corrupt"))

    def tamper(self, *, method: str, query: str = "", header: str, value: str, times: int | None = 1) -> Rule:
        return self._add(Rule(method.upper(), query, 0, "", times, action="tamper", header=header.lower(), value=value))

    def _add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    def _pick(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.method == method and rule.query in path and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    return rule
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if not size:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += chunk
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _serve(self) -> None:
                body = self._body()
                rule = proxy._pick(self.command, self.path)
                with proxy.lock:
                    proxy.headers.append((self.command, self.path, frozenset(k.lower() for k in self.headers)))
                if rule is not None and rule.action == "corrupt" and body:
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                if rule is not None and rule.action == "fail":
                    xml = (
                        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule.code}</Code>'
                        f"<Message>injected by the test proxy</Message></Error>"
                    ).encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(xml)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(xml)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    data = reply.read()
                finally:
                    conn.close()
                self.send_response(reply.status)
                head = self.command == "HEAD"  # a HEAD reply's Content-Length is the object's size: keep it
                for key, value in reply.getheaders():
                    if rule is not None and rule.action == "tamper" and key.lower() == rule.header:
                        value = rule.value
                    if key.lower() not in _HOP and (head or key.lower() != "content-length"):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler
