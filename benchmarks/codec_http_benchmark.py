"""http.source record paths next to plain httpx and an orjson loop on the same loopback server (issue 11).

    .venv/bin/python benchmarks/codec_http_benchmark.py --size 100 --runs 3    # size: MiB of records (~1 KB each)

The server runs in its own process and serves pre-built bytes (``TCP_NODELAY``, ``Content-Length``, one
``sendall`` per body), so it is not what is measured. Every measurement runs in a fresh process (peak RSS is its
own); project and baseline alternate, ``--runs`` times, and the ratios are of MB/s.

* http.source, one NDJSON body to an NDJSON file (``response_format="ndjson"``, pass-through of validated lines)
  >= 0.5x plain httpx streaming the same bytes to a file;
* http.source, JSON pages of 1,000 records with ``records_path="items"`` and cursor pagination, to an NDJSON file:
  next to an orjson loop (``httpx`` GET per page, ``orjson.loads``, ``orjson.dumps`` per record, write). The goal,
  >= 3x the throughput before issue 11, is a ratio to that loop (:data:`PAGES_GOAL`); ``--project-root`` pointing
  at a checkout from before measures the old code on the same server. Peak RSS < 150 MiB at any size.

Next to each goal, once per size, what users pick today: ``HttpOperator`` (apache-airflow-providers-http; every
page's text, as it would go to XCom) and then writing the same NDJSON file (``orjson`` per record). It fills the
result's ``alternative`` (MB/s of that file) for the runner's "users' pick" column; ``--no-alternative`` skips it
(importing Airflow costs seconds per process; the runner measures it only at the largest size).

The last line is ``BENCH-RESULT {...}`` for the benchmark runner (one entry per goal).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _report import airflow_env, profiling
from codec_files_benchmark import make_record  # the same ~1 KB records (this folder is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
PER_PAGE = 1000
CONN_ID = "bench_http"  # the Airflow connection HttpOperator reaches the server through
ALTERNATIVE_NAME = "HttpOperator + write"

#: "3x today's throughput" as a ratio to the orjson loop: before issue 11 http.source reached ~37 MB/s where the
#: orjson loop reached ~105 MB/s on the same machine (0.35x), so 3x that is 1.06x the loop.
PAGES_GOAL = round(3 * 37 / 105, 2)


# -- the server ---------------------------------------------------------------------------------------------------


def serve(size_mib: float, port_file: str) -> None:
    """Pre-build the bodies, listen on a free port, write it to ``port_file``, serve until terminated."""
    lines = [json.dumps(make_record(i), ensure_ascii=False).encode() for i in range(PER_PAGE)]
    ndjson_page = b"\n".join(lines) + b"\n"
    ndjson = ndjson_page * max(1, round(size_mib * 2**20 / len(ndjson_page)))
    items = b",".join(lines)
    pages = max(1, round(size_mib * 2**20 / len(items)))

    def page(number: int) -> bytes:
        following = str(number + 1).encode() if number < pages else b"null"
        # the first record names the page: a page repeating an earlier one would be a pagination loop
        return b'{"items":[{"page":%d},%s],"next_page":%s}' % (number, items, following)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/ndjson":
                body, kind = ndjson, "application/x-ndjson"
            else:
                body, kind = page(int(parse_qs(url.query).get("page", ["1"])[0])), "application/json"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def server_bind(self) -> None:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().server_bind()

    server = Server(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


# -- the measured bodies: each runs in a fresh process (``--child NAME``) ------------------------------------------


def _run_source(url: str, folder: str, **config: Any) -> tuple[int, int]:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    settings = StaticSettingsProvider(http={"api": HttpSettings(base_url=url)}, fs={"fs_default": folder})
    full = {"http_conn_id": "api", "output_path": "out.ndjson", "max_response_bytes": 2**40, **config}
    model = validate_config(HttpSourceConfig, full)
    ref = HttpSourceRuntime().execute(model, None, ExecutionState(settings=settings))
    return ref.records, ref.bytes


def project_ndjson(url: str, folder: str) -> int:
    records, _ = _run_source(url, folder, endpoint="/ndjson", response_format="ndjson")
    assert records > 0
    return os.path.getsize(os.path.join(folder, "out.ndjson"))


def baseline_ndjson(url: str, folder: str) -> int:
    import httpx

    written = 0
    out_path = os.path.join(folder, "raw.ndjson")
    with httpx.Client() as client, client.stream("GET", f"{url}/ndjson") as response, open(out_path, "wb") as out:
        for chunk in response.iter_bytes():
            written += out.write(chunk)
    return written


def project_pages(url: str, folder: str) -> int:
    pagination = {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"}
    _run_source(url, folder, endpoint="/pages", records_path="items", pagination=pagination, max_pages=10**6)
    return os.path.getsize(os.path.join(folder, "out.ndjson"))


def baseline_pages(url: str, folder: str) -> int:
    import httpx
    import orjson

    written, page = 0, 1
    with httpx.Client() as client, open(os.path.join(folder, "raw.ndjson"), "wb") as out:
        while page is not None:
            body = orjson.loads(client.get(f"{url}/pages", params={"page": page}).content)
            for record in body["items"]:
                written += out.write(orjson.dumps(record) + b"\n")
            page = body["next_page"]
    return written


def _airflow_context() -> Any:
    """The least ``HttpOperator.execute`` reads (no scheduler): enough to compare transfer cost. ``Any``: Airflow's
    ``Context`` type names every key a real task run carries."""
    from types import SimpleNamespace

    ti = SimpleNamespace(dag_id="bench", task_id="bench", run_id="bench_run", try_number=1, max_tries=0)
    return {"ti": ti, "params": {}, "logical_date": None}


def _write_ndjson(records: Iterable[dict[str, Any]], folder: str) -> int:
    """The step a user adds after HttpOperator: the records to the same NDJSON file; returns bytes written."""
    import orjson

    written = 0
    with open(os.path.join(folder, "alternative.ndjson"), "wb") as out:
        for record in records:
            written += out.write(orjson.dumps(record) + b"\n")
    return written


def alternative_ndjson(url: str, folder: str) -> int:
    """HttpOperator returns the whole body as text; each line is parsed and written (``url`` is in the connection)."""
    import orjson
    from airflow.providers.http.operators.http import HttpOperator

    op = HttpOperator(task_id="alternative", http_conn_id=CONN_ID, endpoint="/ndjson", method="GET")
    text = op.execute(_airflow_context())
    return _write_ndjson((orjson.loads(line) for line in text.splitlines()), folder)


def alternative_pages(url: str, folder: str) -> int:
    """HttpOperator with a ``pagination_function`` on ``next_page``: a list of every page's text, then the file."""
    import orjson
    from airflow.providers.http.operators.http import HttpOperator

    def next_page(response: Any) -> dict[str, Any] | None:
        following = response.json()["next_page"]
        return {"data": {"page": following}} if following else None

    op = HttpOperator(
        task_id="alternative",
        http_conn_id=CONN_ID,
        endpoint="/pages",
        method="GET",
        data={"page": 1},
        pagination_function=next_page,
    )
    texts = op.execute(_airflow_context())
    return _write_ndjson((record for text in texts for record in orjson.loads(text)["items"]), folder)


