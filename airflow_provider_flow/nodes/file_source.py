"""``file.source``: records from one file, or from every file a glob pattern matches, under a confined base.

Small inputs travel as records through XCom; large ones as
:class:`~airflow_provider_flow.records.reference.FileReference`
(path, records, bytes, sha256), so the next node streams the file instead of Airflow's metadata DB holding it.
``output="auto"`` decides by the files' total size against ``max_inline_bytes`` (1 MiB by default: comfortably
below what the default XCom backend stores well, well above typical lookup tables). Building a reference parses
the whole file once, so a broken file fails this task, not a downstream one, and the reference's record count and
hash are exact.

Output shapes: records -> one flat list (files in sorted path order); references -> one reference for a plain
path, a list of references for a glob. Both are accepted as input by ``file.sink`` (and every node that uses
``records.input.input_records``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter, paced
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError
from airflow_provider_flow.records.codecs import Encoding, RecordFormat, check_encoding, detect_format
from airflow_provider_flow.records.reader import describe_file, iter_records, stored_size
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.base import (
    DEFAULT_FS_CONN_ID,
    OBJECT_BASE_URI_HELP,
    OBJECT_CONN_ID_HELP,
    configured_storage,
    no_credentials_in_uri,
    one_kind_of_base,
    storage_name,
)
from airflow_provider_flow.storage.paths import is_glob


class FileSourceConfig(ConfigModel):
    """``file.source``: read records from files under a confined base directory.

    The path (or glob pattern) is only checked for confinement at run time, after rendering, by
    ``storage.paths.confine_path``: it is hostile input whether typed in the DAG or passed in ``params``.
    """

    path: str = Field(description="Relative to the base directory; '*', '?', '[..]' and '**' glob over it.")
    fs_conn_id: str | None = Field(DEFAULT_FS_CONN_ID, description="An 'fs' connection whose extra 'path' is the base.")
    base_path: str | None = Field(None, description="Absolute base directory; wins over fs_conn_id.")
    base_uri: str | None = Field(None, description=OBJECT_BASE_URI_HELP)
    conn_id: str | None = Field(None, description=OBJECT_CONN_ID_HELP)
    format: RecordFormat | None = Field(None, description="Default: from each file's extension.")
    encoding: Encoding = "utf-8"
    output: Literal["auto", "records", "reference"] = Field(
        "auto", description="auto: records to XCom up to max_inline_bytes of files, else file references."
    )
    max_inline_bytes: int = Field(
        1_048_576, ge=0, le=2**30, description="Largest total file size returned as records (XCom; at most 1 GiB)."
    )
    allow_empty: bool = Field(False, description="A glob matching nothing returns [] instead of failing.")

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)


class FileSourceRuntime:
    """Files in, records (small) or file references (large) out."""

    name = "file.source"
    config_model = FileSourceConfig

    def execute(
        self, config: FileSourceConfig, input: Any, state: ExecutionState
    ) -> list[Any] | FileReference | list[FileReference]:
        storage = configured_storage(state, config)
        base = storage_name(storage)
        check_encoding(config.encoding)
        pattern = is_glob(config.path)
        paths = storage.glob(config.path) if pattern else [config.path]
        if not paths:
            if config.allow_empty:
                state.log.info("file.source: no file matches %r under %s; returning no records", config.path, base)
                return []
            raise FileError(
                f"no file matches {config.path!r} under the base directory {base!r}; fix the pattern or set "
                "allow_empty=True",
                path=config.path,
                operation="glob",
                retryable=False,
            )
        formats = {path: detect_format(path, config.format) for path in paths}
        sizes = {path: stored_size(storage, path) for path in paths}
        total = sum(sizes.values())
        inline = config.output == "records" or (config.output == "auto" and total <= config.max_inline_bytes)
        state.log.info(
            "file.source: %d file(s), %d bytes under %s -> %s",
            len(paths),
            total,
            base,
            "records" if inline else "references",
        )
        progress = ProgressReporter(state.log, f"file.source {config.path!r}", page_noun="file", total_bytes=total)
        if inline:
            records: list[Any] = []
            for path in paths:
                read = iter_records(storage, path, format=formats[path], encoding=config.encoding)
                records.extend(paced(read, state, "read", progress))
                progress.update(bytes=sizes[path], pages=1)
            progress.finish(output="XCom")
            return records
        refs = []
        for path in paths:
            state.check_deadline("read")
            ref = describe_file(storage, path, format=formats[path], encoding=config.encoding)
            state.log.debug(
                "file.source: %s has %d records, %d bytes, sha256 %s", ref.path, ref.records, ref.bytes, ref.sha256
            )
            progress.update(records=ref.records, bytes=ref.bytes, pages=1)
            refs.append(ref)
        where = f"{refs[0].path} (sha256 {refs[0].sha256})" if len(refs) == 1 else f"{len(refs):,} references"
        progress.finish(output=where)
        return refs if pattern else refs[0]
