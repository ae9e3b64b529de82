"""The cheap request path of ``http.sink`` and the shared client keeps every guarantee it had.

What changed for speed, and what each test pins down:

* concurrency 1 sends in the calling thread (no pool), any other concurrency through the pool;
* the retry loop is built only after a first retryable failure, yet counts, logs and redacts attempts as before;
* URLs are redacted once per client, yet a secret learned later (an OAuth2 token) is still scrubbed;
* batches are encoded by the codec module (its rules for dates and decimals; NaN still refused);
* one TLS context per verify setting, shared by clients, never mixing ``verify=False`` into a verifying client.
"""

from __future__ import annotations

import datetime as dt
import decimal
import http.server
import logging
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowConnectionError, FlowValidationError, HttpError, PartialDeliveryError
from airflow_provider_flow.http.client import HttpClient, shared_ssl_context
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime

FAST = RetrySettings(max_attempts=4, max_elapsed=20, initial_backoff=0.01, max_backoff=0.01, jitter=0)


class Lines:
    """A logger that keeps every formatted line (the client's ``logger``)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, msg: str, *args: object, **kwargs: object) -> None:
        self.lines.append(msg % args)

    debug = info = error = exception = warning


def sink(server_url: str, data: Any, **config: Any) -> dict[str, Any]:
    state = ExecutionState(
        dag_id="d",
        task_id="t",
        run_id="r",
        settings=StaticSettingsProvider(http={"api": HttpSettings(base_url=server_url, retry=FAST)}),
    )
    model = validate_config(HttpSinkConfig, {"http_conn_id": "api", **config})
    result: dict[str, Any] = HttpSinkRuntime().execute(model, data, state)
    return result


@pytest.mark.parametrize(("concurrency", "in_calling_thread"), [(1, True), (3, False)])
def test_concurrency_1_sends_in_the_calling_thread_and_more_through_the_pool(
    fast_server, caplog, concurrency: int, in_calling_thread: bool
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")  # httpx logs each request from the thread that sent it
    records = [{"id": i} for i in range(50)]
    result = sink(fast_server.url, records, endpoint="/sink/s", batch_size=5, max_concurrency=concurrency)
    counts = fast_server.sink_counts("s")
    assert result["accepted_records"] == 50 and counts.records == 50 and counts.requests == 10
    senders = {r.threadName for r in caplog.records if r.name == "httpx" and "POST" in r.getMessage()}
    assert len(caplog.records) >= 10
    if in_calling_thread:
        assert senders == {threading.current_thread().name}
    else:
        assert senders and all(name.startswith("http-sink") for name in senders)


def test_batch_key_batches_reach_the_fast_server_whole(fast_server) -> None:
    records = [{"id": i} for i in range(23)]
    result = sink(fast_server.url, records, endpoint="/sink/s", batch_size=10, batch_key="items")
    assert result == {"accepted_records": 23, "batches": 3, "endpoint": f"{fast_server.url}/sink/s", "method": "POST"}
    assert fast_server.sink_counts("s").records == 23


def test_a_first_failure_starts_the_retry_loop_with_attempts_counted_and_the_url_redacted(http_server) -> None:
    log = Lines()
    settings = HttpSettings(base_url=http_server.url, retry=FAST)
    with HttpClient(settings, logger=log) as client:  # type: ignore[arg-type]
        response = client.request("GET", "/flaky/rp?fail=2&status=503&api_key=S3cretValue")
    assert response.json()["attempt"] == 3 and http_server.hits("/flaky/rp") == 3
    assert [line.split(" failed on ")[1][:14] for line in log.lines] == ["attempt 1 of 4", "attempt 2 of 4"]
    assert all("/flaky/rp" in line and "S3cretValue" not in line for line in log.lines)


def test_an_exhausted_budget_counts_the_first_attempt(http_server) -> None:
    retry = RetrySettings(max_attempts=2, max_elapsed=20, initial_backoff=0.01, max_backoff=0.01, jitter=0)
    with HttpClient(HttpSettings(base_url=http_server.url, retry=retry)) as client, pytest.raises(HttpError) as info:
        client.request("GET", "/flaky/rq?fail=9&status=500")
    assert info.value.details["in_task_attempts"] == 2 and http_server.hits("/flaky/rq") == 2


def test_a_non_retryable_failure_is_raised_at_once_without_an_attempt_count(http_server) -> None:
    with HttpClient(HttpSettings(base_url=http_server.url, retry=FAST)) as client, pytest.raises(HttpError) as info:
        client.request("GET", "/flaky/rn?fail=9&status=400")
    assert not info.value.is_retryable and http_server.hits("/flaky/rn") == 1
    assert "in_task_attempts" not in info.value.details


def test_a_secret_learned_after_the_url_was_redacted_is_scrubbed_from_later_messages(http_server) -> None:
    log = Lines()
    with HttpClient(HttpSettings(base_url=http_server.url, retry=FAST), logger=log) as client:  # type: ignore[arg-type]
        path = "/flaky/rs?fail=1&status=503&who=tok-AbC123xyz"
        assert "tok-AbC123xyz" in client._safe_url(client.url_for(path))  # not a secret yet; now cached
        client._learn_token("tok-AbC123xyz")  # what an OAuth2 token fetch does
        client.request("GET", path)
    assert log.lines and all("tok-AbC123xyz" not in line for line in log.lines)


def test_batches_follow_the_codec_rules_for_dates_and_decimals(http_server) -> None:
    records = [{"id": 1, "at": dt.datetime(2024, 5, 1, 12, 30), "price": decimal.Decimal("1.10"), "name": "Zoë"}]
    sink(http_server.url, records, endpoint="/sink/codec", batch_size=10, max_concurrency=1)
    [batch] = http_server.sink_batches("codec")
    assert batch.records == [{"id": 1, "at": "2024-05-01T12:30:00", "price": "1.10", "name": "Zoë"}]


def test_a_record_the_codec_refuses_names_its_batch_and_is_reported_never_sent(http_server) -> None:
    data = [{"id": i} for i in range(10)] + [{"bad": float("inf")}]
    with pytest.raises(PartialDeliveryError, match=r"between 10 and 10 cannot be sent as JSON \(Out of range") as info:
        sink(http_server.url, data, endpoint="/sink/refused", batch_size=5, max_concurrency=1)
    assert isinstance(info.value.__cause__, FlowValidationError) and info.value.__cause__.field == "data"
    assert info.value.details["never_sent_record_ranges"] == [[10, None]]
    assert sorted(r["id"] for b in http_server.sink_batches("refused") for r in b.records) == list(range(10))


def test_a_list_holding_a_file_reference_still_goes_through_the_reference_checks(http_server) -> None:
    data = [{"id": 1}, {"kind": "file", "path": "a.ndjson", "format": "ndjson"}]
    with pytest.raises(FlowValidationError, match="file reference"):  # checked, not sent as a record
        sink(http_server.url, data, endpoint="/sink/mixed")
    assert http_server.hits("/sink/mixed") == 0


def test_records_that_are_not_dicts_are_sent_as_they_are(http_server) -> None:
    sink(http_server.url, [[1, 2], "text", 3, {"kind": "not-a-file"}], endpoint="/sink/plain", batch_size=10)
    [batch] = http_server.sink_batches("plain")
    assert batch.records == [[1, 2], "text", 3, {"kind": "not-a-file"}]


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate; yields its URL and the certificate."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_shared_tls_contexts_keep_each_verify_setting(tls_server) -> None:
    url, cert = tls_server
    once = RetrySettings(max_attempts=1)
    with HttpClient(HttpSettings(base_url=url, verify=False, retry=once)) as lax:
        assert lax.request("GET", "/").status_code == 200  # a non-verifying context now exists in the process
    with HttpClient(HttpSettings(base_url=url, verify=True, retry=once)) as strict, pytest.raises(FlowConnectionError):
        strict.request("GET", "/")  # ...and is not the one a verifying client gets
    with HttpClient(HttpSettings(base_url=url, verify=str(cert), retry=once)) as pinned:
        assert pinned.request("GET", "/").status_code == 200
    assert shared_ssl_context(True, None, None) is shared_ssl_context(True, None, None)
    assert shared_ssl_context(True, None, None).verify_mode == ssl.CERT_REQUIRED
    assert shared_ssl_context(False, None, None).verify_mode == ssl.CERT_NONE
