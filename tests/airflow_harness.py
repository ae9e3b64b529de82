"""Run real DAGs with ``dag.test()`` on the session's SQLite metadata DB and read back what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def dagbag_class() -> Any:
    """Airflow's DagBag: in ``airflow.dag_processing.dagbag`` since 3.2, ``airflow.models.dagbag`` before."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag


def serialize_dag(dag: Any) -> None:
    """Write a DAG built in a test to the metadata DB: Airflow 3.3's ``dag.test()`` runs only known DAGs."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    try:
        from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    except ImportError:  # Airflow < 3.2 kept them in airflow.models
        from airflow.models.dagbag import DagBag, sync_bag_to_db  # type: ignore[no-redef]

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/dev/null", collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


@dataclass
class TaskOutcome:
    state: str
    try_number: int


@dataclass
class RunResult:
    dag_run: Any
    state: str
    tasks: dict[str, TaskOutcome]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            query = XComModel.get_many(
                run_id=self.dag_run.run_id, key=key, task_ids=task_id, dag_ids=self.dag_run.dag_id
            )
            row = session.scalars(query).first()
            if row is None:
                raise KeyError(f"no XCom {key!r} for task {task_id!r}")
            return XComModel.deserialize_value(row)


def run_dag(dag: Any, *, conf: dict[str, Any] | None = None, serialize: bool = True) -> RunResult:
    """Serialize (for DAGs built in tests) and run one DAG run to its end."""
    if serialize:
        serialize_dag(dag)
    dag_run = dag.test(run_conf=conf)
    tis = dag_run.get_task_instances()
    tasks = {ti.task_id: TaskOutcome(state=_state(ti.state), try_number=ti.try_number) for ti in tis}
    return RunResult(dag_run=dag_run, state=_state(dag_run.state), tasks=tasks)


def _state(value: Any) -> str:
    return str(getattr(value, "value", value))
