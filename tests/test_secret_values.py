"""Secrets are secret by *value*, in every encoding, whatever the header or parameter that carries them is called.

Real loopback servers: an API echoing every request header in a 401 body, a redirect to another origin
(``127.0.0.1`` -> ``localhost``, the same server) that records which headers arrived, and a token with a newline.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_flow.errors import FlowValidationError, HttpError
from airflow_provider_flow.http.client import HttpClient
from airflow_provider_flow.http.settings import HttpSettings, RetrySettings
from airflow_provider_flow.redaction import SecretScrubber, redact_text, secret_variants

#: A password with every character URL and JSON encodings change.
PASSWORD = 'p@ss/w+rd "x" ü%'
FAST = RetrySettings(max_attempts=3, max_elapsed=5, initial_backoff=0.01, max_backoff=0.02, jitter=0.0)
#: Connection extras with names no list of "secret header names" knows (issue 10, class 6).
CUSTOM_HEADERS = {
    "X-Auth-Key": "auth-key-0001",
    "Ocp-Apim-Subscription-Key": "apim-key-0002",
    "DD-APPLICATION-KEY": "dd-app-key-0003",
}


def encodings(secret: str, login: str = "bob") -> dict[str, str]:
    """Every form the secret can take in a URL, a form body, a JSON body or a basic-auth header."""
    return {
        "raw": secret,
        "quote": quote(secret, safe=""),
        "quote_slash": quote(secret),
        "quote_plus": quote_plus(secret),
        "quote_lower_hex": quote(secret, safe="").lower(),
        "json": json.dumps(secret)[1:-1],
        "json_unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "basic": base64.b64encode(f"{login}:{secret}".encode()).decode(),
    }


def assert_no_secret(text: str, secret: str = PASSWORD) -> None:
    for name, form in encodings(secret).items():
        assert form not in text, f"the secret leaked {name}-encoded ({form!r}) in: {text}"


def echo_all_headers(status: int) -> Any:
    def handler(req: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps({"you_sent": req.headers}).encode()

    return handler


# -- class 7: every encoding ---------------------------------------------------------------------------------


def test_redact_text_scrubs_every_encoding_of_a_secret() -> None:
    message = " | ".join(f"{k}={v}" for k, v in encodings(PASSWORD).items() if k != "basic")
    assert_no_secret(redact_text(message, [PASSWORD]).replace("***", ""))


def test_secret_variants_include_the_url_json_and_form_forms() -> None:
    variants = set(secret_variants(PASSWORD))
    for name, form in encodings(PASSWORD).items():
        if name != "basic":  # needs the login: HttpSettings adds it
            assert form in variants, name


def test_scrubber_replaces_secrets_inside_nested_record_strings_only() -> None:
    scrub = SecretScrubber(["tok-1234567"])
    data = {"a": [{"h": "Bearer tok-1234567"}, 3, None, "plain"], "tok-1234567": True}
    assert scrub.data(data) == {"a": [{"h": "Bearer ***"}, 3, None, "plain"], "tok-1234567": True}
    assert SecretScrubber([]).data(data) is data


def test_scrubbing_100k_records_is_cheap() -> None:
    """Measurement for the README: scrubbing XCom records costs one regex search per string value."""
    import time

    scrub = SecretScrubber([PASSWORD, *CUSTOM_HEADERS.values()])
    records = [{"id": i, "name": f"item-{i}", "city": "Springfield", "note": "nothing to see"} for i in range(100_000)]
    records[500]["note"] = f"echo {CUSTOM_HEADERS['X-Auth-Key']}"
    started = time.perf_counter()
    out = scrub.data(records)
    elapsed = time.perf_counter() - started
    print(f"scrubbed 100k records (300k strings) in {elapsed:.3f}s")
    assert out[500]["note"] == "echo ***"
    assert all(a is b for a, b in zip(out, records, strict=True) if a is not out[500])  # clean: not copied
    assert elapsed < 10  # generous: a loaded 2-core box; the figure printed above is the measurement


# -- class 6: secret by value, not by header name ----------------------------------------------------------


def test_every_connection_header_value_is_a_secret_value() -> None:
    settings = HttpSettings(base_url="http://h", headers={**CUSTOM_HEADERS, "Accept": "application/json"})
    values = settings.secret_values()
    for value in CUSTOM_HEADERS.values():
        assert value in values
    assert "application/json" not in values  # content negotiation is no credential; masking it would garble logs


def test_an_api_echoing_custom_key_headers_in_a_401_body_leaks_none(http_server) -> None:
    http_server.add_route("/echo401", echo_all_headers(401))
    settings = HttpSettings(base_url=http_server.url, headers=CUSTOM_HEADERS, auth=("bob", PASSWORD), retry=FAST)
    with HttpClient(settings) as client, pytest.raises(HttpError) as info:
        client.request("GET", "/echo401", params={"q": PASSWORD})  # a password in an innocent parameter
    text = f"{info.value} {info.value.url} {info.value.body_excerpt} {info.value.to_dict()}"
    assert "you_sent" in text  # the excerpt is there, scrubbed
    assert_no_secret(text)
    for value in CUSTOM_HEADERS.values():
        assert value not in text


def test_a_sensitive_node_header_is_scrubbed_from_a_401_echo(http_server) -> None:
    http_server.add_route("/echo401", echo_all_headers(401))
    base = HttpSettings(base_url=http_server.url, retry=FAST)
    node_headers = {"X-Partner": "partner-secret-77", "X-Trace": "trace-1"}
    settings = base.with_overrides(headers=node_headers, sensitive_headers=["x-partner"])
    with HttpClient(settings) as client, pytest.raises(HttpError) as info:
        client.request("GET", "/echo401", headers=node_headers)
    assert "partner-secret-77" not in str(info.value) and "trace-1" in str(info.value)


def test_sensitive_headers_must_name_a_node_header() -> None:
    with pytest.raises(FlowValidationError, match="X-Partnr") as info:
        HttpSettings().with_overrides(headers={"X-Partner": "v"}, sensitive_headers=["X-Partnr"])
    assert info.value.field == "sensitive_headers"


def test_cross_origin_redirect_drops_every_connection_and_sensitive_header(http_server) -> None:
    """127.0.0.1 -> localhost is another origin (the same server records what arrived)."""
    port = http_server.url.rsplit(":", 1)[1]
    target = f"http://localhost:{port}/echo"
    http_server.add_route("/hop", lambda req: (307, {"Location": target}, b""))
    settings = HttpSettings(
        base_url=http_server.url, headers=CUSTOM_HEADERS, bearer_token="bearer-tok-99", retry=FAST
    ).with_overrides(headers={"X-Partner": "partner-secret-77"}, sensitive_headers=["X-Partner"])
    with HttpClient(settings) as client:
        reply = client.request("GET", "/hop", headers={"X-Partner": "partner-secret-77", "X-Trace": "t-1"}).json()
    arrived = {k.lower() for k in reply["headers"]}
    assert reply["headers"]["host"].startswith("localhost")
    leaked = arrived & {"x-auth-key", "ocp-apim-subscription-key", "dd-application-key", "authorization", "x-partner"}
    assert not leaked, f"forwarded to another origin: {sorted(leaked)}"
    assert "x-trace" in arrived  # an unmarked node header follows the redirect


def test_same_origin_redirect_keeps_the_credentials(http_server) -> None:
    http_server.add_route("/hop", lambda req: (307, {"Location": "/echo"}, b""))
    settings = HttpSettings(base_url=http_server.url, headers=CUSTOM_HEADERS, retry=FAST)
    with HttpClient(settings) as client:
        reply = client.request("GET", "/hop").json()
    assert reply["headers"]["x-auth-key"] == "auth-key-0001"


# -- class 8: CR/LF in header values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"bearer_token": "tok-abcdef\n"}, "Authorization"),
        ({"headers": {"X-Auth-Key": "key-abcdef\r\n"}}, "X-Auth-Key"),
        ({"headers": {"X-Auth-Key": "key\r\nX-Evil: 1"}}, "X-Auth-Key"),
    ],
)
def test_a_header_value_with_cr_or_lf_is_a_config_error_naming_the_header(
    http_server, fields: dict[str, Any], named: str
) -> None:
    """Before: httpx raised "illegal header value" with the token in it, mapped to a retryable connection error."""
    with pytest.raises(FlowValidationError) as info:
        settings = HttpSettings(base_url=http_server.url, retry=FAST, **fields)
        with HttpClient(settings) as client:
            client.request("GET", "/echo")
    err = info.value
    assert not err.is_retryable and named in str(err)
    assert "abcdef" not in str(err) and "Evil" not in str(err) and err.value is None
    assert http_server.hits("/echo") == 0


def test_a_node_header_with_a_newline_is_refused_before_sending() -> None:
    with pytest.raises(FlowValidationError, match="X-Partner") as info:
        HttpSettings().with_overrides(headers={"X-Partner": "v-abcdef\n"}, sensitive_headers=[])
    assert "abcdef" not in str(info.value) and info.value.field == "headers.X-Partner"
