"""What each built-in runtime reads and writes, from its validated config, its input and (once done) its output.

Called twice per task by the operator: before ``execute`` (``output`` is None: what the config names) and after
(the written references, a schema sampled from the written records, column lineage). Records passed inline
through XCom are not datasets: only HTTP endpoints, files and objects are. Any location that cannot be resolved
(a base that does not exist yet, a refused path) is left out: lineage never fails or slows a task.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from pydantic import BaseModel

from airflow_provider_flow.core.settings import SettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.http.settings import HTTP
from airflow_provider_flow.lineage.columns import ColumnPlan, plan_operations
from airflow_provider_flow.lineage.model import FieldSource, LineageDataset, NodeLineage, SchemaField
from airflow_provider_flow.lineage.naming import file_dataset_id, http_dataset_id, is_uri, uri_dataset_id
from airflow_provider_flow.lineage.schema import SAMPLE_RECORDS, infer_schema
from airflow_provider_flow.llm.merge import declared_fields
from airflow_provider_flow.records.input import UPSTREAMS_KIND
from airflow_provider_flow.records.reader import iter_records, reference_base
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.storage.base import check_base, node_storage
from airflow_provider_flow.storage.paths import confine_path

#: A JSON file is parsed whole; its schema is sampled only up to this size (NDJSON/CSV stream: any size).
MAX_JSON_SAMPLE_BYTES = 8 * 1024 * 1024

_RESOLVE_ERRORS = (Exception,)  # lineage is best effort: a location that cannot be resolved is left out


def node_lineage(
    runtime: str,
    config: BaseModel,
    data: Any,
    output: Any,
    settings: SettingsProvider,
    secrets: Iterable[str] = (),
) -> NodeLineage:
    """Inputs and outputs of one node; ``output`` is None before the run (or after a failure)."""
    state = ExecutionState(settings=settings)
    inputs = tuple(_references(data, state))
    c: Any = config
    if runtime in ("http.source", "http.sink"):
        endpoint = _http(c.http_conn_id, c.endpoint, state, secrets)
        if runtime == "http.source":
            written = _written(output, c, state)
            records = output if isinstance(output, list) else None
            if endpoint and records is not None:
                endpoint = _with(endpoint, schema=infer_schema(records))
            outputs = (_passthrough(written, (endpoint,) if endpoint else None),) if written else ()
            return NodeLineage(inputs=(endpoint,) if endpoint else (), outputs=outputs)
        if endpoint is None:
            return NodeLineage(inputs=inputs)
        if output is not None:
            endpoint = _with(endpoint, schema=infer_schema(_sample(data, state)))
            endpoint = _passthrough(endpoint, inputs)
        return NodeLineage(inputs=inputs, outputs=(endpoint,))
    if runtime in ("file.sink", "file.source"):
        if runtime == "file.source":
            located = _local(c.path, c.fs_conn_id, getattr(c, "base_uri", None) or c.base_path, state)
            return NodeLineage(inputs=(located,) if located and "*" not in c.path else ())
        written = _written(output, c, state) or _local(
            c.path, c.fs_conn_id, getattr(c, "base_uri", None) or c.base_path, state
        )
        return NodeLineage(inputs=inputs, outputs=(_passthrough(written, inputs),) if written else ())
    if runtime in ("transform", "ai.transform"):
        written = _written(output, c, state)
        if written is None:
            return NodeLineage(inputs=inputs)
        plan = plan_operations(c.operations) if runtime == "transform" else _ai_plan(c)
        return NodeLineage(inputs=inputs, outputs=(_with_columns(written, plan, inputs),))
    return NodeLineage()


def _with(dataset: LineageDataset, **changes: Any) -> LineageDataset:
    return LineageDataset(**{**dataset.__dict__, **changes})


def _http(conn_id: str, endpoint: str, state: ExecutionState, secrets: Iterable[str]) -> LineageDataset | None:
    try:
        settings = state.settings.get(HTTP, conn_id)
        url = settings.url_for(endpoint)
        found = http_dataset_id(url, [*settings.secret_values(), *secrets])
    except _RESOLVE_ERRORS:
        return None
    return LineageDataset(*found) if found else None


def _local(path: str | None, fs_conn_id: str | None, base_path: str | None, state: ExecutionState) -> Any:
    """A config's target (``path``/``output_path`` under its storage), before anything was written."""
    if not path:
        return None
    if is_uri(base_path):
        found = uri_dataset_id(str(base_path).rstrip("/") + "/" + path.lstrip("/"))
        return LineageDataset(*found) if found else None
    try:
        storage = node_storage(state, fs_conn_id=fs_conn_id, base_path=base_path)
        return LineageDataset(*file_dataset_id(confine_path(storage.root, path, operation="lineage")))
    except _RESOLVE_ERRORS:
        return None


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def _reference_dataset(ref: Mapping[str, Any], state: ExecutionState) -> LineageDataset | None:
    """A file reference (or any reference naming its object by ``uri``) as a dataset."""
    for key in ("uri", "url"):
        if isinstance(ref.get(key), str):
            found = uri_dataset_id(ref[key])
            return LineageDataset(*found) if found else None
    path, base = ref.get("path"), ref.get("base_uri") or ref.get("base_path")  # base_uri: object storage
    if not isinstance(path, str):
        return None
    if is_uri(path):
        found = uri_dataset_id(path)
        return LineageDataset(*found) if found else None
    if is_uri(base):
        found = uri_dataset_id(str(base).rstrip("/") + "/" + path.lstrip("/"))
        return LineageDataset(*found) if found else None
    try:
        root = check_base(base) if base else node_storage(state, fs_conn_id=ref.get("fs_conn_id"), base_path=None).root
        return LineageDataset(*file_dataset_id(confine_path(root, path, operation="lineage")))
    except _RESOLVE_ERRORS:
        return None


