"""http.sink throughput next to a plain httpx loop and Airflow's HttpHook.run, on a loopback sink with Nagle off.

Run from the repository root::

    .venv/bin/python benchmarks/http_sink_benchmark.py --size 20000 --runs 5

``--size`` is the number of records (each ~110 bytes of JSON). In one run it measures, with the runs interleaved
so load on a shared machine hits every contender alike:

* batch 100 and 1000, concurrency 1 and 8, on a server that answers at once: the ``http.sink`` node
  (``HttpSinkRuntime.execute`` with default retry/timeout settings), a plain ``httpx.Client`` loop posting the same
  batches with ``json=`` (one client, the same timeouts; a thread pool of the same size at concurrency 8), and one
  ``HttpHook.run(json=batch)`` per batch (apache-airflow-providers-http: what a DAG author writes by hand);
* batch 100 on a server that waits 20 ms per request (a remote API's round trip): the node at concurrency 8
  next to the node at concurrency 1.

The server (``tests/fixtures/fast_server.py``, the benchmarks' shared loopback server: Nagle off, one write per
small reply) runs in its own process, so it never takes this process's GIL; after every contender's run it confirms
(``GET /sink/<name>``) that it received every record. Ratios are project / baseline throughput per
run, reported as min/median/max over ``--runs``. Next to throughput it prints this process's CPU time per record
(every thread; the server is another process): on a loaded machine wall-clock ratios swing widely while CPU per
record barely moves, so ``cpu_ratio_median`` (baseline CPU / project CPU) rides along in each goal's entry. The
baselines build their TLS context once per process, as the node's client does.

The last line is ``BENCH-RESULT [json]``, a list with one entry per goal (``http_sink_c1``: batch 100,
``http_sink_c1_batch1000``, ``http_sink_c8_latency``), as ``benchmarks/run_all.py`` reads it; ``--goals`` picks
some of them.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import resource
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _report import profiling

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from airflow_provider_flow.core.config import validate_config  # noqa: E402
from airflow_provider_flow.core.settings import StaticSettingsProvider  # noqa: E402
from airflow_provider_flow.core.state import ExecutionState  # noqa: E402
from airflow_provider_flow.http.settings import HttpSettings  # noqa: E402
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig, HttpSinkRuntime  # noqa: E402
from tests.fixtures.fast_server import serve_in_subprocess  # noqa: E402

ENDPOINT = "/sink/bench"
CONN_ID = "bench_sink"
LATENCY_MS = 20.0


def make_records(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": f"customer {i}", "email": f"user{i}@example.com", "score": i * 0.25, "active": i % 2 == 0}
        for i in range(n)
    ]


def batches(records: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


@contextmanager
def sink_server(latency_ms: float) -> Iterator[str]:
    """The fast server in a child process (its own GIL), answering each sink request after ``latency_ms``;
    yields its base URL."""
    with serve_in_subprocess(latency_ms=latency_ms) as url:
        yield url


def served_records(url: str) -> int:
    """Records the server has accepted at ``ENDPOINT`` so far."""
    received: int = httpx.get(url + ENDPOINT).json()["records"]
    return received


def run_node(url: str, records: list[dict[str, Any]], batch: int, concurrency: int) -> None:
    state = ExecutionState(
        dag_id="bench",
        task_id="sink",
        run_id="run",
        settings=StaticSettingsProvider(http={CONN_ID: HttpSettings(base_url=url)}),
    )
    config = validate_config(
        HttpSinkConfig,
        {"http_conn_id": CONN_ID, "endpoint": ENDPOINT, "batch_size": batch, "max_concurrency": concurrency},
    )
    HttpSinkRuntime().execute(config, records, state)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The baselines build their TLS context once per process too, as the node's client does (loading the CA
    bundle for every client would charge ~tens of ms per run to the baselines only)."""
    return httpx.create_ssl_context()


