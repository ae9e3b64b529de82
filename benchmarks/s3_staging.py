"""Staging in S3: file.sink and ObjectStorage.atomic_write next to boto3's upload_fileobj, on a real SeaweedFS.

What the atomic guarantees (confinement, per-part MD5 check, server part list verified before the commit, abort on
error, no clobbering) cost in throughput and memory, next to:

* the raw limit: ``boto3`` ``upload_fileobj`` of the same bytes from a file (default TransferConfig: 8 MiB parts,
  10 threads), no checks;
* what users pick: records -> ``json.dumps`` lines into a ``BytesIO`` -> ``upload_fileobj`` in a PythonOperator
  (the whole output held in memory).

The script starts its own SeaweedFS (``tests/s3_server.py``, on free 127.0.0.1 ports) and runs each case in a
fresh process, several times; it prints medians of MiB/s and of peak RSS (``ru_maxrss``) and the RSS after imports.

    PYTHONPATH=. .venv/bin/python benchmarks/s3_staging.py [--mib 64 256] [--runs 3]

http.source -> S3 is not measured: on main its ``output_path`` writes local files only.
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
import time
from collections.abc import Iterator
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


def records(mib: int) -> Iterator[dict[str, Any]]:
    """About ``mib`` MiB of NDJSON records of ~250 bytes."""
    count = mib * MIB // 250
    for i in range(count):
        yield {"id": i, "name": f"user {i} — ü", "score": i * 0.5, "note": "x" * 170}


def _rss_mib() -> float:
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
    else:
        buffer = io.BytesIO()
        for record in records(mib):
            buffer.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        size = buffer.tell()
        buffer.seek(0)
        client.upload_fileobj(buffer, BUCKET, f"{case}/out.ndjson")
    elapsed = time.perf_counter() - started
    head = client.head_object(Bucket=BUCKET, Key=f"{case}/out.ndjson")
    assert head["ContentLength"] == size, (head["ContentLength"], size)
    return {"seconds": elapsed, "bytes": size, "baseline_rss": baseline, "peak_rss": _rss_mib()}


def run_case(case: str, mib: int, data_file: str, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", case, "--mib", str(mib), "--data", data_file]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{case} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(lines[-1][len("RESULT ") :])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[64, 256], help="output sizes in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args.mib[0], args.data)), flush=True)
        return

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.s3 import admin_client
    from tests.s3_server import start_seaweed

    server = start_seaweed()
    try:
        admin_client(server).create_bucket(Bucket=BUCKET)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "S3_ENDPOINT": server.endpoint,
            "S3_KEY": server.access_key,
            "S3_SECRET": server.secret_key,
        }
        print(f"SeaweedFS on 127.0.0.1, fresh process per run, median of {args.runs} runs (case order rotated)\n")
        print(f"{'':36} {'MiB':>5} {'MiB/s':>7} {'x boto3':>8} {'peak RSS MiB':>13} {'after import':>13}")
        for mib in args.mib:
            with tempfile.NamedTemporaryFile(prefix="apf-s3-bench-", suffix=".ndjson") as data:
                for record in records(mib):
                    data.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
                data.flush()
                runs: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
                order = list(CASES)
                for i in range(args.runs):
                    for case in order[i % len(order) :] + order[: i % len(order)]:
                        runs[case].append(run_case(case, mib, data.name, env))
            rates = {c: statistics.median(r["bytes"] / MIB / r["seconds"] for r in rs) for c, rs in runs.items()}
            for case, label in CASES.items():
                peak = statistics.median(r["peak_rss"] for r in runs[case])
                base = statistics.median(r["baseline_rss"] for r in runs[case])
                size = runs[case][0]["bytes"] / MIB
                ratio = rates[case] / rates["boto3"]
                print(f"{label:36} {size:>5.1f} {rates[case]:>7.1f} {ratio:>7.2f}x {peak:>13.0f} {base:>13.0f}")
            print()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
