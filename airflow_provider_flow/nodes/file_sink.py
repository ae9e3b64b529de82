"""``file.sink``: write a node's input records to one file under a confined base directory, atomically.

The input is what upstream nodes hand on: a list of records from XCom, one record, a file reference (streamed
from its file, so large data never passes through memory as a whole) or a list of references. The path is
confined after rendering (``storage/paths.py``), the bytes go to a temporary file in the target folder, are
fsynced and renamed over the target: a failed or killed task leaves the previous version. The output is a
:class:`~airflow_provider_flow.records.reference.FileReference` (path, records, bytes, sha256) a downstream
node can read.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter, paced
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.records.codecs import Encoding, RecordFormat
from airflow_provider_flow.records.input import input_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.totals import expected_records
from airflow_provider_flow.records.writer import write_records
from airflow_provider_flow.storage.atomic import WriteMode
from airflow_provider_flow.storage.base import DEFAULT_FS_CONN_ID, node_storage


class FileSinkConfig(ConfigModel):
    """``file.sink``: write the input records (inline or from a file reference) atomically under the base."""

    path: str = Field(description="Target relative to the base directory; missing folders are created.")
    fs_conn_id: str | None = Field(DEFAULT_FS_CONN_ID, description="An 'fs' connection whose extra 'path' is the base.")
    base_path: str | None = Field(None, description="Absolute base directory; wins over fs_conn_id.")
    format: RecordFormat | None = Field(None, description="Default: from the target's extension.")
    mode: WriteMode = "overwrite"
    encoding: Encoding = "utf-8"
    create_dirs: bool = Field(True, description="Create missing folders below the base (never the base itself).")


class FileSinkRuntime:
    """Records in, one atomically written file out."""

    name = "file.sink"
    config_model = FileSinkConfig

    def execute(self, config: FileSinkConfig, input: Any, state: ExecutionState) -> FileReference:
        storage = node_storage(state, fs_conn_id=config.fs_conn_id, base_path=config.base_path)
        progress = ProgressReporter(state.log, f"file.sink {config.path!r}", total_records=expected_records(input))
        records = paced(input_records(input, state, trusted_bases=(storage.root,)), state, "write", progress)
        ref = write_records(
            storage.root,
            config.path,
            records,
            format=config.format,
            mode=config.mode,
            encoding=config.encoding,
            create_dirs=config.create_dirs,
            fs_conn_id=storage.fs_conn_id,
            base_path=storage.base_path,
        )
        progress.bytes = ref.bytes
        progress.finish(output=f"{ref.path} (mode {config.mode}, sha256 {ref.sha256})")
        return ref
