"""transform and file.sink / file.source against hand-written loops over the same file (issue 11 goals).

Each contender runs in a fresh child process per run (peak RSS is its own), contenders interleaved run by run;
the figure is records per second over the same records and the same kind of output.

* ``transform_filter_select``: ``TransformRuntime`` over a FileReference (``filter: score >= `50```, ``select``
  of three fields, ``output_path``) vs an orjson loop doing the same filter/select by hand (goal >= 0.5x).
* ``file_sink_ndjson`` / ``file_source_ndjson``: ``FileSinkRuntime`` writing a list of records / ``FileSourceRuntime``
  reading them back as records vs an orjson loop (``orjson.dumps`` per line / ``orjson.loads`` per line; goal >=
  0.7x).
* ``file_sink_csv`` / ``file_source_csv``: the same with CSV vs the csv module alone (``csv.DictWriter`` /
  ``csv.DictReader``; goal: within 1.2x, i.e. ratio >= 1/1.2).

The project's side keeps its guarantees (confined path, temp file + fsync + atomic rename, sha256); the loops
write straight to the target. ``--size`` is a number of records. Run:
``PYTHONPATH=. .venv/bin/python benchmarks/goals_records.py --size 300000 --runs 3``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _report import (
    GoalResult,
    add_contract_arguments,
    emit,
    profiled,
    python_env,
    run_child,
    summarise,
    wanted,
    worker_emit,
)

FILTER = "score >= `50`"
SELECT = {"id": "id", "name": "name", "city": "city"}
CITIES = ("Paris", "Lagos", "Lima", "Oslo")
LIST_NOTE = "; the records are a list in memory on both sides (the sink's input, the source's output): RSS follows size"
#: goal id -> (project worker, baseline worker, goal ratio, baseline name)
GOALS: dict[str, tuple[str, str, float, str]] = {
    "transform_filter_select": ("transform", "orjson_transform", 0.5, "orjson loop, same filter/select"),
    "file_sink_ndjson": ("sink_ndjson", "orjson_write", 0.7, "orjson.dumps per line"),
    "file_source_ndjson": ("source_ndjson", "orjson_read", 0.7, "orjson.loads per line"),
    "file_sink_csv": ("sink_csv", "csv_write", 1 / 1.2, "csv.DictWriter"),
    "file_source_csv": ("source_csv", "csv_read", 1 / 1.2, "csv.DictReader"),
}


def records(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {
            "id": i,
            "name": f"user {i} — ü",
            "score": (i * 37) % 100,
            "city": CITIES[i % 4],
            "note": 'quoted "text", with commas',
        }


def _state() -> Any:
    from airflow_provider_flow.core.state import ExecutionState

    return ExecutionState()


def _transform(base: str, n: int) -> int:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
    from airflow_provider_flow.records.reference import FileReference

    source = Path(base, "in.ndjson")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    ref = FileReference(
        path="in.ndjson", base_path=base, format="ndjson", records=n, bytes=source.stat().st_size, sha256=sha
    )
    operations = [{"filter": FILTER}, {"select": SELECT}]
    values = {"operations": operations, "output_path": "out.ndjson", "base_path": base}
    config = validate_config(TransformConfig, values)
    started = time.perf_counter()
    out = TransformRuntime().execute(config, ref, _state())
    _report_seconds(started)
    return int(out.records)


def _orjson_transform(base: str) -> int:
    import orjson

    count = 0
    started = time.perf_counter()
    with open(Path(base, "in.ndjson"), "rb") as source, open(Path(base, "out.ndjson"), "wb") as out:
        for line in source:
            r = orjson.loads(line)
            if r["score"] >= 50:
                out.write(orjson.dumps({"id": r["id"], "name": r["name"], "city": r["city"]}) + b"\n")
                count += 1
    _report_seconds(started)
    return count


_SECONDS: list[float] = []


def _report_seconds(started: float) -> None:
    _SECONDS.append(time.perf_counter() - started)


def _sink(base: str, n: int, fmt: str) -> int:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime

    rows = list(records(n))  # the input a task receives: built before the clock starts, for both sides
    config = validate_config(FileSinkConfig, {"path": f"out.{fmt}", "base_path": base})
    started = time.perf_counter()
    ref = FileSinkRuntime().execute(config, rows, _state())
    _report_seconds(started)
    return int(ref.records)


def _source(base: str, fmt: str) -> int:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime

    values = {"path": f"in.{fmt}", "base_path": base, "output": "records", "max_inline_bytes": 2**30}
    config = validate_config(FileSourceConfig, values)
    started = time.perf_counter()
    rows = FileSourceRuntime().execute(config, None, _state())
    _report_seconds(started)
    return len(rows)


def _orjson_write(base: str, n: int) -> int:
    import orjson

    rows = list(records(n))
    started = time.perf_counter()
    with open(Path(base, "out.ndjson"), "wb") as out:
        for r in rows:
            out.write(orjson.dumps(r) + b"\n")
    _report_seconds(started)
    return len(rows)


def _orjson_read(base: str) -> int:
    import orjson

    started = time.perf_counter()
    with open(Path(base, "in.ndjson"), "rb") as source:
        rows = [orjson.loads(line) for line in source]
    _report_seconds(started)
    return len(rows)


def _csv_write(base: str, n: int) -> int:
    rows = list(records(n))
    started = time.perf_counter()
    with open(Path(base, "out.csv"), "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _report_seconds(started)
    return len(rows)


def _csv_read(base: str) -> int:
    started = time.perf_counter()
    with open(Path(base, "in.csv"), encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    _report_seconds(started)
    return len(rows)


def worker(name: str, base: str, n: int) -> dict[str, Any]:
    count = {
        "transform": lambda: _transform(base, n),
        "orjson_transform": lambda: _orjson_transform(base),
        "sink_ndjson": lambda: _sink(base, n, "ndjson"),
        "sink_csv": lambda: _sink(base, n, "csv"),
        "source_ndjson": lambda: _source(base, "ndjson"),
        "source_csv": lambda: _source(base, "csv"),
        "orjson_write": lambda: _orjson_write(base, n),
        "orjson_read": lambda: _orjson_read(base),
        "csv_write": lambda: _csv_write(base, n),
        "csv_read": lambda: _csv_read(base),
    }[name]()
    return {"seconds": _SECONDS[-1], "records": count}


def write_inputs(base: str, n: int) -> None:
    """The files every reader reads: NDJSON and CSV of the same records."""
    import orjson

    with open(Path(base, "in.ndjson"), "wb") as out:
        for r in records(n):
            out.write(orjson.dumps(r) + b"\n")
    with open(Path(base, "in.csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(next(records(1))))
        writer.writeheader()
        writer.writerows(records(n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_contract_arguments(parser, default_size=300_000)
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "BASE", "RECORDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, base, n = args.worker
        worker_emit(profiled(f"records-{name}-{n}", lambda: worker(name, base, int(n))))
        return 0
    n = int(args.size)
    goals = [goal for goal in GOALS if wanted(args, goal)]
    results: list[GoalResult] = []
    with tempfile.TemporaryDirectory(prefix="apf-goals-records-") as tmp:
        base = os.path.realpath(tmp)
        write_inputs(base, n)
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.runs):
            for goal in goals:
                for name in GOALS[goal][:2]:
                    child = run_child([sys.executable, __file__, "--worker", name, base, str(n)], env=python_env())
                    runs.setdefault(name, []).append(child.worker_result())
                    for leftover in ("out.ndjson", "out.csv"):
                        Path(base, leftover).unlink(missing_ok=True)
        for goal in goals:
            project, baseline, goal_ratio, baseline_name = GOALS[goal]
            counts = {r["records"] for r in runs[project] + runs[baseline]}
            if len(counts) != 1:
                raise SystemExit(f"{goal}: project and baseline disagree on the record count: {sorted(counts)}")
            results.append(
                summarise(
                    goal,
                    project=runs[project],
                    baseline=runs[baseline],
                    work=n,
                    unit="records/s",
                    size=n,
                    goal_ratio=goal_ratio,
                    baseline_name=baseline_name,
                    note=f"{counts.pop()} records out" + (LIST_NOTE if goal != "transform_filter_select" else ""),
                )
            )
    emit(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
