"""Throughput of the ``transform`` node (filter + select over NDJSON) next to the same work written by hand.

Every run measures, one after the other on the same file, each contender in a fresh child process (so its peak
RSS is its own):

* ``transform``: ``TransformRuntime`` with a FileReference input and ``output_path`` (the whole node: reading,
  confinement, the operations, the atomic writer, sha256, progress);
* ``orjson loop``: open the file, ``orjson.loads`` each line, the same filter and select in Python,
  ``orjson.dumps`` each kept record (the issue's goal: the node >= 0.5x this);
* ``json loop``: the same loop with the stdlib ``json`` module.

Then, in one more child, the evaluation alone (already parsed records, nothing read or written): the
operations' pipeline against the same filter/select as a Python loop, so the cost of the expressions can be read
apart from parsing and encoding (which belong to the codecs).

Ratios are per run (the node's rate over the baseline's in the same run), reported as min/median/max; the
machine is shared, so only ratios from one run mean something. The last line is ``BENCH-RESULT {...}`` for the
benchmark runner (through ``benchmarks/_report.py`` when it exists). The machine is usually shared: say so
with the numbers. Run::

    .venv/bin/python benchmarks/transform_benchmark.py --size 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from _report import profiling

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILTER = "score >= `50`"
SELECT = {"id": "id", "name": "upper(name)", "town": "city", "score": "score"}
OPERATIONS: list[dict[str, Any]] = [{"filter": FILTER}, {"select": SELECT}]
GOAL_RATIO = 0.5
GOAL = "transform_filter_select"


def by_hand(record: dict[str, Any]) -> dict[str, Any]:
    """The select above, written in Python."""
    return {"id": record["id"], "name": record["name"].upper(), "town": record["city"], "score": record["score"]}


def generate(path: Path, n: int) -> None:
    with path.open("wb") as handle:
        for record in _records(n):
            handle.write(orjson.dumps(record) + b"\n")


def run_node(base: str, n: int) -> int:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
    from airflow_provider_flow.records.reference import FileReference

    path = os.path.join(base, "in.ndjson")
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    ref = FileReference(
        path="in.ndjson",
        base_path=base,
        format="ndjson",
        records=n,
        bytes=os.path.getsize(path),
        sha256=sha.hexdigest(),
    )
    config = validate_config(
        TransformConfig, {"operations": OPERATIONS, "output_path": "out-node.ndjson", "base_path": base}
    )
    out = TransformRuntime().execute(config, ref, ExecutionState(settings=StaticSettingsProvider()))
    assert isinstance(out, FileReference)
    return out.records


def run_orjson(base: str, n: int) -> int:
    kept = 0
    dumps, loads = orjson.dumps, orjson.loads
    with (
        open(os.path.join(base, "in.ndjson"), "rb") as source,
        open(os.path.join(base, "out-orjson.ndjson"), "wb") as out,
    ):
        for line in source:
            record = loads(line)
            if record["score"] >= 50:
                out.write(dumps(by_hand(record)) + b"\n")
                kept += 1
    return kept


def run_json(base: str, n: int) -> int:
    kept = 0
    encoder = json.JSONEncoder(ensure_ascii=False)
    source_path, out_path = os.path.join(base, "in.ndjson"), os.path.join(base, "out-json.ndjson")
    with open(source_path, encoding="utf-8") as source, open(out_path, "w", encoding="utf-8") as out:
        for line in source:
            record = json.loads(line)
            if record["score"] >= 50:
                out.write(encoder.encode(by_hand(record)) + "\n")
                kept += 1
    return kept


def evaluate_node(records: list[Any]) -> int:
    from airflow_provider_flow.nodes.transform import TransformConfig, build_stages
    from airflow_provider_flow.records.operations import run_pipeline

    stages = build_stages(TransformConfig(operations=OPERATIONS))  # type: ignore[arg-type]
    return sum(1 for _ in run_pipeline(records, stages))


def evaluate_by_hand(records: list[Any]) -> int:
    return sum(1 for _ in (by_hand(r) for r in records if r["score"] >= 50))


def evaluation_ratios(n: int, runs: int) -> list[float]:
    """Per run, the Python loop's time over the pipeline's, on parsed records in memory (no I/O)."""
    records = list(_records(n))
    ratios = []
    for _ in range(runs):
        node_s, kept_node = timed(evaluate_node, records)
        hand_s, kept_hand = timed(evaluate_by_hand, records)
        assert kept_node == kept_hand
        ratios.append(hand_s / node_s)
    return ratios


WORKERS: dict[str, Callable[[str, int], int]] = {"transform": run_node, "orjson": run_orjson, "json": run_json}
WORKER_PREFIX = "WORKER-RESULT "


def warm_up() -> None:
    """Import the node and build its config once, so the timed work is the transform, not the imports."""
    from airflow_provider_flow.nodes.transform import TransformConfig, build_stages

    build_stages(TransformConfig(operations=OPERATIONS))  # type: ignore[arg-type]
    evaluate_node(list(_records(100)))


def worker(name: str, base: str, n: int, runs: int) -> None:
    if name in ("transform", "evaluation"):
        warm_up()
    if name == "evaluation":
        print(WORKER_PREFIX + json.dumps({"ratios": evaluation_ratios(n, runs)}), flush=True)
        return
    seconds, kept = timed(WORKERS[name], base, n)
    print(WORKER_PREFIX + json.dumps({"seconds": seconds, "kept": kept}), flush=True)


def in_child(name: str, base: str, n: int, runs: int = 1) -> dict[str, Any]:
    """Run one contender in a fresh interpreter; its result and its own peak RSS (``wait4``)."""
    cmd = [sys.executable, __file__, "--worker", name, "--base", base, "--size", str(n), "--runs", str(runs)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in stdout.splitlines() if line.startswith(WORKER_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{name} worker failed (exit {proc.returncode}): {stdout[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(WORKER_PREFIX) :])
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def timed(func: Callable[..., int], *args: Any) -> tuple[float, int]:
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def same_output(base: str) -> bool:
    with (
        open(os.path.join(base, "out-node.ndjson"), "rb") as a,
        open(os.path.join(base, "out-orjson.ndjson"), "rb") as b,
    ):
        return all(orjson.loads(x) == orjson.loads(y) for x, y in zip(a, b, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=float, default=1_000_000, help="records in the input file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--goals", default="", help="accepted for the runner; this script measures one goal")
    parser.add_argument("--worker", choices=[*WORKERS, "evaluation"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = int(args.size)
    if args.worker:
        with profiling(__file__, args.worker, n):
            worker(args.worker, args.base, n, args.runs)
        return
    print(f"transform benchmark: {n:,} records, {args.runs} runs; operations {json.dumps(OPERATIONS)}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in WORKERS}
    with tempfile.TemporaryDirectory(prefix="apf-transform-bench-") as tmp:
        base = os.path.realpath(tmp)
        generate(Path(base, "in.ndjson"), n)
        print(f"input {os.path.getsize(os.path.join(base, 'in.ndjson')) / 2**20:.1f} MiB")
        print(f"run | transform rec/s   MiB | {'orjson loop':>11}  ratio | {'json loop':>10}  ratio")
        for run in range(1, args.runs + 1):
            for name in WORKERS:
                results[name].append(in_child(name, base, n))
            node, fast, slow = (results[name][-1] for name in WORKERS)
            assert node["kept"] == fast["kept"] == slow["kept"], (node, fast, slow)
            assert same_output(base), "the node's output differs from the orjson loop's"
            took, took_orjson, took_json = node["seconds"], fast["seconds"], slow["seconds"]
            print(
                f"{run:>3} | {n / took:>15,.0f} {node['peak_rss_mib']:>5.0f} | {n / took_orjson:>11,.0f} "
                f"{took_orjson / took:>6.2f} | {n / took_json:>10,.0f} {took_json / took:>6.2f}"
            )
        evaluation = in_child("evaluation", base, min(n, 200_000), args.runs)["ratios"]
    node_s = [r["seconds"] for r in results["transform"]]
    vs_orjson = [r["seconds"] / p for r, p in zip(results["orjson"], node_s, strict=True)]
    vs_json = [r["seconds"] / p for r, p in zip(results["json"], node_s, strict=True)]
    peak = max(r["peak_rss_mib"] for r in results["transform"])
    print("transform / orjson loop: min {:.2f} median {:.2f} max {:.2f}".format(*spread(vs_orjson)))
    print("transform / json loop:   min {:.2f} median {:.2f} max {:.2f}".format(*spread(vs_json)))
    sample = min(n, 200_000)
    print(
        f"evaluation alone ({sample:,} parsed records, no I/O), pipeline / Python loop: "
        "min {:.2f} median {:.2f} max {:.2f}".format(*spread(evaluation))
    )
    print(f"peak RSS of the node: {peak:.1f} MiB")
    low, mid, high = spread(vs_orjson)
    result = {
        "goal": GOAL,
        "project": round(n / statistics.median(node_s)),
        "baseline": round(n / statistics.median(r["seconds"] for r in results["orjson"])),
        "baseline_name": "orjson loop (loads, filter, select, dumps)",
        "ratio_min": round(low, 3),
        "ratio_median": round(mid, 3),
        "ratio_max": round(high, 3),
        "goal_ratio": GOAL_RATIO,
        "unit": "records/s",
        "size": n,
        "peak_rss_mib": round(peak, 1),
        "seconds": round(statistics.median(node_s), 3),
        "runs": args.runs,
        "note": f"json loop ratio median {statistics.median(vs_json):.2f}; "
        f"evaluation alone {statistics.median(evaluation):.2f}x a Python loop",
    }
    report = _report_module()
    if report is not None:  # benchmarks/_report.py: the runner's own format
        report.emit([report.GoalResult(**result)])
    else:
        print("BENCH-RESULT " + json.dumps({"results": [result]}))


def _report_module() -> Any:
    path = Path(__file__).with_name("_report.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_report"] = module
    spec.loader.exec_module(module)
    return module


def _records(n: int) -> Any:
    for i in range(n):
        yield {
            "id": i,
            "name": f"user-{i}",
            "score": (i * 37) % 100,
            "city": ("Paris", "Lagos", "Lima", "Oslo")[i % 4],
            "tags": ["a", "b", "c"][: i % 4],
            "active": i % 3 != 0,
            "payload": "x" * 40,
        }


if __name__ == "__main__":
    main()
