"""How datasets are named, following the OpenLineage naming spec and Airflow's own providers.

* HTTP: namespace ``scheme://host[:port]`` (default ports dropped), name the path. Userinfo, query strings and
  fragments are never part of either, and every known secret value is scrubbed from the path too (an API may take
  a token as a path segment).
* Local files: namespace ``file`` (the spec's local file system, as Airflow's ``file://`` assets and
  ``ObjectStoragePath`` translate), name the absolute confined path.
* Object storage (``s3://bucket/key``, ``gs://``, ...): namespace ``scheme://bucket``, name the key.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from airflow_provider_flow.redaction import SecretScrubber

LOCAL_FILE_NAMESPACE = "file"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def http_dataset_id(url: str, secrets: Iterable[str] = ()) -> tuple[str, str] | None:
    """``(namespace, name)`` of an HTTP endpoint, or None when ``url`` is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    name = SecretScrubber(secrets).text(parts.path or "/")
    return f"{scheme}://{authority}", name


def file_dataset_id(absolute_path: str) -> tuple[str, str]:
    """``(namespace, name)`` of a local file given its absolute (confined, real) path."""
    return LOCAL_FILE_NAMESPACE, absolute_path


def uri_dataset_id(uri: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of an object URI (``s3://bucket/key``) or ``file:///path``; None if it is not one."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or "@" in parts.netloc:
        return None  # never name a location carrying credentials
    if scheme == "file":
        return (LOCAL_FILE_NAMESPACE, parts.path) if parts.path.startswith("/") else None
    if not parts.netloc or not parts.path.strip("/"):
        return None
    return f"{scheme}://{parts.netloc}", parts.path.lstrip("/")


def is_uri(value: str | None) -> bool:
    """True for ``scheme://...`` values (object storage bases), which are named by their URI, not resolved."""
    return bool(value) and "://" in str(value)
