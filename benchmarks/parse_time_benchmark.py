"""How much this package costs the DAG processor: example-folder parse time and operator import cost.

Printed side by side with what a user would otherwise import (the HTTP provider's ``HttpOperator`` and the
standard ``PythonOperator``). Every figure is measured in a fresh interpreter (imports are cached per process),
repeated, and reported as the median (min-max), because the DAG processor pays the cold cost for every new
parsing process.

* import cost: wall time of ``import airflow.sdk`` alone, then the *extra* time of importing the operator
  modules on top of it in the same fresh process;
* first task: the extra time of importing one operator and building one task of it in a DAG (ours: an
  ``HttpSourceOperator``, whose config is validated at parse time on purpose, so its runtime module loads; theirs:
  an ``HttpOperator``): what a DAG file with one task pays on top of ``import airflow.sdk``;
* parse time: ``DagBag(dags_examples)`` in a fresh process after ``import airflow.sdk`` (first parse: loads the
  package, the runtimes' entry points and every example file) and the median of 5 re-parses in that process
  (what a long-lived DAG processor pays per cycle), plus per-file times from the same DagBag.

Run: ``.venv/bin/python benchmarks/parse_time_benchmark.py [--repeat 5]``. No assertions: numbers depend on the
machine; compare the columns, not absolute values.

Bytecode: a deployed scheduler has ``.pyc`` files for every module, so the probes run with warm bytecode caches
(``PYTHONPYCACHEPREFIX`` pointing at a temporary folder, one unmeasured warm-up per row; the installed venv is not
written to). With ``PYTHONDONTWRITEBYTECODE`` set and no caches, every import would compile its source, which
charges whichever side has fewer cached modules.

For ``benchmarks/run_all.py`` it follows the BENCH-RESULT contract (``--runs`` = ``--repeat``, ``--size`` is
ignored, ``--imports-only`` skips the DagBag part): goal ``parse_cost`` is what the operators add over
``import airflow.sdk``, as a ratio HttpOperator's extra / ours per fresh process (issue 11 measured ~357 / ~70 ms;
"keep it" is read as: ours stays at most a quarter of HttpOperator's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import GoalResult, emit, ratio_stats

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_examples"

IMPORT_SETS = {
    "airflow_provider_flow operators (all)": [
        "airflow_provider_flow.operators.base",
        "airflow_provider_flow.operators.http",
        "airflow_provider_flow.operators.file",
        "airflow_provider_flow.operators.transform",
        "airflow_provider_flow.operators.ai",
    ],
    "airflow_provider_flow flow loader": ["airflow_provider_flow.flows.dag_builder"],
    "alternative: HttpOperator (providers-http)": ["airflow.providers.http.operators.http"],
    "alternative: HttpOperator + PythonOperator": [
        "airflow.providers.http.operators.http",
        "airflow.providers.standard.operators.python",
    ],
}

OURS, THEIRS = "airflow_provider_flow operators (all)", "alternative: HttpOperator (providers-http)"

_IMPORT_PROBE = """
import importlib, json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
t2 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "extra": t2 - t1}))
"""

OURS_TASK, THEIRS_TASK = "HttpSourceOperator task", "HttpOperator task"
#: One DAG with one task, after ``import airflow.sdk``: import + construction (label -> statement).
FIRST_TASK = {
    OURS_TASK: (
        "from airflow_provider_flow.operators.http import HttpSourceOperator as Op\n"
        "kwargs = {'endpoint': '/items', 'records_path': 'items'}"
    ),
    THEIRS_TASK: (
        "from airflow.providers.http.operators.http import HttpOperator as Op\nkwargs = {'endpoint': '/items'}"
    ),
}

_TASK_PROBE = """
import json, sys, time
import airflow.sdk
t1 = time.perf_counter()
from airflow.sdk import DAG
namespace = {}
exec(sys.argv[1], namespace)
with DAG("parse_cost", schedule=None):
    namespace["Op"](task_id="t", **namespace["kwargs"])
t2 = time.perf_counter()
print(json.dumps({"extra": t2 - t1}))
"""

_PARSE_PROBE = """
import json, statistics, sys, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
first = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
again = []
for _ in range(5):
    t0 = time.perf_counter()
    DagBag(dag_folder=sys.argv[1])
    again.append(time.perf_counter() - t0)
stats = {s.file.rsplit('/', 1)[-1]: s.duration.total_seconds() if hasattr(s.duration, 'total_seconds') else s.duration
         for s in bag.dagbag_stats}
