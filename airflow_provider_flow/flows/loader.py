"""Flow files read and checked as a whole: YAML/JSON text -> :class:`FlowSpec`, every problem reported at once.

Everything is checked before Airflow sees it: unknown or misspelled keys (every model forbids extra keys),
duplicate node ids, unknown runtimes, upstream ids that name no node, cycles, param defaults that break their own
schema, and each node's config against its runtime's config model (keys holding templates are left for run
time). Every problem becomes one line of a single :class:`FlowFileError` naming the file, the node and the key,
so the DAG import error in the UI and ``python -m airflow_provider_flow validate`` print the same text.

Importing this module never imports Airflow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from airflow_provider_flow.core.config import validate_static_config
from airflow_provider_flow.core.registry import RuntimeRegistry
from airflow_provider_flow.core.validation import allowed_keys_hint, plain_message
from airflow_provider_flow.errors import FlowFileError, FlowValidationError
from airflow_provider_flow.flows.spec import FlowNode, FlowSpec, ParamSpec, TaskDefaults

#: File name endings the folder loader and the CLI pick up.
FLOW_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def _node_label(raw_nodes: Any, index: int) -> str:
    if isinstance(raw_nodes, list) and index < len(raw_nodes) and isinstance(raw_nodes[index], Mapping):
        node_id = raw_nodes[index].get("id")
        if isinstance(node_id, str) and node_id:
            return f"node {node_id!r}"
    return f"node #{index + 1}"


def _bare(err: FlowValidationError) -> str:
    """The message without the ``field: `` prefix FlowValidationError adds (the caller names the key itself)."""
    prefix = f"{err.field}: " if err.field else ""
    return err.message[len(prefix) :] if prefix and err.message.startswith(prefix) else err.message


def _describe(error: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """One pydantic error as 'where: key ...: what is wrong', naming the node by id when it has one."""
    loc = list(error.get("loc", ()))
    where = "flow"
    owner: type[BaseModel] = FlowSpec
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        where = _node_label(raw.get("nodes"), loc[1])
        owner = FlowNode
        loc = loc[2:]
    elif len(loc) >= 2 and loc[0] == "params":
        where = f"param {loc[1]!r}"
        owner = ParamSpec
        loc = loc[2:]
    elif loc and loc[0] == "defaults":
        owner = TaskDefaults
        where = "defaults"
        loc = loc[1:]
    key = ".".join(str(part) for part in loc) or "(top level)"
    kind = error.get("type")
    if kind == "extra_forbidden":
        return f"{where}: unknown key {key!r}; {allowed_keys_hint(owner, str(loc[-1]))}"
    if kind == "missing":
        return f"{where}: key {key!r} is required but missing"
    shown = repr(error.get("input"))
    if len(shown) > 80:
        shown = shown[:77] + "..."
    message = plain_message(error)
    return f"{where}: key {key!r}: {message} (got {shown})"


def _no_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"duplicate key {key!r}: the second one would silently replace the first")
    return dict(pairs)


def _safe_load_unique(text: str) -> Any:
    """``yaml.safe_load`` that refuses a key given twice in one mapping (PyYAML keeps the last one silently).

    Keys brought in by a ``<<`` merge may still be overridden: that is what merges are for.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base loader reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {key!r}: the second one would silently replace the first",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects


