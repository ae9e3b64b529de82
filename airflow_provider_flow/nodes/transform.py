"""The ``transform`` runtime: ordered operations over records, streamed so memory stays flat.

Its config is a list of one-key operations (``filter``, ``select``, ``map``, ``rename``, ``drop``, ``limit``,
``sort_by``, ``unique_by``, and in Python DAGs ``apply``) whose expressions are JMESPath, never Python, checked
when the DAG is parsed. Each operation compiles to a streaming stage of :mod:`~airflow_provider_flow.records.operations`
(see there for memory bounds: ``sort_by`` spills sorted runs to temporary files, ``unique_by`` keeps digests).
Records come inline or from a file reference (local or object storage, ``records/input.py``); with ``output_path``
the result is written atomically and handed on as a reference (``records/output.py``): under a local base, or with
``base_uri`` (+ ``conn_id``) as an object published by a multipart upload completed after the last record.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from pydantic import Field, field_validator, model_validator

from airflow_provider_flow.core.config import ConfigModel, validate_config
from airflow_provider_flow.core.progress import ProgressReporter, paced_blocks
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.expressions import JmesPath, compile_expression
from airflow_provider_flow.records.codecs import RecordFormat
from airflow_provider_flow.records.input import input_blocks
from airflow_provider_flow.records.operations import (
    FilterStep,
    ProjectStep,
    RecordStep,
    Stage,
    apply_stage,
    drop_stage,
    limit_stage,
    record_steps_stage,
    rename_stage,
    run_pipeline,
    sort_stage,
    unique_stage,
)
from airflow_provider_flow.records.output import emit_records
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.totals import expected_records
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

#: The records of a block (:func:`~airflow_provider_flow.records.input.input_blocks`), without its text.
_RECORDS = itemgetter(0)

TRANSFORM_OPERATIONS = ("filter", "select", "map", "rename", "drop", "limit", "sort_by", "unique_by", "apply")


class SortSpec(ConfigModel):
    """``{"sort_by": {"key": "age", "reverse": true}}``; the short form ``{"sort_by": "age"}`` sorts ascending."""

    key: JmesPath
    reverse: bool = False


class TransformOperation(ConfigModel):
    """One step of a transform; exactly one key is set (checked with a message naming the allowed ones)."""

    filter: JmesPath | None = None
    select: dict[str, JmesPath] | None = None
    map: dict[str, JmesPath] | None = None
    rename: dict[str, str] | None = None
    drop: list[str] | None = None
    limit: int | None = Field(default=None, ge=0, le=10**15)
    sort_by: JmesPath | SortSpec | None = None
    unique_by: JmesPath | None = None
    apply: Callable[[Any], Any] | None = Field(default=None, exclude=True)
    """A Python callable (DAG files only; JSON and flow files cannot hold one): record -> record, or None to drop."""

    @field_validator("rename")
    @classmethod
    def _distinct_targets(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        targets = list((value or {}).values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"two fields are renamed to {twice[0]!r}; one would silently overwrite the other")
        return value

    @model_validator(mode="after")
    def _one_operation(self) -> TransformOperation:
        chosen = [name for name in TRANSFORM_OPERATIONS if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"an operation has exactly one key, one of {', '.join(TRANSFORM_OPERATIONS)}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in TRANSFORM_OPERATIONS if getattr(self, name) is not None)


class TransformConfig(ConfigModel):
    """Config of the ``transform`` runtime: ordered operations over records (inline or a file reference)."""

    operations: list[TransformOperation] = Field(default_factory=list)
    output_path: str | None = Field(
        default=None, description="Stream the result to this file (relative to the base) and return a reference."
    )
    fs_conn_id: str | None = Field(
        DEFAULT_FS_CONN_ID, description="An 'fs' connection whose extra 'path' is the base of output_path."
    )
    base_path: str | None = Field(None, description="Absolute base directory of output_path; wins over fs_conn_id.")
    base_uri: str | None = Field(None, description=OBJECT_BASE_URI_HELP)
    conn_id: str | None = Field(None, description=OBJECT_CONN_ID_HELP)
    part_size: int | None = Field(None, ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description=PART_SIZE_HELP)
    output_format: RecordFormat | None = Field(
        default=None, description="Format of output_path; default from its extension (.ndjson/.jsonl, .json, .csv)."
    )
    sort_buffer_records: int = Field(
        default=100_000,
        ge=1,
        le=100_000_000,
        description="sort_by holds at most this many records in memory and spills sorted runs to temp files beyond.",
    )
    max_unique_keys: int = Field(
        default=5_000_000,
        ge=1,
        le=1_000_000_000,
        description="unique_by keeps a 16-byte digest per distinct key; more distinct keys than this fails clearly.",
    )

    _one_base = model_validator(mode="before")(one_kind_of_base)
    _no_secret = field_validator("base_uri")(no_credentials_in_uri)

    @field_validator("operations", mode="before")
    @classmethod
    def _known_operations(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            keys = list(item)
            unknown = [k for k in keys if k not in TRANSFORM_OPERATIONS]
            if unknown:
                raise ValueError(
                    f"operations[{index}]: unknown operation {unknown[0]!r}; allowed: {', '.join(TRANSFORM_OPERATIONS)}"
                )
            if len(keys) != 1:
                raise ValueError(
                    f"operations[{index}]: one key per operation, got {keys}; write them as separate list items"
                )
        return value


def build_stages(config: TransformConfig) -> list[Stage]:
    """Compile every expression once, up front: a bad expression fails before any record is read."""
    stages: list[Stage] = []
    steps: list[RecordStep] = []  # consecutive filter/select/map run as one stage (records/operations.py)
    for position, op in enumerate(config.operations):
        step = _record_step(op, f"operations[{position}].{op.kind}")
        if step is not None:
            steps.append(step)
            continue
        if steps:
            stages.append(record_steps_stage(steps))
            steps = []
        stages.append(_build_stage(op, f"operations[{position}]", config))
    if steps:
        stages.append(record_steps_stage(steps))
    return stages


def _record_step(op: TransformOperation, field: str) -> RecordStep | None:
    """A filter, select or map as a step of a fused stage; None for the other operations."""
    if op.filter is not None:
        return FilterStep(compile_expression(op.filter, field=field))
    source = op.select if op.select is not None else op.map
    if source is None:
        return None
    mapping = {name: compile_expression(expr, field=f"{field}.{name}") for name, expr in source.items()}
    return ProjectStep(field, mapping, keep_existing=op.map is not None)


def _build_stage(op: TransformOperation, prefix: str, config: TransformConfig) -> Stage:
    kind = op.kind
    field = f"{prefix}.{kind}"
    if op.rename is not None:
        return rename_stage(field, op.rename)
    if op.drop is not None:
        return drop_stage(field, op.drop)
    if op.limit is not None:
        return limit_stage(op.limit)
    if op.sort_by is not None:
        spec = op.sort_by if isinstance(op.sort_by, SortSpec) else SortSpec(key=op.sort_by)
        where = f"{field}.key" if isinstance(op.sort_by, SortSpec) else field
        return sort_stage(compile_expression(spec.key, field=where), spec.reverse, config.sort_buffer_records)
    if op.unique_by is not None:
        return unique_stage(compile_expression(op.unique_by, field=field), field, config.max_unique_keys)
    if op.apply is not None:
        return apply_stage(field, op.apply)
    raise AssertionError(f"unhandled operation {kind}")  # pragma: no cover - the model admits only the kinds above


def transform_records(records: Iterable[Any], operations: list[dict[str, Any]]) -> list[Any]:
    """Convenience for scripts and tests: validate ``operations`` and transform an in-memory list."""
    config = validate_config(TransformConfig, {"operations": operations})
    return list(run_pipeline(records, build_stages(config)))


class TransformRuntime:
    """``transform``: filter/select/map/rename/drop/limit/sort_by/unique_by (and Python ``apply``) over records."""

    name = "transform"
    config_model = TransformConfig

    def execute(self, config: TransformConfig, input: Any, state: ExecutionState) -> list[Any] | FileReference:
        stages = build_stages(config)
        progress = ProgressReporter(state.log, "transform")
        kinds = ", ".join(op.kind for op in config.operations) or "no operations"
        state.log.info("transform: %s", kinds)
        storage = None
        if config.output_path is not None:  # resolved before reading, so its files count as this node's own
            storage = configured_storage(state, config)
        trusted = () if storage is None else (trust_root(storage),)
        # Counted as read, not only as written: a filter or a sort lets few records out for long, and the
        # estimate follows the input whose size is known. Read, counted and paced a block at a time (a read
        # block of a file, a slice of a list), then handed on record by record in C: no layer per record.
        progress.total_input = expected_records(input)
        blocks = paced_blocks(
            input_blocks(input, state, trusted_bases=trusted), state, "transform", progress, as_input=True
        )
        read = itertools.chain.from_iterable(map(_RECORDS, blocks))
        # Python callables (apply) may take long per record: the deadline is then also checked record by record.
        per_record = any(op.apply is not None for op in config.operations)
        records = run_pipeline(read, stages, state=state if per_record else None)
        return emit_records(
            records,
            progress,
            storage=storage,
            output_path=config.output_path,
            format=config.output_format,
            batched=not per_record,
        )
