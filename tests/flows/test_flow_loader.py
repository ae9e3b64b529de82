"""Flow-file validation: every rejected shape, with the message a user reads (no Airflow involved)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_flow.core.registry import RuntimeRegistry
from airflow_provider_flow.errors import FlowFileError
from airflow_provider_flow.flows.loader import load_flow_file
from tests.flow_test_runtimes import EchoRuntime, FailRuntime

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry() -> RuntimeRegistry:
    reg = RuntimeRegistry()
    reg.register(EchoRuntime())
    reg.register(FailRuntime())
    return reg


def write(tmp_path: Path, body: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def problems_of(path: Path, registry: RuntimeRegistry) -> FlowFileError:
    with pytest.raises(FlowFileError) as info:
        load_flow_file(path, registry=registry)
    assert str(path) in info.value.message  # the file is always named
    return info.value


VALID = """
    dag_id: echo_flow
    schedule: "@hourly"
    start_date: 2024-01-01
    tags: [flow]
    defaults: {retries: 2, retry_delay_seconds: 1}
    params:
      who: {type: string, default: world, description: "Who to greet", pattern: "^[a-z]+$"}
    nodes:
      - id: first
        runtime: test.echo
        config: {value: "hello {{ params.who }}"}
      - id: second
        runtime: test.echo
        upstream: [first]
