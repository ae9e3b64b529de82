"""A real distributed Airflow on this machine's loopback: CeleryExecutor, two workers that share no folder.

Why: every other way to run the examples (``dag.test()``, ``airflow standalone``) runs all tasks in one place, so
nothing shows the package works when the tasks of one run land on different machines. This starts, on
127.0.0.1 and free ports, each in its own process group (``start_new_session``):

* PostgreSQL (Debian's ``postgresql``) as the metadata DB, run as an unprivileged user (``flowpg``, created when
  running as root; PostgreSQL refuses root) with its data and socket folders under the work folder;
* Redis (Debian's ``redis-server``) as the Celery broker, without persistence;
* SeaweedFS's S3 gateway (``tests/s3_server.py``) with the bucket :data:`BUCKET`, for staging in shared storage;
* the demo server (``dags_examples/demo_server``) and the example connections as ``AIRFLOW_CONN_*`` variables;
* Airflow: ``db migrate``, then api-server, scheduler, dag-processor, triggerer and two Celery workers
  (``flow-worker-a``, ``flow-worker-b``). Each worker has its own private folders for ``fs_default`` (scratch)
  and ``flow_demo_fs`` (outputs), and reports its own name as the task instances' ``hostname``.

Missing ``postgresql``/``redis-server`` are installed with apt-get when running as root; otherwise the script
says what to install and exits non-zero. Everything started is stopped by process group (SIGTERM, SIGKILL after
a grace period), never by name: on Ctrl-C/SIGTERM, or after ``--run DAG_ID`` finished.

Usage: ``scripts/cluster.sh [--workdir .demo/cluster] [--run DAG_ID [--conf JSON]]``; from Python (tests):
``with Cluster(workdir) as cluster: run_id = cluster.trigger("dag_id"); cluster.wait_for_run("dag_id", run_id)``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_examples"
for _path in (str(REPO), str(EXAMPLES)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from demo_server.connections import demo_env  # noqa: E402
from demo_server.server import DemoServer  # noqa: E402

from tests.s3_server import SeaweedS3, free_ports, start_seaweed  # noqa: E402

MARKER = ".flow-cluster-workdir"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
PG_USER = "flowpg"
DB_NAME = "airflow"
BUCKET = "flow-cluster"
WORKERS = ("flow-worker-a", "flow-worker-b")
#: Loaded by every Airflow process (PYTHONPATH): the name a process reports as task instances' ``hostname``.
#: Two workers on one machine would otherwise both report this machine's FQDN.
NODE_MODULE = '''"""Written by scripts/cluster.py: Airflow's [core] hostname_callable for the cluster's processes."""
import os
import socket


def hostname() -> str:
    return os.environ.get("FLOW_CLUSTER_NODE") or socket.getfqdn()
'''


class ClusterError(RuntimeError):
    """A part of the cluster could not be set up or did not become ready; the message says what to do."""


@dataclass
class Group:
    """One started process, leader of its own process group (its pid is the group id)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    first_signal: int = signal.SIGTERM


def stop_groups(groups: list[Group], *, grace: float = 20.0) -> list[str]:
    """Signal every group at once, SIGKILL whatever is left after ``grace`` s; the names still alive (should be none).

    Only the groups this script started, by their ids: never a process found by name.
    """
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.process.pid, group.first_signal)
    _wait_gone(groups, grace)
    for group in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.process.pid, signal.SIGKILL)
    _wait_gone(groups, 10.0)
    return [group.name for group in groups if _group_alive(group.process)]


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the leader if it exited, so the group test below is not fooled by a zombie
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(groups: list[Group], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_group_alive(g.process) for g in groups):
        time.sleep(0.3)


def _find_tool(name: str, debian_package: str, candidates: Callable[[], list[str]]) -> str:
    """The path of ``name``; installs ``debian_package`` with apt-get when missing and root, else explains.

    ``candidates`` is called again after an install: Debian keeps PostgreSQL's server binaries off PATH.
    """
    for _ in range(2):
        for candidate in candidates():
            if os.access(candidate, os.X_OK):
                return candidate
        found = shutil.which(name)
        if found:
            return found
        if os.geteuid() != 0:
            break
        print(f"==> {name} not found: installing Debian's {debian_package} (apt-get)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", debian_package], check=True, env=env)
    raise ClusterError(
        f"{name} is not installed: install Debian's {debian_package} package "
        f"(`sudo apt-get install -y {debian_package}`), or run this script as root to have it installed"
    )


