"""Keep secrets out of messages, logs and XCom.

Errors travel to task logs, the Airflow UI and XCom, so anything that may hold a credential (URLs, headers,
response excerpts) goes through here before it is stored on an exception or logged. Airflow's own secret
masker covers values it knows about; this module covers what it cannot know: secrets embedded in URLs and
headers that a DAG author passed inline.

Secrets are recognised by *value*: a secret leaks as easily through a parameter called ``q`` as through one called
``password``, and percent-encoded, form-encoded or JSON-escaped as easily as raw. :func:`secret_variants` lists
every form a value takes on its way into a URL or a message, and :class:`SecretScrubber` replaces all of them.
Names (:func:`is_secret_name`) are only a second net for values nobody declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

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


#: Shorter values are not scrubbed: replacing every "ab" in a message would garble it and hide nothing.
MIN_SECRET_LENGTH = 3


def secret_variants(secret: str) -> list[str]:
    """``secret`` as it appears raw, percent-encoded (``quote`` with and without ``/``, upper- and lower-case hex),
    form-encoded (``quote_plus``) and JSON-escaped (ASCII-only or not): every form to scrub or mask."""
    forms = [secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/")):
        forms += [encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)]
    return [form for form in dict.fromkeys(forms) if len(form) >= MIN_SECRET_LENGTH]


class SecretScrubber:
    """Replaces known secret values, in every form of :func:`secret_variants`, by ``***``.

    One compiled pattern (longest forms first, so a secret containing another is replaced whole): scrubbing a
    string costs one regex scan, so even records headed for XCom can be checked (:meth:`data`).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets if secret for form in secret_variants(secret)}
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        """``text`` with every known secret replaced."""
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def data(self, value: Any) -> Any:
        """JSON-shaped ``value`` with secrets replaced in its string values; unchanged parts are returned as they
        are (not copied), so a clean result costs one scan per string and no memory."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(REDACTED, value) if self._pattern.search(value) else value
        if isinstance(value, list):
            for index, item in enumerate(value):
                scrubbed = self.data(item)
                if scrubbed is not item:  # copy only from the first change on
                    return [*value[:index], scrubbed, *(self.data(rest) for rest in value[index + 1 :])]
            return value
        if isinstance(value, dict):
            for key, item in value.items():
                scrubbed = self.data(item)
                if scrubbed is not item:
                    return {k: (scrubbed if k == key else self.data(v)) for k, v in value.items()}
            return value
        return value


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of known secret values (tokens, passwords), in every encoding, in free text."""
    return SecretScrubber(secrets).text(text)
