"""The file reference: what a node hands on through XCom instead of data too large for it.

A reference names a file by a path relative to a base, and the base by connection id (or an absolute
``base_path``), never by this worker's folder, so the next task resolves it on whatever worker it runs. Its
``records``, ``bytes`` and ``sha256`` let the reader verify it got exactly what was written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.errors import FlowValidationError


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
        except Exception as exc:
            raise FlowValidationError(
                f"malformed file reference: {exc}", field="data", value=repr(value)[:120]
            ) from None
    return None
