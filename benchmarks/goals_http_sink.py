"""http.sink against a plain httpx loop, and what concurrency buys on a slow API (issue 11 goals).

The fast loopback server (``tests/fixtures/fast_server.py``, its own process) counts the records it accepts; every
contender's count is checked against what it sent. Contenders run in fresh child processes, interleaved per run.

* ``http_sink_c1``: ``HttpSinkRuntime`` (``max_concurrency: 1``, ``batch_size: 100``) vs a plain ``httpx.Client``
  loop posting the same batches (``orjson.dumps`` of each batch; goal >= 0.95x); next to one ``HttpHook.run`` per
  batch (what users pick).
* ``http_sink_c8_latency``: the server answers each batch after 20 ms; ``max_concurrency: 8`` vs ``1`` of the same
  runtime (goal >= 5x). Records: half of ``--size`` (at least 16 batches).

``--size`` is a number of records. Run: ``PYTHONPATH=. .venv/bin/python benchmarks/goals_http_sink.py --size 50000``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from typing import Any

from _report import (
    ROOT,
    GoalResult,
    add_contract_arguments,
    airflow_env,
    emit,
    profiled,
    python_env,
    run_child,
    summarise,
    wanted,
    worker_emit,
)

BATCH = 100
LATENCY_MS = 20
CONN_ID = "bench_sink"


def records(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"user-{i}", "score": i % 100, "city": "Lima"} for i in range(n)]


def _accepted(url: str, sink: str) -> int:
    import httpx

    counts = httpx.get(f"{url}/sink/{sink}").json()
    httpx.delete(f"{url}/sink/{sink}")
    return int(counts["records"])


def _project(url: str, sink: str, rows: list[dict[str, Any]], concurrency: int, latency: int) -> float:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings
    from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime

    endpoint = f"/sink/{sink}" + (f"?latency_ms={latency}" if latency else "")
    values = {"http_conn_id": "bench", "endpoint": endpoint, "batch_size": BATCH, "max_concurrency": concurrency}
    config = validate_config(HttpSinkConfig, values)
    state = ExecutionState(settings=StaticSettingsProvider(http={"bench": HttpSettings(base_url=url)}))
    started = time.perf_counter()
    HttpSinkRuntime().execute(config, rows, state)
    return time.perf_counter() - started


def _httpx_loop(url: str, sink: str, rows: list[dict[str, Any]]) -> float:
    import httpx
    import orjson

    started = time.perf_counter()
    with httpx.Client() as client:
        for start in range(0, len(rows), BATCH):
            reply = client.post(
                f"{url}/sink/{sink}",
                content=orjson.dumps(rows[start : start + BATCH]),
                headers={"Content-Type": "application/json"},
            )
            reply.raise_for_status()
    return time.perf_counter() - started


def _http_hook(sink: str, rows: list[dict[str, Any]]) -> float:
    from airflow.providers.http.hooks.http import HttpHook

    started = time.perf_counter()
    hook = HttpHook(method="POST", http_conn_id=CONN_ID)
    for start in range(0, len(rows), BATCH):
        hook.run(
            f"/sink/{sink}",
            data=json.dumps(rows[start : start + BATCH]),
            headers={"Content-Type": "application/json"},
        )
    return time.perf_counter() - started


def worker(name: str, url: str, n: int) -> dict[str, Any]:
    import httpx

    httpx.Client().close()  # one-time process costs stay out of every contender's time
    rows = records(n)
    sink = name
    if name == "project_c1":
        seconds = _project(url, sink, rows, 1, 0)
    elif name == "httpx_loop":
        seconds = _httpx_loop(url, sink, rows)
    elif name == "httphook":
        seconds = _http_hook(sink, rows)
    elif name in ("latency_c1", "latency_c8"):
        seconds = _project(url, sink, rows, int(name[-1]), LATENCY_MS)
    else:
        raise SystemExit(f"unknown worker {name!r}")
    accepted = _accepted(url, sink)
    if accepted != n:
        raise SystemExit(f"{name}: the server accepted {accepted} records, {n} were sent")
    return {"seconds": seconds, "records": accepted}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_contract_arguments(parser, default_size=50_000)
    parser.add_argument("--no-alternative", action="store_true", help="skip HttpHook (slow to import)")
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "URL", "RECORDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, url, n = args.worker
        worker_emit(profiled(f"http_sink-{name}-{n}", lambda: worker(name, url, int(n))))
        return 0

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.fast_server import serve_in_subprocess

    n = int(args.size)
    latency_records = max(16 * BATCH, n // 2)
    results: list[GoalResult] = []
    plan: list[tuple[str, int]] = []
    if wanted(args, "http_sink_c1"):
        plan += [("project_c1", n), ("httpx_loop", n)]
    if wanted(args, "http_sink_c8_latency"):
        plan += [("latency_c1", latency_records), ("latency_c8", latency_records)]
    with tempfile.TemporaryDirectory(prefix="apf-goals-sink-") as home, serve_in_subprocess() as url:
        air_env = airflow_env(CONN_ID, url, home)

        def measure(name: str, count: int, env: dict[str, str]) -> dict[str, Any]:
            return run_child([sys.executable, __file__, "--worker", name, url, str(count)], env=env).worker_result()

        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.runs):
            for name, count in plan:
                runs.setdefault(name, []).append(measure(name, count, python_env()))
        if "project_c1" in runs and not args.no_alternative:
            runs["httphook"] = [measure("httphook", n, air_env)]
    if "project_c1" in runs:
        results.append(
            summarise(
                "http_sink_c1",
                project=runs["project_c1"],
                baseline=runs["httpx_loop"],
                work=n,
                unit="records/s",
                size=n,
                goal_ratio=0.95,
                baseline_name=f"httpx loop, batches of {BATCH}",
                alternative=runs.get("httphook", []),
                alternative_name="HttpHook.run per batch",
                note=f"batch_size {BATCH}",
            )
        )
    if "latency_c1" in runs:
        results.append(
            summarise(
                "http_sink_c8_latency",
                project=runs["latency_c8"],
                baseline=runs["latency_c1"],
                work=latency_records,
                unit="records/s",
                size=n,
                goal_ratio=5.0,
                baseline_name="same runtime, max_concurrency 1",
                note=f"{latency_records} records, {LATENCY_MS} ms per batch on the server",
            )
        )
    emit(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
