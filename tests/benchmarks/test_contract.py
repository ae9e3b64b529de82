"""The BENCH-RESULT contract and the runner work end to end on tiny sizes (no figure is asserted: no timing)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import _report  # noqa: E402
import run_all  # noqa: E402


def _result(goal: str = "file_sink_csv", **fields: float) -> _report.GoalResult:
    values: dict[str, float] = {
        "project": 10.0,
        "baseline": 20.0,
        "ratio_min": 0.4,
        "ratio_median": 0.5,
        "ratio_max": 0.6,
        "goal_ratio": 0.8,
        "size": 100,
        "peak_rss_mib": 50.0,
        **fields,
    }
    return _report.GoalResult(goal=goal, unit="records/s", **values)  # type: ignore[arg-type]


def test_result_line_round_trips_and_the_last_line_wins() -> None:
    first, second = _result(ratio_median=0.1), _result(ratio_median=0.9)
    output = "noise\n" + _report.result_line([first]) + "\nmore noise\n" + _report.result_line([second]) + "\n"
    (parsed,) = _report.parse_results(output)
    assert parsed == second
    assert parsed.met and not first.met


def test_missing_fields_and_missing_lines_are_named() -> None:
    item = {k: 1 for k in _report.REQUIRED if k != "peak_rss_mib"} | {"goal": "x"}
    with pytest.raises(ValueError, match="'x' lacks \\['peak_rss_mib'\\]"):
        _report.parse_results(_report.PREFIX + json.dumps([item]))
    with pytest.raises(ValueError, match="no line starting with 'BENCH-RESULT '"):
        _report.parse_results("nothing here")


def test_unknown_fields_are_kept_in_extra() -> None:
    item = {**_report.asdict(_result()), "owner_specific": 3}
    (parsed,) = _report.parse_results(_report.PREFIX + json.dumps([item]))
    assert parsed.extra["owner_specific"] == 3


def test_ratio_stats_pair_runs() -> None:
    ratios = _report.throughput_ratios([1.0, 2.0, 4.0], [2.0, 2.0, 2.0])
    assert ratios == [2.0, 1.0, 0.5]
    assert _report.ratio_stats(ratios) == (0.5, 1.0, 2.0)


def test_workers_report_their_own_peak_rss_not_their_parents() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import _report; "
        "x = bytearray({size} * 2**20); _report.worker_emit({{'size': {size}}})"
    )
    ballast = bytearray(400 * 2**20)  # this process is big: a fork's RSS would count in a child's ru_maxrss
    big = _report.run_child([sys.executable, "-c", code.format(size=300)]).worker_result()
    small = _report.run_child([sys.executable, "-c", code.format(size=1)]).worker_result()
    del ballast
    assert big["size"] == 300 and big["peak_rss_mib"] >= 300
    assert small["peak_rss_mib"] < 100
    failed = _report.run_child([sys.executable, "-c", "raise SystemExit('boom')"])
    with pytest.raises(RuntimeError, match="boom"):
        failed.worker_result()


def test_render_shows_ratios_scaling_and_what_was_not_measured() -> None:
    measured = run_all.Outcome("file_sink_csv", [_result(size=s, seconds=s / 100) for s in (100, 200, 400)], "x.py")
    missing = run_all.Outcome("http_sink_c1", errors=["http_sink_benchmark.py --size 5: exit 1: boom"])
    table = run_all.render({"file_sink_csv": measured, "http_sink_c1": missing}, ["# t"])
    assert "| file.sink CSV | 400 records | 10 records/s | 20 (" in table
    assert "0.40 / **0.50** / 0.60" in table and "**not met**" in table
    assert "| 1 / 2 / 4 | 50 / 50 / 50 |" in table
    assert "| http.sink, concurrency 1 | - |" in table and "boom" in table


def test_runner_smoke_mode_writes_the_table_from_the_owner_script(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    args = ["--mode", "smoke", "--only", "file_sink_csv", "--output", str(output), "--note", "test"]
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_all.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=BENCHMARKS.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = output.read_text()
    assert "| file.sink CSV | 800 records |" in table, table
    assert "**Note:** test" in table
    assert "from codec_files_benchmark.py" in table
    row = next(line for line in table.splitlines() if line.startswith("| file.sink CSV"))
    assert len(row.split("|")[-2].split("/")) == 3  # peak RSS at each of the three sizes


def test_profiling_writes_a_profile_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_PROFILE_DIR", raising=False)
    with _report.profiling("/x/plain_benchmark.py", "project", 10.0):
        sum(range(1000))
    assert not list(tmp_path.iterdir())
    monkeypatch.setenv("BENCH_PROFILE_DIR", str(tmp_path / "prof"))
    with pytest.raises(ZeroDivisionError), _report.profiling("/x/some_benchmark.py", "baseline", 1e6):
        _ = sum(range(1000)) / 0  # a failing worker still leaves its profile
    assert (tmp_path / "prof" / "some_benchmark-baseline-1000000.prof").stat().st_size > 0
    assert "cumulative" in (tmp_path / "prof" / "some_benchmark-baseline-1000000.txt").read_text()
    with _report.profiling("some_benchmark.py", "project", 2.5):
        pass
    assert (tmp_path / "prof" / "some_benchmark-project-2.5.prof").exists()


#: Owner scripts the runner's profiles do not reach: parse_time_benchmark.py measures ``python -c "import ..."``
#: probes (an import profile is ``python -X importtime``'s job); the other two are not on the contract, so the
#: runner never calls them (and importing ``_report`` would make ``follows_contract`` think they were).
UNPROFILED = {"parse_time_benchmark.py", "file_sink_benchmark.py", "http_stream_benchmark.py"}


@pytest.mark.parametrize("script", sorted({s.path for s in run_all.OWNER_SCRIPTS} - UNPROFILED))
def test_owner_scripts_profile_their_workers(script: str) -> None:
    """``BENCH_PROFILE_DIR`` reaches every owner script's workers through ``_report.profiling``."""
    assert "profiling(__file__" in (BENCHMARKS / script).read_text(encoding="utf-8")


