"""Peak memory of a streamed ``transform`` over a file reference vs. the naive PythonOperator-style code.

Both variants read the same NDJSON file, keep records with ``score >= 50``, reshape them (two computed fields,
one renamed, one dropped) and write NDJSON:

* ``streamed``: ``TransformRuntime`` with a FileReference input and ``output_path`` (records flow one at a time
  through the operations into the atomic RecordWriter);
* ``sorted``: ``streamed`` plus a ``sort_by`` (memory bounded by ``sort_buffer_records``, runs spilled to disk);
* ``naive``: what a user writes in a ``@task``/PythonOperator: load every record into a list, list
  comprehension, dump the result.

Each variant runs in a fresh subprocess; the figure is the peak RSS (``ru_maxrss``) minus the RSS after imports,
i.e. the memory the work itself needed. Run::

    .venv/bin/python benchmarks/transform_memory_benchmark.py                 # 100k, 300k, 1M records
    .venv/bin/python benchmarks/transform_memory_benchmark.py --sizes 10000 100000
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

ROOT = Path(__file__).resolve().parent.parent
SORT_BUFFER = 50_000
OPERATIONS = [
    {"filter": "score >= `50`"},
    {"map": {"name_upper": "upper(name)", "n_tags": "length(tags)"}},
    {"rename": {"city": "town"}},
    {"drop": ["payload"]},
]


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(path: Path, n: int) -> None:
    with path.open("w") as handle:
        for i in range(n):
            record = {
                "id": i,
                "name": f"user-{i}",
                "score": (i * 37) % 100,
                "city": ("Paris", "Lagos", "Lima", "Oslo")[i % 4],
                "tags": ["a", "b", "c"][: i % 4],
                "payload": "x" * 40,
            }
            handle.write(json.dumps(record) + "\n")


def run_streamed(base: str, n: int, *, sort: bool = False) -> dict[str, float]:
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime
    from airflow_provider_flow.records.reference import FileReference

    after_imports = _rss_mib()
    size = os.path.getsize(os.path.join(base, "in.ndjson"))
    import hashlib

    sha = hashlib.sha256()
    with open(os.path.join(base, "in.ndjson"), "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    ref = FileReference(
        path="in.ndjson", base_path=base, format="ndjson", records=n, bytes=size, sha256=sha.hexdigest()
    )
    values: dict[str, object] = {"operations": OPERATIONS, "output_path": "out.ndjson", "base_path": base}
    if sort:
        values["operations"] = [*OPERATIONS, {"sort_by": {"key": "score", "reverse": True}}]
        values["sort_buffer_records"] = SORT_BUFFER
    config = validate_config(TransformConfig, values)
    state = ExecutionState(settings=StaticSettingsProvider())
    started = time.perf_counter()
    out = TransformRuntime().execute(config, ref, state)
    elapsed = time.perf_counter() - started
    assert isinstance(out, FileReference)
    return {"after_imports": after_imports, "peak": _peak_mib(), "seconds": elapsed, "records_out": out.records}


def run_naive(base: str, n: int) -> dict[str, float]:
    after_imports = _rss_mib()
    started = time.perf_counter()
    with open(os.path.join(base, "in.ndjson")) as handle:
        records = [json.loads(line) for line in handle]
    out = [
        {
            **{("town" if k == "city" else k): v for k, v in r.items() if k != "payload"},
            "name_upper": r["name"].upper(),
            "n_tags": len(r["tags"]),
        }
        for r in records
        if r["score"] >= 50
    ]
    with open(os.path.join(base, "out_naive.ndjson"), "w") as handle:
        for r in out:
            handle.write(json.dumps(r) + "\n")
    elapsed = time.perf_counter() - started
    return {"after_imports": after_imports, "peak": _peak_mib(), "seconds": elapsed, "records_out": len(out)}


def child(variant: str, base: str, n: int) -> None:
    result = run_naive(base, n) if variant == "naive" else run_streamed(base, n, sort=variant == "sorted")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "BASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    print(
        f"{'records':>9} {'file MiB':>9} | {'streamed MiB':>12} {'s':>6} | {'naive MiB':>10} {'s':>6} | "
        f"{'+sort_by MiB':>12} {'s':>6} | out"
    )
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="apf-bench-") as tmp:
            base = os.path.realpath(tmp)
            generate(Path(base, "in.ndjson"), n)
            file_mib = os.path.getsize(os.path.join(base, "in.ndjson")) / 2**20
            results = {}
            for variant in ("streamed", "naive", "sorted"):
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", variant, base, str(n)],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            s, v, o = results["streamed"], results["naive"], results["sorted"]
            assert s["records_out"] == v["records_out"] == o["records_out"], (s, v, o)
            print(
                f"{n:>9} {file_mib:>9.1f} | {s['peak'] - s['after_imports']:>12.1f} {s['seconds']:>6.1f} | "
                f"{v['peak'] - v['after_imports']:>10.1f} {v['seconds']:>6.1f} | "
                f"{o['peak'] - o['after_imports']:>12.1f} {o['seconds']:>6.1f} | {s['records_out']}"
            )
    print("MiB = peak RSS minus RSS after imports (the memory the transform itself needed).")
    print(f"+sort_by = the same operations plus sort_by with sort_buffer_records={SORT_BUFFER} (spills sorted runs).")


if __name__ == "__main__":
    main()
