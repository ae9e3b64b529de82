"""A node's input as records, whatever shape upstream handed on: inline records, references, or several upstreams.

A node with one upstream gets that node's output; with several, an :func:`upstream_outputs` envelope whose
outputs are read one after another (a union, not a join). Either way :func:`input_records` streams records and
never holds a referenced file in memory.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.reader import iter_reference, reference_blocks
from airflow_provider_flow.records.reference import FileReference, as_reference

if TYPE_CHECKING:
    from airflow_provider_flow.core.state import ExecutionState

#: ``kind`` of the input a node with several upstream nodes receives (see :func:`upstream_outputs`).
UPSTREAMS_KIND = "upstreams"


def upstream_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The input of a node with several upstream nodes: their outputs by id, in the order listed.

    Record-reading runtimes read the records of each output one after another (a union, not a join), whether an
    output is inline records or a file reference; the envelope keeps that unambiguous from a single dict record.
    """
    return {"kind": UPSTREAMS_KIND, "outputs": dict(outputs)}


#: Records per block when inline records are handed on in blocks (:func:`input_blocks`).
LIST_BLOCK_RECORDS = 1000

#: A block gathered from a Python iterable is handed on after this long even when not full, so the records of a
#: slow generator are written, counted and logged at their own pace rather than held back for a full block.
GATHER_SECONDS = 0.2

#: One block of records, with the NDJSON lines they were read from when those are their exact JSON (else None).
Block = tuple[list[Any], bytes | memoryview | None]


def input_records(
    data: Any, state: ExecutionState, *, field: str = "data", trusted_bases: Sequence[str] = ()
) -> Iterator[Any]:
    """A node's input as records: a list (as is), one record dict, a file reference, a list of them, or None.

    ``trusted_bases``: the node's own real base folders; references elsewhere are verified before they are
    streamed (see ``records/reader.py``).
    """
    kind, value = _classify(data, field)
    if kind == "upstreams":
        return _chain_upstreams(value, state, field, trusted_bases)
    if kind == "references":
        return _chain_refs(value, state, trusted_bases)
    return iter(value)


def input_blocks(
    data: Any,
    state: ExecutionState,
    *,
    field: str = "data",
    trusted_bases: Sequence[str] = (),
    text_only: bool = False,
) -> Iterator[Block]:
    """:func:`input_records` a block at a time, so a runtime counts, paces and writes per block, not per record.

    Inline lists come in slices of :data:`LIST_BLOCK_RECORDS`; referenced files a read block at a time, with
    their original NDJSON lines where those are the records' exact JSON (a UTF-8 NDJSON writer takes them as
    they are: :meth:`~airflow_provider_flow.records.writer.RecordWriter.write_lines`); records from a Python
    generator gathered into blocks of the same size, each handed on after :data:`GATHER_SECONDS` at the latest
    (a slow generator's records are not held back; one by one, a fast one cost ~2 us per record in per-block
    work, half of file.sink's time). ``text_only``: the caller
    writes the text of every block that has one (see :func:`~airflow_provider_flow.records.codecs.record_blocks`).
    """
    kind, value = _classify(data, field)  # here, so bad input fails before the runtime opens anything
    return _blocks(kind, value, state, field, trusted_bases, text_only)


def _blocks(
    kind: str, value: Any, state: ExecutionState, field: str, trusted_bases: Sequence[str], text_only: bool
) -> Iterator[Block]:
    if kind == "upstreams":
        for upstream_id, output in value.items():
            yield from input_blocks(
                output, state, field=f"{field}.{upstream_id}", trusted_bases=trusted_bases, text_only=text_only
            )
    elif kind == "references":
        for ref in value:
            yield from reference_blocks(ref, state, trusted_bases=trusted_bases, text_only=text_only)
    elif isinstance(value, (list, tuple)):
        for start in range(0, len(value), LIST_BLOCK_RECORDS):
            yield list(value[start : start + LIST_BLOCK_RECORDS]), None
    else:
        yield from _gathered(iter(value))


def _gathered(records: Iterator[Any]) -> Iterator[Block]:
    """Records of an iterable in blocks of up to :data:`LIST_BLOCK_RECORDS`, none older than :data:`GATHER_SECONDS`
    (a record that took longer to come than that goes on at once, in a block of its own)."""
    clock = time.monotonic
    block: list[Any] = []
    started = clock()
    for record in records:
        block.append(record)
        if len(block) >= LIST_BLOCK_RECORDS or clock() - started >= GATHER_SECONDS:
            yield block, None
            block = []
            started = clock()
    if block:
        yield block, None


def _classify(data: Any, field: str) -> tuple[str, Any]:
    """What the input is, checked once for the whole input (not per record): ``upstreams`` (their outputs by
    id), ``references`` (a list of them), or ``records`` (a list, a tuple or an iterable of records)."""
    if data is None:
        return "records", ()
    if isinstance(data, dict) and data.get("kind") == UPSTREAMS_KIND and isinstance(data.get("outputs"), dict):
        return "upstreams", data["outputs"]
    ref = as_reference(data)
    if ref is not None:
        return "references", [ref]
    if isinstance(data, (list, tuple)):
        refs = [as_reference(item) for item in data] if data and FileReference.is_reference(data[0]) else []
        if refs and all(r is not None for r in refs):
            return "references", [r for r in refs if r is not None]
        if refs or holds_reference(data):
            raise FlowValidationError(
                "mixes file references and inline records; pass one or the other",
                field=field,
                value=f"list of {len(data)}",
            )
        return "records", data
    if isinstance(data, dict):
        return "records", (data,)
    if isinstance(data, str):
        raise FlowValidationError(
            "is a string, not records; pass a list of records or an upstream task's .output (an XComArg), or set "
            "render_template_as_native_obj=True on the DAG when templating it",
            field=field,
            value=data[:120],
        )
    if isinstance(data, Iterable) and not isinstance(data, (bytes, bytearray)):
        return "records", data  # generators from Python callers: streamed as they come
    raise FlowValidationError(
        f"is a {type(data).__name__}; pass a list of records, a dict, or a file reference",
        field=field,
        value=repr(data)[:120],
    )


def holds_reference(items: Sequence[Any]) -> bool:
    """Whether any item is a file reference: for the usual records (all plain dicts) decided in C, with no Python
    call per record; anything else item by item."""
    if set(map(type, items)) == {dict} and "file" not in map(dict.get, items, itertools.repeat("kind")):
        return False
    return any(map(FileReference.is_reference, items))


def _chain_upstreams(
    outputs: dict[str, Any], state: ExecutionState, field: str, trusted_bases: Sequence[str]
) -> Iterator[Any]:
    for upstream_id, output in outputs.items():
        yield from input_records(output, state, field=f"{field}.{upstream_id}", trusted_bases=trusted_bases)


def _chain_refs(refs: list[FileReference], state: ExecutionState, trusted_bases: Sequence[str]) -> Iterator[Any]:
    for ref in refs:
        yield from iter_reference(ref, state, trusted_bases=trusted_bases)
