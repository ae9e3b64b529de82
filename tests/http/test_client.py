"""The shared HTTP policy against a real fault-injecting server: retries, Retry-After, timeouts, redaction."""

from __future__ import annotations

import pickle
import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import (
    FlowConnectionError,
    FlowTimeoutError,
    FlowValidationError,
    HttpError,
    InvalidResponseError,
    ResponseTooLargeError,
)
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.failures import parse_retry_after
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings, TimeoutSettings

FAST = RetrySettings(max_attempts=4, max_elapsed=20, initial_backoff=0.05, max_backoff=0.2, jitter=0.05)


def client(server, **kwargs) -> HttpClient:
    settings = HttpSettings(base_url=server.url, retry=kwargs.pop("retry", FAST), **kwargs)
    return HttpClient(settings)


def test_503_twice_then_200_is_retried_within_the_attempt(http_server) -> None:
    with client(http_server) as c:
        response = c.request("GET", "/flaky/a?fail=2&status=503")
    assert response.json()["attempt"] == 3
    assert http_server.hits("/flaky/a") == 3


def test_exhausted_budget_raises_the_retryable_error(http_server) -> None:
    retry = RetrySettings(max_attempts=3, max_elapsed=20, initial_backoff=0.01, max_backoff=0.01, jitter=0)
    with client(http_server, retry=retry) as c, pytest.raises(HttpError) as info:
        c.request("GET", "/flaky/b?fail=10&status=502")
    assert info.value.status_code == 502 and info.value.is_retryable
    assert info.value.details["in_task_attempts"] == 3
    assert http_server.hits("/flaky/b") == 3


def test_429_retry_after_seconds_is_honoured_when_it_fits(http_server) -> None:
    started = time.monotonic()
    with client(http_server) as c:
        response = c.request("GET", "/ratelimit/a?retry_after=1&fail=1")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.95  # waited the server's Retry-After, not the 50 ms backoff
    assert http_server.hits("/ratelimit/a") == 2


def test_429_retry_after_http_date_is_honoured(http_server) -> None:
    with client(http_server) as c:
        response = c.request("GET", "/ratelimit/d?retry_after=1&fail=1&date=1")
    assert response.status_code == 200 and http_server.hits("/ratelimit/d") == 2


def test_429_retry_after_beyond_budget_hands_over_to_airflow_at_once(http_server) -> None:
    retry = RetrySettings(max_attempts=5, max_elapsed=3, initial_backoff=0.01)
    started = time.monotonic()
    with client(http_server, retry=retry) as c, pytest.raises(HttpError) as info:
        c.request("GET", "/ratelimit/long?retry_after=120&fail=5")
    assert time.monotonic() - started < 2
    assert info.value.status_code == 429 and info.value.retry_after == 120 and info.value.is_retryable
    assert http_server.hits("/ratelimit/long") == 1


def test_task_deadline_caps_the_retry_budget(http_server) -> None:
    state = ExecutionState(deadline=time.monotonic() + 2)
    with HttpClient(HttpSettings(base_url=http_server.url), state=state) as c, pytest.raises(HttpError) as info:
        c.request("GET", "/ratelimit/dl?retry_after=5&fail=5")
    assert info.value.retry_after == 5 and http_server.hits("/ratelimit/dl") == 1


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_fail_at_once_with_redacted_url_and_excerpt(http_server, status: int) -> None:
    settings_kwargs = {"bearer_token": "s3cr3t-bearer", "headers": {"X-Api-Key": "k3y-value"}}
    with client(http_server, **settings_kwargs) as c, pytest.raises(HttpError) as info:
        c.request("GET", f"/status/{status}?token=qs-t0ken&page=2")
    err = info.value
    assert err.status_code == status and not err.is_retryable
    assert http_server.hits(f"/status/{status}") == 1
    assert "token=%2A%2A%2A" in err.url or "token=***" in err.url
    assert "page=2" in err.url
    text = str(err) + repr(err.details) + err.body_excerpt
    assert "qs-t0ken" not in text and "s3cr3t-bearer" not in text  # the server echoed the Authorization header
    assert f"status {status} from the test server" in err.body_excerpt
    clone = pickle.loads(pickle.dumps(err))
    assert clone.status_code == status and clone.url == err.url


def test_slow_response_is_a_read_timeout(http_server) -> None:
    timeout = TimeoutSettings(connect=2, read=0.3, write=2, pool=2, total=10)
    with (
        client(http_server, timeout=timeout, retry=RetrySettings(max_attempts=1)) as c,
        pytest.raises(FlowTimeoutError) as info,
    ):
        c.request("GET", "/slow?delay=1.5")
    assert info.value.phase == "read" and info.value.is_retryable and info.value.timeout_seconds == 0.3