def parse_flow_text(text: str, *, source: str) -> dict[str, Any]:
    """YAML or JSON text -> the raw mapping; syntax errors and duplicate keys name the file and line."""
    import yaml

    is_json = source.endswith(".json")
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_pairs) if is_json else _safe_load_unique(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise FlowFileError(source, [f"not valid {'JSON' if is_json else 'YAML'}: {exc}"]) from None
    if not isinstance(raw, dict):
        raise FlowFileError(source, [f"the file must hold a mapping with dag_id and nodes, got {type(raw).__name__}"])
    return raw


def _check_graph(spec: FlowSpec) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for node in spec.nodes:
        if node.id in seen:
            problems.append(f"node {node.id!r}: key 'id': duplicate node id {node.id!r}; node ids must be unique")
        seen.add(node.id)
    known = ", ".join(n.id for n in spec.nodes)
    for node in spec.nodes:
        repeated = sorted({up for up in node.upstream if node.upstream.count(up) > 1})
        if repeated:  # [a, a] would hand the node {a: output} instead of a's output
            problems.append(f"node {node.id!r}: key 'upstream': {repeated[0]!r} is listed more than once")
        for up in dict.fromkeys(node.upstream):
            if up == node.id:
                problems.append(f"node {node.id!r}: key 'upstream': a node cannot be its own upstream")
            elif up not in seen:
                problems.append(
                    f"node {node.id!r}: key 'upstream': unknown upstream id {up!r}; nodes in this flow: {known}"
                )
    if problems:
        return problems
    cycle = _find_cycle({n.id: list(n.upstream) for n in spec.nodes})
    if cycle:
        path = " -> ".join(cycle)
        problems.append(f"node {cycle[0]!r}: key 'upstream': dependency cycle {path}; a flow must be acyclic")
    return problems


def _find_cycle(upstreams: dict[str, list[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a] following upstream edges, or None."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(upstreams, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for up in upstreams[node]:
            if color[up] == grey:
                return [*stack[stack.index(up) :], up]
            if color[up] == white:
                found = visit(up)
                if found:
                    return found
        stack.pop()
        color[node] = black
        return None

    for start in upstreams:
        if color[start] == white:
            found = visit(start)
            if found:
                return found
    return None


def _check_nodes(spec: FlowSpec, registry: RuntimeRegistry) -> list[str]:
    problems: list[str] = []
    for node in spec.nodes:
        try:
            runtime = registry.get(node.runtime)
        except FlowValidationError as err:
            problems.append(f"node {node.id!r}: key 'runtime': {_bare(err)}")
            continue
        if node.incremental is not None:
            problems.extend(_check_incremental(spec, node, runtime.config_model))
        try:
            validate_static_config(runtime.config_model, node.runtime_config())
        except FlowValidationError as err:
            lines = err.details.get("errors") or [err.message]
            problems.extend(f"node {node.id!r} ({node.runtime}): {line}" for line in lines)
    return problems


def _check_incremental(spec: FlowSpec, node: FlowNode, model: type[BaseModel]) -> list[str]:
    """``incremental`` needs a runtime that loads incrementally, one place to set it, and a free commit task id."""
    where = f"node {node.id!r}: key 'incremental'"
    if "incremental" not in model.model_fields:
        return [f"{where}: runtime {node.runtime!r} cannot load incrementally; only http.source can"]
    if "incremental" in node.config:
        return [f"{where}: given both on the node and in its config; keep the node's and drop config.incremental"]
    if any(other.id == node.commit_task_id for other in spec.nodes):
        return [f"{where}: the commit step's task id {node.commit_task_id!r} is taken by a node; rename that node"]
    return []


def _check_params(spec: FlowSpec) -> list[str]:
    """A default that breaks its own schema would make every scheduled run fail; catch it here."""
    import jsonschema

    problems: list[str] = []
    for name, param in spec.params.items():
        if param.default is None:
            continue
        try:
            jsonschema.validate(param.default, param.json_schema())
        except jsonschema.ValidationError as exc:
            problems.append(
                f"param {name!r}: key 'default': {param.default!r} does not satisfy its schema: {exc.message}"
            )
        except jsonschema.SchemaError as exc:
            problems.append(f"param {name!r}: invalid JSON schema: {exc.message}")
    return problems


def validate_flow(raw: Mapping[str, Any], *, source: str, registry: RuntimeRegistry | None = None) -> FlowSpec:
    """Validate a raw flow mapping completely; raise one :class:`FlowFileError` listing every problem."""
    if registry is None:
        from airflow_provider_flow.core.registry import registry as default_registry

        registry = default_registry
    try:
        spec = FlowSpec.model_validate(raw)
    except ValidationError as exc:
        raise FlowFileError(source, [_describe(e, raw) for e in exc.errors(include_url=False)]) from None
    problems = _check_graph(spec) + _check_nodes(spec, registry) + _check_params(spec)
    if problems:
        raise FlowFileError(source, problems)
    return spec


def load_flow_file(path: str | Path, *, registry: RuntimeRegistry | None = None) -> FlowSpec:
    """Read and validate one flow file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowFileError(source, [f"cannot read the file: {exc.strerror or exc}"]) from None
    return validate_flow(parse_flow_text(text, source=source), source=source, registry=registry)


def flow_files(folder: str | Path) -> list[Path]:
    """Flow files directly inside ``folder``, sorted by name (hidden files skipped)."""
    root = Path(folder)
    return sorted(p for p in root.iterdir() if p.suffix in FLOW_FILE_SUFFIXES and not p.name.startswith("."))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders replaced by the flow files they hold."""
    result: list[Path] = []
    for item in paths:
        path = Path(item)
        result.extend(flow_files(path) if path.is_dir() else [path])
    return result
