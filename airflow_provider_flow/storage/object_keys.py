"""Object-storage naming: which base URIs name a store, and which rendered paths may become keys under it.

A node names object storage by a base URI, ``s3://bucket/prefix`` with the connection id either in the URI's
user part (``s3://my_aws_conn@bucket/prefix``, as Airflow's ``ObjectStoragePath`` writes it) or given on its own.
A URI carrying a password or secret is refused outright: credentials live in the connection, never in a string that
ends up in logs, asset URIs or XCom.

Confinement is lexical (an object store has no symlinks), so it can be complete: :func:`confine_key` normalises a
rendered path (``.``, ``..``, repeated ``/``) *first* and checks the normalised key, never the raw string. Anything
a later layer might reinterpret is refused rather than normalised: a scheme (``s3://other-bucket/...``,
``file:...``), a leading ``/``, backslashes, percent escapes (``%2e%2e``, ``%2f``: some proxies and SDKs decode them),
control characters, and names that are empty or end in ``/`` (a "folder", not an object). The result always lies
strictly under ``prefix + "/"``; refusals are :class:`~airflow_provider_flow.errors.PathTraversalError`, never
retryable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.storage.paths import check_relative, refuse

#: Schemes the object backend drives (S3's multipart API); other fsspec stores come with their own publish rules.
OBJECT_SCHEMES = frozenset({"s3", "s3a"})

#: S3's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bucket names as S3 allows them (lowercase, digits, dots, hyphens; 3-63 characters).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ObjectLocation:
    """A parsed base: ``scheme://bucket/prefix`` plus the connection that holds its credentials."""

    scheme: str
    bucket: str
    prefix: str
    """Normalised: no leading or trailing ``/``; empty means the whole bucket."""
    conn_id: str | None = None

    @property
    def uri(self) -> str:
        """The base as a URI without the connection (what assets and file references show)."""
        return f"{self.scheme}://{self.bucket}/{self.prefix}" if self.prefix else f"{self.scheme}://{self.bucket}"

    @property
    def key_prefix(self) -> str:
        """Every key of this base starts with this (``""`` or ``prefix/``)."""
        return f"{self.prefix}/" if self.prefix else ""

    def key_uri(self, key: str) -> str:
        """``scheme://bucket/key``: the standard URI of one object (Airflow's S3 asset form)."""
        return f"{self.scheme}://{self.bucket}/{key}"


def parse_base_uri(uri: str, conn_id: str | None = None) -> ObjectLocation:
    """Parse ``s3://[conn_id@]bucket[/prefix]``; a configuration error (not retryable) when it names no base.

    ``conn_id`` given both in the URI and separately must agree. The prefix is checked like any rendered path
    (no ``..``, no escapes), since it often comes from a template too.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise FlowValidationError("the object storage base URI is empty", field="base_uri", value=uri)
    if _CONTROL.search(uri) or "\\" in uri:
        raise FlowValidationError(
            "the object storage base URI holds control characters or backslashes", field="base_uri", value=repr(uri)
        )
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in OBJECT_SCHEMES:
        raise FlowValidationError(
            f"unsupported object storage scheme {parts.scheme!r}; use one of {', '.join(sorted(OBJECT_SCHEMES))}",
            field="base_uri",
            value=f"{parts.scheme}://...",
        )
    if parts.password is not None or ":" in (parts.username or ""):
        raise FlowValidationError(
            "the object storage base URI carries a secret; put credentials in an Airflow connection and name it "
            f"instead ({scheme}://conn_id@bucket/prefix)",
            field="base_uri",
            value=f"{scheme}://***@{parts.hostname or ''}",
        )
    if parts.query or parts.fragment or parts.port is not None:
        raise FlowValidationError(
            "the object storage base URI may not have a port, query or fragment", field="base_uri", value=uri
        )
    bucket = parts.hostname or ""
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise FlowValidationError(f"{bucket!r} is not a valid bucket name", field="base_uri", value=uri)
    uri_conn = parts.username or None
    if uri_conn and conn_id and uri_conn != conn_id:
        raise FlowValidationError(
            f"the base URI names connection {uri_conn!r} but conn_id is {conn_id!r}; name one",
            field="conn_id",
            value=conn_id,
        )
    raw_prefix = parts.path.strip("/")
    prefix = ""
    if raw_prefix:
        if _PERCENT_ESCAPE.search(raw_prefix):
            raise FlowValidationError(
                "the base URI's prefix holds percent escapes; write the prefix as plain text",
                field="base_uri",
                value=uri,
            )
        try:
            prefix = "/".join(check_relative(f"{scheme}://{bucket}", raw_prefix, operation="resolve_base"))
        except Exception as exc:
            raise FlowValidationError(
                f"the base URI's prefix is not usable: {exc}", field="base_uri", value=uri
            ) from None
        if prefix != raw_prefix:
            raise FlowValidationError(
                f"the base URI's prefix {raw_prefix!r} is not normalised (write {prefix!r})",
                field="base_uri",
                value=uri,
            )
    return ObjectLocation(scheme=scheme, bucket=bucket, prefix=prefix, conn_id=uri_conn or conn_id)


def check_key_text(location: ObjectLocation, requested: object, *, operation: str) -> str:
    """The checks on the raw text that no normalisation may undo: type, control characters, schemes, escapes."""
    base = location.uri
    if not isinstance(requested, str):
        raise refuse(requested, base, f"is a {type(requested).__name__}, not a string", operation)
    if _CONTROL.search(requested):
        raise refuse(requested, base, "contains control characters", operation)
    if _SCHEME.match(requested) or "://" in requested:
        raise refuse(
            requested, base, "names a scheme (another store or bucket); use a key relative to the base", operation
        )
    if _PERCENT_ESCAPE.search(requested):
        raise refuse(requested, base, "contains percent escapes (%XX), which other layers may decode", operation)
    try:
        requested.encode("utf-8")
    except UnicodeEncodeError:
        raise refuse(requested, base, "is not valid Unicode (S3 keys are UTF-8)", operation) from None
    return requested


def confine_key(location: ObjectLocation, requested: object, *, operation: str) -> str:
    """The full key of ``requested`` under ``location``, or :class:`PathTraversalError` (see the module docstring)."""
    base = location.uri
    requested = check_key_text(location, requested, operation=operation)
    parts = check_relative(base, requested, operation=operation)  # '..', '/', '\\', '~', empty, folder-only
    key = location.key_prefix + "/".join(parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise refuse(requested, base, f"makes a key longer than {MAX_KEY_BYTES} bytes", operation)
    if not key.startswith(location.key_prefix) or key == location.prefix:  # cannot happen after the checks above
        raise refuse(requested, base, "leaves the base prefix", operation)
    return key


def relative_key(location: ObjectLocation, key: str) -> str:
    """``key`` relative to the base prefix (as file references store it)."""
    return key[len(location.key_prefix) :]
