"""Where an incremental source's watermark lives in Airflow, and the step that commits it after the sinks.

Each incremental task has one *watermark asset* (``x-flow-watermark://<dag_id>/<task_id>``): the source has it as
an inlet (so it may read it), the commit step as an inlet and an outlet (so it may write it). The committed value is
kept

* on Airflow >= 3.3 in the asset state store (``context["asset_state_store"][asset]``, key ``watermark``, in the
  metadata DB, per asset, not per run), and also in the extra of the asset event the commit step emits;
* on Airflow 3.1-3.2 (no state store) only in that asset event's extra (``{"flow_watermark": value}``); the source
  reads the newest event that carries one. On 3.3 the events are read too when the store is empty, so upgrading
  Airflow keeps the watermark.

Clearing: the commit step also remembers where each run started (state store key ``runs``, the last 100 runs; the
event extra's ``flow_watermark_run``/``flow_watermark_start``). A run that committed and is cleared fetches again
from where it started the first time, so its output is whole again, not just what changed since; and no commit
ever moves the watermark back (except a ``full_refresh``).

Why a separate commit step: the source only proposes (its ``flow_watermark`` XCom holds the candidate); the
:class:`WatermarkCommitOperator` runs after every sink (``all_success``), so a sink that fails, or is still
retrying, never lets the watermark pass records that did not reach their destination.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator
from pydantic import BaseModel

from airflow_provider_flow.airflow_compat import HAS_ASSET_STATE_STORE, AirflowFailException
from airflow_provider_flow.errors import FlowValidationError

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Key of the committed value in the asset state store, and in the commit step's asset event extra.
STORE_KEY = "watermark"
EVENT_EXTRA_KEY = "flow_watermark"
#: Where each committed run's starting watermark is remembered (state store key; event extra keys).
RUNS_KEY = "runs"
EVENT_RUN_KEY = "flow_watermark_run"
EVENT_START_KEY = "flow_watermark_start"
#: How many runs' starting points the state store keeps (a re-run of an older run starts from the current value).
RUNS_REMEMBERED = 100
#: The Jinja variable an incremental task's templates may use: the watermark this run starts from.
TEMPLATE_VARIABLE = "flow_watermark"
#: How many of the newest asset events the fallback reads looking for a committed value.
EVENTS_SCANNED = 50


def watermark_asset(dag_id: str, task_id: str) -> Asset:
    """The asset that holds the watermark of task ``task_id`` in DAG ``dag_id`` (one per incremental source)."""
    return Asset(name=f"flow_watermark.{dag_id}.{task_id}", uri=f"x-flow-watermark://{dag_id}/{task_id}")


def is_incremental(config: Any) -> bool:
    return isinstance(config, Mapping) and config.get("incremental") is not None


def add_watermark_inlet(operator: BaseOperator, config: Mapping[str, Any]) -> None:
    """Give an incremental task its watermark asset as an inlet (the state store only opens to inlets/outlets)."""
    if not is_incremental(config):
        return
    if not isinstance(config["incremental"], (Mapping, BaseModel)):
        raise FlowValidationError(
            "must be a mapping when the DAG is parsed (templates may fill its values, not the whole block), "
            "e.g. {'cursor': 'updated_at', 'param': 'updated_since'}",
            field="incremental",
            value=str(config["incremental"])[:80],
        )
    if not operator.has_dag():
        raise FlowValidationError(
            f"task {operator.task_id!r}: an incremental task keeps its watermark per DAG, so create it inside a "
            "DAG ('with DAG(...):' or dag=...)",
            field="incremental",
            value=None,
        )
    asset = watermark_asset(operator.dag_id, operator.task_id)
    operator.inlets = [*operator.inlets, asset]


_NEVER: Any = object()


def _event_extras(context: Context, asset: Asset) -> list[dict[str, Any]]:
    """The extras of the asset's newest events, newest first (the 3.1-3.2 store)."""
    accessor: Any = context["inlet_events"][asset]
    if hasattr(accessor, "ascending") and hasattr(accessor, "limit"):
        events = list(accessor.ascending(False).limit(EVENTS_SCANNED))
    else:  # pragma: no cover - older accessors: read all, newest last
        events = list(reversed(list(accessor)))
    return [dict(getattr(event, "extra", None) or {}) for event in events]


def read_watermark(context: Context, asset: Asset, *, run_id: str | None = None) -> tuple[Any, Any]:
    """``(committed watermark, where run_id started)`` of ``asset``; see the module docstring.

    The first is None before the first commit. The second is the watermark ``run_id`` started from when that run
    committed before (so this is a re-run: a cleared run), else a sentinel that is never a value.
    """
    committed, started = None, _NEVER
    if HAS_ASSET_STATE_STORE:
        store = context["asset_state_store"][asset]
        committed = store.get(STORE_KEY)
        runs = store.get(RUNS_KEY) if run_id is not None else None
        if isinstance(runs, Mapping) and run_id in runs:
            started = runs[run_id]
        if committed is not None:
            return committed, started
    if "inlet_events" not in context or asset not in list(context["inlet_events"]):
        return committed, started
    extras = _event_extras(context, asset)
    committed = next((e[EVENT_EXTRA_KEY] for e in extras if e.get(EVENT_EXTRA_KEY) is not None), None)
    if started is _NEVER and run_id is not None:
        started = next((e.get(EVENT_START_KEY) for e in extras if e.get(EVENT_RUN_KEY) == run_id), _NEVER)
    return committed, started


