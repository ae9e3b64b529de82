"""The README's first command (``scripts/demo.py``, which ``scripts/demo.sh`` runs after bootstrap), as a user runs
it: fresh AIRFLOW_HOME, ``airflow db migrate``, demo server, ``airflow dags test flow_orders_hourly``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_demo_runs_the_scheduled_example_end_to_end(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"==> success: (\S+) holds (\d+) records", proc.stdout)
    assert match, proc.stdout
    output = Path(match.group(1))
    assert output.is_relative_to(tmp_path / "data" / "orders" / "paid")
    assert int(match.group(2)) == 72 == len(output.read_text().splitlines())
    assert (tmp_path / "airflow-home" / "airflow.db").exists()
    assert not (REPO / ".demo" / "data" / "orders" / "paid" / output.name).exists()  # nothing outside the workdir