def _references(data: Any, state: ExecutionState) -> Iterator[LineageDataset]:
    """Datasets of the references in a node's input: one reference, a list of them, or an upstreams envelope."""
    data = _plain(data)
    if isinstance(data, Mapping) and data.get("kind") == UPSTREAMS_KIND and isinstance(data.get("outputs"), Mapping):
        for value in data["outputs"].values():
            yield from _references(value, state)
    elif isinstance(data, Mapping) and "path" in data and data.get("kind") not in (None, ""):
        found = _reference_dataset(data, state)
        if found:
            yield found
    elif isinstance(data, list) and data and all(isinstance(i, Mapping) and "kind" in i for i in data[:1]):
        for item in data:
            yield from _references(item, state)


def _written(output: Any, config: Any, state: ExecutionState) -> LineageDataset | None:
    """The output dataset: the written reference after the run, else the configured target (if any)."""
    output = _plain(output)
    if isinstance(output, Mapping) and output.get("kind") and "path" in output:
        found = _reference_dataset(output, state)
        if found:
            return _with(found, schema=infer_schema(_sample(output, state)))
    if output is None:
        path = getattr(config, "output_path", None)
        base = getattr(config, "base_uri", None) or config.base_path  # base_uri: an s3:// dataset, as file.sink's
        return _local(path, config.fs_conn_id, base, state) if path else None
    return None


def _sample(data: Any, state: ExecutionState) -> list[Any]:
    """The first records of inline data or of a (local) referenced file, read at bounded cost."""
    data = _plain(data)
    if isinstance(data, list) and not (data and isinstance(data[0], Mapping) and data[0].get("kind") == "file"):
        return data[:SAMPLE_RECORDS]
    if isinstance(data, list):
        data = data[0]
    if not (isinstance(data, Mapping) and data.get("kind") == "file" and not is_uri(data.get("base_path"))) or data.get(
        "base_uri"
    ):  # object storage: not sampled (a network read for a schema)
        return []
    try:
        ref = FileReference.model_validate(dict(data))
        if ref.format == "json" and ref.bytes > MAX_JSON_SAMPLE_BYTES:
            return []
        base = reference_base(ref, state)
        records = iter_records(base, ref.path, format=ref.format, encoding=ref.encoding)
        try:
            return list(islice(records, SAMPLE_RECORDS))
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # the file is closed now, not when the generator is collected
    except _RESOLVE_ERRORS:
        return []


def _passthrough(dataset: LineageDataset, sources: Iterable[LineageDataset] | None) -> LineageDataset:
    """Records copied as they are (sinks, a source writing its file): each field from the same-named field."""
    return _with_columns(dataset, ColumnPlan(), tuple(sources or ()))


def _with_columns(
    dataset: LineageDataset, plan: ColumnPlan | None, inputs: tuple[LineageDataset, ...]
) -> LineageDataset:
    if plan is None or not inputs:
        return dataset
    seen = [f.name for f in dataset.schema or ()]
    if not seen and plan.passthrough and not plan.explicit:
        return dataset
    columns: dict[str, tuple[FieldSource, ...]] = {}
    for name in plan.output_fields(seen):
        sources = plan.sources_of(name)
        if not sources:
            continue
        columns[name] = tuple(
            FieldSource(
                src.namespace,
                src.name,
                field,
                "IDENTITY" if how is None else "TRANSFORMATION",
                None if how is None else how,
            )
            for src in inputs
            for field, how in sources.items()
        )
    return _with(dataset, columns=columns or None)


def _ai_plan(config: Any) -> ColumnPlan:
    """ai.transform keeps the record's fields; those the reply adds or may overwrite have no knowable source."""
    plan = ColumnPlan()
    replaced = set(config.overwrite_fields or ()) | ({config.output_field} if config.output_field else set())
    plan.removed |= replaced | set(declared_fields(config.output_schema, config.output_model) or ())
    return plan


__all__ = ["SchemaField", "node_lineage"]
