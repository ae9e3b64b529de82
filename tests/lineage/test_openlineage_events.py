"""OpenLineage events of a real DAG run (http.source -> transform -> file.sink), written by OL's file transport.

The DAG runs with ``dag.test()`` in a child process configured for OpenLineage (see ``ol_dag_run.py``) against
the suite's loopback HTTP server; the events file is then read back here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import TESTS_DIR

PASSWORD = "Ln-Conn-Pa55word"
TOKEN = "Ln-Query-T0ken"


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _task_event(events: list[dict[str, Any]], task: str, kind: str) -> dict[str, Any]:
    found = [e for e in events if e["job"]["name"] == f"lineage_e2e.{task}" and e["eventType"] == kind]
    assert found, f"no {kind} event for {task}: {[(e['job']['name'], e['eventType']) for e in events]}"
    return found[-1]


def test_events_name_datasets_schema_and_columns(airflow_db, http_server, tmp_path: Path) -> None:
    base = tmp_path / "data"
    base.mkdir()
    events_file = tmp_path / "events.ndjson"
    host, port = http_server.url.removeprefix("http://").split(":")
    env = {
        **os.environ,
        "AIRFLOW_CONN_LINEAGE_API": json.dumps(
            {"conn_type": "http", "host": host, "port": int(port), "schema": "http", "login": "u", "password": PASSWORD}
        ),
    }
    args = {"server": http_server.url, "base": str(base), "events": str(events_file), "token": TOKEN}
    run = subprocess.run(
        [sys.executable, "-m", "tests.lineage.ol_dag_run", json.dumps(args)],
        cwd=TESTS_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [x for x in run.stdout.splitlines() if x.startswith("LINEAGE_RESULT ")]
    assert lines, run.stdout[-3000:]
    summary = json.loads(lines[-1].removeprefix("LINEAGE_RESULT "))
    assert summary["tasks"] == {"fetch": "success", "shape": "success", "store": "success"}, summary

    text = events_file.read_text()
    assert PASSWORD not in text and TOKEN not in text and "token=" not in text
    events = _events(events_file)
    raw, shaped, final = (
        str(base.resolve() / p) for p in ("raw/items.ndjson", "shaped/items.ndjson", "final/items.json")
    )
    api = (f"http://{host}:{port}", "/cursor/items")

    start = _task_event(events, "fetch", "START")
    assert [(d["namespace"], d["name"]) for d in start["inputs"]] == [api]
    assert [(d["namespace"], d["name"]) for d in start["outputs"]] == [("file", raw)]

    fetch = _task_event(events, "fetch", "COMPLETE")
    assert [(d["namespace"], d["name"]) for d in fetch["inputs"]] == [api]
    (out,) = fetch["outputs"]
    assert (out["namespace"], out["name"]) == ("file", raw)
    schema = [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]]
    assert schema == [("id", "integer"), ("name", "string")]
    ids = out["facets"]["columnLineage"]["fields"]["id"]["inputFields"]
    assert [(i["namespace"], i["name"], i["field"]) for i in ids] == [(*api, "id")]

    shape = _task_event(events, "shape", "COMPLETE")
    assert [(d["namespace"], d["name"]) for d in shape["inputs"]] == [("file", raw)]
    (out,) = shape["outputs"]
    assert (out["namespace"], out["name"]) == ("file", shaped)
    assert {f["name"]: f["type"] for f in out["facets"]["schema"]["fields"]} == {"label": "string", "key": "integer"}
    columns = out["facets"]["columnLineage"]["fields"]
    assert set(columns) == {"key", "label"}
    (key,) = columns["key"]["inputFields"]
    assert (key["name"], key["field"], key["transformations"][0]["subtype"]) == (raw, "id", "IDENTITY")
    (label,) = columns["label"]["inputFields"]
    assert (label["name"], label["field"]) == (raw, "name")
    assert label["transformations"][0] == {"type": "DIRECT", "subtype": "TRANSFORMATION", "description": "upper(name)"}

    store = _task_event(events, "store", "COMPLETE")
    assert [(d["namespace"], d["name"]) for d in store["inputs"]] == [("file", shaped)]
    (out,) = store["outputs"]
    assert (out["namespace"], out["name"]) == ("file", final)
    assert sorted(f["name"] for f in out["facets"]["schema"]["fields"]) == ["key", "label"]
    label_src = out["facets"]["columnLineage"]["fields"]["label"]["inputFields"]
    assert [(i["name"], i["field"]) for i in label_src] == [(shaped, "label")]


def test_importing_the_operators_does_not_import_openlineage() -> None:
    """Airflow's providers manager reads every provider's info module; nothing else of OpenLineage may load."""
    code = (
        "import sys\n"
        "import airflow_provider_flow.operators.http, airflow_provider_flow.operators.file\n"
        "import airflow_provider_flow.operators.transform, airflow_provider_flow.operators.ai\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('openlineage', 'airflow.providers.openlineage.'))\n"
        "             and m != 'airflow.providers.openlineage.get_provider_info')\n"
        "print(bad)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__OPENLINEAGE", "OPENLINEAGE"))}
    run = subprocess.run([sys.executable, "-c", code], cwd=TESTS_DIR.parent, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
