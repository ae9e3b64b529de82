"""Throughput of the ``transform`` node (filter + select over NDJSON) next to the same work written by hand.

Every run measures, one after the other on the same file:

* ``transform``: ``TransformRuntime`` with a FileReference input and ``output_path`` (the whole node: reading,
  confinement, the operations, the atomic writer, sha256, progress);
* ``orjson loop``: open the file, ``orjson.loads`` each line, the same filter and select in Python,
  ``orjson.dumps`` each kept record (the issue's goal: the node >= 0.5x this);
* ``json loop``: the same loop with the stdlib ``json`` module.

Then, in the same process, the evaluation alone (already parsed records, nothing read or written): the
operations' pipeline against the same filter/select as a Python loop, so the cost of the expressions can be read
apart from parsing and encoding (which belong to the codecs).

Ratios are per run (the node's rate over the baseline's in the same run), reported as min/median/max; the
machine is shared, so only ratios from one run mean something. The last line is ``BENCH-RESULT {...}`` for the
benchmark runner. Run::

    .venv/bin/python benchmarks/transform_benchmark.py --size 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILTER = "score >= `50`"
SELECT = {"id": "id", "name": "upper(name)", "town": "city", "score": "score"}
OPERATIONS: list[dict[str, Any]] = [{"filter": FILTER}, {"select": SELECT}]
GOAL_RATIO = 0.5


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


def timed(func: Callable[..., int], *args: Any) -> tuple[float, int]:
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="records in the input file")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n = args.size
    print(f"transform benchmark: {n:,} records, {args.runs} runs; operations {json.dumps(OPERATIONS)}")
    node_rates: list[float] = []
    orjson_rates: list[float] = []
    json_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="apf-transform-bench-") as tmp:
        base = os.path.realpath(tmp)
        generate(Path(base, "in.ndjson"), n)
        mib = os.path.getsize(os.path.join(base, "in.ndjson")) / 2**20
        print(f"input {mib:.1f} MiB")
        print(
            f"{'run':>3} | {'transform rec/s':>15} | {'orjson loop':>11} {'ratio':>6} | {'json loop':>10} {'ratio':>6}"
        )
        for run in range(1, args.runs + 1):
            node_s, node_out = timed(run_node, base, n)
            orjson_s, orjson_out = timed(run_orjson, base, n)
            json_s, json_out = timed(run_json, base, n)
            assert node_out == orjson_out == json_out, (node_out, orjson_out, json_out)
            with (
                open(os.path.join(base, "out-node.ndjson"), "rb") as a,
                open(os.path.join(base, "out-orjson.ndjson"), "rb") as b,
            ):
                assert all(orjson.loads(x) == orjson.loads(y) for x, y in zip(a, b, strict=True)), "outputs differ"
            node_rates.append(n / node_s)
            orjson_rates.append(n / orjson_s)
            json_rates.append(n / json_s)
            print(
                f"{run:>3} | {n / node_s:>15,.0f} | {n / orjson_s:>11,.0f} {orjson_s / node_s:>6.2f} | "
                f"{n / json_s:>10,.0f} {json_s / node_s:>6.2f}"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    vs_orjson = [a / b for a, b in zip(node_rates, orjson_rates, strict=True)]
    vs_json = [a / b for a, b in zip(node_rates, json_rates, strict=True)]
    print("transform / orjson loop: min {:.2f} median {:.2f} max {:.2f}".format(*spread(vs_orjson)))
    print("transform / json loop:   min {:.2f} median {:.2f} max {:.2f}".format(*spread(vs_json)))
    print(f"peak RSS of this process (node and loops streaming): {peak:.1f} MiB")

    sample = min(n, 200_000)
    records = list(_records(sample))
    evaluation: list[float] = []
    for _ in range(args.runs):
        node_s, a = timed(evaluate_node, records)
        hand_s, b = timed(evaluate_by_hand, records)
        assert a == b
        evaluation.append(hand_s / node_s)
    print(
        f"evaluation alone ({sample:,} parsed records, no I/O), pipeline / Python loop: min %.2f median %.2f max %.2f"
        % spread(evaluation)
    )
    result = {
        "goal": "transform filter+select NDJSON >= 0.5x orjson loop",
        "project": round(statistics.median(node_rates)),
        "baseline": round(statistics.median(orjson_rates)),
        "baseline_name": "orjson loop (loads, filter, select, dumps)",
        "ratio_min": round(min(vs_orjson), 3),
        "ratio_median": round(statistics.median(vs_orjson), 3),
        "ratio_max": round(max(vs_orjson), 3),
        "goal_ratio": GOAL_RATIO,
        "unit": "records/s",
        "size": n,
        "peak_rss_mib": round(peak, 1),
    }
    print("BENCH-RESULT " + json.dumps({"results": [result]}))


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
