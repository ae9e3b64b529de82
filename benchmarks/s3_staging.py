"""Staging in S3: file.sink, http.source and ObjectStorage.atomic_write next to boto3's upload_fileobj, on SeaweedFS.

What the atomic guarantees (confinement, per-part MD5 check, server part list verified before the commit, abort on
error, no clobbering) cost in throughput and memory, next to:

* the raw limit: ``boto3`` ``upload_fileobj`` of the same bytes from a file (default TransferConfig: 8 MiB parts,
  10 threads), no checks;
* what users pick: records -> ``json.dumps`` lines into a ``BytesIO`` -> ``upload_fileobj`` in a PythonOperator
  (the whole output held in memory).

http.source -> S3 (``output_path`` with ``base_uri``) is measured twice, from a local HTTP server in the parent
process serving pre-built bodies (so the server costs no JSON encoding per request): JSON pages (``records_path``
+ cursor pagination, 1,000 records a page, parsed and re-encoded as NDJSON) and one NDJSON body. Its baseline is
``upload_fileobj`` of *the same bytes* (the object http.source wrote, downloaded once to a file).

The script starts its own SeaweedFS (``tests/s3_server.py``, on free 127.0.0.1 ports) and runs each case in a
fresh process, several times, the project and its baseline paired run by run (so load hits both alike); it prints
medians of MiB/s and of peak RSS (``ru_maxrss``) and the RSS after imports, and per goal the ratio to boto3 as
min/median/max over the paired runs. The last line is ``BENCH-RESULT <json>`` (benchmarks/README.md's contract:
one object per goal, at the largest size; ``--size`` is MiB).

The servers (SeaweedFS and the HTTP bodies) run on the machine's last core and every measured client on the
others, as a worker and a remote store would: on a shared pair of cores SeaweedFS alone takes ~1.5 core-seconds per
256 MiB stored, so the client's own CPU (JSON encoding, hashing) is charged twice, once as its work and once as
the server's lost time. ``--shared-cores`` measures that case instead (everything on every core).

    PYTHONPATH=. .venv/bin/python benchmarks/s3_staging.py [--mib 64 256] [--runs 3] [--goals s3_http_source_pages]
        [--shared-cores]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
MIB = 1 << 20
CASES = {
    "boto3": "boto3 upload_fileobj (raw limit)",
    "atomic": "ObjectStorage.atomic_write (bytes)",
    "sink": "file.sink records -> NDJSON",
    "user": "json.dumps + BytesIO + boto3",
}
#: http.source cases: each paired with boto3 uploading the bytes it wrote.
SOURCE_CASES = {
    "source_pages": "http.source JSON pages -> S3",
    "source_ndjson": "http.source NDJSON body -> S3",
    "source_pages_local": "  the same pages -> a local file",
    "source_pages_staged": "  the same pages -> S3, retries on",
}
#: Not goals, for reference: http.source's own cost (HTTP, JSON parse and encode) without object storage, and the
#: same run when a retry may follow (pages staged in segments, then the output published from them: records/resume.py)
LOCAL_SOURCE = "source_pages_local"
STAGED_SOURCE = "source_pages_staged"
REFERENCE_SOURCES = (LOCAL_SOURCE, STAGED_SOURCE)
#: Goal id -> (project case, the goal: ratio to boto3 upload_fileobj of the same bytes, issue 12).
GOALS = {
    "s3_atomic_write": ("atomic", 0.8),  # the staging itself: bytes in, the same object out
    "s3_file_sink": ("sink", 0.8),  # + JSON encoding of every record
    "s3_http_source_pages": ("source_pages", 0.8),  # + HTTP, JSON parsing and encoding
    "s3_http_source_ndjson": ("source_ndjson", 0.8),
}
#: What users pick instead, shown as the result's ``alternative`` (same bytes, same server).
ALTERNATIVES = {"sink": "user"}
RECORDS_PER_PAGE = 1000
#: The server's volume size: with the tests' 64 MiB, every ~64 MiB written makes the master grow new volumes, a
#: stall of about a second in one request that decides a run (measured: 110-240 MiB/s for the same write, boto3
#: alike); with 1 GiB volumes the master grows them before the first run and a run measures the clients.
SERVER_VOLUME_MB = 1024


def records(mib: int) -> Iterator[dict[str, Any]]:
    """About ``mib`` MiB of NDJSON records of ~250 bytes."""
    count = mib * MIB // 250
    for i in range(count):
        yield {"id": i, "name": f"user {i} — ü", "score": i * 0.5, "note": "x" * 170}


def _rss_mib() -> float:
    """This process's peak RSS: ``VmHWM`` (reset by exec; ``ru_maxrss`` keeps the forking parent's peak, and the
    parent holds the HTTP bodies), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _boto3(env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT"],
        aws_access_key_id=env["S3_KEY"],
        aws_secret_access_key=env["S3_SECRET"],
        region_name="us-east-1",
    )