CHILDREN = {
    "project_ndjson": project_ndjson,
    "baseline_ndjson": baseline_ndjson,
    "alternative_ndjson": alternative_ndjson,
    "project_pages": project_pages,
    "baseline_pages": baseline_pages,
    "alternative_pages": alternative_pages,
}

#: (stable goal id of benchmarks/run_all.py, key of the measured pair, baseline, goal ratio)
GOALS = [
    ("http_source_ndjson", "ndjson", "httpx bytes to file", 0.5),
    ("http_source_pages", "pages", "orjson loop", PAGES_GOAL),
]
TITLES = {
    "http_source_ndjson": "http.source NDJSON->NDJSON file >= 0.5x plain httpx bytes to a file",
    "http_source_pages": "http.source JSON pages with records_path >= 3x before issue 11 (peak RSS < 150 MiB)",
}


def child(name: str, url: str, folder: str) -> None:
    import httpx  # noqa: F401 - imports stay outside the clock (the project's cost ~1 s on a loaded machine)
    import orjson  # noqa: F401

    if name.startswith("project"):
        import airflow_provider_flow.nodes.http_source  # noqa: F401
    if name.startswith("alternative"):
        import airflow.providers.http.operators.http  # noqa: F401
    start = time.perf_counter()
    written = CHILDREN[name](url, folder)
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "bytes": written, "rss": rss}))


