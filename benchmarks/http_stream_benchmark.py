"""Stream >= 200 MB of paginated JSON to a file: HttpSourceOperator vs HttpOperator (apache-airflow-providers-http).

Run from the repository root::

    .venv/bin/python benchmarks/http_stream_benchmark.py            # 200 pages x 1000 records x ~1 KiB
    .venv/bin/python benchmarks/http_stream_benchmark.py --pages 50  # quicker

The test server (``tests/fixtures/http_server.py``) runs in its own process; each operator runs in a fresh
subprocess, so its peak RSS (``ru_maxrss``) is its own. Both fetch the same pages from ``/big/pages`` and end
with the same NDJSON file:

* ``HttpSourceOperator``: cursor pagination on ``next_page``, ``output_path`` -> records streamed page by page to
  an atomically written file; XCom would carry only a reference.
* ``HttpOperator``: ``pagination_function`` on ``next_page``; it returns every page's text (what it would push to
  XCom), which is then written to the same NDJSON file (the step a user needs afterwards).

Operators are executed with ``op.execute(context)`` and a minimal context (no scheduler), which is enough to
compare transfer cost and memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONN_ID = "bench_http"


def _context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="bench", task_id="bench", run_id="bench_run", try_number=1, max_tries=0)
    return {"ti": ti, "params": {}, "logical_date": None}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_flow(args: argparse.Namespace) -> dict[str, Any]:
    from airflow_provider_flow.operators.http import HttpSourceOperator

    baseline = _rss_mib()
    op = HttpSourceOperator(
        task_id="flow_source",
        http_conn_id=CONN_ID,
        endpoint="/big/pages",
        query_params={"pages": args.pages, "per_page": args.per_page, "pad": args.pad},
        records_path="items",
        pagination={"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"},
        output_path="flow.ndjson",
        base_path=args.out_dir,
        max_pages=args.pages + 1,
        timeout={"read": 60, "total": 600},
    )
    started = time.perf_counter()
    ref = op.execute(_context())
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "records": ref["records"],
        "file_bytes": ref["bytes"],
        "xcom_bytes": len(json.dumps(ref)),
        "baseline_rss": baseline,
    }


def run_http_operator(args: argparse.Namespace) -> dict[str, Any]:
    from airflow.providers.http.operators.http import HttpOperator

    baseline = _rss_mib()
    query = {"pages": args.pages, "per_page": args.per_page, "pad": args.pad, "page": 1}

    def next_page(response: Any) -> dict[str, Any] | None:
        nxt = response.json()["next_page"]
        return {"data": {**query, "page": nxt}} if nxt else None

    op = HttpOperator(
        task_id="http_operator",
        http_conn_id=CONN_ID,
        endpoint="/big/pages",
        method="GET",
        data=query,
        pagination_function=next_page,
    )
    started = time.perf_counter()
    pages = op.execute(_context())  # a list with every page's text: what HttpOperator returns to XCom
    xcom_bytes = sum(len(p) for p in pages)
    records = 0
    target = Path(args.out_dir) / "http_operator.ndjson"
    with open(target, "w", encoding="utf-8") as out:
        for text in pages:
            for record in json.loads(text)["items"]:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                records += 1
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "records": records,
        "file_bytes": target.stat().st_size,
        "xcom_bytes": xcom_bytes,
        "baseline_rss": baseline,
    }


def worker(args: argparse.Namespace) -> None:
    result = run_flow(args) if args.worker == "flow" else run_http_operator(args)
    result["peak_rss"] = _rss_mib()
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--pad", type=int, default=1000, help="padding characters per record (~size in bytes)")
    parser.add_argument("--worker", choices=["flow", "http"], help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.http_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        home = tempfile.mkdtemp(prefix="apf-bench-home-")
        env = {
            **os.environ,
            f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(
                {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
            ),
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
        results = {}
        with tempfile.TemporaryDirectory(prefix="apf-bench-out-") as out_dir:
            for name in ("flow", "http"):
                cmd = [sys.executable, __file__, "--worker", name, "--out-dir", out_dir]
                cmd += ["--pages", str(args.pages), "--per-page", str(args.per_page), "--pad", str(args.pad)]
                proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                if proc.returncode != 0 or not lines:
                    sys.exit(
                        f"{name} worker failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                    )
                results[name] = json.loads(lines[-1][len("RESULT ") :])
                Path(out_dir, "flow.ndjson" if name == "flow" else "http_operator.ndjson").unlink()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)

    labels = {"flow": "HttpSourceOperator (output_path)", "http": "HttpOperator + write file"}
    print(f"\n{args.pages} pages x {args.per_page} records x ~{args.pad} B padding, local server, fresh process each\n")
    header = f"{'':34} {'records':>9} {'file MiB':>9} {'seconds':>8} {'MiB/s':>7} {'peak RSS MiB':>13}"
    header += f" {'(after import)':>15} {'XCom bytes':>12}"
    print(header)
    for key, label in labels.items():
        r = results[key]
        mib = r["file_bytes"] / 2**20
        print(
            f"{label:34} {r['records']:>9} {mib:>9.1f} {r['elapsed']:>8.1f} {mib / r['elapsed']:>7.1f} "
            f"{r['peak_rss']:>13.0f} {r['baseline_rss']:>15.0f} {r['xcom_bytes']:>12}"
        )


if __name__ == "__main__":
    main()
