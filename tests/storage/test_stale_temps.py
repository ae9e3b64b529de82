"""Hidden temporary files left by a killed write are removed by a later write to the same folder (issue 10, class 17).

Only files named like the package's temporary files, older than ``STALE_TEMP_SECONDS`` and not locked by a live
writer are removed; a symlink named like one is removed as a link, its target untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.storage.temp_files import STALE_TEMP_SECONDS
from tests.child_processes import sigkill_when

REPO = Path(__file__).resolve().parents[2]

SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    from airflow_provider_flow.storage.atomic import atomic_write

    with atomic_write(sys.argv[1], "out/big.ndjson") as writer:
        while True:  # about 6 MB a second until killed
            writer.write(b'{"pad": "' + b"x" * 65_000 + b'"}\\n')
            time.sleep(0.01)
    """
)

LIVE_WRITER = textwrap.dedent(
    """
    import sys
    from airflow_provider_flow.storage.atomic import atomic_write

    with atomic_write(sys.argv[1], "out/live.ndjson") as writer:
        writer.write(b'{"live": 1}\\n')
        print("ready", flush=True)
        sys.stdin.readline()  # hold the write open until the test says so
    """
)


def child(script: str, base: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script, base], cwd=REPO, **kwargs)  # type: ignore[call-overload]


def temps(folder: Path, prefix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp"))


def age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old), follow_symlinks=False)


@pytest.fixture
def base(tmp_path: Path) -> str:
    (tmp_path / "base" / "out").mkdir(parents=True)
    return os.path.realpath(tmp_path / "base")


@pytest.fixture
def killed_write_leftover(base: str) -> Iterator[Path]:
    """The temporary file of a real writer SIGKILLed in the middle of a large, slow write."""
    out = Path(base, "out")
    proc = child(SLOW_WRITER, base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def well_into_the_write() -> bool:
        found = temps(out, ".big.ndjson.")
        return bool(found) and found[0].stat().st_size > 1 << 20

    sigkill_when(proc, well_into_the_write)
    (leftover,) = temps(out, ".big.ndjson.")
    yield leftover


def sink(base: str, path: str) -> None:
    state = ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))
    FileSinkRuntime().execute(validate_config(FileSinkConfig, {"path": path}), [{"n": 1}], state)


def test_a_later_write_removes_a_killed_writers_old_temp_file_and_nothing_else(
    base: str, killed_write_leftover: Path, tmp_path: Path
) -> None:
    out = Path(base, "out")
    age(killed_write_leftover, STALE_TEMP_SECONDS + 60)
    fresh = out / ".fresh.ndjson.0123456789ab.tmp"  # a writer on another host, say: younger than the threshold
    fresh.write_text("in progress")
    unrelated = [out / ".notes.tmp", out / "report.0123456789ab.tmp", out / ".data.ndjson.XYZ.tmp", out / "keep.csv"]
    for path in unrelated:
        path.write_text("not ours")
        age(path, STALE_TEMP_SECONDS * 10)
    victim = tmp_path / "victim.txt"
    victim.write_text("outside, must stay")
    planted = out / ".planted.ndjson.abcdef012345.tmp"
    planted.symlink_to(victim)
    age(planted, STALE_TEMP_SECONDS + 60)

    live = child(LIVE_WRITER, base, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert live.stdout is not None and live.stdout.readline() == b"ready\n"
        (live_temp,) = temps(out, ".live.ndjson.")
        age(live_temp, STALE_TEMP_SECONDS * 3)  # old, but its writer still holds it

        sink(base, "out/other.ndjson")  # the later write to the same folder

        assert not killed_write_leftover.exists(), "the killed writer's temp file was not cleaned"
        assert not planted.is_symlink() and victim.read_text() == "outside, must stay"
        assert fresh.exists() and live_temp.exists() and all(path.exists() for path in unrelated)
        live.communicate(b"go\n", timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert live.returncode == 0 and (out / "live.ndjson").read_text() == '{"live": 1}\n'


def test_a_young_leftover_is_kept_until_it_is_old(base: str, killed_write_leftover: Path) -> None:
    age(killed_write_leftover, STALE_TEMP_SECONDS - 300)
    sink(base, "out/first.ndjson")
    assert killed_write_leftover.exists()
    age(killed_write_leftover, STALE_TEMP_SECONDS + 1)
    sink(base, "out/second.ndjson")
    assert not killed_write_leftover.exists()
    assert sorted(p.name for p in Path(base, "out").iterdir()) == ["first.ndjson", "second.ndjson"]
