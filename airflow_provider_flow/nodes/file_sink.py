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

``disposition`` (:mod:`~airflow_provider_flow.records.dispositions`) is the dataset-level choice on top of ``mode``:
``replace`` the file, ``append`` a part file per task instance to the folder ``path``, or ``merge`` into the
snapshot ``path`` by ``primary_key`` (:mod:`~airflow_provider_flow.records.merge`); with one set, ``mode`` must stay
``overwrite``.
"""

from __future__ import annotations

import codecs
import itertools
import os
from typing import Any

from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel
from airflow_provider_flow.core.progress import ProgressReporter, paced_blocks
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.codecs import EXTENSIONS, Encoding, RecordFormat, detect_format
from airflow_provider_flow.records.dispositions import Disposition, merge_into_snapshot, part_path
from airflow_provider_flow.records.input import input_blocks
from airflow_provider_flow.records.merge import MergeRule
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.totals import expected_records
from airflow_provider_flow.records.writer import RecordWriter
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
    disposition: Disposition | None = Field(
        None,
        description="What a run does to the dataset: 'replace' the file, 'append' a part file per run to the folder "
        "'path', or 'merge' into the snapshot 'path' by primary_key. Unset: 'mode' alone decides, as before.",
    )
    primary_key: str | list[str] | None = Field(
        None, description="merge: the top-level field (or fields) that identify a record in the snapshot."
    )
    cursor_field: str | None = Field(
        None,
        description="merge: the field whose greater value is the newer version (ties: the later record wins); "
        "unset: the later record always wins.",
    )

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)

    @model_validator(mode="after")
    def _disposition_fits(self) -> FileSinkConfig:
        check_disposition(self)
        return self

    @property
    def key_fields(self) -> tuple[str, ...]:
        """``primary_key`` as a tuple, whether it was given as one field or a list."""
        if self.primary_key is None:
            return ()
        return (self.primary_key,) if isinstance(self.primary_key, str) else tuple(self.primary_key)


class FileSinkRuntime:
    """Records in, one atomically written file out."""

    name = "file.sink"
    config_model = FileSinkConfig

    def execute(self, config: FileSinkConfig, input: Any, state: ExecutionState) -> FileReference:
        storage = configured_storage(state, config)
        progress = ProgressReporter(state.log, f"file.sink {config.path!r}", total_records=expected_records(input))
        # Blocks, not records: counted and paced once per block, and a block read from an NDJSON reference with
        # its validated lines is written as those lines when the output is UTF-8 NDJSON too (no re-encoding).
        blocks = input_blocks(input, state, trusted_bases=(trust_root(storage),), text_only=takes_text(config))
        blocks = paced_blocks(blocks, state, "write", progress)
        if config.disposition == "merge":
            records = itertools.chain.from_iterable(block for block, _lines in blocks)
            fmt = detect_format(config.path, config.format)
            rule = MergeRule(config.key_fields, config.cursor_field, text_values=fmt == "csv")
            ref, counts = merge_into_snapshot(
                storage,
                config.path,
                records,
                rule,
                format=fmt,
                encoding=config.encoding,
                create_dirs=config.create_dirs,
                state=state,
            )
            progress.bytes = ref.bytes
            progress.finish(
                output=f"{ref.path} (merged on {', '.join(rule.primary_key)}, sha256 {ref.sha256})",
                details=f"{counts.new:,} new, {counts.replaced:,} replaced, {counts.kept_out:,} older or duplicate "
                f"kept out; the snapshot holds {ref.records:,} records",
            )
            return ref
        path, how = config.path, f"mode {config.mode}"
        if config.disposition == "append":
            path, how = part_path(config.path, state, config.format or "ndjson"), "a new part"
        elif config.disposition == "replace":
            how = "replaced"
        with RecordWriter(
            storage,
            path,
            format=config.format or ("ndjson" if config.disposition == "append" else None),
            mode=config.mode,
            encoding=config.encoding,
            create_dirs=config.create_dirs,
        ) as writer:
            writer.write_blocks(blocks)
        ref = writer.reference()
        progress.bytes = ref.bytes
        progress.finish(output=f"{ref.path} ({how}, sha256 {ref.sha256})")
        return ref


def takes_text(config: FileSinkConfig) -> bool:
    """Whether the file written takes NDJSON text as it is (:attr:`RecordWriter.takes_lines`: UTF-8 NDJSON, and
    no merge, which needs the records): then lines read from a reference are checked, not kept as records."""
    fmt = config.format or ("ndjson" if config.disposition == "append" else None)
    utf8 = codecs.lookup(config.encoding).name == "utf-8"
    return config.disposition != "merge" and utf8 and detect_format(config.path, fmt) == "ndjson"


def check_disposition(config: FileSinkConfig) -> None:
    """The disposition's own rules, and how it sits with ``mode`` (see :mod:`~.records.dispositions`)."""
    merge_only = {"primary_key": config.primary_key, "cursor_field": config.cursor_field}
    if config.disposition != "merge":
        for name, value in merge_only.items():
            if value is not None:
                raise FlowValidationError(
                    f"{name} only applies to disposition='merge' (disposition is {config.disposition!r}); set "
                    f"disposition='merge' or remove {name}",
                    field=name,
                    value=value,
                )
    if config.disposition is None:
        return
    if config.mode != "overwrite":
        raise FlowValidationError(
            f"mode={config.mode!r} conflicts with disposition={config.disposition!r}: the disposition decides how "
            "the dataset is written; remove mode (or use disposition='append' for a new part file per run)",
            field="mode",
            value=config.mode,
        )
    if config.disposition == "append":
        _check_append_folder(config.path)
    elif config.disposition == "merge":
        _check_merge(config)


def _check_append_folder(path: str) -> None:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if os.path.splitext(last)[1].lower() in EXTENSIONS:
        folder = path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else "."
        raise FlowValidationError(
            f"with disposition='append', path names the folder each run adds a part file to, and {last!r} looks "
            f"like a file name; use path={folder!r} (and format=...) so readers can glob the folder's parts",
            field="path",
            value=path,
        )


def _check_merge(config: FileSinkConfig) -> None:
    keys = config.key_fields
    if not keys or any(not isinstance(k, str) or not k for k in keys) or len(set(keys)) != len(keys):
        raise FlowValidationError(
            "disposition='merge' needs primary_key: the field that identifies a record (e.g. 'id'), or a list of "
            "distinct field names for a composite key",
            field="primary_key",
            value=config.primary_key,
        )
    if config.cursor_field is not None and (not config.cursor_field or config.cursor_field in keys):
        raise FlowValidationError(
            "cursor_field must be a field other than the primary key (e.g. 'updated_at'): it orders the versions "
            "of one key",
            field="cursor_field",
            value=config.cursor_field,
        )
    if detect_format(config.path, config.format) == "text":
        raise FlowValidationError(
            "format 'text' has no fields, so it cannot be merged on a primary key; use an .ndjson (or .csv, .json) "
            "snapshot",
            field="format",
            value=config.format or "text",
        )
