"""file.sink / file.source record paths next to the raw loops they must stay close to (issue 11).

    .venv/bin/python benchmarks/codec_files_benchmark.py --size 200000 --runs 3   # size: records (~1 KB each)

Goals measured, each as project/baseline ratios of records per second over ``--runs`` alternating runs (same
machine, same files, one process per measurement so peak RSS is its own):

* file.sink NDJSON (a file reference in, an NDJSON file out: confined, atomic, fsynced, sha256) >= 0.7x an orjson
  loop (read lines, ``orjson.loads``, ``orjson.dumps``, write);
* file.source NDJSON (a reference: every line parsed, records counted, bytes hashed) >= 0.7x an orjson loop
  (read lines, ``orjson.loads``, count);
* file.sink CSV (records in memory to a CSV file) within 1.2x of ``csv.writer`` alone (ratio >= 1/1.2);
* file.source CSV (every row parsed, counted, hashed) within 1.2x of ``csv.DictReader`` alone.

The last line is ``BENCH-RESULT {...}`` for the benchmark runner (one entry per goal).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import profiling

ROOT = Path(__file__).resolve().parents[1]


def make_record(i: int) -> dict[str, Any]:
    """A typical ~1 KB record: ids, text with non-ASCII, numbers, a nested object and a list."""
    return {
        "id": i,
        "name": f"customer {i} — Zürich",
        "email": f"user{i}@example.com",
        "active": i % 3 != 0,
        "score": i * 0.25,
        "tags": ["alpha", "beta", "gamma"][: i % 4],
        "address": {"street": f"{i} Main Street", "city": "Genève", "zip": f"{1000 + i % 9000}"},
        "note": "lorem ipsum dolor sit amet " * 28,
    }


def flat_record(i: int) -> dict[str, Any]:
    """A CSV row: the same record without nesting, its note full of commas and quotes."""
    nested = make_record(i)
    flat = {key: nested[key] for key in ("id", "name", "email", "active", "score")}
    return {**flat, "city": nested["address"]["city"], "note": 'lorem ipsum, "dolor" sit amet ' * 30}


def prepare(folder: str, size: int) -> None:
    import orjson

    with open(os.path.join(folder, "in.ndjson"), "wb") as f:
        for i in range(size):
            f.write(orjson.dumps(make_record(i)) + b"\n")
    with open(os.path.join(folder, "in.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(list(flat_record(0)))
        for i in range(size):
            writer.writerow(flat_record(i).values())


# -- the measured bodies: each runs in a fresh process (``--child NAME``) -----------------------------------------


def _state(folder: str) -> Any:
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState

    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": folder}))


# Each returns the seconds of its measured part (set-up such as building records stays outside the clock).


def project_sink_ndjson(folder: str, size: int) -> float:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
    from airflow_provider_flow.records.reader import describe_file

    ref = describe_file(folder, "in.ndjson", base_path=folder)
    config = validate_config(FileSinkConfig, {"path": "out/sink.ndjson"})
    start = time.perf_counter()
    assert FileSinkRuntime().execute(config, ref.model_dump(), _state(folder)).records == size
    return time.perf_counter() - start


def baseline_sink_ndjson(folder: str, size: int) -> float:
    import orjson

    start = time.perf_counter()
    count = 0
    with open(os.path.join(folder, "in.ndjson"), "rb") as src, open(os.path.join(folder, "raw.ndjson"), "wb") as out:
        for line in src:
            out.write(orjson.dumps(orjson.loads(line)) + b"\n")
            count += 1
    assert count == size
    return time.perf_counter() - start


def project_source(folder: str, name: str, size: int) -> float:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime

    config = validate_config(FileSourceConfig, {"path": name, "output": "reference"})
    state = _state(folder)
    start = time.perf_counter()
    assert FileSourceRuntime().execute(config, None, state).records == size
    return time.perf_counter() - start


def baseline_source_ndjson(folder: str, size: int) -> float:
    import orjson

    start = time.perf_counter()
    with open(os.path.join(folder, "in.ndjson"), "rb") as src:
        assert sum(1 for line in src if orjson.loads(line) is not None) == size
    return time.perf_counter() - start


def project_sink_csv(folder: str, size: int) -> float:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime

    records = [flat_record(i) for i in range(size)]
    config = validate_config(FileSinkConfig, {"path": "out/sink.csv"})
    start = time.perf_counter()
    assert FileSinkRuntime().execute(config, records, _state(folder)).records == size
    return time.perf_counter() - start


def baseline_sink_csv(folder: str, size: int) -> float:
    records = [flat_record(i) for i in range(size)]
    start = time.perf_counter()
    with open(os.path.join(folder, "raw.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(list(records[0]))
        for record in records:
            writer.writerow(record.values())
    return time.perf_counter() - start


def baseline_source_csv(folder: str, size: int) -> float:
    start = time.perf_counter()
    with open(os.path.join(folder, "in.csv"), encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.DictReader(f)) == size
    return time.perf_counter() - start


CHILDREN = {
    "project_sink_ndjson": project_sink_ndjson,
    "baseline_sink_ndjson": baseline_sink_ndjson,
    "project_source_ndjson": lambda folder, size: project_source(folder, "in.ndjson", size),
    "baseline_source_ndjson": baseline_source_ndjson,
    "project_sink_csv": project_sink_csv,
    "baseline_sink_csv": baseline_sink_csv,
    "project_source_csv": lambda folder, size: project_source(folder, "in.csv", size),
    "baseline_source_csv": baseline_source_csv,
}

#: (stable goal id of benchmarks/run_all.py, what the goal says, key of the measured pair, baseline, goal ratio)
GOALS = [
    ("file_sink_ndjson", "file.sink NDJSON >= 0.7x an orjson loop", "sink_ndjson", "orjson loop", 0.7),
    ("file_source_ndjson", "file.source NDJSON >= 0.7x an orjson loop", "source_ndjson", "orjson loop", 0.7),
    ("file_sink_csv", "file.sink CSV within 1.2x of the csv module", "sink_csv", "csv.writer loop", 1 / 1.2),
    ("file_source_csv", "file.source CSV within 1.2x of the csv module", "source_csv", "csv.DictReader loop", 1 / 1.2),
]


def child(name: str, folder: str, size: int) -> None:
    elapsed = CHILDREN[name](folder, size)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "rss": rss}))


def measure(name: str, folder: str, size: int, project_root: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": project_root}
    cmd = [sys.executable, __file__, "--child", name, "--folder", folder, "--size", str(size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=lambda text: int(float(text)), default=200_000, help="records (~1 KB each)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only the goals whose key contains this (sink_ndjson, csv, ...)")
    parser.add_argument("--project-root", default=str(ROOT), help="checkout to measure (e.g. main, for before/after)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with profiling(__file__, args.child, args.size):
            child(args.child, args.folder, args.size)
        return
    folder = os.path.realpath(tempfile.mkdtemp(prefix="apf-codec-files-"))
    prepare(folder, args.size)
    mib = os.path.getsize(os.path.join(folder, "in.ndjson")) / 2**20
    print(f"{args.size:,} records ({mib:.0f} MiB NDJSON), {args.runs} runs, folder {folder}")
    results = []
    for goal_id, goal, key, baseline_name, goal_ratio in GOALS:
        if args.only and args.only not in key:
            continue
        ratios, project_rates, baseline_rates, rss = [], [], [], []
        for _ in range(args.runs):
            project = measure(f"project_{key}", folder, args.size, args.project_root)
            baseline = measure(f"baseline_{key}", folder, args.size, args.project_root)
            project_rates.append(args.size / project["seconds"])
            baseline_rates.append(args.size / baseline["seconds"])
            ratios.append(baseline["seconds"] / project["seconds"])
            rss.append(project["rss"])
        entry = {
            "goal": goal_id,
            "project": round(statistics.median(project_rates)),
            "baseline": round(statistics.median(baseline_rates)),
            "baseline_name": baseline_name,
            "ratio_min": round(min(ratios), 3),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "goal_ratio": round(goal_ratio, 3),
            "unit": "records/s",
            "size": args.size,
            "peak_rss_mib": round(max(rss), 1),
        }
        results.append(entry)
        verdict = "meets" if entry["ratio_median"] >= goal_ratio else "MISSES"
        print(
            f"{goal}: project {entry['project']:,} rec/s, {baseline_name} {entry['baseline']:,} rec/s, ratio "
            f"{entry['ratio_min']}/{entry['ratio_median']}/{entry['ratio_max']} (min/median/max) {verdict} "
            f"{entry['goal_ratio']}; peak RSS {entry['peak_rss_mib']} MiB"
        )
    print("BENCH-RESULT " + json.dumps({"results": results}))


if __name__ == "__main__":
    main()
