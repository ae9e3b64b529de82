"""FlowNodeOperator through real ``dag.test()`` runs on the SQLite metadata DB."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import pytest

from airflow_provider_flow.airflow_compat import HAS_RETRY_POLICY
from airflow_provider_flow.errors import FlowValidationError, HttpError
from airflow_provider_flow.operators.base import FlowNodeOperator, RetryableFlowFailure, holds_template
from tests.airflow_harness import dagbag_class, run_dag
from tests.flow_test_runtimes import register_test_runtimes


@pytest.fixture(autouse=True)
def _runtimes() -> None:
    register_test_runtimes()


def test_outcomes_of_success_retryable_and_fatal_errors(airflow_db, capsys) -> None:
    from airflow.sdk import DAG, Param

    with DAG(
        "foundation_outcomes",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        params={"who": Param("world", type="string")},
    ) as dag:
        first = FlowNodeOperator(
            task_id="echo",
            runtime="test.echo",
            config={"value": "hello {{ params.who }}", "label": "first"},
        )
        FlowNodeOperator(task_id="echo_downstream", runtime="test.echo", data=first.output)
        FlowNodeOperator(
            task_id="server_error",
            runtime="test.fail",
            config={"kind": "http", "status": 503},
            retries=1,
            retry_delay=timedelta(seconds=1),
        )
        FlowNodeOperator(
            task_id="not_found",
            runtime="test.fail",
            config={"kind": "http", "status": 404},
            retries=3,
            retry_delay=timedelta(seconds=1),
        )
        FlowNodeOperator(
            task_id="traversal",
            runtime="test.fail",
            config={"kind": "traversal"},
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
        # The task's own retry_delay is an hour: only the retry policy reading Retry-After lets the run finish.
        FlowNodeOperator(
            task_id="rate_limited",
            runtime="test.fail",
            config={"kind": "http", "status": 429, "retry_after": 1, "succeed_on_try": 2},
            retries=2,
            # Without a retry policy (Airflow < 3.3) the task's own delay applies: keep the run short there.
            retry_delay=timedelta(hours=1) if HAS_RETRY_POLICY else timedelta(seconds=1),
        )
        FlowNodeOperator(
            task_id="plain_bug",
            runtime="test.fail",
            config={"kind": "plain"},
            retries=1,
            retry_delay=timedelta(seconds=1),
        )

    result = run_dag(dag, conf={"who": "airflow"})
    log = capsys.readouterr().out

    assert result.tasks["echo"].state == "success"
    echoed = result.xcom("echo")
    assert echoed["value"] == "hello airflow" and echoed["label"] == "first"
    assert echoed["params"]["who"] == "airflow" and echoed["task"] == "foundation_outcomes.echo"
    downstream = result.xcom("echo_downstream")
    assert downstream["input"]["value"] == "hello airflow"

    # Retryable: every allowed try was used (retries=1 -> 2 tries), then failed.
    assert result.tasks["server_error"].state == "failed"
    assert result.tasks["server_error"].try_number == 2
    assert "Retryable failure on try 1 of 2" in log

    # Non-retryable: failed on the first try although retries=3 / retries=2.
    assert result.tasks["not_found"].state == "failed"
    assert result.tasks["not_found"].try_number == 1
    assert result.tasks["traversal"].state == "failed"
    assert result.tasks["traversal"].try_number == 1
    assert "Refused path '../../etc/passwd'" in log

    # Retry-After set the Airflow retry delay (1 s instead of the task's 1 h).
    assert result.tasks["rate_limited"].state == "success"
    assert result.tasks["rate_limited"].try_number == 2
    assert result.xcom("rate_limited") == {"succeeded_on_try": 2}

    # Anything else propagates unchanged and follows the task's ordinary retries.
    assert result.tasks["plain_bug"].state == "failed"
    assert result.tasks["plain_bug"].try_number == 2

    # The connection secret embedded in the URL never reaches the log.
    assert "t0k3n" not in log and "user:pw" not in log


def test_unknown_runtime_fails_at_construction_naming_it() -> None:
    with pytest.raises(FlowValidationError) as info:
        FlowNodeOperator(task_id="t", runtime="http.sorce")
    message = str(info.value)
    assert "task 't'" in message and "unknown runtime 'http.sorce'" in message and "test.echo" in message


def test_misspelled_config_key_fails_at_construction_with_allowed_keys() -> None:
    with pytest.raises(FlowValidationError) as info:
        FlowNodeOperator(task_id="t", runtime="test.echo", config={"lable": "x"})
    message = str(info.value)
    assert "unknown key 'lable'" in message and "allowed keys: label, value" in message
    assert info.value.field == "config.lable"


def test_templated_keys_are_left_for_run_time() -> None:
    op = FlowNodeOperator(
        task_id="t", runtime="test.fail", config={"kind": "{{ params.kind }}", "status": "{{ params.s }}"}
    )
    assert op.config["kind"] == "{{ params.kind }}"
    with pytest.raises(FlowValidationError, match=r"config\.status"):
        FlowNodeOperator(task_id="t2", runtime="test.fail", config={"kind": "http", "status": "not a number"})


def test_holds_template() -> None:
    assert holds_template("{{ ds }}") and holds_template({"a": ["{% if x %}"]})
    assert not holds_template({"a": [1, "plain"]})


def test_retryable_failure_pickles_with_its_flow_error() -> None:
    err = RetryableFlowFailure("http_error: x", HttpError(status_code=503, method="GET", url="http://h/"))
    clone = pickle.loads(pickle.dumps(err))
    assert isinstance(clone.flow_error, HttpError) and clone.flow_error.status_code == 503


def test_dag_file_with_bad_config_shows_an_import_error(tmp_path) -> None:
    DagBag = dagbag_class()
    (tmp_path / "bad_dag.py").write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_flow.operators.base import FlowNodeOperator\n"
        "with DAG('bad', schedule=None, start_date=datetime(2024, 1, 1)):\n"
        "    FlowNodeOperator(task_id='t', runtime='no.such.runtime')\n"
    )
    bag = DagBag(dag_folder=str(tmp_path))
    assert not bag.dags
    [error] = bag.import_errors.values()
    assert "unknown runtime 'no.such.runtime'" in error


def test_misspelled_key_next_to_a_template_fails_at_parse_time() -> None:
    from airflow_provider_flow.operators.transform import TransformOperator

    with pytest.raises(FlowValidationError, match=r"unknown key 'filtr'.*did you mean 'filter'"):
        TransformOperator(task_id="t", data=[], operations=[{"limit": "{{ params.n }}"}, {"filtr": "a"}])
    # The same operations without the typo are accepted: the template is left for run time.
    TransformOperator(task_id="ok", data=[], operations=[{"limit": "{{ params.n }}"}, {"filter": "a"}])


def test_unknown_nested_key_lists_the_nested_models_keys() -> None:
    from airflow_provider_flow.operators.transform import TransformOperator

    with pytest.raises(FlowValidationError) as info:
        TransformOperator(task_id="t", data=[], operations=[{"sort_by": {"kee": "total"}}])
    message = str(info.value)
    assert (
        "config.operations[0].sort_by.kee: unknown key 'kee'; did you mean 'key'? allowed keys: key, reverse" in message
    )


def test_config_values_are_attributes_with_model_defaults() -> None:
    from airflow_provider_flow.operators.http import HttpSinkOperator, HttpSourceOperator

    source = HttpSourceOperator(task_id="src", endpoint="/orders/{{ ds }}", params={"page_size": 50})
    assert source.endpoint == "/orders/{{ ds }}"  # the stored (templated) value; rendered at run time
    assert source.http_conn_id == "http_default" and source.max_response_bytes is None  # model defaults
    assert source.config["params"] == {"page_size": 50}
    sink = HttpSinkOperator(task_id="sink", endpoint="/in", data=[], batch_size=7)
    assert sink.batch_size == 7 and sink.max_concurrency == 4
    assert sink.retries == 0 and sink.task_id == "sink"  # Airflow's own attributes keep their meaning
    with pytest.raises(AttributeError, match="'HttpSinkOperator' object has no attribute 'batchsize'"):
        _ = sink.batchsize
    sink.batch_size = 8  # writes through: config stays the one place the runtime reads
    assert sink.config["batch_size"] == 8 and "batch_size" not in vars(sink)
    sink.retries = 2
    assert sink.retries == 2 and "retries" not in sink.config


def test_params_alias_sends_only_the_tasks_own_query_values() -> None:
    """On every supported Airflow (3.1 has no Param.source): the DAG's Params are never sent as query values."""
    from airflow.sdk import DAG, Param

    from airflow_provider_flow.operators.http import HttpSourceOperator

    with DAG("params_alias", schedule=None, start_date=datetime(2024, 1, 1), params={"who": Param("w"), "limit": 5}):
        own = HttpSourceOperator(task_id="own", endpoint="/x", params={"page_size": 50, "limit": 7})
        none = HttpSourceOperator(task_id="none", endpoint="/x")
    assert own.config["params"] == {"page_size": 50, "limit": 7} and own.params["who"] == "w"
    assert "params" not in none.config
