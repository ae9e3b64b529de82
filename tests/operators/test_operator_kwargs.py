"""A misspelled keyword on any operator names the key, the operator, the closest accepted name and the fields.

Airflow's own answer ("Invalid arguments were passed ... **kwargs: {...}") gives no hint and prints the value;
these tests pin the hint, the parse-time failure in a real DagBag, and that nothing Airflow accepts (task
arguments, ``default_args``, mapped tasks) is refused, through a real ``dag.test()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.operators import (
    AiTransformOperator,
    FileSinkOperator,
    FileSourceOperator,
    FlowNodeOperator,
    HttpSinkOperator,
    HttpSourceOperator,
    TransformOperator,
)
from tests.airflow_harness import dagbag_class, run_dag


@pytest.mark.parametrize(
    ("operator", "arguments", "typo", "meant"),
    [
        (HttpSourceOperator, {"endpoint": "/a"}, "records_pth", "records_path"),
        (HttpSinkOperator, {"endpoint": "/a", "data": []}, "batch_sise", "batch_size"),
        (FileSourceOperator, {"path": "a.json", "base_path": "/tmp"}, "formatt", "format"),
        (FileSinkOperator, {"path": "a.json", "data": [], "base_path": "/tmp"}, "mod", "mode"),
        (TransformOperator, {"data": []}, "operatons", "operations"),
        (
            AiTransformOperator,
            {"data": [], "model": "m", "prompt": "p ${a}", "output_schema": {"type": "object"}},
            "max_concurency",
            "max_concurrency",
        ),
        (FlowNodeOperator, {"runtime": "transform"}, "confg", "config"),
    ],
)
def test_misspelled_keyword_names_the_closest_field(
    operator: type, arguments: dict[str, Any], typo: str, meant: str
) -> None:
    with pytest.raises(FlowValidationError) as info:
        operator(task_id="x", **arguments, **{typo: "value-never-shown"})
    message = str(info.value)
    assert message.startswith(f"task 'x': {operator.__name__} got an unknown argument {typo!r}; "), message
    assert f"did you mean {meant!r}?" in message
    assert f"{operator.__name__} takes: " in message and meant in message.split("takes: ")[1]
    assert "value-never-shown" not in message  # a misspelled password= must not be printed
    assert info.value.field == typo and info.value.details["suggestion"] == meant


def test_typed_operator_lists_its_config_fields_not_the_generic_ones() -> None:
    with pytest.raises(FlowValidationError) as info:
        HttpSourceOperator(task_id="x", endpoint="/a", records_pth="items")
    fields = str(info.value).split("HttpSourceOperator takes: ")[1].split(";")[0].split(", ")
    assert {"endpoint", "records_path", "pagination", "query_params"} <= set(fields)
    assert not {"runtime", "config"} & set(fields)  # FlowNodeOperator's keywords are not a typed operator's


def test_misspelled_base_operator_argument_suggests_airflows_name() -> None:
    with pytest.raises(FlowValidationError, match=r"unknown argument 'retires'; did you mean 'retries'\?"):
        HttpSourceOperator(task_id="x", endpoint="/a", retires=2)
    with pytest.raises(FlowValidationError, match=r"unknown argument 'execution_timout'; did you mean"):
        TransformOperator(task_id="x", data=[], execution_timout=timedelta(seconds=5))


def test_every_unknown_keyword_is_listed() -> None:
    with pytest.raises(FlowValidationError) as info:
        TransformOperator(task_id="x", data=[], operatons=[], retires=1)
    assert "unknown argument 'operatons' (also unknown: 'retires')" in str(info.value)


def test_misspelled_keyword_is_a_dag_import_error(tmp_path) -> None:
    (tmp_path / "typo_dag.py").write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_flow.operators import HttpSourceOperator\n"
        "with DAG('typo', schedule=None, start_date=datetime(2024, 1, 1)):\n"
        "    HttpSourceOperator(task_id='fetch', endpoint='/a', records_pth='items')\n"
    )
    bag = dagbag_class()(dag_folder=str(tmp_path))
    assert not bag.dags
    [error] = bag.import_errors.values()
    assert "task 'fetch': HttpSourceOperator got an unknown argument 'records_pth'; did you mean 'records_path'?" in (
        error
    )


def test_airflows_own_arguments_and_mapped_tasks_still_run(airflow_db) -> None:
    """Task arguments, default_args (with keys only some operators take) and partial/expand pass the check."""
    from airflow.sdk import DAG

    default_args = {"retries": 1, "retry_delay": timedelta(seconds=1), "owner": "data", "records_path": "x"}
    with DAG("operator_kwargs_ok", schedule=None, start_date=datetime(2024, 1, 1), default_args=default_args) as dag:
        single = TransformOperator(
            task_id="single",
            data=[{"n": 1}, {"n": 30}],
            operations=[{"filter": "n > `20`"}],
            execution_timeout=timedelta(minutes=1),
            doc_md="keeps big numbers",
            pool_slots=1,
        )
        TransformOperator.partial(task_id="mapped", operations=[{"select": {"m": "n"}}], retries=0).expand(
            data=[[{"n": 1}], [{"n": 2}]]
        )
        FlowNodeOperator(task_id="generic", runtime="transform", data=single.output, trigger_rule="all_done")
    result = run_dag(dag)
    assert result.state == "success", result.tasks
    assert result.xcom("single") == [{"n": 30}]
    assert result.xcom("generic") == [{"n": 30}]