def run_httpx(url: str, records: list[dict[str, Any]], batch: int, concurrency: int) -> None:
    timeout = HttpSettings(base_url=url).timeout.to_httpx()  # the node's default timeouts
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=url, timeout=timeout, limits=limits, verify=tls_context()) as client:

        def post(chunk: list[dict[str, Any]]) -> None:
            client.post(ENDPOINT, json=chunk).raise_for_status()

        if concurrency == 1:
            for chunk in batches(records, batch):
                post(chunk)
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(post, batches(records, batch)))


def run_httpx_orjson(url: str, records: list[dict[str, Any]], batch: int, concurrency: int) -> None:
    """The raw limit: the same loop with each batch pre-encoded by orjson (the fastest JSON encoder installed)."""
    import orjson

    timeout = HttpSettings(base_url=url).timeout.to_httpx()
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=timeout, verify=tls_context()) as client:
        for chunk in batches(records, batch):
            client.post(ENDPOINT, content=orjson.dumps(chunk), headers=headers).raise_for_status()


def run_hook(url: str, records: list[dict[str, Any]], batch: int, concurrency: int) -> None:
    from airflow.providers.http.hooks.http import HttpHook

    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = url
    hook = HttpHook(method="POST", http_conn_id=CONN_ID)

    def post(chunk: list[dict[str, Any]]) -> None:
        hook.run(ENDPOINT, json=chunk)

    if concurrency == 1:
        for chunk in batches(records, batch):
            post(chunk)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, batches(records, batch)))


Runner = Callable[[str, list[dict[str, Any]], int, int], None]


@dataclass
class Case:
    """One scenario: the contenders' records/s over every run."""

    name: str
    latency_ms: float
    batch: int
    contenders: dict[str, tuple[Runner, int]]  # label -> (runner, concurrency)
    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # client CPU microseconds per record


def timed(runner: Runner, url: str, records: list[dict[str, Any]], batch: int, concurrency: int) -> tuple[float, float]:
    """Records per second of wall time, and microseconds of this process's CPU (every thread) per record."""
    before = served_records(url)
    started, cpu_started = time.perf_counter(), time.process_time()
    # contenders run in this process, so the profile (BENCH_PROFILE_DIR) is taken around each run, inside the clock
    with profiling(__file__, f"{runner.__name__}-c{concurrency}-batch{batch}", len(records)):
        runner(url, records, batch, concurrency)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    received = served_records(url) - before
    if received != len(records):
        raise RuntimeError(f"{runner.__name__} delivered {received} of {len(records)} records")
    return len(records) / elapsed, cpu / len(records) * 1e6


def measure(case: Case, url: str, records: list[dict[str, Any]], runs: int) -> None:
    labels = list(case.contenders)
    for label in labels:  # warm-up: imports, connection setup, caches
        runner, concurrency = case.contenders[label]
        timed(runner, url, records[: case.batch * 2], case.batch, concurrency)
    for run in range(runs):
        order = labels if run % 2 == 0 else labels[::-1]
        for label in order:
            runner, concurrency = case.contenders[label]
            rate, cpu = timed(runner, url, records, case.batch, concurrency)
            case.rates.setdefault(label, []).append(rate)
            case.cpu.setdefault(label, []).append(cpu)