def worker(case: str, mib: int, data_file: str) -> dict[str, float]:
    """One measured run in this (fresh) process: returns seconds, bytes, and RSS after imports and at the peak."""
    import s3fs  # noqa: F401  (imported before the baseline, like boto3)

    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
    from airflow_provider_flow.storage.object_keys import parse_base_uri
    from airflow_provider_flow.storage.object_store import ObjectStorage
    from tests.fixtures.s3 import make_fs

    env = dict(os.environ)
    location = parse_base_uri(f"s3://bench_conn@{BUCKET}/{case}")
    client = _boto3(env)
    fs = make_fs(env["S3_ENDPOINT"], env["S3_KEY"], env["S3_SECRET"], attempts=3)
    # make_fs makes the client before the clock starts, like boto3's above
    if case in SOURCE_CASES:  # imported before the clock starts, like the others
        import airflow_provider_flow.http.settings
        import airflow_provider_flow.nodes.http_source  # noqa: F401
    baseline = _rss_mib()
    started = time.perf_counter()
    if case == "boto3":
        with open(data_file, "rb") as fh:
            client.upload_fileobj(fh, BUCKET, f"{case}/out.ndjson")
        size = os.path.getsize(data_file)
    elif case == "atomic":
        store = ObjectStorage(fs, location)
        with open(data_file, "rb") as fh, store.atomic_write("out.ndjson") as writer:
            while chunk := fh.read(MIB):
                writer.write(chunk)
        size = writer.bytes
    elif case == "sink":
        state = ExecutionState(settings=StaticSettingsProvider(object_storage={f"s3://bench_conn@{BUCKET}": fs}))
        config = validate_config(
            FileSinkConfig, {"base_uri": location.uri, "conn_id": "bench_conn", "path": "out.ndjson"}
        )
        size = FileSinkRuntime().execute(config, records(mib), state).bytes
    elif case in SOURCE_CASES:
        size = _http_source(case, env, fs, location)
    else:
        buffer = io.BytesIO()
        for record in records(mib):
            buffer.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        size = buffer.tell()
        buffer.seek(0)
        client.upload_fileobj(buffer, BUCKET, f"{case}/out.ndjson")
    elapsed = time.perf_counter() - started
    if case not in REFERENCE_SOURCES:
        head = client.head_object(Bucket=BUCKET, Key=f"{case}/out.ndjson")
        assert head["ContentLength"] == size, (head["ContentLength"], size)
    return {"seconds": elapsed, "bytes": size, "baseline_rss": baseline, "peak_rss": _rss_mib()}


def _http_source(case: str, env: dict[str, str], fs: Any, location: Any) -> int:
    """http.source from the parent's server to ``<case>/out.ndjson``; returns the bytes it published."""
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    settings = StaticSettingsProvider(
        object_storage={f"s3://bench_conn@{BUCKET}": fs}, http={"api": HttpSettings(base_url=env["HTTP_URL"])}
    )
    config: dict[str, Any] = {"http_conn_id": "api", "base_uri": location.uri, "conn_id": "bench_conn"}
    if case == LOCAL_SOURCE:
        config = {"http_conn_id": "api", "base_path": tempfile.mkdtemp(prefix="apf-s3-bench-local-")}
    if case != "source_ndjson":
        pagination = {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"}
        config.update(endpoint="/pages", records_path="items", pagination=pagination, max_pages=100_000)
    else:
        # one body of the whole size: over http.source's default bound for a single response
        config.update(endpoint="/ndjson", response_format="ndjson", max_response_bytes=1 << 40)
    model = validate_config(HttpSourceConfig, {**config, "output_path": "out.ndjson"})
    retries = 1 if case == STAGED_SOURCE else 0  # a try that may be retried stages its pages
    ref = HttpSourceRuntime().execute(model, None, ExecutionState(settings=settings, max_tries=retries))
    if case == LOCAL_SOURCE:
        os.unlink(os.path.join(config["base_path"], "out.ndjson"))
        os.rmdir(config["base_path"])
    return int(ref.bytes)


class _Bodies(ThreadingHTTPServer):
    """Pre-built bodies: ``/pages?page=n`` (JSON, ``next_page`` cursor) and ``/ndjson`` (one body)."""

    daemon_threads = True

    def __init__(self, mib: int) -> None:
        super().__init__(("127.0.0.1", 0), _BodyHandler)
        lines = [json.dumps(r, ensure_ascii=False).encode() for r in records(mib)]
        self.ndjson = b"\n".join(lines) + b"\n"
        self.pages: list[bytes] = []
        count = (len(lines) + RECORDS_PER_PAGE - 1) // RECORDS_PER_PAGE
        for n in range(count):
            chunk = lines[n * RECORDS_PER_PAGE : (n + 1) * RECORDS_PER_PAGE]
            nxt = json.dumps(n + 2 if n + 1 < count else None).encode()
            self.pages.append(b'{"items": [' + b", ".join(chunk) + b'], "next_page": ' + nxt + b"}")


class _BodyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Bodies

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/ndjson":
            body, kind = self.server.ndjson, "application/x-ndjson"
        else:
            page = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("page", "1"))
            body, kind = self.server.pages[page - 1], "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


