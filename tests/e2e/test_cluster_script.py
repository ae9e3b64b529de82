"""``scripts/cluster.py``'s parts that need no cluster: stopping groups, the work folder, bad arguments.

Real processes and real folders; the full cluster runs in ``tests/e2e/test_cluster.py``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cluster import _cluster_module


@pytest.fixture(scope="module")
def script() -> Any:
    return _cluster_module()


def test_stop_groups_kills_a_group_that_ignores_sigterm_and_its_children(script: Any, tmp_path: Path) -> None:
    # A leader that ignores SIGTERM, with a child in the same group: both must be gone, by group, not by name.
    proc = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; sleep 300 & echo ready; wait"], start_new_session=True, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # the trap is set
    group = script.Group("stubborn", proc, tmp_path / "stubborn.log")
    assert script.stop_groups([group], grace=1.0) == []
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    assert proc.returncode == -9  # SIGTERM was ignored: SIGKILL after the grace period


def test_a_foreign_non_empty_workdir_is_refused_and_ours_is_wiped(script: Any, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(script.ClusterError, match=r"not created by scripts/cluster\.py; pick another --workdir"):
        script.claim_workdir(foreign)
    assert (foreign / "precious.txt").read_text() == "keep me"

    ours = tmp_path / "ours"
    script.claim_workdir(ours)
    (ours / "logs" / "old.log").write_text("from the last start")
    script.claim_workdir(ours)
    assert not (ours / "logs" / "old.log").exists() and (ours / script.MARKER).exists()


def test_a_workdir_postgres_cannot_reach_is_refused_with_the_fix(script: Any) -> None:
    # Not under tmp_path: pytest's temp root is 0700 itself, and the check must stop at the folder made here.
    root = Path(tempfile.mkdtemp(prefix="flow-cluster-reach-"))
    root.chmod(0o711)
    closed = root / "closed"
    (closed / "cluster" / "postgres").mkdir(parents=True)
    closed.chmod(0o700)
    other = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    if other.pw_uid == closed.stat().st_uid:
        pytest.fail("the test needs a user other than the folder's owner: run it as root (as CI does)")
    with pytest.raises(script.ClusterError) as raised:
        script.check_reachable(closed / "cluster" / "postgres", other)
    assert str(closed) in str(raised.value) and "chmod o+x" in str(raised.value)
    closed.chmod(0o711)
    script.check_reachable(closed / "cluster" / "postgres", other)
    shutil.rmtree(root)


@pytest.mark.parametrize(
    ("conf", "message"),
    [("{not json", "--conf is not JSON"), ("[1, 2]", "--conf must be a JSON object")],
)
def test_bad_conf_is_refused_before_anything_starts(tmp_path: Path, conf: str, message: str) -> None:
    script_path = Path(__file__).resolve().parents[2] / "scripts" / "cluster.py"
    done = subprocess.run(
        [sys.executable, str(script_path), "--workdir", str(tmp_path / "w"), "--run", "x", "--conf", conf],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "w").exists()  # refused before the work folder or any process
