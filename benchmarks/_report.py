"""The contract between benchmark scripts and ``benchmarks/run_all.py`` (see benchmarks/README.md).

A benchmark script accepts ``--size N`` (its own unit: records, MB, ...) and ``--runs R``, measures the project
next to its baselines ``R`` times, each contender in a fresh child process (so peak RSS is its own), and prints
as its last line ``BENCH-RESULT <json>``: a list of :class:`GoalResult` dicts. Ratios are always oriented so that
higher is better (project throughput / baseline throughput, or baseline cost / project cost), and a goal is met
when ``ratio_median >= goal_ratio``. Stdlib only, so any script (and any interpreter) can import it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "BENCH-RESULT "
WORKER_PREFIX = "WORKER-RESULT "
ROOT = Path(__file__).resolve().parents[1]
REQUIRED = (
    "goal",
    "project",
    "baseline",
    "ratio_min",
    "ratio_median",
    "ratio_max",
    "goal_ratio",
    "unit",
    "size",
    "peak_rss_mib",
)


@dataclass
class GoalResult:
    """One goal measured at one size: medians of the figures, ratio statistics over the paired runs."""

    goal: str  # stable id, e.g. "http_source_ndjson" (run_all.GOALS lists them)
    project: float  # the project's median figure, in ``unit``
    baseline: float  # the raw baseline's median figure, in ``unit``
    ratio_min: float
    ratio_median: float
    ratio_max: float
    goal_ratio: float
    unit: str
    size: float
    peak_rss_mib: float  # the project's largest peak RSS over the runs
    baseline_name: str = ""
    seconds: float | None = None  # the project's median wall time: linear in size means it scales
    alternative: float | None = None  # what users pick instead (HttpOperator, HttpHook), same unit
    alternative_name: str = ""
    runs: int = 0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.ratio_median >= self.goal_ratio


def ratio_stats(ratios: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max of per-run ratios."""
    if not ratios:
        raise ValueError("no runs to summarise")
    return min(ratios), statistics.median(ratios), max(ratios)


def throughput_ratios(project_seconds: Sequence[float], baseline_seconds: Sequence[float]) -> list[float]:
    """Per run, how many times faster the project was (same work: baseline time / project time)."""
    return [b / p for p, b in zip(project_seconds, baseline_seconds, strict=True)]


def result_line(results: Sequence[GoalResult]) -> str:
    return PREFIX + json.dumps([asdict(r) for r in results])


def emit(results: Sequence[GoalResult]) -> None:
    """Print the contract's last line (flushes, so a parent reading a pipe gets it)."""
    print(result_line(results), flush=True)


def parse_results(stdout: str) -> list[GoalResult]:
    """The goals of the last ``BENCH-RESULT`` line of a script's output; ValueError naming what is missing."""
    lines = [line for line in stdout.splitlines() if line.startswith(PREFIX)]
    if not lines:
        raise ValueError(f"no line starting with {PREFIX!r} in the output")
    items = json.loads(lines[-1][len(PREFIX) :])
    if isinstance(items, dict):  # ``{"results": [...]}``, as some scripts wrote it before the contract was fixed
        items = items.get("results", [])
    known = set(GoalResult.__dataclass_fields__)
    results = []
    for item in items:
        missing = [k for k in REQUIRED if k not in item]
        if missing:
            raise ValueError(f"BENCH-RESULT item {item.get('goal', '?')!r} lacks {missing}")
        extra = {k: v for k, v in item.items() if k not in known}
        result = GoalResult(**{k: v for k, v in item.items() if k in known})
        result.extra.update(extra)
        results.append(result)
    return results


@dataclass
class ChildRun:
    """A finished child process: its output, exit code, and its own peak RSS (from ``wait4``)."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float

    def worker_result(self) -> dict[str, Any]:
        """The dict a worker printed with :func:`worker_emit`; RuntimeError with its output if it failed."""
        lines = [line for line in self.stdout.splitlines() if line.startswith(WORKER_PREFIX)]
        if self.returncode != 0 or not lines:
            raise RuntimeError(f"worker failed (exit {self.returncode}):\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(lines[-1][len(WORKER_PREFIX) :])
        result.setdefault("peak_rss_mib", self.peak_rss_mib)
        return result


def run_child(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path = ROOT, timeout: float = 3600
) -> ChildRun:
    """Run ``cmd`` and return its output with its peak RSS (``ru_maxrss`` of this one child, via ``wait4``).

    ``resource.RUSAGE_CHILDREN`` would give the largest of all children so far, not this one's. Linux carries the
    RSS the child had as a fork of this process over its ``exec``, so this figure is at least this process's RSS:
    workers report their own peak instead (:func:`own_peak_rss_mib`, through :func:`worker_emit`).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        killer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # reaped here, so the usage is this child's alone
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return ChildRun(proc.returncode, stdout, stderr, usage.ru_maxrss / 1024)