def measure(name: str, url: str, folder: str, project_root: str, size: float) -> dict[str, float]:
    if name.startswith("alternative"):  # Airflow finds the server through a connection, its home in ``folder``
        env = {**airflow_env(CONN_ID, url, os.path.join(folder, "airflow")), "PYTHONPATH": project_root}
    else:
        env = {**os.environ, "PYTHONPATH": project_root}
    cmd = [sys.executable, __file__, "--child", name, "--url", url, "--folder", folder, "--size", str(size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def start_server(size: float, folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port_file = os.path.join(folder, "port")
    cmd = [sys.executable, __file__, "--serve", port_file, "--size", str(size)]
    server = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (os.path.exists(port_file) and Path(port_file).read_text()):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{Path(port_file).read_text()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=float, default=100, help="MiB of records (~1 KB each)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="run only the goals whose key contains this (ndjson, pages)")
    parser.add_argument("--project-root", default=str(ROOT), help="checkout to measure (e.g. main, for before/after)")
    parser.add_argument("--no-alternative", action="store_true", help="skip HttpOperator (slow to import)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.size, args.serve)
        return
    if args.child:
        with profiling(__file__, args.child, args.size):
            child(args.child, args.url, args.folder)
        return
    folder = os.path.realpath(tempfile.mkdtemp(prefix="apf-codec-http-"))
    server, url = start_server(args.size, folder)
    try:
        results = [run_goal(goal, args, url, folder) for goal in GOALS if not args.only or args.only in goal[1]]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    print("BENCH-RESULT " + json.dumps({"results": results}))


def run_goal(goal_row: tuple[str, str, str, float], args: argparse.Namespace, url: str, folder: str) -> dict[str, Any]:
    goal, key, baseline_name, goal_ratio = goal_row
    ratios, project_rates, baseline_rates, rss = [], [], [], []
    for _ in range(args.runs):
        project = measure(f"project_{key}", url, folder, args.project_root, args.size)
        baseline = measure(f"baseline_{key}", url, folder, args.project_root, args.size)
        project_rates.append(project["bytes"] / project["seconds"] / 1e6)
        baseline_rates.append(baseline["bytes"] / baseline["seconds"] / 1e6)
        ratios.append(project_rates[-1] / baseline_rates[-1])
        rss.append(project["rss"])
    entry = {
        "goal": goal,
        "project": round(statistics.median(project_rates), 1),
        "baseline": round(statistics.median(baseline_rates), 1),
        "baseline_name": baseline_name,
        "ratio_min": round(min(ratios), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "goal_ratio": goal_ratio,
        "unit": "MB/s",
        "size": args.size,
        "peak_rss_mib": round(max(rss), 1),
    }
    if not args.no_alternative:  # once per size: the users' pick, not the ratio's baseline
        alternative = measure(f"alternative_{key}", url, folder, args.project_root, args.size)
        entry["alternative"] = round(alternative["bytes"] / alternative["seconds"] / 1e6, 1)
        entry["alternative_name"] = ALTERNATIVE_NAME
    print(
        f"{TITLES[goal]}: project {entry['project']} MB/s, {baseline_name} {entry['baseline']} MB/s, ratio "
        f"{entry['ratio_min']}/{entry['ratio_median']}/{entry['ratio_max']} (min/median/max); "
        f"peak RSS {entry['peak_rss_mib']} MiB"
    )
    return entry


if __name__ == "__main__":
    main()
