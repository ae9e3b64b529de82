"""End to end on a distributed Airflow: ``scripts/cluster.py`` (CeleryExecutor, two workers sharing no folder).

One cluster for the module (PostgreSQL, Redis, SeaweedFS, the demo server; api-server, scheduler, dag-processor,
triggerer, workers ``flow-worker-a``/``flow-worker-b``, each with private ``fs_default``/``flow_demo_fs`` folders),
driven through the REST API as a user would:

* the fan-out example with an inline (XCom) hand-off succeeds, and the task instances' ``hostname`` shows that
  one run's tasks ran on **both** workers;
* the same pipeline staged on the workers' private folders fails at ``merge``, on its first try although the DAG
  allows a retry, and the task log names the missing reference and the fix (stage in shared storage);
* the Params-form example, with a valid ``conf`` (the file lands in the private folder of the worker that ran
  the sink) and a hostile output name (refused with HTTP 400, no run, no file anywhere).

* the fan-out example staged in S3 (``flow_orders_fan_out_s3``) succeeds over both workers, and the result
  object in the cluster's SeaweedFS holds exactly the 120 merged orders;
* last (it leaves one worker): a worker is SIGKILLed (its whole process group) while its task is streaming an
  ~80 MB object to S3 as a multipart upload; with the cluster's heartbeat timeout at :data:`HEARTBEAT_TIMEOUT` s
  Airflow fails that try, retries it on the **other** worker, and the object exists once, complete (every record,
  no duplicate), with at most the killed try's incomplete upload left behind.

Every process the cluster started is stopped by process group; the fixture fails if one is left. About 5-6
minutes on 2 cores; ``-m e2e`` selects the e2e tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
INLINE, STAGED, EXPORT = "flow_orders_fan_out", "flow_orders_fan_out_staged", "flow_export_on_demand"
ORDERS = 120  # the demo server's orders: the three status lists together
ATTEMPTS = 3  # runs tried before giving up on seeing both workers in one run (see _run_on_both_workers)
S3_FAN_OUT, LARGE = "flow_orders_fan_out_s3", "flow_s3_large_write"
#: Seconds without a heartbeat before the scheduler fails a task: low, so the kill test's retry comes soon.
HEARTBEAT_TIMEOUT = 30
BUCKET_NAME = "flow-cluster"  # scripts/cluster.py's BUCKET, the example's default FLOW_S3_BUCKET
LARGE_RECORDS = 400_000  # about 80 MB of NDJSON: 16 parts of 5 MiB, seconds of upload to catch in progress


def _cluster_module() -> Any:
    """``scripts/cluster.py`` (scripts/ is not a package): the same code ``scripts/cluster.sh`` runs."""
    spec = importlib.util.spec_from_file_location("flow_cluster_script", REPO / "scripts" / "cluster.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def say(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Print to the terminal even when output is captured: the run's log shows the workers and hostnames."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def _say(message: str) -> None:
        with capture.global_and_fixture_disabled() if capture else _nothing():
            print(f"\n[cluster] {message}", flush=True)

    return _say


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture(scope="module")
def cluster(say: Callable[[str], None]) -> Iterator[Any]:
    module = _cluster_module()
    # Not under pytest's temp root: that is 0700 root, and PostgreSQL runs as an unprivileged user.
    workdir = Path(tempfile.mkdtemp(prefix="flow-cluster-e2e-"))
    workdir.chmod(0o711)
    cluster = module.Cluster(workdir / "cluster", heartbeat_timeout=HEARTBEAT_TIMEOUT)
    groups: dict[str, int] = {}
    try:
        with cluster:
            groups = cluster.pgids()
            say(f"ready at {cluster.url}; workers {', '.join(cluster.workers)}; process groups {groups}")
            yield cluster
    finally:
        left = {name: pgid for name, pgid in groups.items() if _group_alive(pgid)}
        shutil.rmtree(workdir, ignore_errors=True)
        assert not left, f"process groups still alive after the cluster stopped: {left}"
        say(f"stopped every process group it started ({len(groups)})")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _by_task(tis: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {ti["task_id"]: ti for ti in tis}


def _run_on_both_workers(cluster: Any, dag_id: str, say: Callable[[str], None]) -> tuple[dict[str, Any], dict]:
    """Trigger ``dag_id`` until one run's fetch tasks ran on both workers (normally the first run).

    Why it is normally the first: parallelism 4 queues the three fetches at once, and each worker holds at most
    ``worker_concurrency`` (2) tasks with prefetch 1, so one worker cannot take all three. A task could still
    finish before the third is picked up, hence a few tries; every run must end as the test expects anyway.
    """
    for attempt in range(1, ATTEMPTS + 1):
        run_id = cluster.trigger(dag_id)
        run = cluster.wait_for_run(dag_id, run_id)
        tis = _by_task(cluster.task_instances(dag_id, run_id))
        placement = {task: ti["hostname"] for task, ti in sorted(tis.items())}
        say(f"{dag_id} run {attempt}: {run['state']}; tasks on {placement}")
        fetch_hosts = {ti["hostname"] for task, ti in tis.items() if task.startswith("fetch_")}
        if fetch_hosts == set(cluster.workers):
            return run, tis
    pytest.fail(f"{ATTEMPTS} runs of {dag_id} never used both workers {cluster.workers} for the fetches")


def test_one_run_spreads_over_both_workers(cluster: Any, say: Callable[[str], None]) -> None:
    errors = cluster.get("/api/v2/importErrors")
    assert errors["total_entries"] == 0, errors
    run, tis = _run_on_both_workers(cluster, INLINE, say)
    assert run["state"] == "success", tis
    assert {ti["state"] for ti in tis.values()} == {"success"}
    hosts = {ti["hostname"] for ti in tis.values()}
    assert hosts == set(cluster.workers)  # and no task ran anywhere else (the scheduler never runs tasks)
    say(f"worker hostnames of one run: {sorted(hosts)}")
    written = cluster.worker_dirs[tis["write"]["hostname"]] / "data" / "fan_out" / f"{INLINE}.ndjson"
    ids = [json.loads(line)["id"] for line in written.read_text().splitlines()]
    assert ids == list(range(1, ORDERS + 1))


def test_staging_on_private_folders_fails_with_the_fix(cluster: Any, say: Callable[[str], None]) -> None:
    run, tis = _run_on_both_workers(cluster, STAGED, say)
    merge = tis["merge"]
    # The fetches ran on both workers, so whichever worker runs merge lacks at least one staged file.
    assert run["state"] == "failed", tis
    assert all(tis[f"fetch_{s}"]["state"] == "success" for s in ("paid", "pending", "refunded"))
    assert merge["state"] == "failed" and merge["try_number"] == 1, merge  # not retried: retries=1 in the DAG
    assert tis["write"]["state"] == "upstream_failed"
    missing = [s for s in ("paid", "pending", "refunded") if tis[f"fetch_{s}"]["hostname"] != merge["hostname"]]
    log = cluster.task_log(STAGED, run["dag_run_id"], "merge", 1)
    assert "Stage in shared storage" in log and "ran on another worker" in log, log[-3000:]
    named = [s for s in missing if f"/{s}.ndjson' (fs connection 'fs_default'" in log]
    assert named, f"the log names none of the files written on the other worker ({missing}): {log[-3000:]}"
    say(f"{STAGED}: merge on {merge['hostname']} failed on try 1 naming {named[0]}.ndjson (written elsewhere)")
    for worker, folder in cluster.worker_dirs.items():
        assert not (folder / "data" / "fan_out" / f"{STAGED}.ndjson").exists(), worker  # nothing half-published


def test_params_form_with_conf_then_a_hostile_output_name(cluster: Any, say: Callable[[str], None]) -> None:
    conf = {"endpoint": "/api/orders/paid", "limit": 5, "output_name": "e2e_export.json"}
    run_id = cluster.trigger(EXPORT, conf)
    run = cluster.wait_for_run(EXPORT, run_id)
    tis = _by_task(cluster.task_instances(EXPORT, run_id))
    assert run["state"] == "success", tis
    sink_host = tis["write_export"]["hostname"]
    say(f"{EXPORT}: success, write_export ran on {sink_host}")
    records = json.loads((cluster.worker_dirs[sink_host] / "data" / "exports" / "e2e_export.json").read_text())
    assert len(records) == 5 and {r["status"] for r in records} == {"paid"}

    hostile = {"output_name": "../../e2e_escape.ndjson", "limit": 1}
    refused = cluster.trigger_response(EXPORT, hostile)
    assert refused.status_code == 400, refused.text
    assert "Invalid input for param output_name" in refused.json()["detail"]
    assert cluster.get(f"/api/v2/dags/{EXPORT}/dagRuns")["total_entries"] == 1  # no run for the hostile conf
    nodes = cluster.workdir / "nodes"
    exports = sorted(p.relative_to(cluster.workdir).as_posix() for p in nodes.rglob("*") if "exports" in p.parts)
    assert exports == [f"nodes/{sink_host}/data/exports", f"nodes/{sink_host}/data/exports/e2e_export.json"]
    assert not list(cluster.workdir.rglob("e2e_escape.ndjson"))


def _s3(cluster: Any) -> Any:
    """A plain botocore client on the cluster's SeaweedFS: the test's own view of the bucket."""
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=cluster.s3.endpoint,
        aws_access_key_id=cluster.s3.access_key,
        aws_secret_access_key=cluster.s3.secret_key,
        region_name="us-east-1",
    )


def _run_folder(run_id: str) -> str:
    """The per-run folder the S3 examples template from ``run_id`` (``:`` and ``+`` replaced)."""
    return run_id.replace(":", "_").replace("+", "_")


def _objects(client: Any, prefix: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET_NAME, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def _uploads(client: Any, prefix: str) -> list[dict[str, Any]]:
    return list(client.list_multipart_uploads(Bucket=BUCKET_NAME, Prefix=prefix).get("Uploads", []))


def _ndjson_ids(client: Any, key: str) -> list[int]:
    body = client.get_object(Bucket=BUCKET_NAME, Key=key)["Body"].read()
    return [json.loads(line)["id"] for line in body.splitlines() if line.strip()]


def test_staging_in_s3_runs_over_both_workers(cluster: Any, say: Callable[[str], None]) -> None:
    run, tis = _run_on_both_workers(cluster, S3_FAN_OUT, say)
    assert run["state"] == "success", tis
    assert {ti["state"] for ti in tis.values()} == {"success"}
    hosts = {ti["hostname"] for ti in tis.values()}
    assert hosts == set(cluster.workers)
    say(f"{S3_FAN_OUT}: worker hostnames {sorted(hosts)}; merge on {tis['merge']['hostname']}")
    client = _s3(cluster)
    prefix = f"flow_orders_s3/{_run_folder(run['dag_run_id'])}/"
    keys = _objects(client, prefix)
    say(f"{S3_FAN_OUT}: {len(keys)} objects under s3://{BUCKET_NAME}/{prefix}: {[k.rsplit('/', 1)[1] for k in keys]}")
    assert keys == [f"{prefix}{name}.ndjson" for name in ("orders", "paid", "pending", "refunded")]
    assert _ndjson_ids(client, f"{prefix}orders.ndjson") == list(range(1, ORDERS + 1))
    for worker, folder in cluster.worker_dirs.items():  # nothing staged in the private folders
        assert not [p for p in folder.rglob("*") if "flow_orders_s3" in p.as_posix()], worker


def _write_large_input(cluster: Any) -> None:
    """The same ~80 MB NDJSON file in every worker's ``fs_default`` (so the retry can read it anywhere)."""
    first: Path | None = None
    for folder in cluster.worker_dirs.values():
        target = folder / "scratch" / "large" / "input.ndjson"
        target.parent.mkdir(parents=True, exist_ok=True)
        if first is None:
            pad = "x" * 160
            with target.open("w") as out:
                for i in range(LARGE_RECORDS):
                    out.write(f'{{"id": {i}, "pad": "{pad}"}}\n')
            first = target
        else:
            shutil.copyfile(first, target)


