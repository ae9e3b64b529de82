"""``benchmarks/http_sink_benchmark.py`` runs end to end and ends with the runner's ``BENCH-RESULT`` line.

Only the contract is checked (fields, goal ids, every record delivered: the script fails otherwise, what users
pick, a profile per contender under ``BENCH_PROFILE_DIR``), never a figure: speed lives in the benchmark's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"goal", "project", "baseline", "ratio_min", "ratio_median", "ratio_max", "goal_ratio", "unit", "size"}


def run_benchmark(*args: str, profile_dir: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "http_sink_benchmark.py"), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "BENCH_PROFILE_DIR": str(profile_dir)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("BENCH-RESULT ")
    results: list[dict[str, object]] = json.loads(last.removeprefix("BENCH-RESULT "))
    return results


def test_small_run_reports_the_chosen_goals_with_every_contract_field(tmp_path: Path) -> None:
    args = ("--size", "300", "--runs", "1", "--goals", "http_sink_c1,http_sink_c8_latency")
    results = run_benchmark(*args, profile_dir=tmp_path)
    assert [r["goal"] for r in results] == ["http_sink_c1", "http_sink_c8_latency"]
    for result in results:
        assert set(result) >= REQUIRED and result["unit"] == "records/s"
        assert result["ratio_min"] == result["ratio_median"] == result["ratio_max"]  # one run: one ratio
    assert results[0]["size"] == 300 and results[0]["baseline_name"] == "httpx loop"
    assert results[1]["baseline_name"] == "http.sink c1"
    assert results[0]["alternative_name"] == "HttpHook.run per batch" and "alternative" not in results[1]
    profiles = {path.name for path in tmp_path.glob("*.prof")}
    expected = {
        f"http_sink_benchmark-{runner}-c1-batch100-300.prof" for runner in ("run_node", "run_httpx", "run_hook")
    }
    assert expected <= profiles, profiles
