"""End to end on a real Airflow: ``scripts/standalone.py`` (the README's third command) with the examples.

It starts ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer; LocalExecutor, SQLite,
parallelism 4) on a free port of 127.0.0.1, then drives it through the REST API exactly as the UI does: log in,
unpause, trigger the UI-triggered example with ``conf``, wait for success, check the written file; trigger it
again with a hostile output name and check the run is refused (400 from Params validation) and nothing is
written. Every process started here is stopped by process group. About 1-2 minutes; ``-m e2e`` runs it alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "flow_export_on_demand"
pytestmark = pytest.mark.e2e


@dataclass
class Airflow:
    url: str
    home: Path
    base: Path
    client: httpx.Client


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(pgid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(pgid):
            return
        os.killpg(pgid, sig)
        deadline = time.monotonic() + 20
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)


def _wait_for_line(path: Path, pattern: str, proc: subprocess.Popen[bytes], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        match = re.search(pattern, text)
        if match:
            return match
        if proc.poll() is not None:
            pytest.fail(f"standalone driver exited ({proc.returncode}):\n{text}")
        time.sleep(0.5)
    pytest.fail(f"no {pattern!r} within {timeout}s:\n{path.read_text() if path.exists() else ''}")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    root = tmp_path_factory.mktemp("e2e")
    home, base, out = root / "home", root / "base", root / "driver.out"
    cmd = [sys.executable, str(REPO / "scripts" / "standalone.py"), "--port", "0"]
    cmd += ["--home", str(home), "--base", str(base), "--ready-timeout", "180"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    with out.open("wb") as sink:
        driver = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    airflow_pgid: int | None = None
    try:
        airflow_pgid = int(_wait_for_line(out, r"process group (\d+)", driver, 60).group(1))
        url = _wait_for_line(out, r"Airflow UI: (http://127\.0\.0\.1:\d+)", driver, 200).group(1)
        _wait_for_line(out, "READY", driver, 10)
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = httpx.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        assert token.status_code in (200, 201), token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            yield Airflow(url=url, home=home, base=base, client=client)
    finally:
        if driver.poll() is None:
            driver.send_signal(signal.SIGTERM)  # graceful: the driver stops Airflow's group and the demo server
            with contextlib.suppress(subprocess.TimeoutExpired):
                driver.wait(timeout=45)
        _kill_group(driver.pid)
        if airflow_pgid is not None:
            _kill_group(airflow_pgid)
        driver.wait(timeout=10)
        leftovers = [pgid for pgid in (driver.pid, airflow_pgid) if pgid is not None and _group_alive(pgid)]
        assert not leftovers, f"process groups still alive: {leftovers}"


def _get(client: httpx.Client, path: str, **kwargs: object) -> httpx.Response:
    """GET with a retry on timeouts: SQLite serialises writers, so the API can be slow under load."""
    for _ in range(5):
        try:
            return client.get(path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            time.sleep(1)
    return client.get(path, **kwargs)  # type: ignore[arg-type]


def _wait_for_dag(client: httpx.Client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _get(client, f"/api/v2/dags/{DAG_ID}").status_code == 200:
            return
        time.sleep(2)
    pytest.fail(f"{DAG_ID} was not parsed within {timeout}s")


def _wait_for_run(client: httpx.Client, run_id: str, timeout: float = 180) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    run: dict[str, object] = {}
    while time.monotonic() < deadline:
        run = _get(client, f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()
        if run.get("state") in ("success", "failed"):
            return run
        time.sleep(2)
    pytest.fail(f"run {run_id} not finished within {timeout}s: {run}")


def test_trigger_with_conf_then_refuse_a_hostile_output_name(airflow: Airflow) -> None:
    client = airflow.client
    _wait_for_dag(client)
    errors = _get(client, "/api/v2/importErrors").json()
    assert errors["total_entries"] == 0, errors
    assert client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).status_code == 200

    conf = {"endpoint": "/api/orders/paid", "limit": 5, "output_name": "e2e_export.json"}
    created = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    assert created.status_code == 200, created.text
    run = _wait_for_run(client, created.json()["dag_run_id"])
    assert run["state"] == "success", run
    written = airflow.base / "exports" / "e2e_export.json"
    records = json.loads(written.read_text())
    assert len(records) == 5 and {r["status"] for r in records} == {"paid"}

    outside = airflow.base.parent / "e2e_escape.ndjson"
    hostile = {"output_name": "../../e2e_escape.ndjson", "limit": 1}
    refused = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": hostile})
    assert refused.status_code == 400, refused.text
    assert "Invalid input for param output_name" in refused.json()["detail"]
    runs = _get(client, f"/api/v2/dags/{DAG_ID}/dagRuns").json()
    assert runs["total_entries"] == 1  # no run was created for the hostile conf
    assert not outside.exists()
    assert sorted(p.relative_to(airflow.base).as_posix() for p in airflow.base.rglob("*") if p.is_file()) == [
        "exports/e2e_export.json"
    ]