"""


def test_valid_flow_parses_with_defaults(tmp_path, registry) -> None:
    spec = load_flow_file(write(tmp_path, VALID), registry=registry)
    assert spec.dag_id == "echo_flow" and spec.catchup is False
    assert spec.start_date.isoformat() == "2024-01-01T00:00:00+00:00"
    assert [n.id for n in spec.topological_order()] == ["first", "second"]
    assert spec.params["who"].json_schema() == {"type": "string", "description": "Who to greet", "pattern": "^[a-z]+$"}


def test_json_flow_files_work_too(tmp_path, registry) -> None:
    path = write(tmp_path, '{"dag_id": "j", "nodes": [{"id": "a", "runtime": "test.echo"}]}', name="flow.json")
    assert load_flow_file(path, registry=registry).nodes[0].runtime == "test.echo"


def test_unknown_runtime_names_node_key_and_known_runtimes(tmp_path, registry) -> None:
    err = problems_of(write(tmp_path, "dag_id: d\nnodes:\n  - {id: fetch, runtime: test.ehco}\n"), registry)
    [line] = err.problems
    assert line.startswith("node 'fetch': key 'runtime': unknown runtime 'test.ehco'")
    assert "known runtimes: test.echo, test.fail" in line


def test_unknown_upstream_names_node_and_lists_nodes(tmp_path, registry) -> None:
    body = "dag_id: d\nnodes:\n  - {id: a, runtime: test.echo}\n  - {id: b, runtime: test.echo, upstream: [aa]}\n"
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == "node 'b': key 'upstream': unknown upstream id 'aa'; nodes in this flow: a, b"


def test_self_upstream_is_rejected(tmp_path, registry) -> None:
    body = "dag_id: d\nnodes:\n  - {id: a, runtime: test.echo, upstream: [a]}\n"
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == "node 'a': key 'upstream': a node cannot be its own upstream"


def test_cycle_is_shown_as_a_path(tmp_path, registry) -> None:
    body = """
        dag_id: d
        nodes:
          - {id: a, runtime: test.echo, upstream: [c]}
          - {id: b, runtime: test.echo, upstream: [a]}
          - {id: c, runtime: test.echo, upstream: [b]}
          - {id: free, runtime: test.echo}
    """
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == "node 'a': key 'upstream': dependency cycle a -> c -> b -> a; a flow must be acyclic"


def test_an_upstream_listed_twice_is_rejected(tmp_path, registry) -> None:
    body = "dag_id: d\nnodes:\n  - {id: a, runtime: test.echo}\n  - {id: b, runtime: test.echo, upstream: [a, a]}\n"
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == "node 'b': key 'upstream': 'a' is listed more than once"


def test_duplicate_ids(tmp_path, registry) -> None:
    body = "dag_id: d\nnodes:\n  - {id: a, runtime: test.echo}\n  - {id: a, runtime: test.fail, config: {kind: http}}\n"
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == "node 'a': key 'id': duplicate node id 'a'; node ids must be unique"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "dag_id: d\nschedul: '@daily'\nnodes:\n  - {id: a, runtime: test.echo}\n",
            "flow: unknown key 'schedul'; did you mean 'schedule'? allowed keys: catchup, dag_id,",
        ),
        (
            "dag_id: d\nnodes:\n  - {id: a, runtime: test.echo, upstrem: []}\n",
            "node 'a': unknown key 'upstrem'; did you mean 'upstream'? allowed keys: config,",
        ),
        (
            "dag_id: d\ndefaults: {retry: 3}\nnodes:\n  - {id: a, runtime: test.echo}\n",
            "defaults: unknown key 'retry'; did you mean 'retries'? allowed keys:",
        ),
        (
            "dag_id: d\nparams:\n  n: {type: integer, defualt: 3}\nnodes:\n  - {id: a, runtime: test.echo}\n",
            "param 'n': unknown key 'defualt'; did you mean 'default'? allowed keys:",
        ),
    ],
)
def test_misspelled_keys_everywhere(tmp_path, registry, body, expected) -> None:
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line.startswith(expected), line


def test_misspelled_config_key_names_node_runtime_and_key(tmp_path, registry) -> None:
    body = "dag_id: d\nnodes:\n  - {id: greet, runtime: test.echo, config: {lable: x}}\n"
    [line] = problems_of(write(tmp_path, body), registry).problems
    assert line == (
        "node 'greet' (test.echo): config.lable: unknown key 'lable'; did you mean 'label'? allowed keys: label, value"
    )


def test_bad_config_value_is_caught_but_templated_values_are_left_for_run_time(tmp_path, registry) -> None:
    bad = "dag_id: d\nnodes:\n  - {id: f, runtime: test.fail, config: {kind: nope}}\n"
    [line] = problems_of(write(tmp_path, bad), registry).problems
    assert line.startswith("node 'f' (test.fail): config.kind:") and "'nope'" in line
    templated = "dag_id: d\nnodes:\n  - {id: f, runtime: test.fail, config: {kind: '{{ params.kind }}'}}\n"
    assert load_flow_file(write(tmp_path, templated, "t.yaml"), registry=registry).nodes[0].config["kind"]


def test_missing_required_keys(tmp_path, registry) -> None:
    lines = problems_of(write(tmp_path, "nodes:\n  - {runtime: test.echo}\n"), registry).problems
    assert "flow: key 'dag_id' is required but missing" in lines
    assert "node #1: key 'id' is required but missing" in lines


def test_bad_param_schema_and_default(tmp_path, registry) -> None:
    body = """
        dag_id: d
        params:
          name: {type: string, default: "../etc", pattern: "^[a-z]+$"}
          size: {type: integr}
        nodes: [{id: a, runtime: test.echo}]
    """
    lines = problems_of(write(tmp_path, body), registry).problems
    assert any(line.startswith("param 'size': key 'type': unknown JSON-schema type 'integr'") for line in lines)
    body_default = body.replace("size: {type: integr}", "size: {type: integer}")
    [line] = problems_of(write(tmp_path, body_default, "d.yaml"), registry).problems
    assert (
        line == "param 'name': key 'default': '../etc' does not satisfy its schema: '../etc' does not match '^[a-z]+$'"
    )


def test_several_problems_come_as_one_error(tmp_path, registry) -> None:
    body = """
        dag_id: d
        nodes:
          - {id: a, runtime: nope}
          - {id: b, runtime: test.echo, upstream: [x], config: {valu: 1}}
    """
    err = problems_of(write(tmp_path, body), registry)
    assert err.message.splitlines()[0] == f"invalid flow file {tmp_path / 'flow.yaml'}: 3 problems"
    assert err.problems[0] == "node 'b': key 'upstream': unknown upstream id 'x'; nodes in this flow: a, b"
    assert err.problems[1].startswith("node 'a': key 'runtime': unknown runtime 'nope'")
    assert err.problems[2].startswith("node 'b' (test.echo): config.valu: unknown key 'valu'")
    assert all(f"  - {p}" in err.message for p in err.problems)


def test_yaml_syntax_and_shape_errors(tmp_path, registry) -> None:
    [line] = problems_of(write(tmp_path, "dag_id: [unclosed\n"), registry).problems
    assert line.startswith("not valid YAML:") and "line" in line
    [line] = problems_of(write(tmp_path, "- just\n- a list\n", "l.yaml"), registry).problems
    assert line == "the file must hold a mapping with dag_id and nodes, got list"


def test_cli_validates_without_importing_airflow(tmp_path) -> None:
    good = REPO / "dags_examples" / "flows"
    bad = write(tmp_path, "dag_id: d\nnodes:\n  - {id: a, runtime: no.such, upstream: [zz]}\n", "bad.yaml")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['airflow_provider_flow', 'validate', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('airflow_provider_flow', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "loaded = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]\n"
        "print('AIRFLOW_IMPORTED' if loaded else 'NO_AIRFLOW')\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, str(bad)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    assert "NO_AIRFLOW" in proc.stdout
    assert f"FAIL invalid flow file {bad}: 2 problems" in proc.stderr
    assert "node 'a': key 'upstream': unknown upstream id 'zz'" in proc.stderr
    if good.is_dir():
        ok = subprocess.run(
            [sys.executable, "-m", "airflow_provider_flow", "validate", str(good)], capture_output=True, text=True
        )
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("ok   ")


def test_cli_schema_describes_every_top_level_key(capsys) -> None:
    import json

    from airflow_provider_flow.__main__ import main

    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"dag_id", "schedule", "params", "nodes", "defaults"} <= set(schema["properties"])
    assert schema["required"] == ["dag_id", "nodes"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (  # a templated sibling used to hide the whole operations list until the first run
            "{operations: [{filtr: 'a'}, {limit: '{{ params.n }}'}]}",
            "node 't' (transform): config.operations[0].filtr: unknown key 'filtr'; did you mean 'filter'?",
        ),
        (
            "{operations: [{sort_by: {key: '{{ params.k }}', revrse: true}}]}",
            "node 't' (transform): config.operations[0].sort_by.revrse: unknown key 'revrse'; did you mean 'reverse'?",
        ),
        (
            "{operations: [], output_pth: '{{ params.out }}'}",
            "node 't' (transform): config.output_pth: unknown key 'output_pth'; did you mean 'output_path'?",
        ),
    ],
)
def test_misspelled_keys_inside_templated_values_are_caught(tmp_path, config, expected) -> None:
    body = f"dag_id: d\nnodes:\n  - id: t\n    runtime: transform\n    config: {config}\n"
    [line] = problems_of(write(tmp_path, body), None).problems  # type: ignore[arg-type]
    assert line.startswith(expected), line
    fine = config.replace("filtr", "filter").replace("revrse", "reverse").replace("output_pth", "output_path")
    body = f"dag_id: d\nnodes:\n  - id: t\n    runtime: transform\n    config: {fine}\n"
    assert load_flow_file(write(tmp_path, body, "fine.yaml")).nodes[0].config


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("dag_id: a\ndag_id: b\nnodes: [{id: n, runtime: test.echo}]\n", "flow.yaml", "duplicate key 'dag_id'"),
        ("dag_id: d\nnodes:\n  - {id: n, runtime: test.echo, config: {value: 1, value: 2}}\n", "f.yaml", "'value'"),
        ('{"dag_id": "d", "nodes": [], "nodes": [{"id": "n", "runtime": "test.echo"}]}', "f.json", "'nodes'"),
    ],
)
def test_a_key_given_twice_is_refused_not_silently_replaced(tmp_path, registry, text, name, expected) -> None:
    path = tmp_path / name
    path.write_text(text)
    [line] = problems_of(path, registry).problems
    assert "duplicate key" in line and expected in line, line


def test_yaml_merge_keys_may_still_override(tmp_path, registry) -> None:
    body = "dag_id: d\ndefaults:\n  <<: {retries: 1, retry_delay_seconds: 1}\n  retries: 3\n"
    body += "nodes: [{id: n, runtime: test.echo}]\n"
    assert load_flow_file(write(tmp_path, body), registry=registry).defaults.retries == 3


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("schedule: '@hourlyy'", "flow: key 'schedule': unknown schedule preset '@hourlyy'"),
        ("schedule: '61 * * * *'", "flow: key 'schedule': not a valid cron expression"),
        ("schedule: '@daily'\nschedule_assets: ['s3://b/k']", "give either 'schedule' (time) or 'schedule_assets'"),
        ("schedule_assets: ['airflow://x']", "the scheme 'airflow' is reserved"),
    ],
)
def test_schedules_airflow_would_refuse_later_are_refused_here(tmp_path, registry, line, expected) -> None:
    body = f"dag_id: d\n{line}\nnodes: [{{id: n, runtime: test.echo, outlets: ['flow://ok']}}]\n"
    [problem] = problems_of(write(tmp_path, body), registry).problems
    assert expected in problem, problem
    for good in ("'*/5 * * * *'", "'@once'", "null"):
        ok = f"dag_id: d\nschedule: {good}\nnodes: [{{id: n, runtime: test.echo}}]\n"
        assert load_flow_file(write(tmp_path, ok, "ok.yaml"), registry=registry).dag_id == "d"
