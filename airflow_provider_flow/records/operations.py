"""Streaming record operations: each is a generator stage over ``(input index, record)`` pairs.

The ``transform`` runtime compiles its config into these stages and chains them with :func:`run_pipeline`, so a
million-record file flows through one record at a time. Every operation is O(1) in memory per record except two:

* ``sort_by`` must see every record before yielding the first one. It holds at most ``sort_buffer_records``
  records; beyond that it sorts the buffer and spills it as a run to an anonymous temporary file (pickled:
  the process reads back only what it wrote itself, deleted on close), then streams a k-way ``heapq.merge`` of
  the runs. Memory stays at one buffer plus one record per run, whatever the input size; the sort is stable.
* ``unique_by`` keeps a 16-byte digest per distinct key (about 100 bytes each with set overhead), not the
  records, and fails with a clear error past ``max_unique_keys`` instead of letting the worker be OOM-killed.

Consecutive ``filter``/``select``/``map`` operations run as one stage (:func:`record_steps_stage`): one loop
generated once per run with their expressions written inline, so a record costs no generator layer and no call
per operation or per expression node. ``limit`` stops reading the input as soon as it is reached.

Errors name the operation (``operations[2].filter``), the input record index (0-based position in the input,
stable across sorts), the expression and the reason.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import IO, Any, NoReturn

from airflow_provider_flow.core.jsontext import nesting_error
from airflow_provider_flow.core.progress import paced
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowValidationError
from airflow_provider_flow.expressions import Expression
from airflow_provider_flow.expressions.inline import Names, getter_of, inline

#: A record travelling through the pipeline with its position in the input, for error messages.
Indexed = tuple[int, Any]
Stage = Callable[[Iterator[Indexed]], Iterator[Indexed]]


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


@dataclass(frozen=True)
class FilterStep:
    """Keep the records for which ``expr`` is truthy (JMESPath truthiness)."""

    expr: Expression


@dataclass(frozen=True)
class ProjectStep:
    """Replace each record with ``{name: expression}`` (``select``), or add them to it (``map``)."""

    field: str
    mapping: dict[str, Expression]
    keep_existing: bool


RecordStep = FilterStep | ProjectStep


def record_steps_stage(steps: Sequence[RecordStep]) -> Stage:
    """Consecutive filters, selects and maps as ONE stage: one generated loop, the expressions written inline.

    A stage per operation costs a generator layer per record each, and evaluating through closures a call per
    expression node; for ``filter`` + ``select`` over a million records that was most of the time outside
    parsing and encoding. The loop is generated once per run from identifiers only (see
    :mod:`airflow_provider_flow.expressions.inline`); any failure re-evaluates the failing step's expressions
    with :meth:`Expression.search`, which raises the error naming the operation, the record and the reason.
    """
    try:
        return _generated_loop(steps, inline_expressions=True)
    except (RecursionError, SyntaxError, MemoryError):  # text too deeply nested for Python's compiler
        return _generated_loop(steps, inline_expressions=False)


def _generated_loop(steps: Sequence[RecordStep], *, inline_expressions: bool) -> Stage:
    names = Names()
    get = names.read_fields_with("record")

    def text(expr: Expression) -> str:
        return inline(expr, "record", names) if inline_expressions else f"{names.bind(expr.evaluator(), 'f')}(record)"

    body: list[str] = [f"        {getter_of('record', get)}"]
    for step in steps:
        fail = names.bind(partial(_step_failed, step), "fail")
        body.append("        try:")
        if isinstance(step, FilterStep):
            body.append(f"            kept = {text(step.expr)}")
        else:
            values = ", ".join(f"{names.bind(name, 'n')}: {text(expr)}" for name, expr in step.mapping.items())
            body.append(f"            computed = {{{values}}}")
        body += ["        except Exception as exc:", f"            {fail}(record, index, exc)"]
        if isinstance(step, FilterStep):
            body += ["        if not (kept is True or (kept is not False and truthy(kept))):", "            continue"]
        elif step.keep_existing:
            need = names.bind(partial(_need_object, step.field), "need")
            body.append(f"        record = {{**{need}(index, record, 'map'), **computed}}")
        else:
            body.append("        record = computed")
        if not isinstance(step, FilterStep) and step is not steps[-1]:
            body.append(f"        {get} = record.get")  # the next step reads the new record
    source = (
        "def stage(items):\n    for index, record in items:\n" + "\n".join(body) + "\n        yield index, record\n"
    )
    exec(compile(source, "<record steps>", "exec"), names.values)  # identifiers only, see expressions/inline.py
    stage: Stage = names.values["stage"]
    return stage


def _step_failed(step: RecordStep, record: Any, index: int, exc: Exception) -> NoReturn:
    """Raise the error naming the record: evaluation is pure, so :meth:`Expression.search` fails the same way."""
    for expr in [step.expr] if isinstance(step, FilterStep) else step.mapping.values():
        expr.search(record, index=index)
    raise exc  # pragma: no cover - only if the inline and the checked paths disagreed (property-tested)


def filter_stage(expr: Expression) -> Stage:
    return record_steps_stage([FilterStep(expr)])


def project_stage(field: str, mapping: dict[str, Expression], *, keep_existing: bool) -> Stage:
    return record_steps_stage([ProjectStep(field, mapping, keep_existing)])


def rename_stage(field: str, renames: dict[str, str]) -> Stage:
    """A renamed field replaces a field already called like its new name, whatever the records' key order."""

    targets = frozenset(renames.values())

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            obj = _need_object(field, index, record, "rename")
            if obj.keys().isdisjoint(targets):  # the usual case: no field to replace, one pass
                yield index, {renames.get(key, key): value for key, value in obj.items()}
                continue
            replaced = {renames[key] for key in obj if key in renames}
            yield (
                index,
                {renames.get(key, key): value for key, value in obj.items() if key in renames or key not in replaced},
            )

    return stage


