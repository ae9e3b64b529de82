"""Keep secrets out of messages, logs and XCom.

Errors travel to task logs, the Airflow UI and XCom, so anything that may hold a credential (URLs, headers,
response excerpts) goes through here before it is stored on an exception or logged. Airflow's own secret
masker covers values it knows about; this module covers what it cannot know: secrets embedded in URLs and
headers that a DAG author passed inline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

#: Query parameter names (lower-case) whose values are credentials in common APIs.
SECRET_QUERY_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "api-key",
        "apikey",
        "auth",
        "client_secret",
        "code",
        "key",
        "password",
        "passwd",
        "pwd",
        "secret",
        "sig",
        "signature",
        "token",
        "x-amz-credential",
        "x-amz-security-token",
        "x-amz-signature",
    }
)

#: Header names (lower-case) whose values are credentials.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-amz-security-token",
    }
)

_SECRET_NAME_HINTS = ("token", "secret", "password", "passwd", "api-key", "api_key", "apikey", "credential")


def is_secret_name(name: str) -> bool:
    """True for header or parameter names that carry credentials, by exact name or an obvious hint."""
    lowered = name.lower()
    if lowered in SECRET_HEADERS or lowered in SECRET_QUERY_PARAMS:
        return True
    return any(hint in lowered for hint in _SECRET_NAME_HINTS)


def redact_url(url: str) -> str:
    """Strip user:password and secret query values from a URL, keeping everything a user needs to debug."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return a copy of headers with credential values replaced."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (REDACTED if is_secret_name(k) else v) for k, v in items}


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of known secret values (tokens, passwords) in free text."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