#: The cores measured clients run on (None: every core); set by :func:`main` from ``--shared-cores``.
CLIENT_CORES: set[int] | None = None


def split_cores(shared: bool) -> str:
    """Put this process (and so the servers it starts) on the last core and the clients on the others; returns
    what was done, for the header. Nothing to split on one core or when ``shared``."""
    global CLIENT_CORES
    cores = sorted(os.sched_getaffinity(0))
    if shared or len(cores) < 2:
        return f"servers and clients share {len(cores)} core(s)"
    os.sched_setaffinity(0, {cores[-1]})  # threads and processes started from here on inherit it
    CLIENT_CORES = set(cores[:-1])
    return f"servers on core {cores[-1]}, clients on core(s) {','.join(map(str, cores[:-1]))}"


def _on_client_cores() -> None:
    if CLIENT_CORES:
        os.sched_setaffinity(0, CLIENT_CORES)


def run_case(case: str, mib: int, data_file: str, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", case, "--mib", str(mib), "--data", data_file]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, preexec_fn=_on_client_cores
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{case} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(lines[-1][len("RESULT ") :])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[64, 256], help="output sizes in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, help="one output size in MiB (the benchmark runner's contract)")
    parser.add_argument("--goals", default="", help="comma-separated goal ids (default: all)")
    parser.add_argument("--note", default="", help="added to every result, e.g. 'machine shared with 7 jobs'")
    parser.add_argument(
        "--shared-cores", action="store_true", help="run servers and clients on every core (default: split them)"
    )
    parser.add_argument("--worker", choices=[*CASES, *SOURCE_CASES], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from _report import profiling  # BENCH_PROFILE_DIR: benchmarks/README.md

        with profiling(__file__, args.worker, args.mib[0]):
            result = worker(args.worker, args.mib[0], args.data)
        print("RESULT " + json.dumps(result), flush=True)
        return

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.s3 import admin_client
    from tests.s3_server import start_seaweed

    cores = split_cores(args.shared_cores)
    note = "; ".join(filter(None, [cores, args.note]))
    server = start_seaweed(volume_size_limit_mb=SERVER_VOLUME_MB)
    try:
        admin = admin_client(server)
        admin.create_bucket(Bucket=BUCKET)
        # the bucket's first write makes the master grow its volumes (seconds): done here, not in a measured run
        admin.put_object(Bucket=BUCKET, Key="warm-up", Body=b"x")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "S3_ENDPOINT": server.endpoint,
            "S3_KEY": server.access_key,
            "S3_SECRET": server.secret_key,
        }
        print(f"SeaweedFS on 127.0.0.1, {cores}; fresh process per run, median of {args.runs} runs (order rotated)\n")
        print(f"{'':36} {'MiB':>5} {'MiB/s':>7} {'x boto3':>8} {'peak RSS MiB':>13} {'after import':>13}")
        sizes = [args.size] if args.size else args.mib
        wanted = {g for g in args.goals.split(",") if g} or set(GOALS)
        results: list[dict[str, Any]] = []
        for mib in sizes:
            paired: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {}
            if wanted & {"s3_file_sink", "s3_atomic_write"}:
                paired.update(_sink_group(mib, args.runs, env))
            sources = [case for goal, (case, _) in GOALS.items() if goal in wanted and case in SOURCE_CASES]
            sources += list(REFERENCE_SOURCES) if "source_pages" in sources else []
            if sources:
                paired.update(_source_group(mib, args.runs, env, server, sources))
            if mib == max(sizes):
                results = [
                    {**_result(goal, case, ratio, paired[case], mib, note), **_alternative(case, paired)}
                    for goal, (case, ratio) in GOALS.items()
                    if case in paired and goal in wanted
                ]
            print()
        for result in results:
            print(
                f"{result['goal']:24} {result['size']:>5} MiB: x boto3 min {result['ratio_min']:.2f} / median "
                f"{result['ratio_median']:.2f} / max {result['ratio_max']:.2f} (goal {result['goal_ratio']}), "
                f"peak RSS {result['peak_rss_mib']:.0f} MiB"
            )
        print("BENCH-RESULT " + json.dumps(results), flush=True)
    finally:
        server.stop()


def _rate(run: dict[str, float]) -> float:
    return run["bytes"] / MIB / run["seconds"]


def _row(label: str, runs: list[dict[str, float]], boto3: list[dict[str, float]]) -> None:
    rate = statistics.median(_rate(r) for r in runs)
    ratio = rate / statistics.median(_rate(r) for r in boto3)
    peak = statistics.median(r["peak_rss"] for r in runs)
    base = statistics.median(r["baseline_rss"] for r in runs)
    size = runs[0]["bytes"] / MIB
    print(f"{label:36} {size:>5.1f} {rate:>7.1f} {ratio:>7.2f}x {peak:>13.0f} {base:>13.0f}")


def _sink_group(
    mib: int, runs: int, env: dict[str, str]
) -> dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]]:
    """file.sink / atomic_write / the users' way, each run next to boto3 of the same file (order rotated)."""
    with tempfile.NamedTemporaryFile(prefix="apf-s3-bench-", suffix=".ndjson") as data:
        for record in records(mib):
            data.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        data.flush()
        measured: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        order = list(CASES)
        for i in range(runs):
            for case in order[i % len(order) :] + order[: i % len(order)]:
                measured[case].append(run_case(case, mib, data.name, env))
    for case, label in CASES.items():
        _row(label, measured[case], measured["boto3"])
    return {case: (measured[case], measured["boto3"]) for case in CASES if case != "boto3"}