def test_trickling_body_hits_the_overall_deadline_not_the_read_timeout(http_server) -> None:
    timeout = TimeoutSettings(connect=2, read=1, write=2, pool=2, total=1.0)
    started = time.monotonic()
    with (
        client(http_server, timeout=timeout, retry=RetrySettings(max_attempts=1)) as c,
        pytest.raises(FlowTimeoutError) as info,
    ):
        c.request("GET", "/trickle?chunks=100&interval=0.1")  # 10 s in all, 0.1 s per byte
    assert info.value.phase == "deadline"
    assert time.monotonic() - started < 3


def test_connection_dropped_mid_body_is_a_connection_error(http_server) -> None:
    with (
        client(http_server, retry=RetrySettings(max_attempts=2, initial_backoff=0.01)) as c,
        pytest.raises(FlowConnectionError) as info,
    ):
        c.request("GET", "/drop?size=200000")
    assert info.value.is_retryable
    assert http_server.hits("/drop") == 2  # retried once, dropped again


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = HttpSettings(base_url=f"http://user:pw-secret@127.0.0.1:{port}", retry=RetrySettings(max_attempts=1))
    with HttpClient(settings) as c, pytest.raises(FlowConnectionError) as info:
        c.request("GET", "/x")
    assert "pw-secret" not in str(info.value) and "pw-secret" not in str(info.value.url)


def test_max_response_bytes_guard(http_server) -> None:
    with client(http_server) as c, pytest.raises(ResponseTooLargeError) as info:
        c.request("GET", "/ndjson?records=5000", max_response_bytes=10_000)
    assert "max_response_bytes=10000" in str(info.value) and not info.value.is_retryable


def test_post_json_and_auth_headers(http_server) -> None:
    with client(http_server, auth=("alice", "pw"), headers={"X-Trace": "1"}) as c:
        echoed = c.post_json("/echo", {"hello": "world"})
    assert echoed["method"] == "POST" and echoed["body"] == '{"hello":"world"}'
    assert echoed["headers"]["authorization"].startswith("Basic ")
    assert echoed["headers"]["x-trace"] == "1"
    with client(http_server, bearer_token="tok") as c:
        assert c.post_json("/echo", {})["headers"]["authorization"] == "Bearer tok"


def test_non_json_body_is_an_invalid_response(http_server) -> None:
    with client(http_server) as c, pytest.raises(InvalidResponseError):
        c.request("GET", "/ndjson?records=3").json()


def test_streaming_lines_and_link_header(http_server) -> None:
    with client(http_server) as c:
        with c.stream("GET", "/ndjson?records=2500") as response:
            lines = list(response.iter_lines())
        assert len(lines) == 2500 and lines[-1].startswith(b'{"id": 2500')
        first = c.request("GET", "/link/items?page=1")
    assert first.links["next"] == http_server.url_for("/link/items?page=2")


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("3") == 3 and parse_retry_after("1.5") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    # a broken API must not overflow the Airflow retry delay (timedelta) downstream
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    assert parse_retry_after("1e20") == 86400
    assert parse_retry_after("Mon, 32 Jan 2024 00:00:00 GMT") is None


def test_settings_list_secrets_and_never_print_them() -> None:
    settings = HttpSettings(
        base_url="https://u:url-pw@api.test/v1?api_key=qk",
        auth=("u", "basic-pw"),
        bearer_token="tok-1",
        headers={"X-API-Key": "hdr-key", "Accept": "application/json"},
    )
    assert set(settings.secret_values()) == {"url-pw", "qk", "basic-pw", "dTpiYXNpYy1wdw==", "tok-1", "hdr-key"}
    assert not any(s in repr(settings) for s in settings.secret_values())
    assert HttpSettings(base_url="http://h/v1/").url_for("/items") == "http://h/v1/items"
    assert HttpSettings(base_url="http://h").url_for("http://other/x") == "http://other/x"
    assert HttpSettings(base_url="http://h").url_for("/go?next=https://x/y") == "http://h/go?next=https://x/y"


def test_redirect_to_another_origin_never_carries_credential_headers(http_server) -> None:
    port = http_server.url.rsplit(":", 1)[1]
    http_server.add_route("/away", lambda req: (302, {"Location": f"http://localhost:{port}/echo"}, b""))
    http_server.add_route("/home", lambda req: (302, {"Location": "/echo"}, b""))
    with client(http_server, headers={"X-API-Key": "k3y-value"}) as c:
        assert c.request("GET", "/home").json()["headers"]["x-api-key"] == "k3y-value"  # same origin: followed
        assert "x-api-key" not in c.request("GET", "/away").json()["headers"]  # another origin: dropped
    with client(http_server) as c:  # no credential header: following is harmless
        assert c.request("GET", "/away").json()["path"] == "/echo"


