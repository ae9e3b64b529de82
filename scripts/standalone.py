"""The README's third command: a real Airflow (``airflow standalone``) with the examples, for the UI.

Starts the demo server, sets the example connections (``AIRFLOW_CONN_*``) and runs ``airflow standalone`` on
127.0.0.1 with SQLite, the ``dags_examples`` folder and ``AIRFLOW__CORE__PARALLELISM=4``. When the API answers it
prints the UI URL and the file holding the generated ``admin`` password, then keeps running until Ctrl-C (or
SIGTERM), and stops everything it started.

Usage: ``scripts/standalone.sh [--port 8080] [--home .demo/standalone-home] [--base .demo/data]
[--test-connection Enabled|Disabled|Hidden]``. Port 8080 is used when free, otherwise any free port (printed).

The connections page's "Test" button is enabled by default here (``[core] test_connection = Enabled``): this
Airflow listens on 127.0.0.1 only and has one user, and the button is how a person checks a new ``flow_llm`` or
``flow_http`` connection. Airflow's own default is ``Disabled`` because on a shared Airflow every user who may
edit connections could make the api-server send requests anywhere; ``--test-connection Disabled`` restores it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "dags_examples"
sys.path.insert(0, str(EXAMPLES))

from demo_server.connections import demo_env  # noqa: E402
from demo_server.server import DemoServer  # noqa: E402

PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
#: The values of Airflow's ``[core] test_connection`` option.
TEST_CONNECTION_MODES = ("Enabled", "Disabled", "Hidden")


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens on it, else a port the OS picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def standalone_env(
    home: Path, base: Path, port: int, server_url: str, test_connection: str = "Enabled"
) -> dict[str, str]:
    """The environment of ``airflow standalone``: none of the caller's ``AIRFLOW*`` variables (a stray
    ``AIRFLOW_HOME`` or ``AIRFLOW__CORE__*`` must not point the demo at another database), then ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    url = f"http://127.0.0.1:{port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__TEST_CONNECTION": test_connection,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            # `airflow standalone` starts `airflow <component>` by name
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(demo_env(server_url, str(base)))
    return env


def wait_ready(url: str, password_file: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"airflow standalone exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as resp:
                if resp.status == 200 and password_file.exists():
                    return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"Airflow did not answer on {url} within {timeout:.0f}s")


def stop_group(pgid: int, *, grace: float = 20) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is still there after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(-pgid, os.WNOHANG)  # reap our direct child if it is done
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="API/UI port (default 8080, else a free one)")
    parser.add_argument("--home", type=Path, default=REPO / ".demo" / "standalone-home")
    parser.add_argument("--base", type=Path, default=REPO / ".demo" / "data", help="base folder of flow_demo_fs")
    parser.add_argument("--log", type=Path, default=None, help="Airflow's output (default: <home>/standalone.log)")
    parser.add_argument("--ready-timeout", type=float, default=240)
    parser.add_argument(
        "--test-connection",
        choices=TEST_CONNECTION_MODES,
        default="Enabled",
        help="the connections page's Test button: Enabled (default here: a local, single-user Airflow), "
        "Disabled (Airflow's default: greyed out) or Hidden",
    )
    args = parser.parse_args(argv)

    home, base = args.home.resolve(), args.base.resolve()
    home.mkdir(parents=True, exist_ok=True)
    base.mkdir(parents=True, exist_ok=True)
    port = free_port(args.port)
    url = f"http://127.0.0.1:{port}"
    log_path = args.log or home / "standalone.log"

    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    with DemoServer(0) as server, log_path.open("ab") as log:
        print(f"demo server: {server.url}", flush=True)
        env = standalone_env(home, base, port, server.url, args.test_connection)
        # Its own process group: stopping the group stops every component it spawned (scheduler, workers, ...).
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            print(f"starting airflow standalone (process group {proc.pid}, log: {log_path}) ...", flush=True)
            wait_ready(url, home / PASSWORD_FILE, proc, args.ready_timeout)
            print(f"Airflow UI: {url}", flush=True)
            print(f"login: admin / password in {home / PASSWORD_FILE}", flush=True)
            print(f"examples: {EXAMPLES}; files written under {base}", flush=True)
            print(f"connections page Test button: {args.test_connection}", flush=True)
            print("READY (Ctrl-C stops Airflow and the demo server)", flush=True)
            while not stop and proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop_group(proc.pid)
            print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
