"""file.sink / file.source throughput and memory next to what a user writes by hand.

The hand-written alternative is ``open(path, "w")`` plus ``json.dumps`` / ``csv.DictWriter`` in a PythonOperator:
no confinement, no temp file, no fsync, so a killed task leaves a partial file. This shows what the safety costs.

    .venv/bin/python benchmarks/file_sink_benchmark.py [--records 300000]

Memory is the peak of Python allocations (tracemalloc) while streaming from a generator: the sink holds one record
at a time plus a 1 MiB write buffer, whatever the file size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from airflow_provider_flow.records.reader import iter_records
from airflow_provider_flow.records.writer import write_records


def records(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"id": i, "name": f"user {i} — ü", "score": i * 0.5, "note": 'quoted "text", with commas'}


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall time of a plain run, then peak traced allocations of a second run (tracemalloc slows code ~3x)."""
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 1024 / 1024


def naive_ndjson(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in records(n):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def naive_csv(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer: csv.DictWriter[str] | None = None
        for r in records(n):
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(r))
                writer.writeheader()
            writer.writerow(r)


def naive_read(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if json.loads(line) is not None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300_000)
    n = parser.parse_args().records
    base = os.path.realpath(tempfile.mkdtemp(prefix="apf-bench-"))
    rows = [
        (
            "ndjson write",
            lambda: write_records(base, "a/out.ndjson", records(n)),
            lambda: naive_ndjson(f"{base}/n.ndjson", n),
        ),
        ("csv write", lambda: write_records(base, "a/out.csv", records(n)), lambda: naive_csv(f"{base}/n.csv", n)),
        (
            "ndjson read",
            lambda: sum(1 for _ in iter_records(base, "a/out.ndjson")),
            lambda: naive_read(f"{base}/n.ndjson"),
        ),
    ]
    print(f"{n} records; file.sink/source (confined, atomic, fsync) vs hand-written open()+json/csv")
    header = ("case", "flow s", "naive s", "flow rec/s", "naive rec/s", "flow MiB", "naive MiB")
    print("{:<14}{:>9}{:>9}{:>13}{:>13}{:>10}{:>11}".format(*header))
    for name, flow, naive in rows:
        t_flow, m_flow = measure(flow)
        t_naive, m_naive = measure(naive)
        cells = (name, t_flow, t_naive, n / t_flow, n / t_naive, m_flow, m_naive)
        print("{:<14}{:>9.2f}{:>9.2f}{:>13,.0f}{:>13,.0f}{:>10.1f}{:>11.1f}".format(*cells))
    size = os.path.getsize(f"{base}/a/out.ndjson")
    print(f"ndjson file size: {size / 1024 / 1024:.1f} MiB (base {base})")


if __name__ == "__main__":
    main()
