"""A node's input as records, whatever shape upstream handed on: inline records, references, or several upstreams.

A node with one upstream gets that node's output; with several, an :func:`upstream_outputs` envelope whose
outputs are read one after another (a union, not a join). Either way :func:`input_records` streams records and
never holds a referenced file in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.records.reader import iter_reference
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


def input_records(
    data: Any, state: ExecutionState, *, field: str = "data", trusted_bases: Sequence[str] = ()
) -> Iterator[Any]:
    """A node's input as records: a list (as is), one record dict, a file reference, a list of them, or None.

    ``trusted_bases``: the reading node's own real base folders; references elsewhere are verified before
    they are streamed (see the module docstring).
    """
    if data is None:
        return iter(())
    if isinstance(data, dict) and data.get("kind") == UPSTREAMS_KIND and isinstance(data.get("outputs"), dict):
        return _chain_upstreams(data["outputs"], state, field, trusted_bases)
    ref = as_reference(data)
    if ref is not None:
        return iter_reference(ref, state, trusted_bases=trusted_bases)
    if isinstance(data, (list, tuple)):
        refs = [as_reference(item) for item in data]
        if data and all(r is not None for r in refs):
            return _chain_refs([r for r in refs if r is not None], state, trusted_bases)
        if any(r is not None for r in refs):
            raise FlowValidationError(
                "mixes file references and inline records; pass one or the other",
                field=field,
                value=f"list of {len(data)}",
            )
        return iter(data)
    if isinstance(data, dict):
        return iter((data,))
    if isinstance(data, str):
        raise FlowValidationError(
            "is a string, not records; pass a list of records or an upstream task's .output (an XComArg), or set "
            "render_template_as_native_obj=True on the DAG when templating it",
            field=field,
            value=data[:120],
        )
    if isinstance(data, Iterable) and not isinstance(data, (bytes, bytearray)):
        return iter(data)  # generators from Python callers: streamed as they come
    raise FlowValidationError(
        f"is a {type(data).__name__}; pass a list of records, a dict, or a file reference",
        field=field,
        value=repr(data)[:120],
    )


def _chain_upstreams(
    outputs: dict[str, Any], state: ExecutionState, field: str, trusted_bases: Sequence[str]
) -> Iterator[Any]:
    for upstream_id, output in outputs.items():
        yield from input_records(output, state, field=f"{field}.{upstream_id}", trusted_bases=trusted_bases)


def _chain_refs(refs: list[FileReference], state: ExecutionState, trusted_bases: Sequence[str]) -> Iterator[Any]:
    for ref in refs:
        yield from iter_reference(ref, state, trusted_bases=trusted_bases)