def test_scripts_off_the_contract_are_not_called_by_the_runner() -> None:
    """They take neither ``--size`` nor ``--runs``: called, they would fail instead of leaving the goal to others."""
    for script in ("http_stream_benchmark.py", "file_sink_benchmark.py"):
        assert not run_all.follows_contract(BENCHMARKS / script), script


def test_every_goal_has_an_owner_script_following_the_contract() -> None:
    """No fallback measures a goal any more: a goal no owner script reports would silently leave the table."""
    owned = {
        goal
        for script in run_all.OWNER_SCRIPTS
        if (BENCHMARKS / script.path).exists() and run_all.follows_contract(BENCHMARKS / script.path)
        for goal in script.goals
    }
    assert set(run_all.GOALS) <= owned


def test_http_source_reports_what_users_pick_and_profiles_each_worker(tmp_path: Path) -> None:
    """codec_http_benchmark.py fills ``alternative`` (HttpOperator + writing the file) unless told not to."""
    env = {**os.environ, "BENCH_PROFILE_DIR": str(tmp_path), "PYTHONPATH": str(BENCHMARKS.parent)}
    script = [sys.executable, str(BENCHMARKS / "codec_http_benchmark.py"), "--size", "0.2", "--runs", "1"]
    done = subprocess.run(script, capture_output=True, text=True, env=env, check=False, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    results = _report.parse_results(done.stdout)
    assert [r.goal for r in results] == ["http_source_ndjson", "http_source_pages"]
    assert all(r.alternative and r.alternative_name == "HttpOperator + write" for r in results)
    profiles = {path.name for path in tmp_path.glob("*.prof")}
    assert {
        f"codec_http_benchmark-{who}_{kind}-0.2.prof"
        for who in ("project", "baseline", "alternative")
        for kind in ("ndjson", "pages")
    } <= profiles
    quick = subprocess.run([*script, "--no-alternative"], capture_output=True, text=True, env=env, check=False)
    assert quick.returncode == 0, quick.stderr[-3000:]
    assert all(r.alternative is None for r in _report.parse_results(quick.stdout))


def test_the_runner_asks_for_what_users_pick_only_where_a_script_offers_it() -> None:
    (codec_http,) = [s for s in run_all.OWNER_SCRIPTS if s.path == "codec_http_benchmark.py"]
    (merge,) = [s for s in run_all.OWNER_SCRIPTS if s.path == "merge_benchmark.py"]
    assert run_all.offers(codec_http, "--no-alternative") and not run_all.offers(merge, "--no-alternative")


def test_workers_run_this_checkout_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "..")
    assert _report.python_env()["PYTHONPATH"].split(os.pathsep) == [str(BENCHMARKS.parent), ".."]


def test_results_wrapped_in_a_dict_and_old_goal_names_are_understood() -> None:
    item = {**_report.asdict(_result(goal="file.sink CSV within 1.2x of the csv module"))}
    (parsed,) = _report.parse_results(_report.PREFIX + json.dumps({"results": [item]}))
    assert run_all.ALIASES[parsed.goal] == "file_sink_csv"


def test_pages_rss_goal_is_derived_from_an_owner_scripts_pages_goal() -> None:
    pages = run_all.Outcome("http_source_pages", [_result("http_source_pages", peak_rss_mib=60.0)], "codec.py")
    outcomes = {"http_source_pages": pages, "http_source_pages_rss": run_all.Outcome("http_source_pages_rss")}
    run_all.derive_rss_goal(outcomes, "codec.py")
    (rss,) = outcomes["http_source_pages_rss"].results
    assert (rss.project, rss.ratio_median, rss.met) == (60.0, 2.5, True)


def _declared_goals(script: str) -> set[str]:
    """The goal ids a script declares in its module-level ``GOALS`` (a tuple of ids or a dict keyed by them)."""
    tree = ast.parse((BENCHMARKS / script).read_text(encoding="utf-8"))
    for node in tree.body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == "GOALS" and node.value is not None:
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{script} declares no GOALS")


@pytest.mark.parametrize("script", ["http_sink_benchmark.py", "s3_staging.py"])
def test_the_runner_asks_owner_scripts_for_every_goal_they_report(script: str) -> None:
    """A goal the script reports but the runner does not list is never passed in ``--goals``: it silently goes
    missing from the table (http_sink_c1_batch1000 did)."""
    (owner,) = [s for s in run_all.OWNER_SCRIPTS if s.path == script]
    declared = _declared_goals(script)
    assert declared <= set(owner.goals) <= set(run_all.GOALS)
    assert all(run_all.GOALS[goal].group == owner.group for goal in owner.goals)


def test_every_goal_group_has_sizes_in_every_mode_and_a_unit() -> None:
    for goal_id, goal in run_all.GOALS.items():
        quick, full = run_all.SIZES[goal.group]
        assert quick and full, goal_id
        assert goal.group == "none" or run_all.SMOKE_SIZES[goal.group], goal_id
        assert goal.group in run_all.UNITS, goal_id


def test_goal_ids_that_carry_their_size_make_one_row() -> None:
    sized = [f"merge 10% updates into a {n}-record NDJSON snapshot with flat memory" for n in (200, 400)]
    assert {run_all.canonical_goal(goal) for goal in sized} == {"merge_ndjson"}
    assert run_all.canonical_goal("file.sink CSV within 1.2x of the csv module") == "file_sink_csv"
    assert run_all.canonical_goal("s3_file_sink") == "s3_file_sink"
