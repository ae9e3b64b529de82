"""Flow files become DAGs: structure, task settings, data passing through XCom, and import errors in a DagBag."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_flow.errors import FlowLoadError
from airflow_provider_flow.flows.dag_builder import load_flow_dag, load_flows
from tests.airflow_harness import run_dag
from tests.flow_test_runtimes import register_test_runtimes

FLOW = """
    dag_id: builder_fan_in
    schedule: null
    start_date: 2024-01-01
    tags: [flow, test]
    defaults: {retries: 3, retry_delay_seconds: 1}
    params:
      who: {type: string, default: world, description: "Who to greet"}
    nodes:
      - id: left
        runtime: test.echo
        config: {value: "hello {{ params.who }}", label: left}
      - id: right
        runtime: test.echo
        config: {value: 2, label: right}
        retries: 0
        outlets: ["flow-test://builder/right"]
      - id: single
        runtime: test.echo
        upstream: [left]
      - id: join
        runtime: test.echo
        upstream: [left, right]
"""


@pytest.fixture(autouse=True)
def _runtimes() -> None:
    register_test_runtimes()


def _write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def test_structure_settings_and_params(tmp_path) -> None:
    dag = load_flow_dag(_write(tmp_path, "f.yaml", FLOW))
    assert dag.dag_id == "builder_fan_in" and dag.schedule is None and not dag.catchup
    assert set(dag.tags) == {"flow", "test"}
    assert dag.fileloc == __file__  # the caller, not the builder module
    assert dag.params.get_param("who").description == "Who to greet"
    join = dag.get_task("join")
    assert join.upstream_task_ids == {"left", "right"}
    assert dag.get_task("left").retries == 3 and dag.get_task("left").retry_delay == timedelta(seconds=1)
    assert dag.get_task("right").retries == 0
    assert [o.uri for o in dag.get_task("right").outlets] == ["flow-test://builder/right"]
    assert dag.get_task("left").runtime == "test.echo"


def test_outputs_flow_through_xcom(airflow_db, tmp_path) -> None:
    dag = load_flow_dag(_write(tmp_path, "f.yaml", FLOW))
    result = run_dag(dag, conf={"who": "flows"})
    assert result.state == "success", result.tasks
    left = result.xcom("left")
    assert left["value"] == "hello flows"
    # one upstream: its output is the input as it is
    assert result.xcom("single")["input"] == left
    # several upstreams: their outputs by upstream id, in an envelope record readers chain
    joined = result.xcom("join")["input"]
    assert joined["kind"] == "upstreams" and list(joined["outputs"]) == ["left", "right"]
    assert joined["outputs"]["left"]["value"] == "hello flows" and joined["outputs"]["right"]["value"] == 2


def test_load_flows_builds_one_dag_per_file(tmp_path) -> None:
    folder = tmp_path / "flows"
    _write(folder, "a.yaml", FLOW)
    _write(folder, "b.json", '{"dag_id": "from_json", "nodes": [{"id": "x", "runtime": "test.echo"}]}')
    _write(folder, "notes.txt", "not a flow")
    dags = load_flows(folder)
    assert sorted(dags) == ["builder_fan_in", "from_json"]


def test_duplicate_dag_ids_across_files(tmp_path) -> None:
    folder = tmp_path / "flows"
    _write(folder, "a.yaml", FLOW)
    _write(folder, "b.yaml", FLOW)
    with pytest.raises(FlowLoadError) as info:
        load_flows(folder)
    assert f"invalid flow file {folder / 'b.yaml'}" in str(info.value)
    assert "'builder_fan_in' is already used by" in str(info.value)


def test_skip_mode_keeps_valid_flows(tmp_path, caplog) -> None:
    folder = tmp_path / "flows"
    _write(folder, "good.yaml", FLOW)
    _write(folder, "bad.yaml", "dag_id: bad\nnodes:\n  - {id: a, runtime: test.echo, upstream: [nope]}\n")
    assert list(load_flows(folder, on_error="skip")) == ["builder_fan_in"]
    assert "unknown upstream id 'nope'" in caplog.text


def test_invalid_flow_is_a_short_dag_import_error(tmp_path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dags = tmp_path / "dags"
    _write(dags / "flows", "good.yaml", FLOW)
    _write(dags / "flows", "bad.yaml", "dag_id: bad\nnodes:\n  - {id: fetch, runtime: test.echo, confg: {}}\n")
    (dags / "load_flows_dag.py").write_text(
        "from pathlib import Path\n"
        "from airflow_provider_flow.flows.dag_builder import load_flows\n"
        "from tests.flow_test_runtimes import register_test_runtimes\n"
        "register_test_runtimes()\n"
        "# airflow dag\n"
        "globals().update(load_flows(Path(__file__).parent / 'flows'))\n"
    )
    bag = DagBag(dag_folder=str(dags))
    assert not bag.dags  # one invalid file fails the loader file: nothing half-loaded
    [error] = bag.import_errors.values()
    assert "invalid flow file" in error and "bad.yaml" in error
    assert "node 'fetch': unknown key 'confg'; did you mean 'config'?" in error
    assert "pydantic" not in error and "site-packages" not in error  # no deep stack of internals

    (dags / "flows" / "bad.yaml").unlink()
    bag = DagBag(dag_folder=str(dags))
    assert not bag.import_errors and list(bag.dags) == ["builder_fan_in"]
    assert bag.dags["builder_fan_in"].fileloc == str(dags / "load_flows_dag.py")


def test_asset_schedule_and_nodes_listed_before_their_upstreams(tmp_path) -> None:
    body = """
        dag_id: builder_on_asset
        schedule_assets: ["flow-test://builder/right"]
        nodes:
          - {id: late, runtime: test.echo, upstream: [early], execution_timeout_seconds: 30}
          - {id: early, runtime: test.echo}
    """
    dag = load_flow_dag(_write(tmp_path, "a.yaml", body))
    assert [a.uri for a in dag.timetable.asset_condition.objects] == ["flow-test://builder/right"]
    assert dag.get_task("late").upstream_task_ids == {"early"}
    assert dag.get_task("late").execution_timeout == timedelta(seconds=30)