def ratios(case: Case, project: str, baseline: str) -> list[float]:
    return [p / b for p, b in zip(case.rates[project], case.rates[baseline], strict=True)]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=float, default=20_000, help="records per run (default 20000)")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs per contender")
    parser.add_argument("--goals", default="", help="comma-separated goal ids to measure (default: all)")
    args = parser.parse_args()
    args.size = int(args.size)
    wanted = set(filter(None, args.goals.split(","))) or set(GOALS)
    logging.getLogger("airflow_provider_flow").setLevel(logging.WARNING)
    records = make_records(args.size)

    fast_cases: list[Case] = []
    for batch in (100, 1000):
        for concurrency in (1, 8):
            fast_cases.append(
                Case(
                    f"batch {batch}, concurrency {concurrency}",
                    0.0,
                    batch,
                    {
                        "http.sink": (run_node, concurrency),
                        "httpx loop": (run_httpx, concurrency),
                        "HttpHook.run": (run_hook, concurrency),
                        **({"httpx+orjson": (run_httpx_orjson, 1)} if concurrency == 1 else {}),
                    },
                )
            )
    latency_case = Case(
        f"batch 100, {LATENCY_MS:.0f} ms server latency",
        LATENCY_MS,
        100,
        {
            "http.sink c8": (run_node, 8),
            "http.sink c1": (run_node, 1),
            "httpx loop c8": (run_httpx, 8),
            "httpx loop c1": (run_httpx, 1),
        },
    )
    if not wanted & {"http_sink_c1", "http_sink_c1_batch1000"}:
        fast_cases = []
    elif "http_sink_c1_batch1000" not in wanted:
        fast_cases = [case for case in fast_cases if case.batch == 100]
    elif "http_sink_c1" not in wanted:
        fast_cases = [case for case in fast_cases if case.batch == 1000]
    with sink_server(0.0) as url:
        for case in fast_cases:
            measure(case, url, records, args.runs)
    latency_records = records[: max(100, min(len(records), 8000))]  # 80 round trips of 20 ms at concurrency 1
    latency_cases = [latency_case] if "http_sink_c8_latency" in wanted else []
    with sink_server(LATENCY_MS) as url:
        for case in latency_cases:
            measure(case, url, latency_records, args.runs)

    print(
        f"http.sink benchmark: {args.size:,} records, {args.runs} runs; medians of records/s and of this process's "
        "CPU per record (all threads; the server runs in another process); throughput ratios min / median / max"
    )
    for case in [*fast_cases, *latency_cases]:
        base = next(iter(case.rates))
        print(f"  {case.name}:")
        for label, rates in case.rates.items():
            cpu = statistics.median(case.cpu[label])
            line = f"    {label:<14} {statistics.median(rates):>9,.0f} rec/s {cpu:6.1f} us CPU/rec"
            if label != base:
                r = ratios(case, base, label)
                line += f"   {base} / {label}: {min(r):.2f} / {statistics.median(r):.2f} / {max(r):.2f}"
            print(line)

    results = []
    rss = round(peak_rss_mib(), 1)
    for case in fast_cases:
        if case.contenders["http.sink"][1] != 1:
            continue
        goal = "http_sink_c1" if case.batch == 100 else "http_sink_c1_batch1000"
        results.append(entry(case, "http.sink", "httpx loop", 0.95, goal, args.runs))
        results[-1].update(size=args.size, peak_rss_mib=rss, alternative_name="HttpHook.run per batch")
        results[-1]["alternative"] = round(statistics.median(case.rates["HttpHook.run"]))
    for case in latency_cases:
        results.append(entry(case, "http.sink c8", "http.sink c1", 5.0, "http_sink_c8_latency", args.runs))
        results[-1].update(size=len(latency_records), peak_rss_mib=rss)
    # the runner (benchmarks/run_all.py) reads a JSON list of goals from the last line
    print("BENCH-RESULT " + json.dumps(results), flush=True)


#: Goal ids this script reports (benchmarks/README.md lists them with the runner's other goals).
GOALS = ("http_sink_c1", "http_sink_c1_batch1000", "http_sink_c8_latency")


def entry(case: Case, project: str, baseline: str, goal_ratio: float, goal: str, runs: int) -> dict[str, Any]:
    r = ratios(case, project, baseline)
    cpu = [b / p for p, b in zip(case.cpu[project], case.cpu[baseline], strict=True)]  # baseline CPU / project CPU
    return {
        "cpu_us_per_record": round(statistics.median(case.cpu[project]), 2),
        "baseline_cpu_us_per_record": round(statistics.median(case.cpu[baseline]), 2),
        "cpu_ratio_median": round(statistics.median(cpu), 3),
        "goal": goal,
        "runs": runs,
        "note": f"{case.name}; {project} vs {baseline}; peak RSS is the whole benchmark process (records in memory)",
        "project": round(statistics.median(case.rates[project])),
        "baseline": round(statistics.median(case.rates[baseline])),
        "baseline_name": baseline,
        "ratio_min": round(min(r), 3),
        "ratio_median": round(statistics.median(r), 3),
        "ratio_max": round(max(r), 3),
        "goal_ratio": goal_ratio,
        "unit": "records/s",
    }


if __name__ == "__main__":
    main()
