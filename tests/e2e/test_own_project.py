"""The README's "Use it in your own project" section, run as written: a fresh AIRFLOW_HOME, its bash lines in one
shell (``airflow db migrate``, the ``AIRFLOW_CONN_*`` exports, ``airflow connections get``, ``airflow dags test``),
and its DAG saved in the dags folder. Only the placeholders change: the API host becomes a local test server, the
data folder and ``~/airflow`` temp folders; ``pip install`` lines are skipped (the package is installed here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.http_server import FlowHttpServer, RecordedRequest

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Use it in your own project"
pytestmark = pytest.mark.e2e

ORDERS = [{"id": 1, "amount": 10}, {"id": 2, "amount": 35}, {"id": 3, "amount": 20.5}]


def _section() -> str:
    text = (REPO / "README.md").read_text()
    assert SECTION in text, "the README lost its 'Use it in your own project' section"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _orders(req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps({"data": ORDERS}).encode()


def test_readme_own_project_section_runs_as_written(http_server: FlowHttpServer, tmp_path: Path) -> None:
    section = _section()
    [dag_code] = _blocks(section, "python")
    script_lines = [line for block in _blocks(section, "bash") for line in block.splitlines()]
    assert any(line.startswith("pip install") for line in script_lines)
    script = "\n".join(["set -euo pipefail", *(line for line in script_lines if not line.startswith("pip install"))])
    assert "airflow db migrate" in script and "airflow dags test shop_orders" in script

    home, data = tmp_path / "airflow-home", tmp_path / "flow-data"
    script = (
        script.replace("~/airflow", str(home))
        .replace("https://shop.example.com", http_server.url)
        .replace("/srv/flow-data", str(data))
    )
    http_server.add_route("/api/orders", _orders)
    # the section says where the DAG goes; the script's own mkdir -p makes the folder first, so does this
    dag_path = Path(re.search(r"Save this as `\$AIRFLOW_HOME/(\S+)`", section).group(1))  # type: ignore[union-attr]
    (home / dag_path).parent.mkdir(parents=True)
    (home / dag_path).write_text(dag_code)

    # a user's shell: no AIRFLOW_* from this test session, the venv's bin (with `airflow`) on PATH
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]

    assert http_server.url.split("//")[1] in output  # `airflow connections get shop_api` showed the env-var one
    assert re.search(r"Marking run .*shop_orders.* successful|state=success|DagRunState.SUCCESS", output), output[
        -3000:
    ]
    [written] = list((data / "orders").glob("*.ndjson"))
    records = [json.loads(line) for line in written.read_text().splitlines()]
    assert records == [{"id": 2, "amount": 35}, {"id": 3, "amount": 20.5}]
    assert http_server.hits("/api/orders") == 1
    assert (home / "airflow.db").exists()
