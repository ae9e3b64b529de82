"""Run every benchmark at three sizes and write the goals table (benchmarks/RESULTS.md). Entry: scripts/bench.sh.

Each script is a child process following the BENCH-RESULT contract (benchmarks/README.md, benchmarks/_report.py):
every goal comes from the script that owns its area (``OWNER_SCRIPTS``), the first one that reports it. One run at
three sizes shows scaling: the table gives the project's time and peak RSS at each size (time linear, memory flat).

    scripts/bench.sh                 # quick: small sizes, 3 runs at the largest size (1 at the others)
    scripts/bench.sh --mode full     # the issue's sizes (1M records, 400 MB), 5 runs at every size
    scripts/bench.sh --only http_source_ndjson,parse_cost --note "machine loaded"
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _report import ROOT, GoalResult, parse_results

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Goal:
    title: str
    target: str  # the goal in words, as issue 11 states it
    group: str  # size group: the unit of --size for every script measuring it


GOALS: dict[str, Goal] = {
    "http_source_ndjson": Goal("http.source NDJSON -> NDJSON file", ">= 0.5x httpx bytes to a file", "http_mb"),
    "http_source_pages": Goal("http.source JSON pages, records_path", ">= 3x today's throughput", "http_mb"),
    "http_source_pages_rss": Goal("http.source JSON pages: peak RSS", "< 150 MiB at any size", "http_mb"),
    "transform_filter_select": Goal("transform filter + select", ">= 0.5x an orjson loop", "records"),
    "file_sink_ndjson": Goal("file.sink NDJSON", ">= 0.7x an orjson loop", "records"),
    "file_source_ndjson": Goal("file.source NDJSON", ">= 0.7x an orjson loop", "records"),
    "file_sink_csv": Goal("file.sink CSV", "within 1.2x of the csv module", "records"),
    "file_source_csv": Goal("file.source CSV", "within 1.2x of the csv module", "records"),
    "http_sink_c1": Goal("http.sink, concurrency 1", ">= 0.95x a plain httpx loop", "sink_records"),
    "http_sink_c1_batch1000": Goal(
        "http.sink, concurrency 1, batch 1000", ">= 0.95x a plain httpx loop", "sink_records"
    ),
    "http_sink_c8_latency": Goal("http.sink, 20 ms server: c=8 vs c=1", ">= 5x", "sink_records"),
    "parse_cost": Goal("operators' import cost over airflow.sdk", "~70 ms, kept (<= 1/4 of HttpOperator's)", "none"),
    "merge_ndjson": Goal("merge 10% updates into an NDJSON snapshot", ">= 0.75x a dict merge in memory", "records"),
    "s3_atomic_write": Goal("S3: ObjectStorage.atomic_write (bytes)", ">= 0.8x boto3 upload_fileobj", "s3_mib"),
    "s3_file_sink": Goal("S3: file.sink records -> NDJSON", ">= 0.8x boto3 upload_fileobj", "s3_mib"),
    "s3_http_source_pages": Goal("S3: http.source JSON pages", ">= 0.8x boto3 upload_fileobj", "s3_mib"),
    "s3_http_source_ndjson": Goal("S3: http.source NDJSON body", ">= 0.8x boto3 upload_fileobj", "s3_mib"),
}

#: size group -> (quick sizes, full sizes); the unit each script's --size takes for these goals
SIZES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "http_mb": ((10, 20, 40), (100, 200, 400)),  # MB of response body
    "records": ((50_000, 100_000, 200_000), (250_000, 500_000, 1_000_000)),
    "sink_records": ((5_000, 10_000, 20_000), (25_000, 50_000, 100_000)),
    # MiB of object. s3_staging.py starts its own SeaweedFS and runs every case in a fresh process: ~1 min per size
    # before any transfer, so quick mode measures one size (no scaling columns for S3 there; full mode has three).
    "s3_mib": ((128,), (64, 128, 256)),  # 32 MiB measured multipart set-up more than throughput
    "none": ((0,), (0,)),
}
#: ``--mode smoke``: checks the pipeline end to end in seconds (tests use it); its figures mean nothing.
SMOKE_SIZES: dict[str, tuple[float, ...]] = {
    "http_mb": (1, 2, 3),
    "records": (200, 400, 800),
    "sink_records": (200,),
    "s3_mib": (1,),
}
UNITS = {"http_mb": "MB", "records": "records", "sink_records": "records", "s3_mib": "MiB", "none": ""}


@dataclass(frozen=True)
class Script:
    path: str
    group: str
    goals: tuple[str, ...] = ()  # the goals it is expected to report (owner scripts may report more)
    extra_args: tuple[str, ...] = ()


#: Scripts owned by the helpers of each area: used for whatever goals they report once they follow the contract.
OWNER_SCRIPTS = (
    Script("codec_http_benchmark.py", "http_mb", ("http_source_ndjson", "http_source_pages", "http_source_pages_rss")),
    Script("http_stream_benchmark.py", "http_mb", ("http_source_ndjson", "http_source_pages", "http_source_pages_rss")),
    Script("transform_benchmark.py", "records", ("transform_filter_select",)),
    Script(
        "codec_files_benchmark.py",
        "records",
        ("file_sink_ndjson", "file_source_ndjson", "file_sink_csv", "file_source_csv"),
    ),
    Script(
        "file_sink_benchmark.py",
        "records",
        ("file_sink_ndjson", "file_source_ndjson", "file_sink_csv", "file_source_csv"),
    ),
    Script(
        "http_sink_benchmark.py", "sink_records", ("http_sink_c1", "http_sink_c1_batch1000", "http_sink_c8_latency")
    ),
    Script("merge_benchmark.py", "records", ("merge_ndjson",)),
    Script("parse_time_benchmark.py", "none", ("parse_cost",), ("--imports-only",)),
    Script(
        "s3_staging.py",
        "s3_mib",
        ("s3_atomic_write", "s3_file_sink", "s3_http_source_pages", "s3_http_source_ndjson"),
    ),
)
#: Goal ids some owner scripts printed before the ids were fixed (benchmarks/README.md): mapped, not duplicated.
ALIASES = {
    "http.source NDJSON->NDJSON file >= 0.5x plain httpx bytes to a file": "http_source_ndjson",
    "http.source JSON pages with records_path >= 3x before issue 11 (peak RSS < 150 MiB)": "http_source_pages",
    "file.sink NDJSON >= 0.7x an orjson loop": "file_sink_ndjson",
    "file.source NDJSON >= 0.7x an orjson loop": "file_source_ndjson",
    "file.sink CSV within 1.2x of the csv module": "file_sink_csv",
    "file.source CSV within 1.2x of the csv module": "file_source_csv",
}
#: Goal ids that carry their size ("... a 200-record NDJSON snapshot ..."): one row per goal, sizes in its columns.
SIZED_ALIASES = ((re.compile(r"^merge 10% updates into a \d+-record NDJSON snapshot"), "merge_ndjson"),)
RSS_BUDGET_MIB = 150.0


@dataclass
class Outcome:
    """Everything measured for one goal: one result per size, or why there is none."""

    goal: str
    results: list[GoalResult] = field(default_factory=list)
    source: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def largest(self) -> GoalResult | None:
        return max(self.results, key=lambda r: r.size) if self.results else None


def canonical_goal(goal: str) -> str:
    """The goal id of a result: early sentence ids mapped by ``ALIASES`` and ``SIZED_ALIASES``."""
    goal = ALIASES.get(goal, goal)
    return next((canonical for pattern, canonical in SIZED_ALIASES if pattern.match(goal)), goal)


def follows_contract(path: Path) -> bool:
    """An owner script takes part once it prints BENCH-RESULT lines through _report (or by hand)."""
    text = path.read_text(encoding="utf-8")
    return "_report" in text or "BENCH-RESULT" in text


def offers(script: Script, option: str) -> bool:
    """Whether a script takes ``option`` (``--goals``, ``--no-alternative``): options beyond ``--size`` and
    ``--runs`` are optional in the contract, so the runner passes them only to scripts whose text mentions them."""
    return option in (HERE / script.path).read_text(encoding="utf-8")


def run_script(
    script: Script, size: float, runs: int, goals: Sequence[str], *, alternative: bool
) -> tuple[list[GoalResult], str]:
    """One script at one size: its results, or an error text naming the script, size and the output's tail."""
    cmd = [sys.executable, str(HERE / script.path), "--runs", str(runs), *script.extra_args]
    if script.group != "none":
        cmd += ["--size", str(int(size)) if size == int(size) else str(size)]  # not "1e+06": int() parses it
    if goals and offers(script, "--goals"):
        cmd += ["--goals", ",".join(goals)]
    if not alternative and offers(script, "--no-alternative"):  # what users pick: slow imports, largest size only
        cmd.append("--no-alternative")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    print(f"  {script.path} --size {size:g} --runs {runs} ...", end="", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(f" {time.monotonic() - started:.0f} s", flush=True)
    try:
        if proc.returncode != 0:
            raise ValueError(f"exit {proc.returncode}")
        return parse_results(proc.stdout), ""
    except ValueError as error:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return [], f"{script.path} --size {size:g}: {error}: {' | '.join(tail)[-400:]}"


def measure(scripts: Sequence[Script], outcomes: dict[str, Outcome], mode: str, only: set[str]) -> None:
    for script in scripts:
        missing = [g for g in script.goals if g in only and not outcomes[g].results] if script.goals else []
        if script.goals and not missing:
            continue
        sizes = SIZES[script.group][0 if mode == "quick" else 1]
        if mode == "smoke":
            sizes = SMOKE_SIZES.get(script.group, sizes)
        for index, size in enumerate(sizes):
            last = index == len(sizes) - 1
            runs = {"quick": 3 if last else 1, "full": 5, "smoke": 1}[mode]
            with_alternative = last and mode != "smoke"
            results, error = run_script(script, size, runs, missing, alternative=with_alternative)
            for result in results:
                result.goal = canonical_goal(result.goal)
                result.runs = result.runs or runs  # scripts that do not say ran what they were asked
                if result.goal not in only and result.goal in GOALS:
                    continue
                outcome = outcomes.setdefault(result.goal, Outcome(result.goal))
                outcome.results.append(result)
                outcome.source = script.path
            if error:
                print(f"    failed: {error}", flush=True)
            for goal in missing if error else ():
                outcomes[goal].errors.append(error)
        derive_rss_goal(outcomes, script.path)


def derive_rss_goal(outcomes: dict[str, Outcome], source: str) -> None:
    """``http_source_pages_rss`` from the pages goal's peak RSS when its script reports only that one."""
    rss, pages = outcomes.get("http_source_pages_rss"), outcomes.get("http_source_pages")
    if rss is None or rss.results or pages is None or pages.source != source:
        return
    for result in pages.results:
        ratio = RSS_BUDGET_MIB / result.peak_rss_mib if result.peak_rss_mib else 0.0
        rss.results.append(
            GoalResult(
                goal=rss.goal,
                project=result.peak_rss_mib,
                baseline=RSS_BUDGET_MIB,
                ratio_min=ratio,
                ratio_median=ratio,
                ratio_max=ratio,
                goal_ratio=1.0,
                unit="MiB peak RSS",
                size=result.size,
                peak_rss_mib=result.peak_rss_mib,
                baseline_name="150 MiB budget",
                seconds=result.seconds,
                runs=result.runs,
                note="ratio = 150 MiB / the largest peak RSS of the pages runs",
            )
        )
    rss.source = source


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"


def _scaling(outcome: Outcome) -> tuple[str, str]:
    ordered = sorted(outcome.results, key=lambda r: r.size)
    times = " / ".join(_num(r.seconds) for r in ordered)
    rss = " / ".join(_num(r.peak_rss_mib) if r.peak_rss_mib else "-" for r in ordered)
    return times, rss


def render(outcomes: dict[str, Outcome], header: Sequence[str], mode: str = "quick") -> str:
    lines = [*header, ""]
    lines += [
        "| goal | size | project | raw baseline | users' pick | ratio min / median / max | goal | met |"
        " time s at 3 sizes | peak RSS MiB at 3 sizes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for goal_id, outcome in outcomes.items():
        goal = GOALS.get(goal_id, Goal(goal_id, "(reported by its script)", "none"))
        best = outcome.largest
        if best is None:
            why = "; ".join(outcome.errors) or "not measured"
            lines.append(f"| {goal.title} | - | - | - | - | - | {goal.target} | not measured | - | - |")
            notes.append(f"- {goal.title}: {why}")
            continue
        unit = UNITS.get(goal.group, "")
        size = f"{_num(best.size)} {unit}".strip() if goal.group != "none" else "-"
        alternative = f"{_num(best.alternative)} ({best.alternative_name})" if best.alternative is not None else "-"
        ratio = f"{best.ratio_min:.2f} / **{best.ratio_median:.2f}** / {best.ratio_max:.2f}"
        met = "met" if best.met else "**not met**"
        times, rss = _scaling(outcome)
        lines.append(
            f"| {goal.title} | {size} | {_num(best.project)} {best.unit} | {_num(best.baseline)} "
            f"({best.baseline_name}) | {alternative} | {ratio} | {goal.target} (ratio >= {best.goal_ratio:.2f}) "
            f"| {met} | {times} | {rss} |"
        )
        detail = [best.note] if best.note else []
        if "baseline_peak_rss_mib" in best.extra:
            detail.append(f"baseline peak RSS {_num(best.extra['baseline_peak_rss_mib'])} MiB")
        detail += [f"from {outcome.source}, {best.runs} runs at the largest size"]
        if mode == "quick" and goal.group != "none" and len(SIZES[goal.group][0]) == 1:
            detail.append("one size only in quick mode (each size costs ~1 min of set-up): scaling in --mode full")
        detail += outcome.errors
        notes.append(f"- {goal.title}: " + "; ".join(detail))
    return "\n".join([*lines, "", "Notes:", "", *notes, ""])


def _git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["quick", "full", "smoke"], default="quick")
    parser.add_argument("--only", default="", help="comma-separated goal ids (default: every goal)")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="markdown file to write")
    parser.add_argument("--note", default="", help="a line for the header, e.g. how loaded the machine was")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(GOALS)
    unknown = only - set(GOALS)
    if unknown:
        parser.error(f"unknown goal ids {sorted(unknown)}; known: {', '.join(GOALS)}")
    outcomes = {goal: Outcome(goal) for goal in GOALS if goal in only}
    load_before = os.getloadavg()
    started = time.monotonic()
    owners = [s for s in OWNER_SCRIPTS if (HERE / s.path).exists() and follows_contract(HERE / s.path)]
    print(f"owner scripts following the contract: {', '.join(s.path for s in owners) or 'none yet'}")
    measure(owners, outcomes, args.mode, only)
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    load_after = os.getloadavg()
    header = [
        "# Benchmark results",
        "",
        f"`scripts/bench.sh --mode {args.mode}` at {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
        f" on commit {_git('rev-parse', '--short', 'HEAD')}{dirty}, {time.monotonic() - started:.0f} s.",
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after (1 min). Ratios are per paired run (project vs baseline, interleaved, fresh "
        "processes), higher is better; a goal is met when the median ratio reaches it. Figures are medians at the "
        "largest size; the last two columns give the project's time and peak RSS at each of the three sizes.",
    ]
    if args.note:
        header += ["", f"**Note:** {args.note}"]
    table = render(outcomes, header, args.mode)
    Path(args.output).write_text(table, encoding="utf-8")
    print("\n" + table)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
