"""Real child processes for tests: kill one with SIGKILL at the moment a test chooses (no mocks of a crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def sigkill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], *, timeout: float = 60) -> None:
    """Poll ``ready`` until it is true, then SIGKILL ``proc`` and reap it; fail if the child ended on its own."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "the child ended on its own"
        assert ready(), f"the child was not ready within {timeout:g}s"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
