"""``file.sink``: write a node's input records to one file under a confined base directory, atomically.

The base is a local folder (``base_path`` / ``fs_conn_id``) or an object-storage prefix (``base_uri`` +
``conn_id``); the storage backend keeps the same promises on both (on S3: a multipart upload completed only after
the last record, ``error_if_exists`` as a conditional write, ``append`` refused).

The input is what upstream nodes hand on: a list of records from XCom, one record, a file reference (streamed
from its file, so large data never passes through memory as a whole) or a list of references. The path is
confined after rendering (``storage/paths.py``), the bytes go to a temporary file in the target folder, are
fsynced and renamed over the target: a failed or killed task leaves the previous version. The output is a
:class:`~airflow_provider_flow.records.reference.FileReference` (path, records, bytes, sha256) a downstream
node can read.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter, paced
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.records.codecs import Encoding, RecordFormat
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.totals import expected_records
from airflow_provider_flow.records.writer import write_records
from airflow_provider_flow.storage.atomic import WriteMode
from airflow_provider_flow.storage.base import (
    DEFAULT_FS_CONN_ID,
    OBJECT_BASE_URI_HELP,
    OBJECT_CONN_ID_HELP,
    PART_SIZE_HELP,
    configured_storage,
    no_credentials_in_uri,
    one_kind_of_base,
    trust_root,
)
from airflow_provider_flow.storage.object_store import MAX_PART_SIZE, MIN_PART_SIZE


class FileSinkConfig(ConfigModel):
    """``file.sink``: write the input records (inline or from a file reference) atomically under the base."""

    path: str = Field(description="Target relative to the base directory; missing folders are created.")
    fs_conn_id: str | None = Field(DEFAULT_FS_CONN_ID, description="An 'fs' connection whose extra 'path' is the base.")
    base_path: str | None = Field(None, description="Absolute base directory; wins over fs_conn_id.")
    base_uri: str | None = Field(None, description=OBJECT_BASE_URI_HELP)
    conn_id: str | None = Field(None, description=OBJECT_CONN_ID_HELP)
    part_size: int | None = Field(None, ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description=PART_SIZE_HELP)
    format: RecordFormat | None = Field(None, description="Default: from the target's extension.")
    mode: WriteMode = "overwrite"
    encoding: Encoding = "utf-8"
    create_dirs: bool = Field(True, description="Create missing folders below the base (never the base itself).")

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)


class FileSinkRuntime:
    """Records in, one atomically written file out."""

    name = "file.sink"
    config_model = FileSinkConfig

    def execute(self, config: FileSinkConfig, input: Any, state: ExecutionState) -> FileReference:
        storage = configured_storage(state, config)
        progress = ProgressReporter(state.log, f"file.sink {config.path!r}", total_records=expected_records(input))
        records = paced(input_records(input, state, trusted_bases=(trust_root(storage),)), state, "write", progress)
        ref = write_records(
            storage,
            config.path,
            records,
            format=config.format,
            mode=config.mode,
            encoding=config.encoding,
            create_dirs=config.create_dirs,
        )
        progress.bytes = ref.bytes
        progress.finish(output=f"{ref.path} (mode {config.mode}, sha256 {ref.sha256})")
        return ref