def add_watermark_to_context(operator: BaseOperator, config: Any, context: Context) -> None:
    """Before templates render: ``{{ flow_watermark }}`` is the watermark this run starts from (None at first),
    for APIs that take it somewhere a query parameter cannot go (a path, a JSON body); ``lag`` is not applied."""
    if is_incremental(config) and TEMPLATE_VARIABLE not in context:
        context[TEMPLATE_VARIABLE] = committed_watermark_for(operator, config, context)  # type: ignore[literal-required]


def committed_watermark_for(operator: BaseOperator, config: Any, context: Context) -> Any:
    """What ``ExecutionState.committed_watermark`` holds for this task: where this run fetches from.

    Normally the committed watermark. A run that already committed once and runs again (it was cleared) starts
    from the watermark it started from the first time, so its output is whole again and not just what changed
    since; its commit then never moves the watermark back.
    """
    if not is_incremental(config):
        return None
    if TEMPLATE_VARIABLE in context:  # read once, while rendering
        return context[TEMPLATE_VARIABLE]  # type: ignore[literal-required]
    committed, started = read_watermark(
        context, watermark_asset(operator.dag_id, operator.task_id), run_id=context["run_id"]
    )
    if started is _NEVER:
        return committed
    operator.log.info(
        "incremental: run %s committed before (a re-run): fetching from the watermark it started from (%s), "
        "not the current one (%s)",
        context["run_id"],
        started,
        committed,
    )
    return started


def _newer(candidate: Any, current: Any) -> bool:
    """True when ``candidate`` is after ``current``; values of different kinds fail with the usual message."""
    # Run-time imports: operators.base imports this module, and the incremental package (its config model
    # compiles JMESPath) is not needed to parse a DAG file.
    from airflow_provider_flow.incremental.cursor import cursor_value

    new = cursor_value(candidate, field="candidate watermark")
    old = cursor_value(current, field="committed watermark")
    old.check_comparable(new, field="candidate watermark")
    return bool(new.key > old.key)


class WatermarkCommitOperator(BaseOperator):
    """Commit an incremental source's candidate watermark, after the pipeline's sinks published its records.

    Put it downstream of every sink (the flow builder does that for flow files). It reads the source's
    ``flow_watermark`` XCom of this run and stores the candidate when it is after the committed value (or always
    after a ``full_refresh``); an older candidate (a re-run of an old run, or runs overlapping) never moves the
    watermark back.

    :param source_task_id: the incremental source's task id (in this DAG).
    """

    ui_color = "#d8f5d0"

    def __init__(self, *, source_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_task_id = source_task_id
        if not self.has_dag():
            raise FlowValidationError(
                f"task {self.task_id!r}: create the commit step inside the source's DAG", field="dag", value=None
            )
        self.watermark = watermark_asset(self.dag_id, source_task_id)
        self.inlets = [*self.inlets, self.watermark]  # to read the 3.1-3.2 store (its events)
        self.outlets = [*self.outlets, self.watermark]

    def execute(self, context: Context) -> Any:
        from airflow_provider_flow.incremental.tracker import WATERMARK_XCOM_KEY

        outcome = context["ti"].xcom_pull(task_ids=self.source_task_id, key=WATERMARK_XCOM_KEY)
        if not isinstance(outcome, Mapping):
            raise AirflowFailException(
                f"task {self.source_task_id!r} published no {WATERMARK_XCOM_KEY!r} XCom in this run; is it an "
                "incremental source (config 'incremental') and upstream of this step?"
            )
        run_id, started = context["run_id"], outcome.get("previous")
        current, _ = read_watermark(context, self.watermark)
        candidate = outcome.get("candidate")
        committed = current
        try:
            moves = candidate is not None and (
                bool(outcome.get("full_refresh")) or current is None or _newer(candidate, current)
            )
        except FlowValidationError as err:  # the cursor changed type: only a full refresh can start over
            raise AirflowFailException(f"{err.code}: {err.message}") from None
        if moves:
            committed = candidate
            self.log.info("incremental: committed watermark %s (was %s)", candidate, current)
        elif candidate is not None:
            self.log.info("incremental: candidate %s is not after the committed %s; kept it", candidate, current)
        else:
            self.log.info("incremental: no new records; the watermark stays at %s", current)
        if HAS_ASSET_STATE_STORE:
            store = context["asset_state_store"][self.watermark]
            if committed is not None:
                store.set(STORE_KEY, committed)
            remembered = store.get(RUNS_KEY)
            runs = dict(remembered) if isinstance(remembered, Mapping) else {}
            runs.setdefault(run_id, started)  # a re-run keeps the first run's starting point
            store.set(RUNS_KEY, dict(list(runs.items())[-RUNS_REMEMBERED:]))
        # the asset event carries it too: the store on Airflow < 3.3
        context["outlet_events"][self.watermark].extra = {
            EVENT_EXTRA_KEY: committed,
            EVENT_RUN_KEY: run_id,
            EVENT_START_KEY: started,
        }
        return {"watermark": committed, "previous": current, "source": self.source_task_id}