def _wait_for_upload_in_progress(cluster: Any, client: Any, run_id: str, prefix: str) -> str:
    """Wait until ``upload`` runs and its multipart upload is open in S3; return the worker running it."""
    deadline = time.monotonic() + 240
    host = ""
    while time.monotonic() < deadline:
        if not host:
            ti = _by_task(cluster.task_instances(LARGE, run_id))["upload"]
            if ti["state"] in ("success", "failed"):
                pytest.fail(f"upload ended ({ti['state']}) before its multipart upload was seen: {ti}")
            host = ti["hostname"] if ti["state"] == "running" else ""
        if host and _uploads(client, prefix):
            return host
        time.sleep(0.1 if host else 0.5)
    pytest.fail(f"no multipart upload under {prefix} within 240s (upload on {host or 'no worker yet'})")


def test_a_worker_killed_mid_upload_is_retried_on_the_other(cluster: Any, say: Callable[[str], None]) -> None:
    """Runs last: it leaves the cluster with one worker."""
    _write_large_input(cluster)
    client = _s3(cluster)
    run_id = cluster.trigger(LARGE)
    prefix = f"flow_orders_s3/large/{_run_folder(run_id)}/"
    killed = _wait_for_upload_in_progress(cluster, client, run_id, prefix)
    pgid = cluster.pgids()[f"airflow-{killed}"]
    open_uploads = len(_uploads(client, prefix))
    os.killpg(pgid, signal.SIGKILL)
    say(f"{LARGE}: workers {list(cluster.workers)}; SIGKILLed {killed} (process group {pgid}) mid-upload "
        f"({open_uploads} multipart upload open, {len(_objects(client, prefix))} objects)")  # fmt: skip

    run = cluster.wait_for_run(LARGE, run_id, timeout=240)
    tries = cluster.get(f"/api/v2/dags/{LARGE}/dagRuns/{run_id}/taskInstances/upload/tries")["task_instances"]
    by_try = {t["try_number"]: t for t in tries}
    say(
        f"{LARGE}: run {run['state']}; upload tries (try, host, state): "
        f"{[(n, t['hostname'], t['state']) for n, t in sorted(by_try.items())]}"
    )
    assert run["state"] == "success", by_try
    assert sorted(by_try) == [1, 2], by_try
    # the killed try is recorded as failed (up_for_retry in the history when it was retried)
    assert by_try[1]["hostname"] == killed and by_try[1]["state"] in ("failed", "up_for_retry"), by_try[1]
    [survivor] = [w for w in cluster.workers if w != killed]
    assert (by_try[2]["hostname"], by_try[2]["state"]) == (survivor, "success"), by_try[2]

    keys = _objects(client, prefix)
    say(f"{LARGE}: retry ran on {survivor}; {len(keys)} object(s) under s3://{BUCKET_NAME}/{prefix}, "
        f"{len(_uploads(client, prefix))} incomplete upload(s) left")  # fmt: skip
    assert keys == [f"{prefix}output.ndjson"]
    ids = _ndjson_ids(client, f"{prefix}output.ndjson")
    assert len(ids) == LARGE_RECORDS and len(set(ids)) == LARGE_RECORDS and ids == list(range(LARGE_RECORDS))
    assert len(_uploads(client, prefix)) <= 1  # at most the killed try's, never completed