def _alternative(case: str, paired: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]]) -> Any:
    other = ALTERNATIVES.get(case)
    if other is None or other not in paired:
        return {}
    return {
        "alternative": round(statistics.median(_rate(r) for r in paired[other][0]), 2),
        "alternative_name": CASES[other],
    }


def _source_group(
    mib: int, runs: int, env: dict[str, str], s3: Any, cases: list[str]
) -> dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]]:
    """Each http.source case, then boto3 uploading the very bytes it published, ``runs`` times (pairs rotated)."""
    from tests.fixtures.s3 import admin_client

    bodies = _Bodies(mib)
    thread = threading.Thread(target=bodies.serve_forever, name="bench-bodies", daemon=True)
    thread.start()
    env = {**env, "HTTP_URL": f"http://127.0.0.1:{bodies.server_address[1]}"}
    paired: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {c: ([], []) for c in cases}
    copies: dict[str, str] = {}
    try:
        for i in range(runs):
            for case in cases[i % len(cases) :] + cases[: i % len(cases)]:
                project, boto3 = paired[case]
                project.append(run_case(case, mib, "", env))
                if case in REFERENCE_SOURCES:  # paired with the S3 run of the same pages instead
                    continue
                if case not in copies:  # the same bytes: what http.source published, fetched once
                    fd, copies[case] = tempfile.mkstemp(prefix="apf-s3-bench-", suffix=".ndjson")
                    with os.fdopen(fd, "wb") as out:
                        body = admin_client(s3).get_object(Bucket=BUCKET, Key=f"{case}/out.ndjson")["Body"]
                        while chunk := body.read(MIB):
                            out.write(chunk)
                boto3.append(run_case("boto3", mib, copies[case], env))
    finally:
        bodies.shutdown()
        bodies.server_close()
        for path in copies.values():
            os.unlink(path)
    for case in cases:
        project, boto3 = paired[case]
        if case in REFERENCE_SOURCES:
            _row(SOURCE_CASES[case], project, paired["source_pages"][1])
            continue
        _row(SOURCE_CASES[case], project, boto3)
        _row("  boto3 upload_fileobj, the same bytes", boto3, boto3)
    for case in REFERENCE_SOURCES:
        paired.pop(case, None)
    return paired


def _result(
    goal: str,
    case: str,
    goal_ratio: float,
    pair: tuple[list[dict[str, float]], list[dict[str, float]]],
    mib: int,
    note: str,
) -> dict[str, Any]:
    """One goal in the runner's format: ratios per paired run (project MiB/s over boto3's in the same round)."""
    project, boto3 = pair
    ratios = [_rate(p) / _rate(b) for p, b in zip(project, boto3, strict=True)]
    return {
        "goal": goal,
        "project": round(statistics.median(_rate(r) for r in project), 2),
        "baseline": round(statistics.median(_rate(r) for r in boto3), 2),
        "ratio_min": round(min(ratios), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "goal_ratio": goal_ratio,
        "unit": "MiB/s",
        "size": mib,
        "peak_rss_mib": round(max(r["peak_rss"] for r in project), 1),
        "baseline_name": "boto3 upload_fileobj of the same bytes",
        "seconds": round(statistics.median(r["seconds"] for r in project), 3),
        "runs": len(ratios),
        "note": note,
    }


if __name__ == "__main__":
    main()
