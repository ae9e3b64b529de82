"""OAuth2 client credentials on the real token endpoint and API of ``tests/fixtures/oauth2_server.py``: one token
shared by concurrent requests, refreshed before expiry (also during a long ``http.source`` pagination), one refresh
on a 401, token-endpoint errors classified, and neither the client secret nor a token in any error text."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import HttpError, InvalidResponseError, OAuth2TokenError
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.oauth2 import check_token, refresh_margin
from airflow_provider_flow.http.settings import HttpSettings, OAuth2Settings, RetrySettings
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime
from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime
from tests.fixtures.oauth2_server import CLIENT_SECRET, OAuth2Server
from tests.test_secret_values import encodings

FAST = RetrySettings(max_attempts=4, max_elapsed=30, initial_backoff=0.01, max_backoff=0.05, jitter=0)


def settings_for(server: OAuth2Server, **oauth2: Any) -> HttpSettings:
    credentials = OAuth2Settings(
        token_url=server.token_url, client_id=server.client_id, client_secret=server.client_secret
    )
    return HttpSettings(base_url=server.url, retry=FAST, oauth2=replace(credentials, **oauth2))


def token_count(server: OAuth2Server) -> int:
    return len(server.token_requests)


def assert_no_secret(text: str, tokens: list[str]) -> None:
    for secret in (CLIENT_SECRET, *tokens):
        for name, form in encodings(secret).items():
            assert form not in text, f"{name} form of a secret in: {text}"


def test_one_token_is_fetched_and_shared_by_concurrent_requests(oauth2_server: OAuth2Server) -> None:
    oauth2_server.token_delay = 0.3  # every thread arrives while the first fetch is still running
    threads, barrier = 8, threading.Barrier(8)
    statuses: list[int] = []
    with HttpClient(settings_for(oauth2_server), max_connections=threads) as client:

        def call() -> None:
            barrier.wait()
            statuses.append(client.request("GET", "/api/items?pages=1").status_code)

        workers = [threading.Thread(target=call) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert statuses == [200] * threads
    assert token_count(oauth2_server) == 1
    assert {token for _, token, _ in oauth2_server.api_requests} == set(oauth2_server.issued)


def test_sink_batches_sent_in_parallel_share_one_token(oauth2_server: OAuth2Server) -> None:
    oauth2_server.token_delay = 0.3
    state = ExecutionState(settings=StaticSettingsProvider(http={"api": settings_for(oauth2_server)}))
    config = validate_config(
        HttpSinkConfig, {"http_conn_id": "api", "endpoint": "/api/sink", "batch_size": 10, "max_concurrency": 4}
    )
    result = HttpSinkRuntime().execute(config, [{"id": i} for i in range(80)], state)
    assert result["accepted_records"] == 80 and result["batches"] == 8
    assert token_count(oauth2_server) == 1
    assert [(token, status) for _, token, status in oauth2_server.api_requests] == [(oauth2_server.issued[0], 200)] * 8


def test_a_sink_batch_whose_token_request_dropped_was_never_sent(oauth2_server: OAuth2Server) -> None:
    """No idempotency key, no resend_unknown: a batch the API may hold is never resent. A dropped token request
    happens before the batch leaves, so the batch is retried, not reported as unknown."""
    oauth2_server.fail_token(0)
    state = ExecutionState(settings=StaticSettingsProvider(http={"api": settings_for(oauth2_server)}))
    config = validate_config(HttpSinkConfig, {"http_conn_id": "api", "endpoint": "/api/sink", "batch_size": 10})
    result = HttpSinkRuntime().execute(config, [{"id": i} for i in range(10)], state)
    assert result["accepted_records"] == 10 and token_count(oauth2_server) == 2


def test_the_token_is_requested_as_configured(oauth2_server: OAuth2Server) -> None:
    post = settings_for(oauth2_server, scopes=("read", "write"), audience="https://api.example")
    basic = settings_for(oauth2_server, token_auth_method="client_secret_basic")
    for settings in (post, basic):
        with HttpClient(settings) as client:
            assert client.request("GET", "/api/items?pages=1").status_code == 200
    sent_post, sent_basic = oauth2_server.token_requests
    assert sent_post.form == {
        "grant_type": "client_credentials",
        "client_id": oauth2_server.client_id,
        "client_secret": CLIENT_SECRET,
        "scope": "read write",
        "audience": "https://api.example",
    }
    assert sent_basic.form == {"grant_type": "client_credentials"}
    assert sent_basic.headers["authorization"].startswith("Basic ")


def test_the_token_is_refreshed_before_it_expires(oauth2_server: OAuth2Server) -> None:
    oauth2_server.lifetime = 1.0  # refreshed after 0.9 s
    with HttpClient(settings_for(oauth2_server)) as client:
        client.request("GET", "/api/items?pages=1")
        client.request("GET", "/api/items?pages=1")
        assert token_count(oauth2_server) == 1
        time.sleep(1.0 - refresh_margin(1.0) + 0.05)
        client.request("GET", "/api/items?pages=1")
    assert token_count(oauth2_server) == 2
    assert [status for _, _, status in oauth2_server.api_requests] == [200, 200, 200]  # never a 401 first


def test_a_token_expiring_during_a_long_pagination_is_refreshed_not_fetched_per_page(
    oauth2_server: OAuth2Server,
) -> None:
    oauth2_server.lifetime = 1.0
    pages = 8
    state = ExecutionState(settings=StaticSettingsProvider(http={"api": settings_for(oauth2_server)}))
    config = validate_config(
        HttpSourceConfig,
        {
            "http_conn_id": "api",
            "endpoint": f"/api/items?pages={pages}&delay=0.3",  # 8 pages x 0.3 s: the token expires twice
            "records_path": "items",
            "pagination": {"type": "next_url", "next_url_path": "next"},
        },
    )
    records = HttpSourceRuntime().execute(config, None, state)
    assert [r["id"] for r in records] == list(range(1, 2 * pages + 1))
    assert [status for _, _, status in oauth2_server.api_requests] == [200] * pages  # every page, first time
    assert 2 <= token_count(oauth2_server) < pages


def test_a_401_refreshes_the_token_once_and_resends(oauth2_server: OAuth2Server) -> None:
    with HttpClient(settings_for(oauth2_server)) as client:
        client.request("GET", "/api/items?pages=1")
        oauth2_server.revoke()  # the API forgets the token before it expires
        assert client.request("GET", "/api/items?pages=1").status_code == 200
    first, second = oauth2_server.issued
    assert [(token, status) for _, token, status in oauth2_server.api_requests] == [
        (first, 200),
        (first, 401),
        (second, 200),
    ]


def test_a_second_401_is_the_apis_answer(oauth2_server: OAuth2Server) -> None:
    with HttpClient(settings_for(oauth2_server)) as client, pytest.raises(HttpError) as info:
        client.request("GET", "/api/always401")
    assert info.value.status_code == 401 and not info.value.is_retryable
    assert token_count(oauth2_server) == 2 and len(oauth2_server.api_requests) == 2
    assert_no_secret(str(info.value), oauth2_server.issued)


def test_a_bad_secret_fails_at_once_naming_the_endpoints_error(oauth2_server: OAuth2Server) -> None:
    wrong = "wrong-Secret-9876"
    with (
        HttpClient(settings_for(oauth2_server, client_secret=wrong)) as client,
        pytest.raises(OAuth2TokenError) as info,
    ):
        client.request("GET", "/api/items")
    err = info.value
    message = str(err)
    assert not err.is_retryable and err.status_code == 401
    assert token_count(oauth2_server) == 1 and oauth2_server.api_requests == []
    assert oauth2_server.token_url in message and "invalid_client" in message and "client_secret" in message
    assert "Client authentication failed" in message  # the endpoint's error_description...
    for name, form in encodings(wrong).items():  # ...which echoed the secret: scrubbed
        assert form not in message and form not in repr(err.to_dict()), name


@pytest.mark.parametrize("status", [400, 403])
def test_a_refused_client_fails_at_once_with_the_endpoints_error(oauth2_server: OAuth2Server, status: int) -> None:
    said = {"error": "invalid_client", "error_description": f"unknown client secret {CLIENT_SECRET}"}
    oauth2_server.fail_token(status, body=said)
    with HttpClient(settings_for(oauth2_server)) as client, pytest.raises(OAuth2TokenError) as info:
        client.request("GET", "/api/items")
    assert not info.value.is_retryable and info.value.status_code == status and token_count(oauth2_server) == 1
    assert "invalid_client (unknown client secret ***)" in str(info.value)
    assert_no_secret(str(info.value), [])


def test_a_redirect_to_another_origin_gets_no_token_and_its_401_is_not_refreshed(
    oauth2_server: OAuth2Server, http_server: Any
) -> None:
    with HttpClient(settings_for(oauth2_server)) as client:
        echoed = client.request("GET", "/api/redirect", params={"to": http_server.url_for("/echo")}).json()
        assert "authorization" not in echoed["headers"]
        with pytest.raises(HttpError) as info:
            client.request("GET", "/api/redirect", params={"to": http_server.url_for("/status/401")})
    assert info.value.status_code == 401 and '"echo_auth": null' in info.value.body_excerpt
    assert token_count(oauth2_server) == 1  # the other origin's 401 is not the token's fault
    assert [status for _, _, status in oauth2_server.api_requests] == [200, 200]


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(500, None), (503, None), (429, 0.2), (0, None)],
    ids=["500", "503", "429-retry-after", "dropped-connection"],
)
def test_a_failing_token_endpoint_is_retried(oauth2_server: OAuth2Server, status: int, retry_after: float) -> None:
    oauth2_server.fail_token(status, retry_after=retry_after)
    with HttpClient(settings_for(oauth2_server)) as client:
        assert client.request("GET", "/api/items?pages=1").status_code == 200
    assert token_count(oauth2_server) == 2 and len(oauth2_server.api_requests) == 1


def test_a_long_retry_after_is_handed_over_with_its_delay(oauth2_server: OAuth2Server) -> None:
    oauth2_server.fail_token(429, retry_after=3600)
    with HttpClient(settings_for(oauth2_server)) as client, pytest.raises(OAuth2TokenError) as info:
        client.request("GET", "/api/items")
    assert info.value.is_retryable and info.value.retry_after == 3600 and "Retry-After: 3600s" in str(info.value)
    assert token_count(oauth2_server) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"token_type": "Bearer", "expires_in": 60}, "without an 'access_token' (reply keys: ['expires_in'"),
        ({"access_token": ""}, "without an 'access_token'"),
    ],
)
def test_a_reply_without_a_token_fails_at_once(oauth2_server: OAuth2Server, body: dict[str, Any], expected: str):
    oauth2_server.fail_token(200, body=body)
    with HttpClient(settings_for(oauth2_server)) as client, pytest.raises(InvalidResponseError) as info:
        client.request("GET", "/api/items")
    assert expected in str(info.value) and not info.value.is_retryable and token_count(oauth2_server) == 1


def test_a_token_fetched_at_run_time_is_scrubbed_and_reported(oauth2_server: OAuth2Server) -> None:
    learnt: list[str] = []
    settings = replace(settings_for(oauth2_server), on_secret=learnt.append)
    with HttpClient(settings) as client:
        response = client.request("GET", "/api/echo-text")  # a 2xx body echoing the token, and not JSON
        with pytest.raises(InvalidResponseError) as info:
            response.json()
    assert learnt == oauth2_server.issued and len(learnt) == 1
    assert "hello ***" in str(info.value)
    assert_no_secret(str(info.value) + repr(response), learnt)


def test_check_token_fetches_one_token_or_reports_the_classified_error(oauth2_server: OAuth2Server) -> None:
    assert check_token(settings_for(oauth2_server)).value == oauth2_server.issued[0]
    with pytest.raises(OAuth2TokenError, match="invalid_client") as info:
        check_token(settings_for(oauth2_server, client_secret="nope-nope"))
    assert "nope-nope" not in str(info.value) and token_count(oauth2_server) == 2
    oauth2_server.fail_token(200, body={"x": 1})
    with pytest.raises(InvalidResponseError):
        check_token(settings_for(oauth2_server))
