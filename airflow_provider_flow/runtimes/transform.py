"""The ``transform`` runtime: ordered operations over records, streamed so memory stays flat.

Records come inline (a list from XCom) or as a :class:`~airflow_provider_flow.models.FileReference`, read record
by record through :func:`airflow_provider_flow.runtimes.formats.input_records`. Each operation is a generator
stage, so a million-record file flows through one record at a time and, with ``output_path``, is written through
the file layer's ``RecordWriter`` (atomic: a failed run leaves no partial file) and returned as a reference.

Memory: every operation is O(1) per record except two:

* ``sort_by`` must see every record before yielding the first one. It holds at most ``sort_buffer_records``
  records; beyond that it sorts the buffer and spills it as a run to an anonymous temporary file (pickled:
  the process reads back only what it wrote itself, deleted on close), then streams a k-way ``heapq.merge`` of
  the runs. Memory stays at one buffer plus one record per run, whatever the input size; the sort is stable.
* ``unique_by`` keeps a 16-byte digest per distinct key (about 100 bytes each with set overhead), not the
  records, and fails with a clear error past ``max_unique_keys`` instead of letting the worker be OOM-killed.

``limit`` stops reading the input as soon as it is reached. Errors name the operation (``operations[2].filter``),
the input record index (0-based position in the input, stable across sorts), the expression and the reason.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.models import FileReference, SortSpec, TransformConfig, TransformOperation
from airflow_provider_flow.runtimes import fileio, formats
from airflow_provider_flow.runtimes.expressions import Expression, compile_expression, is_truthy
from airflow_provider_flow.runtimes.progress import ProgressReporter
from airflow_provider_flow.runtimes.state import ExecutionState

#: A record travelling through the pipeline with its position in the input, for error messages.
Indexed = tuple[int, Any]
Stage = Callable[[Iterator[Indexed]], Iterator[Indexed]]

#: How often (in records) the deadline is checked: cheap enough to be negligible, frequent enough to stop promptly.
_DEADLINE_EVERY = 1000


def _need_object(field: str, index: int, record: Any, what: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise FlowValidationError(
            f"{what} needs records that are JSON objects, but record {index} is {type(record).__name__}: "
            f"{record!r:.120}. Use 'select' to build objects first",
            field=field,
            value=record,
            details={"record_index": index},
        )
    return record


def _filter_stage(expr: Expression) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            if is_truthy(expr.search(record, index=index)):
                yield index, record

    return stage


def _project_stage(field: str, mapping: dict[str, Expression], *, keep_existing: bool) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            computed = {name: expr.search(record, index=index) for name, expr in mapping.items()}
            if keep_existing:
                yield index, {**_need_object(field, index, record, "map"), **computed}
            else:
                yield index, computed

    return stage


def _rename_stage(field: str, renames: dict[str, str]) -> Stage:
    """A renamed field replaces a field already called like its new name, whatever the records' key order."""

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            obj = _need_object(field, index, record, "rename")
            replaced = {renames[key] for key in obj if key in renames}
            yield (
                index,
                {renames.get(key, key): value for key, value in obj.items() if key in renames or key not in replaced},
            )

    return stage


def _drop_stage(field: str, names: list[str]) -> Stage:
    dropped = frozenset(names)

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            obj = _need_object(field, index, record, "drop")
            yield index, {key: value for key, value in obj.items() if key not in dropped}

    return stage


def _limit_stage(n: int) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        if n <= 0:
            return
        for count, item in enumerate(items, start=1):
            yield item
            if count >= n:
                return  # stop pulling: upstream (and the input file) is not read further

    return stage


def _apply_stage(field: str, func: Callable[[Any], Any]) -> Stage:
    name = getattr(func, "__qualname__", repr(func))

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            try:
                result = func(record)
            except FlowValidationError:
                raise
            except Exception as exc:  # the user's callable: report which record broke it, then fail the task
                raise FlowValidationError(
                    f"callable {name} raised {type(exc).__name__}: {exc} on record {index}",
                    field=field,
                    value=name,
                    details={"record_index": index},
                ) from exc
            if result is not None:
                yield index, result

    return stage


def _key_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


class _SortRuns:
    """Sorted runs spilled to anonymous temporary files, merged lazily. Items are (key, index, record)."""

    def __init__(self) -> None:
        self.files: list[IO[bytes]] = []

    def spill(self, items: list[tuple[Any, int, Any]]) -> None:
        handle = tempfile.TemporaryFile(prefix="flow-sort-")  # noqa: SIM115 - lives until close(); unnamed, removed then
        try:
            pickler = pickle.Pickler(handle, protocol=pickle.HIGHEST_PROTOCOL)
            for item in items:
                pickler.dump(item)
                pickler.clear_memo()
            handle.seek(0)
        except OSError as exc:
            handle.close()
            raise FileError(
                f"sort_by could not spill to the temporary folder: {exc}; free space in TMPDIR or raise "
                "sort_buffer_records",
                path=tempfile.gettempdir(),
                operation="write",
                retryable=True,
            ) from exc
        self.files.append(handle)

    @staticmethod
    def _read(handle: IO[bytes]) -> Iterator[tuple[Any, int, Any]]:
        while True:
            try:
                # A fresh unpickler per item: one long-lived unpickler's memo grows with every record it reads.
                yield pickle.load(handle)
            except EOFError:
                return

    def merged(self, reverse: bool) -> Iterator[tuple[Any, int, Any]]:
        return heapq.merge(*(self._read(f) for f in self.files), key=lambda item: item[0], reverse=reverse)

    def close(self) -> None:
        for handle in self.files:
            handle.close()
        self.files.clear()