def own_peak_rss_mib() -> float:
    """This process's peak RSS since its ``exec`` (``VmHWM``), not inflated by the parent it was forked from."""
    with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: may include the parent's


def worker_emit(result: Mapping[str, Any]) -> None:
    """A worker's last line: its figures plus its own peak RSS."""
    print(WORKER_PREFIX + json.dumps({"peak_rss_mib": own_peak_rss_mib(), **result}), flush=True)


@contextlib.contextmanager
def profiling(script: str, contender: str, size: float | str) -> Iterator[None]:
    """Runs its block under cProfile when ``BENCH_PROFILE_DIR`` is set, leaving ``<script>-<contender>-<size>.prof``
    and the top 25 functions by cumulative time (``.txt``) there: the evidence for "what blocks" a goal not met.

    Every owner script's workers enter it (``script`` is their ``__file__``), so one environment variable profiles
    whatever ``scripts/bench.sh`` runs; without the variable it costs nothing.
    """
    folder = os.environ.get("BENCH_PROFILE_DIR")
    if not folder:
        yield
        return
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        os.makedirs(folder, exist_ok=True)
        size_label = str(int(size)) if isinstance(size, float) and size.is_integer() else str(size)
        target = Path(folder, f"{Path(script).stem}-{contender}-{size_label}")
        profile.dump_stats(f"{target}.prof")
        with open(f"{target}.txt", "w", encoding="utf-8") as text:
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds of ``work()`` and its return value."""
    started = time.perf_counter()
    value = work()
    return time.perf_counter() - started, value


def add_contract_arguments(parser: argparse.ArgumentParser, *, default_size: float, default_runs: int = 3) -> None:
    """``--size``, ``--runs`` and ``--goals`` (comma-separated ids to measure; default all of the script's)."""
    parser.add_argument("--size", type=float, default=default_size, help="work per run, in the script's unit")
    parser.add_argument("--runs", type=int, default=default_runs, help="paired runs per contender")
    parser.add_argument("--goals", default="", help="comma-separated goal ids to measure (default: all)")


def wanted(args: argparse.Namespace, goal: str) -> bool:
    return not args.goals or goal in args.goals.split(",")


def summarise(
    goal: str,
    *,
    project: Sequence[Mapping[str, Any]],
    baseline: Sequence[Mapping[str, Any]],
    work: float,
    unit: str,
    size: float,
    goal_ratio: float,
    baseline_name: str,
    alternative: Sequence[Mapping[str, Any]] = (),
    alternative_name: str = "",
    note: str = "",
) -> GoalResult:
    """A throughput goal from worker results (each with ``seconds``): figures are ``work / seconds`` in ``unit``."""
    p_secs = [r["seconds"] for r in project]
    b_secs = [r["seconds"] for r in baseline]
    low, mid, high = ratio_stats(throughput_ratios(p_secs, b_secs))
    alt = statistics.median(work / r["seconds"] for r in alternative) if alternative else None
    return GoalResult(
        goal=goal,
        project=work / statistics.median(p_secs),
        baseline=work / statistics.median(b_secs),
        ratio_min=low,
        ratio_median=mid,
        ratio_max=high,
        goal_ratio=goal_ratio,
        unit=unit,
        size=size,
        peak_rss_mib=max(r["peak_rss_mib"] for r in project),
        baseline_name=baseline_name,
        seconds=statistics.median(p_secs),
        alternative=alt,
        alternative_name=alternative_name,
        runs=len(p_secs),
        note=note,
        extra={"baseline_peak_rss_mib": max(r["peak_rss_mib"] for r in baseline)},
    )


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a worker: this checkout first on ``PYTHONPATH`` (before any editable install of the
    package elsewhere, and whatever the caller's relative entries resolve to from the worker's directory)."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def self_command(script: str, *args: str) -> list[str]:
    return [sys.executable, script, *args]


def airflow_env(conn_id: str, url: str, home: str) -> dict[str, str]:
    """A worker environment where Airflow (for HttpOperator / HttpHook) finds an http connection ``conn_id`` to
    ``url`` and keeps its home and SQLite database in ``home``."""
    host, port = url.removeprefix("http://").split(":")
    conn = {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
    return python_env(
        **{
            f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn),
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{Path(home, 'airflow.db')}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
