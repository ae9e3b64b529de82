"""A DAG file parse imports only what parse-time work needs (issue 11: "Parse cost ... Keep it that way").

The scheduler parses DAG files in fresh processes, so whatever an operator module imports is paid on every parse.
Importing an operator module must not load the runtimes, the HTTP client, storage, codecs, expressions (JMESPath),
incremental loading, the LLM client or lineage: those are for ``execute``. Constructing a task may load its own
runtime (its config model is validated at parse time, on purpose) and no other runtime.

Each case runs in a fresh interpreter: ``sys.modules`` is compared before and after, after ``import airflow.sdk``
(what Airflow itself imports is not ours to count). No timing here: the figures live in
``benchmarks/parse_time_benchmark.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PACKAGE = "airflow_provider_flow"

#: Modules of this package that only ``execute`` needs (a prefix covers its submodules).
RUN_TIME_ONLY = tuple(
    f"{PACKAGE}.{name}"
    for name in (
        "nodes",
        "http",
        "storage",
        "records",
        "expressions",
        "incremental",
        "llm",
        "lineage",
        "flows",
        "hooks.settings",
        "hooks.http",
        "hooks.llm",
        "hooks.fs",
        "hooks.object_storage",
        "operators.task_state",
    )
)
#: Third-party modules no DAG parse of ours needs (``airflow.sdk`` itself already brings httpx and msgspec).
THIRD_PARTY = ("jmespath", "orjson", "openlineage", "boto3", "botocore", "aiobotocore", "s3fs", "openai")

OPERATOR_MODULES = ["base", "http", "file", "transform", "ai", "incremental"]

_PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    import airflow.sdk
    from airflow.sdk import DAG, Asset, BaseOperator
    before = set(sys.modules)
    importlib.import_module(sys.argv[1])
    imported = sorted(set(sys.modules) - before)
    built = None
    if len(sys.argv) > 2:
        namespace = {}
        exec(sys.argv[2], namespace)
        built = sorted(set(sys.modules) - before)
    print(json.dumps({"imported": imported, "built": built}))
    """
)


def _probe(module: str, build: str | None = None) -> dict[str, list[str]]:
    """The modules a fresh interpreter loads for ``import module`` (and then for running ``build``)."""
    argv = [sys.executable, "-c", _PROBE, module, *([build] if build else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _heavy(modules: list[str]) -> list[str]:
    return [
        m
        for m in modules
        if m.startswith(tuple(f"{p}." for p in RUN_TIME_ONLY)) or m in RUN_TIME_ONLY or m.split(".")[0] in THIRD_PARTY
    ]


@pytest.mark.parametrize("name", OPERATOR_MODULES)
def test_importing_an_operator_module_loads_no_run_time_module(name: str) -> None:
    result = _probe(f"{PACKAGE}.operators.{name}")
    assert f"{PACKAGE}.operators.{name}" in result["imported"]  # the probe saw the import happen
    assert _heavy(result["imported"]) == []


def test_the_operators_package_resolves_names_lazily() -> None:
    result = _probe(f"{PACKAGE}.operators")
    assert f"{PACKAGE}.operators.base" not in result["imported"]


#: A DAG with one task of each typed operator: (operator module, class, keywords); the runtime it names.
TASKS = {
    "http.source": ("http", "HttpSourceOperator", "endpoint='/items', records_path='items'"),
    "http.sink": ("http", "HttpSinkOperator", "endpoint='/in', data=[{'a': 1}]"),
    "file.source": ("file", "FileSourceOperator", "path='in.ndjson', base_path='/data'"),
    "file.sink": ("file", "FileSinkOperator", "path='out.ndjson', data=[], base_path='/data', declare_asset=False"),
    "transform": ("transform", "TransformOperator", "data=[], operations=[{'filter': 'a > `1`'}]"),
    "ai.transform": (
        "ai",
        "AiTransformOperator",
        "data=[], model='m', prompt='Classify ${title}', "
        "output_schema={'type': 'object', 'properties': {'label': {'type': 'string'}}}",
    ),
}
NODE_MODULES = {
    "http.source": "http_source",
    "http.sink": "http_sink",
    "file.source": "file_source",
    "file.sink": "file_sink",
    "transform": "transform",
    "ai.transform": "ai_transform",
}


@pytest.mark.parametrize("runtime", sorted(TASKS))
def test_a_task_loads_its_own_runtime_and_no_other(runtime: str) -> None:
    """Parse-time validation needs the task's config model, so its runtime module loads; the others must not
    (the registry loads runtimes by name, not all at the first lookup)."""
    module, cls, keywords = TASKS[runtime]
    build = (
        f"from airflow.sdk import DAG\nfrom {PACKAGE}.operators.{module} import {cls}\n"
        f"with DAG('import_cost', schedule=None):\n    task = {cls}(task_id='t', {keywords})\n"
        f"assert task.runtime == {runtime!r}"
    )
    result = _probe(f"{PACKAGE}.operators.{module}", build)
    assert result["built"] is not None
    loaded_nodes = sorted(m for m in result["built"] if m.startswith(f"{PACKAGE}.nodes."))
    assert loaded_nodes == [f"{PACKAGE}.nodes.{NODE_MODULES[runtime]}"]
    if runtime != "ai.transform":
        assert not [m for m in result["built"] if m.startswith((f"{PACKAGE}.llm", "openai"))]
