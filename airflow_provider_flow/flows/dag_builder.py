"""Build Airflow DAGs from flow files, inside a DAG file.

A DAG file in the dags folder calls the loader and exposes what it returns::

    from pathlib import Path
    from airflow_provider_flow.flows.dag_builder import load_flows

    globals().update(load_flows(Path(__file__).parent / "flows"))

Each flow file becomes one DAG; each node one :class:`FlowNodeOperator` (task_id = node id, runtime = node
runtime, config = node config, templates rendered by Airflow as usual).

How data moves: a node's input (``data``) is built from its upstream nodes' XCom outputs —

* no upstream: ``data`` is ``None`` (sources);
* one upstream: ``data`` is that node's output (records, or a file reference for large data);
* several upstreams: ``data`` is :func:`~airflow_provider_flow.records.input.upstream_outputs` of them
  (``{"kind": "upstreams", "outputs": {upstream_id: output}}``, in the order the node lists them); runtimes that
  read records read each upstream's records one after another.

Outputs travel as XCom, so the DAG stays correct when tasks run on different workers; large outputs are file
references (path relative to a base resolved again on the reading worker), never the data itself.

Errors: every invalid flow file is reported in one exception raised from the loader call, so the UI shows a
DAG import error whose message names the file, the node and the key — not a stack of library internals (the
traceback Airflow keeps is two frames deep by default: the DAG file's call and this loader). With
``on_error="skip"`` the valid flows still load and the invalid ones are only logged.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from airflow.sdk import DAG, Asset, Param

from airflow_provider_flow.core.registry import RuntimeRegistry
from airflow_provider_flow.errors import FlowFileError, FlowLoadError
from airflow_provider_flow.flows.loader import flow_files, load_flow_file
from airflow_provider_flow.flows.spec import FULL_REFRESH_PARAM, FlowNode, FlowSpec
from airflow_provider_flow.operators.base import FlowNodeOperator
from airflow_provider_flow.operators.incremental import WatermarkCommitOperator
from airflow_provider_flow.records.input import upstream_outputs

log = logging.getLogger(__name__)


def _task_kwargs(spec: FlowSpec, node: FlowNode) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    retries = node.retries if node.retries is not None else spec.defaults.retries
    delay = node.retry_delay_seconds if node.retry_delay_seconds is not None else spec.defaults.retry_delay_seconds
    timeout = (
        node.execution_timeout_seconds
        if node.execution_timeout_seconds is not None
        else spec.defaults.execution_timeout_seconds
    )
    if retries is not None:
        kwargs["retries"] = retries
    if delay is not None:
        kwargs["retry_delay"] = timedelta(seconds=delay)
    if timeout is not None:
        kwargs["execution_timeout"] = timedelta(seconds=timeout)
    if node.outlets:
        kwargs["outlets"] = [Asset(uri) for uri in node.outlets]
    return kwargs


def build_dag(
    spec: FlowSpec, *, fileloc: str | None = None, operator_class: type[FlowNodeOperator] = FlowNodeOperator
) -> DAG:
    """One DAG from a validated :class:`FlowSpec` (see the module docstring for how data is passed)."""
    params = {name: Param(p.default, **p.json_schema()) for name, p in spec.params.items()}
    if any(node.incremental is not None for node in spec.nodes) and FULL_REFRESH_PARAM not in params:
        params[FULL_REFRESH_PARAM] = Param(
            False, type="boolean", description="Incremental nodes start over from initial_value (their watermark too)."
        )
    schedule: Any = [Asset(uri) for uri in spec.schedule_assets] if spec.schedule_assets else spec.schedule
    dag_kwargs: dict[str, Any] = {}
    if spec.max_active_runs is not None:
        dag_kwargs["max_active_runs"] = spec.max_active_runs
    with DAG(
        dag_id=spec.dag_id,
        description=spec.description,
        schedule=schedule,
        start_date=spec.start_date,
        catchup=spec.catchup,
        tags=[*spec.tags],
        params=params,
        **dag_kwargs,
    ) as dag:
        operators: dict[str, FlowNodeOperator] = {}
        for node in spec.topological_order():
            data: Any = None
            if len(node.upstream) == 1:
                data = operators[node.upstream[0]].output
            elif node.upstream:
                data = upstream_outputs({up: operators[up].output for up in node.upstream})
            op = operator_class(
                task_id=node.id,
                runtime=node.runtime,
                config=node.runtime_config(),
                data=data,
                **_task_kwargs(spec, node),
            )
            for up in node.upstream:  # XComArgs set this too; explicit keeps ordering independent of data use
                operators[up] >> op
            operators[node.id] = op
        _add_watermark_commits(spec, operators)
    if fileloc:
        dag.fileloc = fileloc
    return dag


def _add_watermark_commits(spec: FlowSpec, operators: dict[str, FlowNodeOperator]) -> None:
    """After the flow's last nodes (its sinks), one step per incremental node commits its watermark: so the
    watermark moves only once every sink published (README: Incremental loading)."""
    has_downstream = {up for node in spec.nodes for up in node.upstream}
    last_nodes = [operators[node.id] for node in spec.nodes if node.id not in has_downstream]
    for node in spec.nodes:
        if node.incremental is not None:
            commit = WatermarkCommitOperator(task_id=node.commit_task_id, source_task_id=node.id)
            for last in last_nodes:
                last >> commit


def _caller_file() -> str | None:
    """The DAG file that called the loader: the DAG's ``fileloc`` (Airflow would otherwise record this module)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    return frame.f_code.co_filename if frame is not None else None


def load_flow_dag(path: str | Path, *, registry: RuntimeRegistry | None = None) -> DAG:
    """Validate one flow file and build its DAG; an invalid file raises :class:`FlowLoadError`."""
    try:
        spec = load_flow_file(path, registry=registry)
    except FlowFileError as err:
        raise FlowLoadError([err]) from None
    return build_dag(spec, fileloc=_caller_file())


def load_flows(
    folder: str | Path,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    registry: RuntimeRegistry | None = None,
) -> dict[str, DAG]:
    """Build one DAG per flow file (``*.yaml``, ``*.yml``, ``*.json``) directly in ``folder``.

    Returns ``{dag_id: DAG}`` (put it into the DAG file's ``globals()``). With ``on_error="raise"`` (default) any
    invalid file fails the whole DAG file with one :class:`FlowLoadError` listing all of them — the import
    error in the UI. Two files declaring the same dag_id are an error too.
    """
    root = Path(folder)
    caller = _caller_file()
    if not root.is_dir():
        raise FlowLoadError([FlowFileError(str(root), ["flow folder does not exist"])])
    dags: dict[str, DAG] = {}
    sources: dict[str, Path] = {}
    errors: list[FlowFileError] = []
    for path in flow_files(root):
        try:
            spec = load_flow_file(path, registry=registry)
        except FlowFileError as err:
            errors.append(err)
            continue
        if spec.dag_id in dags:
            errors.append(
                FlowFileError(
                    str(path), [f"flow: key 'dag_id': {spec.dag_id!r} is already used by {sources[spec.dag_id]}"]
                )
            )
            continue
        dags[spec.dag_id] = build_dag(spec, fileloc=caller)
        sources[spec.dag_id] = path
    if errors:
        if on_error == "raise":
            raise FlowLoadError(errors)
        for problem in errors:
            log.error("Skipping invalid flow file: %s", problem.message)
    return dags
