"""The file reference: what a node hands on through XCom instead of data too large for it.

A reference names a file by a path relative to a base, and the base by connection id (or an absolute
``base_path``), never by this worker's folder, so the next task resolves it on whatever worker it runs. Its
``records``, ``bytes`` and ``sha256`` let the reader verify it got exactly what was written.

A file in object storage is named by ``base_uri`` (``s3://bucket/prefix``, no credentials, no connection in it)
and ``conn_id`` (the connection each reader resolves its own credentials from); ``path`` is relative to the prefix
and is confined again by the reader. Both fields default to None, so references written before object storage
existed (XCom payloads already stored) load unchanged and still mean a local file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, ValidationError, model_serializer, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.redaction import redact_url
from airflow_provider_flow.storage.object_keys import parse_base_uri

#: Fields added for object storage: left out of a local reference's dump, so its XCom payload stays as it was.
_OBJECT_FIELDS = ("base_uri", "conn_id")


class FileReference(ConfigModel):
    """Where a large output lives, handed between tasks through XCom instead of the data itself.

    ``path`` is relative to the base directory, so a task on another worker resolves it against its own
    ``fs_conn_id`` (or ``base_path``) and the confinement rules apply again on read.
    """

    kind: Literal["file"] = "file"
    path: str
    base_path: str | None = None
    fs_conn_id: str | None = None
    format: str
    encoding: str = "utf-8"
    records: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str
    pages: int | None = None
    base_uri: str | None = None
    conn_id: str | None = None

    @model_validator(mode="after")
    def _one_kind_of_base(self) -> FileReference:
        """A reference names a local base or an object-storage base, never both; the URI never holds a secret."""
        if self.base_uri is None:
            if self.conn_id is not None:
                raise ValueError("conn_id names the connection of an object storage base_uri; base_uri is missing")
            return self
        if self.base_path is not None or self.fs_conn_id is not None:
            raise ValueError("a reference names either base_uri/conn_id (object storage) or base_path/fs_conn_id")
        location = parse_base_uri(self.base_uri, self.conn_id)
        if location.uri != self.base_uri:
            raise ValueError(f"base_uri must be written as {location.uri!r} (the connection goes in conn_id)")
        return self

    @model_serializer(mode="wrap")
    def _dump_without_unused_object_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.base_uri is None:
            for name in _OBJECT_FIELDS:
                data.pop(name, None)
        return data

    @property
    def is_object(self) -> bool:
        """True when the file lives in object storage (``base_uri``), False for a local base."""
        return self.base_uri is not None

    @property
    def uri(self) -> str | None:
        """``s3://bucket/prefix/path`` of an object-storage file (the standard asset URI), else None."""
        return f"{self.base_uri.rstrip('/')}/{self.path}" if self.base_uri else None

    @classmethod
    def is_reference(cls, value: Any) -> bool:
        """True for a dict (as it comes out of XCom) or model that describes a file reference."""
        if isinstance(value, FileReference):
            return True
        return isinstance(value, dict) and value.get("kind") == "file" and "path" in value


def as_reference(value: Any) -> FileReference | None:
    """A :class:`FileReference` for a reference model or XCom dict, else None."""
    if isinstance(value, FileReference):
        return value
    if FileReference.is_reference(value):
        try:
            return FileReference.model_validate(value)
        except ValidationError as exc:
            # Without the input: a hostile or mistaken base_uri may carry a secret, which must not reach the log.
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reference'}: {e['msg']}" for e in exc.errors())
            shown = {**value, "base_uri": redact_url(str(value["base_uri"]))} if value.get("base_uri") else value
            raise FlowValidationError(
                f"malformed file reference: {problems}", field="data", value=repr(shown)[:120]
            ) from None
    return None
