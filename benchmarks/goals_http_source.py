"""http.source against the limit: NDJSON pass-through and JSON pages with ``records_path`` (issue 11 goals).

Every contender fetches the same bytes from the fast loopback server (``tests/fixtures/fast_server.py``, its own
process, pre-built bodies, Nagle off) and ends with an NDJSON file; each runs in a fresh child process per run
(peak RSS is its own), contenders interleaved run by run so load hits them alike.

* ``http_source_ndjson``: ``HttpSourceRuntime`` (``response_format: ndjson``, ``output_path``) vs plain httpx
  streaming the bytes to a file (goal >= 0.5x); also ``curl -o`` and ``HttpOperator`` + writing the file.
* ``http_source_pages``: ``HttpSourceRuntime`` (cursor pages, ``records_path: items``) vs the same runtime as it was
  on ``--today-ref`` (the code when issue 11 was filed, extracted with ``git archive``; goal >= 3x), next to an
  orjson loop (httpx + ``orjson.loads`` + one ``orjson.dumps`` line per record) and ``HttpOperator``.
* ``http_source_pages_rss``: the project's peak RSS on the pages run against the 150 MiB budget (ratio = 150 /
  peak, goal >= 1).

``--size`` is megabytes of body (1000 records of ~1 KB per MB). Run:
``PYTHONPATH=. .venv/bin/python benchmarks/goals_http_source.py --size 50 --runs 3``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _report import (
    ROOT,
    GoalResult,
    add_contract_arguments,
    airflow_env,
    emit,
    profiled,
    python_env,
    ratio_stats,
    run_child,
    summarise,
    wanted,
    worker_emit,
)

#: main when issue 11 was filed: "today's throughput" of the pages goal is this code, measured in the same run.
TODAY_REF = "2faa5fecb872e7a3a38d47faeeb3eb13c193cf1b"
PAD = 900
PER_PAGE = 1000
RSS_BUDGET_MIB = 150.0
CONN_ID = "bench_http"


def _state(url: str) -> Any:
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.http.settings import HttpSettings

    return ExecutionState(settings=StaticSettingsProvider(http={"bench": HttpSettings(base_url=url)}))


def _runtime(url: str, out: Path, **config: Any) -> dict[str, Any]:
    import airflow_provider_flow
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.nodes.http_source import HttpSourceConfig, HttpSourceRuntime

    values = {"http_conn_id": "bench", "output_path": out.name, "base_path": str(out.parent), **config}
    model = validate_config(HttpSourceConfig, values)
    state = _state(url)
    started = time.perf_counter()
    ref = HttpSourceRuntime().execute(model, None, state)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "records": ref.records, "bytes": ref.bytes, "code": airflow_provider_flow.__file__}


def _airflow_context() -> Any:
    ti = SimpleNamespace(dag_id="bench", task_id="bench", run_id="bench_run", try_number=1, max_tries=0)
    return {"ti": ti, "params": {}, "logical_date": None}


def _write_lines(records: Any, out: Path) -> int:
    import orjson

    count = 0
    with open(out, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
            count += 1
    return count


def worker(name: str, url: str, records: int, out: Path) -> dict[str, Any]:
    import httpx

    httpx.Client().close()  # one-time process costs (SSL context, lazy imports) stay out of every contender's time
    pages = max(1, records // PER_PAGE)
    page_query = {"pages": pages, "per_page": PER_PAGE, "pad": PAD}
    if name == "project_ndjson":
        return _runtime(url, out, endpoint="/ndjson", params={"records": records, "pad": PAD}, response_format="ndjson")
    if name in ("project_pages", "today_pages"):
        return _runtime(
            url,
            out,
            endpoint="/pages",
            params=page_query,
            records_path="items",
            pagination={"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"},
            max_pages=pages + 1,
        )
    if name == "httpx_ndjson":
        started = time.perf_counter()
        source = f"{url}/ndjson?records={records}&pad={PAD}"
        with httpx.Client() as client, client.stream("GET", source) as reply, open(out, "wb") as handle:
            for chunk in reply.iter_bytes():
                handle.write(chunk)
        return {"seconds": time.perf_counter() - started, "bytes": out.stat().st_size}
    if name == "curl_ndjson":
        started = time.perf_counter()
        subprocess.run(["curl", "-sf", "-o", str(out), f"{url}/ndjson?records={records}&pad={PAD}"], check=True)
        return {"seconds": time.perf_counter() - started, "bytes": out.stat().st_size}
    if name == "orjson_pages":
        import orjson

        started = time.perf_counter()
        count = 0
        with httpx.Client() as client, open(out, "wb") as handle:
            page: int | None = 1
            while page is not None:
                body = orjson.loads(client.get(f"{url}/pages", params={**page_query, "page": page}).content)
                for record in body["items"]:
                    handle.write(orjson.dumps(record) + b"\n")
                    count += 1
                page = body["next_page"]
        return {"seconds": time.perf_counter() - started, "records": count, "bytes": out.stat().st_size}
    if name in ("httpoperator_ndjson", "httpoperator_pages"):
        return _http_operator(name, records, pages, out)
    raise SystemExit(f"unknown worker {name!r}")


def _http_operator(name: str, records: int, pages: int, out: Path) -> dict[str, Any]:
    """What a user writes today: HttpOperator (text of every page, as it would go to XCom), then the file."""
    import orjson
    from airflow.providers.http.operators.http import HttpOperator

    if name == "httpoperator_ndjson":
        op = HttpOperator(
            task_id="h", http_conn_id=CONN_ID, endpoint="/ndjson", method="GET", data={"records": records, "pad": PAD}
        )
        started = time.perf_counter()
        text = op.execute(_airflow_context())
        count = _write_lines((orjson.loads(line) for line in text.splitlines()), out)
        return {"seconds": time.perf_counter() - started, "records": count, "bytes": out.stat().st_size}
    query = {"pages": pages, "per_page": PER_PAGE, "pad": PAD, "page": 1}

    def next_page(response: Any) -> dict[str, Any] | None:
        nxt = response.json()["next_page"]
        return {"data": {**query, "page": nxt}} if nxt else None

    op = HttpOperator(
        task_id="h", http_conn_id=CONN_ID, endpoint="/pages", method="GET", data=query, pagination_function=next_page
    )
    started = time.perf_counter()
    texts = op.execute(_airflow_context())
    count = _write_lines((r for text in texts for r in orjson.loads(text)["items"]), out)
    return {"seconds": time.perf_counter() - started, "records": count, "bytes": out.stat().st_size}


def extract_today(ref: str, into: str) -> str:
    """The package as it was at ``ref`` (``git archive``), for a PYTHONPATH that shadows the working tree."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "airflow_provider_flow"], capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"cannot extract {ref} for the 'today' baseline: {archive.stderr.decode()[-500:]}")
    os.makedirs(into, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", into], input=archive.stdout, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_contract_arguments(parser, default_size=50)
    parser.add_argument("--today-ref", default=TODAY_REF, help="git commit whose code is 'today' for the pages goal")
    parser.add_argument("--no-alternative", action="store_true", help="skip HttpOperator (slow to import)")
    parser.add_argument("--worker", nargs=4, metavar=("NAME", "URL", "RECORDS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, url, records, out = args.worker
        worker_emit(profiled(f"http_source-{name}-{records}", lambda: worker(name, url, int(records), Path(out))))
        return 0

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.fast_server import serve_in_subprocess

    records = max(PER_PAGE, int(args.size * 1000))
    results: list[GoalResult] = []
    with tempfile.TemporaryDirectory(prefix="apf-goals-http-") as tmp, serve_in_subprocess() as url:
        env = python_env()
        air_env = airflow_env(CONN_ID, url, tmp)
        today_env = {**env, "PYTHONPATH": extract_today(args.today_ref, os.path.join(tmp, "today")) + ":" + str(ROOT)}

        def measure(name: str, run_env: dict[str, str]) -> dict[str, Any]:
            out = Path(tmp, f"{name}.ndjson")
            child = run_child([sys.executable, __file__, "--worker", name, url, str(records), str(out)], env=run_env)
            result = child.worker_result()
            out.unlink(missing_ok=True)
            return result

        runs: dict[str, list[dict[str, Any]]] = {}
        plan = []
        if wanted(args, "http_source_ndjson"):
            plan += [("project_ndjson", env), ("httpx_ndjson", env)]
            plan += [("curl_ndjson", env)] if shutil.which("curl") else []
        if wanted(args, "http_source_pages") or wanted(args, "http_source_pages_rss"):
            plan += [("project_pages", env), ("today_pages", today_env), ("orjson_pages", env)]
        for _ in range(args.runs):
            for name, run_env in plan:
                runs.setdefault(name, []).append(measure(name, run_env))
        if not args.no_alternative:  # once per size: it is the users' pick, not the ratio's baseline
            for kind in ("ndjson", "pages"):
                if f"project_{kind}" in runs:
                    runs[f"httpoperator_{kind}"] = [measure(f"httpoperator_{kind}", air_env)]
        if "today_pages" in runs:
            assert all(r["code"].startswith(os.path.join(tmp, "today")) for r in runs["today_pages"]), runs
        mb = lambda key: runs[key][0]["bytes"] / 1e6  # noqa: E731 - bytes written by that contender
        if "project_ndjson" in runs:
            curl = runs.get("curl_ndjson")
            note = f"curl -o: {mb('curl_ndjson') / _median_seconds(curl):.0f} MB/s" if curl else "curl not installed"
            results.append(
                summarise(
                    "http_source_ndjson",
                    project=runs["project_ndjson"],
                    baseline=runs["httpx_ndjson"],
                    work=mb("project_ndjson"),
                    unit="MB/s",
                    size=args.size,
                    goal_ratio=0.5,
                    baseline_name="httpx bytes to a file",
                    alternative=runs.get("httpoperator_ndjson", []),
                    alternative_name="HttpOperator + write",
                    note=note,
                )
            )
        if "project_pages" in runs:
            orjson_loop = runs["orjson_pages"]
            pages = summarise(
                "http_source_pages",
                project=runs["project_pages"],
                baseline=runs["today_pages"],
                work=mb("project_pages"),
                unit="MB/s",
                size=args.size,
                goal_ratio=3.0,
                baseline_name=f"same runtime at {args.today_ref[:7]} (today)",
                alternative=runs.get("httpoperator_pages", []),
                alternative_name="HttpOperator + write",
                note=f"orjson parse+write loop: {mb('orjson_pages') / _median_seconds(orjson_loop):.0f} MB/s",
            )
            results.append(pages)
            peaks = [r["peak_rss_mib"] for r in runs["project_pages"]]
            low, mid, high = ratio_stats([RSS_BUDGET_MIB / p for p in peaks])
            results.append(
                GoalResult(
                    goal="http_source_pages_rss",
                    project=max(peaks),
                    baseline=RSS_BUDGET_MIB,
                    ratio_min=low,
                    ratio_median=mid,
                    ratio_max=high,
                    goal_ratio=1.0,
                    unit="MiB peak RSS",
                    size=args.size,
                    peak_rss_mib=max(peaks),
                    baseline_name="150 MiB budget",
                    seconds=pages.seconds,
                    runs=len(peaks),
                    note="ratio = 150 MiB / peak RSS of the pages run",
                )
            )
    emit(results)
    return 0


def _median_seconds(runs: list[dict[str, Any]]) -> float:
    return sorted(r["seconds"] for r in runs)[len(runs) // 2]


if __name__ == "__main__":
    sys.exit(main())