def _sort_stage(spec: SortSpec, field: str, buffer_size: int) -> Stage:
    expr = compile_expression(spec.key, field=field)

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        buffer: list[tuple[Any, int, Any]] = []
        missing = _SortRuns()  # records without a key go last, in input order (spilled like the rest)
        missing_buffer: list[tuple[Any, int, Any]] = []
        runs = _SortRuns()
        kind: str | None = None
        try:
            for index, record in items:
                key = expr.search(record, index=index)
                if key is None:
                    missing_buffer.append((0, index, record))
                    if len(missing_buffer) >= buffer_size:
                        missing.spill(missing_buffer)
                        missing_buffer = []
                    continue
                this = _key_kind(key)
                if this not in ("number", "string"):
                    raise expr.error(index, record, f"sort key is a {this}; sort keys must be numbers or strings")
                if kind is None:
                    kind = this
                elif this != kind:
                    raise expr.error(index, record, f"sort key is a {this} but earlier keys are {kind}s")
                buffer.append((key, index, record))
                if len(buffer) >= buffer_size:
                    buffer.sort(key=lambda item: item[0], reverse=spec.reverse)
                    runs.spill(buffer)
                    buffer = []
            buffer.sort(key=lambda item: item[0], reverse=spec.reverse)
            if runs.files:
                runs.spill(buffer)
                buffer = []
                sorted_items: Iterable[tuple[Any, int, Any]] = runs.merged(spec.reverse)
            else:
                sorted_items = buffer
            for _key, index, record in sorted_items:
                yield index, record
            if missing.files:
                missing.spill(missing_buffer)
                missing_buffer = []
                for _zero, index, record in missing.merged(False):
                    yield index, record
            for _zero, index, record in missing_buffer:
                yield index, record
        finally:
            runs.close()
            missing.close()

    return stage


def _unique_stage(expr: Expression, field: str, bound: int) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        seen: set[bytes] = set()
        for index, record in items:
            key = expr.search(record, index=index)
            canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str).encode()
            digest = hashlib.blake2b(canonical, digest_size=16).digest()
            if digest in seen:
                continue
            if len(seen) >= bound:
                raise FlowValidationError(
                    f"unique_by keeps one key per distinct value and found more than max_unique_keys={bound}; "
                    "raise max_unique_keys (about 100 bytes of memory per key) or deduplicate upstream",
                    field=field,
                    value=bound,
                )
            seen.add(digest)
            yield index, record

    return stage


def build_stages(config: TransformConfig) -> list[Stage]:
    """Compile every expression once, up front: a bad expression fails before any record is read."""
    stages: list[Stage] = []
    for position, op in enumerate(config.operations):
        stages.append(_build_stage(op, f"operations[{position}]", config))
    return stages


def _build_stage(op: TransformOperation, prefix: str, config: TransformConfig) -> Stage:
    kind = op.kind
    field = f"{prefix}.{kind}"
    if op.filter is not None:
        return _filter_stage(compile_expression(op.filter, field=field))
    if op.select is not None or op.map is not None:
        source = op.select if op.select is not None else op.map
        assert source is not None
        mapping = {name: compile_expression(expr, field=f"{field}.{name}") for name, expr in source.items()}
        return _project_stage(field, mapping, keep_existing=op.map is not None)
    if op.rename is not None:
        return _rename_stage(field, op.rename)
    if op.drop is not None:
        return _drop_stage(field, op.drop)
    if op.limit is not None:
        return _limit_stage(op.limit)
    if op.sort_by is not None:
        spec = op.sort_by if isinstance(op.sort_by, SortSpec) else SortSpec(key=op.sort_by)
        where = f"{field}.key" if isinstance(op.sort_by, SortSpec) else field
        return _sort_stage(spec, where, config.sort_buffer_records)
    if op.unique_by is not None:
        return _unique_stage(compile_expression(op.unique_by, field=field), field, config.max_unique_keys)
    if op.apply is not None:
        return _apply_stage(field, op.apply)
    raise AssertionError(f"unhandled operation {kind}")  # pragma: no cover - the model admits only the kinds above


def run_pipeline(records: Iterable[Any], stages: list[Stage], *, state: ExecutionState | None = None) -> Iterator[Any]:
    """Chain the stages lazily over ``records``; yields transformed records one at a time."""
    items: Iterator[Indexed] = enumerate(records)
    if state is not None:
        items = _watch_deadline(items, state)
    for stage in stages:
        items = stage(items)
    for _index, record in items:
        yield record


def _watch_deadline(items: Iterator[Indexed], state: ExecutionState) -> Iterator[Indexed]:
    for index, record in items:
        if index % _DEADLINE_EVERY == 0:
            state.check_deadline("transform")
        yield index, record


def transform_records(records: Iterable[Any], operations: list[dict[str, Any]]) -> list[Any]:
    """Convenience for scripts and tests: validate ``operations`` and transform an in-memory list."""
    from airflow_provider_flow.models import validate_config

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
        base = None
        if config.output_path is not None:  # resolved before reading, so its files count as this node's own
            base = fileio.resolve_base(state, fs_conn_id=config.fs_conn_id, base_path=config.base_path)
        trusted = () if base is None else (base,)
        records = run_pipeline(formats.input_records(input, state, trusted_bases=trusted), stages, state=state)
        if base is None or config.output_path is None:
            out: list[Any] = []
            for record in records:
                out.append(record)
                progress.update(records=1)
            progress.finish()
            return out
        with formats.RecordWriter(base, config.output_path, format=config.output_format) as writer:
            for record in records:
                writer.write(record)
                progress.update(records=1)
        progress.finish()
        return writer.reference(fs_conn_id=config.fs_conn_id, base_path=config.base_path)


__all__ = ["TransformRuntime", "build_stages", "run_pipeline", "transform_records"]
