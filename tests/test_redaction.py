from airflow_provider_flow.redaction import redact_headers, redact_text, redact_url


def test_redact_url_strips_userinfo_and_secret_params() -> None:
    url = "https://bob:pa55@host:8443/p?q=1&access_token=T0K&client_secret=C5C5&api_key=AK9"
    out = redact_url(url)
    for secret in ("bob", "pa55", "T0K", "C5C5", "AK9"):
        assert secret not in out
    assert out.startswith("https://***@host:8443/p?q=1")


def test_redact_headers_and_text() -> None:
    headers = {"Authorization": "Bearer abc", "X-Api-Key": "k", "Accept": "application/json"}
    expected = {"Authorization": "***", "X-Api-Key": "***", "Accept": "application/json"}
    assert redact_headers(headers) == expected
    assert redact_text("token abcdef in text", ["abcdef", ""]) == "token *** in text"
