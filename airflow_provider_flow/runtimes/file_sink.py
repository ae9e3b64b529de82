"""``file.sink``: write a node's input records to one file under a confined base directory, atomically.

The input is what upstream nodes hand on: a list of records from XCom, one record, a file reference (streamed
from its file, so large data never passes through memory as a whole) or a list of references. The path is
confined after rendering (:func:`fileio.confine_path`), the bytes go to a temporary file in the target folder,
are fsynced and renamed over the target: a failed or killed task leaves the previous version. The output is a
:class:`~airflow_provider_flow.models.FileReference` (path, records, bytes, sha256) a downstream node can read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_flow.models import FileReference, FileSinkConfig
from airflow_provider_flow.runtimes.fileio import resolve_base
from airflow_provider_flow.runtimes.formats import input_records, write_records
from airflow_provider_flow.runtimes.progress import ProgressReporter
from airflow_provider_flow.runtimes.state import ExecutionState

#: How many records pass between two deadline checks (cheap, but not free per record).
DEADLINE_CHECK_EVERY = 1000


def paced(records: Iterable[Any], progress: ProgressReporter, state: ExecutionState, phase: str) -> Iterator[Any]:
    """Yield records while counting them for the progress log and honouring the task's deadline."""
    for index, record in enumerate(records):
        if index % DEADLINE_CHECK_EVERY == 0:
            state.check_deadline(phase)
        progress.update(records=1)
        yield record


class FileSinkRuntime:
    """Records in, one atomically written file out."""

    name = "file.sink"
    config_model = FileSinkConfig

    def execute(self, config: FileSinkConfig, input: Any, state: ExecutionState) -> FileReference:
        base = resolve_base(state, fs_conn_id=config.fs_conn_id, base_path=config.base_path)
        progress = ProgressReporter(state.log, f"file.sink {config.path!r}")
        records = paced(input_records(input, state, trusted_bases=(base,)), progress, state, "write")
        ref = write_records(
            base,
            config.path,
            records,
            format=config.format,
            mode=config.mode,
            encoding=config.encoding,
            create_dirs=config.create_dirs,
            fs_conn_id=None if config.base_path else config.fs_conn_id,
            base_path=config.base_path,
        )
        progress.bytes = ref.bytes
        progress.finish()
        state.log.info(
            "file.sink wrote %s: %d records, %d bytes, sha256 %s (mode %s)",
            ref.path,
            ref.records,
            ref.bytes,
            ref.sha256,
            config.mode,
        )
        return ref
