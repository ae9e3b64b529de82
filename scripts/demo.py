"""The README's first command, after ``scripts/bootstrap.sh``: run the scheduled example end to end, offline.

1. a fresh ``AIRFLOW_HOME`` under ``.demo/airflow-home`` with a SQLite metadata DB (``airflow db migrate``);
2. the demo server (``dags_examples/demo_server``) on a free port of 127.0.0.1;
3. the example connections as ``AIRFLOW_CONN_*`` variables (API -> the demo server, files -> ``.demo/data``);
4. ``airflow dags test flow_orders_hourly``: paginated HTTP source -> transform -> file sink;
5. prints the output file and its record count, stops the server, exits non-zero if anything failed.

Usage: ``scripts/demo.sh`` (or ``.venv/bin/python scripts/demo.py [--dag-id ID] [--keep-home]``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_examples"
DEMO = REPO / ".demo"
sys.path.insert(0, str(EXAMPLES))

from demo_server.connections import demo_env  # noqa: E402
from demo_server.server import DemoServer  # noqa: E402

#: Where each example writes what the demo reports.
OUTPUTS = {
    "flow_orders_hourly": "orders/paid/*.ndjson",
    "flow_orders_hourly_from_file": "orders/paid_from_file/*.ndjson",
    "flow_export_on_demand": "exports/*",
    "flow_orders_on_asset": "reports/*.json",
    "flow_vip_customers_daily": "customers/*.json",
}


def airflow_env(home: Path, base: Path, server_url: str) -> dict[str, str]:
    # A self-contained demo: no AIRFLOW_* setting of the caller's shell leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update(demo_env(server_url, str(base)))
    return env


def run(step: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
    started = time.monotonic()
    print(f"==> {step}", flush=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise SystemExit(f"{step} failed (exit {proc.returncode}); last lines of {log}:\n{tail}")
    print(f"    done in {time.monotonic() - started:.1f}s", flush=True)


def count_records(path: Path) -> int:
    if path.suffix == ".json":
        import json

        value = json.loads(path.read_text())
        return len(value) if isinstance(value, list) else 1
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return len(lines) - 1 if path.suffix == ".csv" else len(lines)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


#: Marks a work folder as the demo's own, so its ``airflow-home/`` and ``data/`` may be wiped on the next run.
MARKER = ".flow-demo-workdir"


def claim_workdir(workdir: Path) -> None:
    """Refuse to wipe folders this demo did not create: ``--workdir ~`` must not delete ``~/data``."""
    if workdir != DEMO.resolve() and not (workdir / MARKER).exists():
        for folder in (workdir / "airflow-home", workdir / "data"):
            if folder.exists() and any(folder.iterdir()):
                raise SystemExit(
                    f"{folder} exists and was not created by this demo (the demo wipes it on every run); "
                    "pick an empty or new --workdir"
                )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by scripts/demo.py: airflow-home/ and data/ are wiped on every run\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-id", default="flow_orders_hourly", choices=[*sorted(OUTPUTS), "flow_reviews_enrichment"])
    parser.add_argument("--keep-home", action="store_true", help="reuse .demo/airflow-home instead of a fresh one")
    parser.add_argument("--workdir", type=Path, default=DEMO, help="where the demo lives (default: .demo/)")
    args = parser.parse_args(argv)

    workdir = args.workdir.resolve()
    home, base, log = workdir / "airflow-home", workdir / "data", workdir / "demo.log"
    claim_workdir(workdir)
    if not args.keep_home:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    base.mkdir(parents=True)
    log.write_text("")
    airflow = str(Path(sys.executable).parent / "airflow")

    with DemoServer(0) as server:
        print(f"==> demo server listening on {server.url}", flush=True)
        env = airflow_env(home, base, server.url)
        run("airflow db migrate (SQLite, fresh AIRFLOW_HOME under .demo/)", [airflow, "db", "migrate"], env, log)
        run(f"airflow dags test {args.dag_id}", [airflow, "dags", "test", args.dag_id], env, log)
        if args.dag_id == "flow_reviews_enrichment":
            import httpx

            received = httpx.get(f"{server.url}/api/sink/reviews").json()
            count, batches = received["count"], received["batches"]
            print(f"==> success: the sink received {count} enriched reviews in {batches} batches")
            return 0
    outputs = sorted(base.glob(OUTPUTS[args.dag_id]))
    if not outputs:
        print(f"no output found under {base} matching {OUTPUTS[args.dag_id]}; see {log}", file=sys.stderr)
        return 1
    for path in outputs:
        print(f"==> success: {_shown(path)} holds {count_records(path)} records")
    print(f"    full log: {_shown(log)}; connections used: flow_demo_api, flow_demo_fs (base {base})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
