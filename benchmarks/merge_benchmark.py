"""file.sink ``disposition='merge'`` against a naive in-memory dict merge: time and peak RSS as the snapshot grows.

For each size N, an NDJSON snapshot of N records and an update file of N/10 records (90% of them newer versions of
existing keys, 10% new keys) are generated once. Each run then merges the updates into a fresh copy of the snapshot
in a fresh process, twice side by side:

* **project**: ``FileSinkRuntime`` with ``disposition='merge'``, ``primary_key='id'``, ``cursor_field='updated_at'``;
  the updates are streamed from a file reference, the merge index is on disk (sqlite), the new snapshot is published
  atomically;
* **baseline** (``dict merge``): every record of both files in a dict keyed by id, newest ``updated_at`` kept,
  written with ``json.dumps`` to a temporary file and ``os.replace``d over the snapshot (what a PythonOperator
  would do).

Throughput is snapshot records per second (N / merge time, process start and data copy excluded); peak RSS is the
process's ``VmHWM`` (Linux). Flat RSS across sizes is the point: the baseline grows with N.

    PYTHONPATH=. .venv/bin/python benchmarks/merge_benchmark.py --size 100000 300000 1000000 --runs 3

The last line is ``BENCH-RESULT {...}`` with one entry per size (the benchmark runner's contract).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from _report import profiling

#: The throughput ratio to the dict merge this benchmark expects at least (while holding memory flat).
GOAL_RATIO = 0.75


def generate(folder: str, size: int) -> None:
    """``snapshot.ndjson`` (N records) and ``updates.ndjson`` (N/10: 90% newer versions, 10% new keys)."""
    rng = random.Random(size)
    with open(os.path.join(folder, "snapshot.ndjson"), "w", encoding="utf-8") as out:
        for i in range(size):
            record = {"id": i, "updated_at": "2024-01-01T00:00:00Z", "name": f"customer {i}", "score": rng.random()}
            out.write(json.dumps(record) + "\n")
    count = size // 10
    keys = rng.sample(range(size), count - count // 10) + list(range(size, size + count // 10))
    rng.shuffle(keys)
    with open(os.path.join(folder, "updates.ndjson"), "w", encoding="utf-8") as out:
        for key in keys:
            record = {"id": key, "updated_at": "2024-02-01T00:00:00Z", "name": f"customer {key} v2", "score": 1.0}
            out.write(json.dumps(record) + "\n")


def run_project(base: str) -> int:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
    from airflow_provider_flow.records.reference import FileReference

    updates = os.path.join(base, "updates.ndjson")
    with open(updates, "rb") as f:
        data = f.read()
    ref = FileReference(
        path="updates.ndjson",
        base_path=base,
        format="ndjson",
        records=data.count(b"\n"),
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    del data
    config = validate_config(
        FileSinkConfig,
        {
            "path": "snapshot.ndjson",
            "base_path": base,
            "disposition": "merge",
            "primary_key": "id",
            "cursor_field": "updated_at",
        },
    )
    return FileSinkRuntime().execute(config, ref.model_dump(), ExecutionState()).records


def run_baseline(base: str) -> int:
    records: dict[Any, dict[str, Any]] = {}
    for name in ("snapshot.ndjson", "updates.ndjson"):
        with open(os.path.join(base, name), encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                held = records.get(record["id"])
                if held is None or record["updated_at"] >= held["updated_at"]:
                    records[record["id"]] = record
    target = os.path.join(base, "snapshot.ndjson")
    with open(target + ".tmp", "w", encoding="utf-8") as out:
        for record in records.values():
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(target + ".tmp", target)
    return len(records)


def child(kind: str, base: str) -> None:
    """One measured merge in this fresh process; prints ``{"seconds", "records", "peak_rss_mib"}``."""
    if kind == "project":  # imports are not part of the merge
        import airflow_provider_flow.nodes.file_sink  # noqa: F401
    start = time.perf_counter()
    records = run_project(base) if kind == "project" else run_baseline(base)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "records": records, "peak_rss_mib": round(peak_rss_mib(), 1)}))


def peak_rss_mib() -> float:
    """This process's peak RSS: ``VmHWM`` (``ru_maxrss`` would include the RSS of the parent it was forked from)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # without /proc: the rusage figure


def measure(kind: str, data: str, work: str, size: int) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(data, work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--base", work, "--size", str(size)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def snapshot_ids(path: str) -> list[tuple[Any, str]]:
    with open(path, encoding="utf-8") as f:
        return sorted((r["id"], r["updated_at"]) for r in map(json.loads, f))


def bench_size(size: int, runs: int, root: str) -> dict[str, Any]:
    data = os.path.join(root, f"data-{size}")
    os.makedirs(data)
    generate(data, size)
    ratios, project, baseline = [], [], []
    for run in range(runs):
        order = ("project", "baseline") if run % 2 == 0 else ("baseline", "project")
        result = {kind: measure(kind, data, os.path.join(root, f"work-{kind}"), size) for kind in order}
        p, b = result["project"], result["baseline"]
        if run == 0:
            same = snapshot_ids(os.path.join(root, "work-project", "snapshot.ndjson")) == snapshot_ids(
                os.path.join(root, "work-baseline", "snapshot.ndjson")
            )
            if not same or p["records"] != b["records"]:
                raise SystemExit(f"size {size}: the project's snapshot differs from the baseline's")
        project.append(p)
        baseline.append(b)
        ratios.append(b["seconds"] / p["seconds"])  # throughput ratio: project records/s over baseline's
        print(
            f"size {size:>9,}  run {run + 1}: project {p['seconds']:6.2f} s, {p['peak_rss_mib']:6.1f} MiB peak RSS | "
            f"dict merge {b['seconds']:6.2f} s, {b['peak_rss_mib']:6.1f} MiB | throughput ratio {ratios[-1]:.2f}",
            flush=True,
        )
    shutil.rmtree(data)
    p_rate = size / statistics.median(r["seconds"] for r in project)
    b_rate = size / statistics.median(r["seconds"] for r in baseline)
    return {
        "goal": f"merge 10% updates into a {size}-record NDJSON snapshot with flat memory",
        "project": round(p_rate),
        "baseline": round(b_rate),
        "baseline_name": "dict merge in memory (json + os.replace)",
        "ratio_min": round(min(ratios), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "goal_ratio": GOAL_RATIO,
        "unit": "records/s",
        "size": size,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in project),
        "baseline_peak_rss_mib": max(r["peak_rss_mib"] for r in baseline),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[100_000, 300_000, 1_000_000], help="snapshot records")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("project", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with profiling(__file__, args.child, args.size[0]):  # --size: the snapshot's records, for the label
            child(args.child, args.base)
        return
    root = tempfile.mkdtemp(prefix="apf-merge-bench-")
    try:
        results = [bench_size(size, args.runs, root) for size in args.size]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"(a fresh process per run; peak RSS is VmHWM; the side going first alternates; {os.cpu_count()} cores)")
    print("BENCH-RESULT " + json.dumps({"results": results}))


if __name__ == "__main__":
    main()
