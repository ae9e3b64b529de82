"""What resumable retries cost a successful http.source: staged pages then one publish, against direct streaming.

Run from the repository root::

    .venv/bin/python benchmarks/resume_staging_benchmark.py              # 50 pages x 1000 records x ~1 KiB
    .venv/bin/python benchmarks/resume_staging_benchmark.py --rounds 7

A task that may be retried (``max_tries`` >= 1) stages every finished page in the node's storage and saves a
checkpoint (records/resume.py), then publishes the output from the staged pages: every byte is written twice and
read once more. A task without retries streams straight to the output, as before. Both run here in the same
process, alternately, against the same test server (its own process), on a local base; the ratio staged/direct is
reported per round and as min/median/max. The checkpoint goes to an in-memory store here (Airflow's task state
store adds one API call per page).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fetch(url: str, args: argparse.Namespace, base: str, max_tries: int) -> float:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    state = ExecutionState(
        max_tries=max_tries, settings=StaticSettingsProvider(http={"api": HttpSettings(base_url=url)})
    )
    values: dict[str, Any] = {
        "http_conn_id": "api",
        "endpoint": "/big/pages",
        "params": {"pages": args.pages, "per_page": args.per_page, "pad": args.pad},
        "records_path": "items",
        "pagination": {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"},
        "output_path": "out.ndjson",
        "base_path": base,
    }
    config = validate_config(HttpSourceConfig, values)
    started = time.perf_counter()
    ref = HttpSourceRuntime().execute(config, None, state)
    elapsed = time.perf_counter() - started
    assert ref.records == args.pages * args.per_page, ref
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--pad", type=int, default=900)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.http_server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        ratios = []
        with tempfile.TemporaryDirectory() as base:
            fetch(url, args, base, 0)  # warm up: imports, connections, page cache
            for n in range(args.rounds):
                direct = fetch(url, args, base, 0)
                staged = fetch(url, args, base, 1)
                ratios.append(staged / direct)
                print(f"round {n + 1}: direct {direct:.2f} s, staged {staged:.2f} s, ratio {staged / direct:.2f}")
        print(
            f"staged/direct over {args.rounds} rounds ({args.pages} pages x {args.per_page} records): "
            f"min {min(ratios):.2f}, median {statistics.median(ratios):.2f}, max {max(ratios):.2f}"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