def drop_stage(field: str, names: list[str]) -> Stage:
    dropped = frozenset(names)

    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        for index, record in items:
            obj = _need_object(field, index, record, "drop")
            yield index, {key: value for key, value in obj.items() if key not in dropped}

    return stage


def limit_stage(n: int) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        if n <= 0:
            return
        for count, item in enumerate(items, start=1):
            yield item
            if count >= n:
                return  # stop pulling: upstream (and the input file) is not read further

    return stage


def apply_stage(field: str, func: Callable[[Any], Any]) -> Stage:
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
        except RecursionError:  # pickling walks the record recursively
            handle.close()
            raise nesting_error(f"record {item[1]} (spilled to disk by sort_by)") from None
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


def sort_stage(expr: Expression, reverse: bool, buffer_size: int) -> Stage:

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
                    buffer.sort(key=lambda item: item[0], reverse=reverse)
                    runs.spill(buffer)
                    buffer = []
            buffer.sort(key=lambda item: item[0], reverse=reverse)
            if runs.files:
                runs.spill(buffer)
                buffer = []
                sorted_items: Iterable[tuple[Any, int, Any]] = runs.merged(reverse)
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


def unique_stage(expr: Expression, field: str, bound: int) -> Stage:
    def stage(items: Iterator[Indexed]) -> Iterator[Indexed]:
        seen: set[bytes] = set()
        for index, record in items:
            key = expr.search(record, index=index)
            try:
                canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str).encode()
            except RecursionError:
                raise nesting_error(f"the key of record {index} ({field})") from None
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


def run_pipeline(records: Iterable[Any], stages: list[Stage], *, state: ExecutionState | None = None) -> Iterator[Any]:
    """Chain the stages lazily over ``records``; yields transformed records one at a time."""
    items: Iterator[Indexed] = enumerate(records if state is None else paced(records, state, "transform"))
    for stage in stages:
        items = stage(items)
    return map(_RECORD, items)  # in C: one generator layer less per record


_RECORD = itemgetter(1)