def postgres_bin_dir() -> Path:
    """The folder of ``postgres``, ``initdb`` and ``createdb``: the newest ``/usr/lib/postgresql/<version>/bin``."""

    def debian_servers() -> list[str]:
        found = glob.glob("/usr/lib/postgresql/*/bin/postgres")
        return sorted(found, key=lambda p: int(re.sub(r"\D", "", Path(p).parts[-3]) or 0), reverse=True)

    return Path(_find_tool("postgres", "postgresql", debian_servers)).resolve().parent


def postgres_user() -> pwd.struct_passwd:
    """The OS user PostgreSQL runs as: ``flowpg`` (created if missing) when root, else the current user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             PG_USER],
            check=True,
        )  # fmt: skip
        return pwd.getpwnam(PG_USER)


def check_reachable(folder: Path, user: pwd.struct_passwd) -> None:
    """Fail early, with the fix, when ``user`` cannot walk down to ``folder`` (e.g. pytest's 0700 temp roots)."""
    for parent in [*reversed(folder.parents)]:
        st = parent.stat()
        if st.st_uid == user.pw_uid or st.st_mode & 0o001 or (st.st_gid == user.pw_gid and st.st_mode & 0o010):
            continue
        raise ClusterError(
            f"PostgreSQL runs as {user.pw_name!r}, which cannot enter {parent} (mode {oct(st.st_mode & 0o777)}): "
            f"use a --workdir whose parent folders others may enter (chmod o+x {parent}), e.g. under /tmp"
        )


@dataclass
class Cluster:
    """The whole cluster as a context manager; ``heartbeat_timeout`` (s) is how soon a dead worker's task fails.

    Attributes after ``start()``: ``url`` (API/UI), ``password`` (admin), ``client`` (httpx, logged in),
    ``s3`` (the SeaweedFS server), ``workers`` (names), ``worker_dirs`` (name -> its private folder).
    """

    workdir: Path
    api_port: int = 0
    heartbeat_timeout: int = 120
    worker_concurrency: int = 2
    parallelism: int = 4
    ready_timeout: float = 240.0
    workers: tuple[str, ...] = WORKERS
    url: str = ""
    password: str = ""
    s3: SeaweedS3 | None = None
    client: Any = None
    worker_dirs: dict[str, Path] = field(default_factory=dict)
    _groups: list[Group] = field(default_factory=list)
    _demo: DemoServer | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir = self.workdir.resolve()
        claim_workdir(self.workdir)
        started = time.monotonic()
        pg_url = self._start_postgres()
        broker = self._start_redis()
        self._start_s3()
        self._demo = DemoServer(0).start()
        env = self._airflow_env(pg_url, broker)
        self._migrate(env)
        port = self.api_port or free_ports(1)[0]
        self.url = f"http://127.0.0.1:{port}"
        env.update(self._api_env(port))
        self._start_airflow(env, port)
        self._wait_ready()
        self._log(f"cluster ready in {time.monotonic() - started:.0f}s")

    def stop(self) -> None:
        """Stop every process group this cluster started (Airflow first, then the services); idempotent."""
        if self.client is not None:
            self.client.close()
            self.client = None
        airflow = [g for g in self._groups if g.name.startswith("airflow")]
        services = [g for g in self._groups if not g.name.startswith("airflow")]
        left = stop_groups(airflow) + stop_groups(services, grace=10.0)
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        if self._demo is not None:
            self._demo.stop()
            self._demo = None
        self._groups = []
        if left:
            raise ClusterError(f"process groups still alive after SIGKILL: {left}")

    def pgids(self) -> dict[str, int]:
        """Process group ids by component (for tests checking that nothing is left behind)."""
        groups = {g.name: g.process.pid for g in self._groups}
        if self.s3 is not None:
            groups["seaweedfs"] = self.s3.process.pid
        return groups

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    # --- services ----------------------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> Group:
        log = self.log_path(name)
        with log.open("ab") as out:
            process = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, **kwargs,
            )  # fmt: skip
        group = Group(name, process, log)
        self._groups.append(group)
        return group

    def _start_postgres(self) -> str:
        bin_dir = postgres_bin_dir()
        user = postgres_user()
        pg = self.workdir / "postgres"
        data, sockets = pg / "data", pg / "run"
        check_reachable(pg, user)
        for folder in (pg, sockets):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chown(folder, user.pw_uid, user.pw_gid)
        password = secrets.token_urlsafe(18)
        pwfile = pg / "initdb.pw"
        pwfile.write_text(password)
        os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        as_user: dict[str, Any] = {"user": user.pw_uid, "group": user.pw_gid, "cwd": pg} if os.geteuid() == 0 else {}
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(pg)}
        try:
            subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "airflow", f"--pwfile={pwfile}", "-E", "UTF8",
                 "--locale=C", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256"],
                check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **as_user,
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise ClusterError(f"initdb failed: {exc.stderr.decode(errors='replace')[-800:]}") from None
        finally:
            pwfile.unlink()
        port = free_ports(1)[0]
        group = self._spawn(
            "postgres",
            [str(bin_dir / "postgres"), "-D", str(data), "-k", str(sockets), "-h", "127.0.0.1", "-p", str(port),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            env=env, **as_user,
        )  # fmt: skip
        group.first_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave
        self._wait_port("postgres", group, port)
        pg_env = {**env, "PGPASSWORD": password}
        deadline = time.monotonic() + 60
        while True:  # the port opens before the server accepts logins ("the database system is starting up")
            done = subprocess.run(
                [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "airflow", DB_NAME],
                env=pg_env, capture_output=True,
            )  # fmt: skip
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ClusterError(f"createdb failed: {done.stderr.decode(errors='replace')[-500:]}")
            time.sleep(0.5)
        self._log(f"postgres: 127.0.0.1:{port} (user {user.pw_name}, data {data})")
        return f"postgresql+psycopg2://airflow:{password}@127.0.0.1:{port}/{DB_NAME}"

    def _start_redis(self) -> str:
        redis = _find_tool("redis-server", "redis-server", lambda: ["/usr/bin/redis-server"])
        folder = self.workdir / "redis"
        folder.mkdir(exist_ok=True)
        port = free_ports(1)[0]
        group = self._spawn(
            "redis",
            [redis, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"],
        )  # fmt: skip
        self._wait_port("redis", group, port)
        self._log(f"redis: 127.0.0.1:{port} (no persistence)")
        return f"redis://127.0.0.1:{port}/0"

    def _start_s3(self) -> None:
        import botocore.session

        self.s3 = start_seaweed()
        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.s3.endpoint,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        self._log(f"s3: {self.s3.endpoint} bucket {BUCKET!r} (SeaweedFS)")

    def _wait_port(self, name: str, group: Group, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if group.process.poll() is not None:
                raise ClusterError(f"{name} exited with {group.process.returncode}: {_tail(group.log)}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.2)
        raise ClusterError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s: {_tail(group.log)}")

    # --- Airflow -----------------------------------------------------------------------------------------------
    def _airflow_env(self, pg_url: str, broker: str) -> dict[str, str]:
        home = self.workdir / "airflow"
        pylib = self.workdir / "pylib"
        for folder in (home, pylib):
            folder.mkdir(exist_ok=True)
        (pylib / "flow_cluster_node.py").write_text(NODE_MODULE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        assert self.s3 is not None
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "flow_cluster_node.hostname",
                # One secret for every process: the api-server signs the workers' execution-API tokens with it.
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url,
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
                "AIRFLOW__API__WORKERS": "1",
                # S3 staging (later): an "aws" connection to the cluster's SeaweedFS, the same on every worker.
                "AIRFLOW_CONN_FLOW_CLUSTER_S3": json.dumps(
                    {
                        "conn_type": "aws",
                        "login": self.s3.access_key,
                        "password": self.s3.secret_key,
                        "extra": {"endpoint_url": self.s3.endpoint, "region_name": "us-east-1"},
                    }
                ),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
                "PYTHONPATH": os.pathsep.join(p for p in (str(pylib), env.get("PYTHONPATH", "")) if p),
                "PYTHONUNBUFFERED": "1",
            }
        )
        assert self._demo is not None
        env.update(demo_env(self._demo.url, str(self._private("control")["data"])))
        return env

    def _api_env(self, port: int) -> dict[str, str]:
        return {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
        }

    def _private(self, node: str) -> dict[str, Path]:
        """A node's own folders: ``scratch`` (its fs_default) and ``data`` (its flow_demo_fs)."""
        root = self.workdir / "nodes" / node
        folders = {"scratch": root / "scratch", "data": root / "data"}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        return folders

    def _migrate(self, env: dict[str, str]) -> None:
        self._log("airflow db migrate ...")
        done = subprocess.run(
            [self._airflow(), "db", "migrate"], env=env, capture_output=True, start_new_session=True, timeout=300
        )
        self.log_path("airflow-db-migrate").write_bytes(done.stdout + done.stderr)
        if done.returncode != 0:
            raise ClusterError(
                f"airflow db migrate failed ({done.returncode}): {_tail(self.log_path('airflow-db-migrate'))}"
            )

    def _airflow(self) -> str:
        return str(Path(sys.executable).parent / "airflow")

    def _start_airflow(self, env: dict[str, str], port: int) -> None:
        airflow = self._airflow()
        components = {
            "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            "scheduler": [airflow, "scheduler"],
            "dag-processor": [airflow, "dag-processor"],
            "triggerer": [airflow, "triggerer"],
        }
        for name, cmd in components.items():
            self._spawn(f"airflow-{name}", cmd, env={**env, "FLOW_CLUSTER_NODE": f"flow-{name}"}, cwd=self.workdir)
        for worker in self.workers:
            folders = self._private(worker)
            self.worker_dirs[worker] = folders["scratch"].parent
            worker_env = {
                **env,
                **demo_env(self._demo.url if self._demo else "", str(folders["data"])),
                "AIRFLOW_CONN_FS_DEFAULT": json.dumps({"conn_type": "fs", "extra": {"path": str(folders["scratch"])}}),
                "FLOW_CLUSTER_NODE": worker,
            }
            cmd = [airflow, "celery", "worker", "--celery-hostname", worker, "--queues", f"default,{worker}",
                   "--concurrency", str(self.worker_concurrency), "--skip-serve-logs"]  # fmt: skip
            self._spawn(f"airflow-{worker}", cmd, env=worker_env, cwd=folders["scratch"].parent)
        self._log(f"airflow: {', '.join(g.name for g in self._groups if g.name.startswith('airflow'))}")

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.ready_timeout
        password_file = self.workdir / "airflow" / PASSWORD_FILE
        pending = {"api", "scheduler", "dag_processor", "triggerer", *self.workers}
        while pending and time.monotonic() < deadline:
            for group in self._groups:
                if group.process.poll() is not None:
                    raise ClusterError(f"{group.name} exited with {group.process.returncode}: {_tail(group.log)}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                if password_file.exists():
                    pending.discard("api")
                for part in ("scheduler", "dag_processor", "triggerer"):
                    if (health.get(part) or {}).get("status") == "healthy":
                        pending.discard(part)
            for worker in self.workers:
                if re.search(rf"celery@{re.escape(worker)} ready", _text(self.log_path(f"airflow-{worker}"))):
                    pending.discard(worker)
            time.sleep(1)
        if pending:
            raise ClusterError(
                f"not ready within {self.ready_timeout:.0f}s: {sorted(pending)}; logs in {self.workdir / 'logs'}"
            )
        self.password = json.loads(password_file.read_text())["admin"]
        token = httpx.post(f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30)
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=30)

    # --- driving it through the REST API -----------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed ``dag_id``; fail with the import errors if it does not appear."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get(f"/api/v2/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        raise ClusterError(
            f"{dag_id} was not parsed within {timeout:.0f}s; import errors: {self.get('/api/v2/importErrors')}"
        )

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> Any:
        """Unpause and trigger ``dag_id``; returns the run id (or the refused response, see ``trigger_response``)."""
        response = self.trigger_response(dag_id, conf)
        if response.status_code != 200:
            raise ClusterError(f"triggering {dag_id} failed ({response.status_code}): {response.text[:500]}")
        return response.json()["dag_run_id"]

    def trigger_response(self, dag_id: str, conf: dict[str, Any] | None = None) -> Any:
        self.wait_for_dag(dag_id)
        self.client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        return self.client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run.get("state") in ("success", "failed"):
                return run
            time.sleep(2)
        raise ClusterError(f"run {run_id} of {dag_id} not finished within {timeout:.0f}s: {run}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The task's log, one JSON line per entry (exceptions included), read by the api-server from the log folder."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = self.client.get(path, params={"full_content": "true"}, headers={"Accept": "application/json"})
        response.raise_for_status()
        entries = response.json().get("content") or []
        return "\n".join(json.dumps(e, ensure_ascii=False) if isinstance(e, dict) else str(e) for e in entries)

    def _log(self, message: str) -> None:
        print(message, flush=True)


def claim_workdir(workdir: Path) -> None:
    """A fresh work folder each start: wipe one this script created before, refuse any other non-empty one."""
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise ClusterError(
                f"{workdir} is not empty and was not created by scripts/cluster.py; pick another --workdir"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER).write_text("created by scripts/cluster.py: wiped on every start\n")
    (workdir / "logs").mkdir()


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _tail(path: Path, chars: int = 2000) -> str:
    return _text(path)[-chars:]


def summarize(cluster: Cluster, dag_id: str, run_id: str) -> Iterator[str]:
    """One line per task: state, try and the worker (hostname) it ran on."""
    for ti in sorted(cluster.task_instances(dag_id, run_id), key=lambda t: t["task_id"]):
        yield f"  {ti['task_id']:<24} {ti['state'] or '-':<10} try {ti['try_number']}  on {ti['hostname'] or '-'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo" / "cluster", help="wiped on every start")
    parser.add_argument("--port", type=int, default=0, help="API/UI port (default: a free one)")
    parser.add_argument("--run", metavar="DAG_ID", help="trigger this DAG, wait for its end, print it, stop")
    parser.add_argument("--conf", default="{}", help="JSON conf for --run")
    parser.add_argument("--heartbeat-timeout", type=int, default=120, help="seconds before a silent task is failed")
    args = parser.parse_args(argv)
    try:
        conf = json.loads(args.conf)
    except json.JSONDecodeError as exc:
        parser.error(f"--conf is not JSON ({exc}): pass an object such as '{{\"limit\": 5}}'")
    if not isinstance(conf, dict):
        parser.error(f"--conf must be a JSON object, got {args.conf!r}")

    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    cluster = Cluster(args.workdir, api_port=args.port, heartbeat_timeout=args.heartbeat_timeout)
    try:
        with cluster:
            print(f"Airflow UI: {cluster.url}", flush=True)
            print(f"login: admin / password in {cluster.workdir / 'airflow' / PASSWORD_FILE}", flush=True)
            print(f"workers: {', '.join(f'{w} ({d})' for w, d in cluster.worker_dirs.items())}", flush=True)
            print(f"logs: {cluster.workdir / 'logs'}", flush=True)
            if args.run:
                run_id = cluster.trigger(args.run, conf)
                print(f"triggered {args.run}: {run_id}", flush=True)
                run = cluster.wait_for_run(args.run, run_id)
                print(f"{args.run} {run_id}: {run['state']}", flush=True)
                for line in summarize(cluster, args.run, run_id):
                    print(line, flush=True)
                return 0 if run["state"] == "success" else 1
            print("READY (Ctrl-C stops every process of the cluster)", flush=True)
            while not stop:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