print(json.dumps({"first": first, "again": statistics.median(again), "dags": len(bag.dags), "files": stats}))
"""


def _env() -> dict[str, str]:
    home = tempfile.mkdtemp(prefix="apf-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "PYTHONPYCACHEPREFIX": os.path.join(home, "pycache"),  # warm .pyc, outside the venv (docstring)
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(code: str, *args: str, env: dict[str, str]) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"probe failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.0f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", "--runs", type=int, default=5)
    parser.add_argument("--size", type=float, default=0, help="ignored (the BENCH-RESULT contract's argument)")
    parser.add_argument("--goals", default="", help="ignored: this script has one goal, parse_cost")
    parser.add_argument("--imports-only", action="store_true", help="skip the DagBag parse part")
    args = parser.parse_args(argv)
    per_label: dict[str, list[float]] = {}
    env = _env()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.repeat} fresh processes per row\n")

    print(f"{'import cost over `import airflow.sdk`':48} {'extra import time':>28}")
    sdk: list[float] = []
    for label, modules in IMPORT_SETS.items():
        if args.imports_only and label not in (OURS, THEIRS):
            continue
        extras = []
        _run(_IMPORT_PROBE, *modules, env=env)  # warm-up: writes the bytecode caches
        for _ in range(args.repeat):
            result = _run(_IMPORT_PROBE, *modules, env=env)
            sdk.append(result["sdk"])
            extras.append(result["extra"])
        per_label[label] = extras
        print(f"  {label:46} {_fmt(extras):>28}")
    print(f"  {'(import airflow.sdk itself)':46} {_fmt(sdk):>28}\n")
    print(f"{'one DAG, one task, over `import airflow.sdk`':48} {'extra time':>28}")
    for label, statement in FIRST_TASK.items():
        _run(_TASK_PROBE, statement, env=env)  # warm-up
        per_label[label] = [_run(_TASK_PROBE, statement, env=env)["extra"] for _ in range(args.repeat)]
        print(f"  {label:46} {_fmt(per_label[label]):>28}")
    print()
    if args.imports_only:
        emit([_parse_cost(per_label)])
        return 0

    firsts, agains = [], []
    files: dict[str, list[float]] = {}
    dags = 0
    for _ in range(args.repeat):
        result = _run(_PARSE_PROBE, str(EXAMPLES), env=env)
        firsts.append(result["first"])
        agains.append(result["again"])
        dags = int(result["dags"])
        for name, seconds in result["files"].items():  # type: ignore[attr-defined]
            files.setdefault(name, []).append(seconds)
    print(f"DagBag over dags_examples/ ({dags} DAGs, {len(files)} files), after `import airflow.sdk`:")
    print(f"  {'first parse in a fresh process':46} {_fmt(firsts):>28}")
    print(f"  {'re-parse in the same process (median of 5)':46} {_fmt(agains):>28}")
    print("  per file, first parse:")
    for name, values in sorted(files.items()):
        print(f"    {name:44} {_fmt(values):>28}")
    emit([_parse_cost(per_label)])
    return 0


def _parse_cost(per_label: dict[str, list[float]]) -> GoalResult:
    ours, theirs = per_label[OURS], per_label[THEIRS]
    low, mid, high = ratio_stats([t / o for o, t in zip(ours, theirs, strict=True)])
    task_ours, task_theirs = per_label[OURS_TASK], per_label[THEIRS_TASK]
    _, task_ratio, _ = ratio_stats([t / o for o, t in zip(task_ours, task_theirs, strict=True)])
    return GoalResult(
        goal="parse_cost",
        project=statistics.median(ours) * 1000,
        baseline=statistics.median(theirs) * 1000,
        ratio_min=low,
        ratio_median=mid,
        ratio_max=high,
        goal_ratio=4.0,
        unit="ms over import airflow.sdk",
        size=0,
        peak_rss_mib=0.0,
        baseline_name="HttpOperator import",
        runs=len(ours),
        note="ratio = HttpOperator's extra import time / the operators' (fresh process each, warm .pyc); "
        f"one DAG with one task: HttpSourceOperator {statistics.median(task_ours) * 1000:.0f} ms, HttpOperator "
        f"{statistics.median(task_theirs) * 1000:.0f} ms (ratio {task_ratio:.2f})",
        extra={
            "first_task_ms": round(statistics.median(task_ours) * 1000, 1),
            "first_task_httpoperator_ms": round(statistics.median(task_theirs) * 1000, 1),
            "first_task_ratio_median": round(task_ratio, 3),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