@pytest.mark.parametrize("where", ["request_total", "task_deadline"])
def test_silent_server_is_cut_off_at_the_deadline_not_after_the_read_timeout(http_server, where: str) -> None:
    # The server sends nothing for 3 s; the read timeout (30 s) alone would wait for it.
    if where == "request_total":
        timeout = TimeoutSettings(connect=2, read=30, write=2, pool=2, total=0.5)
        c = client(http_server, timeout=timeout, retry=RetrySettings(max_attempts=1))
    else:
        c = HttpClient(HttpSettings(base_url=http_server.url), state=ExecutionState(deadline=time.monotonic() + 0.5))
    started = time.monotonic()
    with c, pytest.raises(FlowTimeoutError) as info:
        c.request("GET", "/slow?delay=3")
    assert info.value.phase == "deadline" and "before the response started" in str(info.value)
    assert time.monotonic() - started < 2


def test_non_json_success_body_never_echoes_a_secret(http_server) -> None:
    http_server.add_route("/echo-key", lambda req: (200, {}, b"oops " + req.headers["authorization"].encode()))
    with client(http_server, bearer_token="s3cr3t-bearer") as c, pytest.raises(InvalidResponseError) as info:
        c.request("GET", "/echo-key?x=1").json()
    assert "s3cr3t-bearer" not in str(info.value) and "oops Bearer ***" in str(info.value)
    with client(http_server, bearer_token="s3cr3t-bearer") as c:
        shown = repr(c.request("GET", "/echo-key?api_key=qs-K3y"))
    assert "s3cr3t-bearer" not in shown and "qs-K3y" not in shown and "/echo-key" in shown


def test_undecodable_body_is_an_invalid_response_not_retried(http_server) -> None:
    http_server.add_route("/badgzip", lambda req: (200, {"Content-Encoding": "gzip"}, b"not gzip at all"))
    with client(http_server) as c, pytest.raises(InvalidResponseError, match="cannot be decoded") as info:
        c.request("GET", "/badgzip")
    assert not info.value.is_retryable and http_server.hits("/badgzip") == 1


def test_iter_lines_joins_a_line_spread_over_many_chunks(http_server) -> None:
    long_line = b'{"pad": "' + b"y" * 3_000_000 + b'"}'
    http_server.add_route("/longline", lambda req: (200, {}, b"a\n\n" + long_line + b"\nlast"))
    with client(http_server) as c, c.stream("GET", "/longline") as response:
        assert list(response.iter_lines()) == [b"a", b"", long_line, b"last"]


def test_a_nodes_own_credential_headers_are_scrubbed_and_never_redirected(http_server) -> None:
    http_server.add_route("/keyecho400", lambda req: (400, {}, f"bad key {req.headers['x-api-key']}".encode()))
    port = http_server.url.rsplit(":", 1)[1]
    http_server.add_route("/away", lambda req: (302, {"Location": f"http://localhost:{port}/echo"}, b""))
    with client(http_server) as c:  # the connection has no credential; the node passes its own header
        with pytest.raises(HttpError) as info:
            c.request("GET", "/keyecho400", headers={"X-API-Key": "node-K3y-value"})
        assert "node-K3y-value" not in str(info.value) and "bad key ***" in info.value.body_excerpt
        arrived = c.request("GET", "/away", headers={"X-Auth-Token": "node-T0ken"}).json()["headers"]
    assert "x-auth-token" not in arrived  # dropped on the hop to another origin


def test_non_ascii_header_value_is_a_validation_error_not_retried(http_server) -> None:
    with client(http_server) as c, pytest.raises(FlowValidationError, match="not ASCII") as info:
        c.request("GET", "/echo", headers={"X-Name": "Zoë"})
    assert info.value.field == "headers" and http_server.hits("/echo") == 0


def test_retry_after_beyond_what_is_left_of_the_budget_is_logged_as_a_handover(http_server) -> None:
    lines: list[str] = []

    class Log:
        def warning(self, msg: str, *args: object) -> None:
            lines.append(msg % args)

        debug = info = error = exception = warning

    settings = HttpSettings(base_url=http_server.url, retry=RetrySettings(max_attempts=5, max_elapsed=1.5))
    with HttpClient(settings, logger=Log()) as c, pytest.raises(HttpError) as info:  # type: ignore[arg-type]
        c.request("GET", "/ratelimit/left?retry_after=1&fail=5")  # waits 1 s once, then 1 s > the 0.5 s left
    assert info.value.retry_after == 1 and http_server.hits("/ratelimit/left") == 2
    assert any("handing over to an Airflow retry" in line for line in lines)
