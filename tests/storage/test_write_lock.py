"""Every write mode takes the folder lock, so concurrent writers in real processes serialize (issue 10, class 13).

An append copies the current content into its temporary file and renames it over the target; an overwrite (or an
``error_if_exists`` write) that committed in between, and reported success, would be silently lost. The outcomes
allowed here are the ones a serial order produces: the overwrite's content, possibly followed by whole appends.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

import pytest

from airflow_provider_flow.errors import FileError
from airflow_provider_flow.storage.atomic import atomic_write

MP = multiprocessing.get_context("fork")

#: Exit codes of the writer processes.
OK, EXISTS, BUG = 0, 3, 1

OLD, OVER, APPENDED = b"old\n", b"O\n", b"A" * (4 << 20) + b"\n"


def _write(base: str, mode: str, payload: bytes, barrier: Barrier | None, inside: Event | None, hold: float) -> None:
    """Child body: one atomic write; ``inside`` is set once the block is entered, then it holds ``hold`` seconds."""
    code = OK
    try:
        if barrier is not None:
            barrier.wait(timeout=30)
        with atomic_write(base, "t.txt", mode=mode) as writer:
            if inside is not None:
                inside.set()
            time.sleep(hold)
            writer.write(payload)
    except FileError as exc:
        code = EXISTS if exc.details.get("errno") == "EEXIST" else BUG
        if code == BUG:
            traceback.print_exc()
    except BaseException:
        traceback.print_exc()
        code = BUG
    os._exit(code)


def start(
    base: str,
    mode: str,
    payload: bytes,
    *,
    barrier: Barrier | None = None,
    inside: Event | None = None,
    hold: float = 0.0,
) -> multiprocessing.process.BaseProcess:
    proc = MP.Process(target=_write, args=(base, mode, payload, barrier, inside, hold))
    proc.start()
    return proc


def finish(proc: multiprocessing.process.BaseProcess) -> int:
    proc.join(timeout=60)
    assert proc.exitcode is not None, "a writer process hung"
    return proc.exitcode


@pytest.fixture
def base(tmp_path: Path) -> str:
    return os.path.realpath(tmp_path)


def test_overwrite_during_an_append_is_not_lost(base: str) -> None:
    """The append holds its block open; the overwrite, which reports success, must win or come first."""
    Path(base, "t.txt").write_bytes(OLD)
    inside = MP.Event()
    appender = start(base, "append", b"A\n", inside=inside, hold=1.0)
    assert inside.wait(timeout=30)
    overwriter = start(base, "overwrite", OVER)
    assert finish(overwriter) == OK and finish(appender) == OK
    assert Path(base, "t.txt").read_bytes() in (OVER, OVER + b"A\n"), "the overwrite was lost after it succeeded"
    assert os.listdir(base) == ["t.txt"]


def test_error_if_exists_during_an_append_is_not_lost(base: str) -> None:
    """No target yet: the append creates it. An ``error_if_exists`` write either fails or is kept."""
    inside = MP.Event()
    appender = start(base, "append", b"A\n", inside=inside, hold=1.0)
    assert inside.wait(timeout=30)
    exclusive = start(base, "error_if_exists", b"E\n")
    exclusive_code, append_code = finish(exclusive), finish(appender)
    assert append_code == OK and exclusive_code in (OK, EXISTS)
    content = Path(base, "t.txt").read_bytes()
    if exclusive_code == OK:
        assert content in (b"E\n", b"E\nA\n"), "error_if_exists reported success but its file was replaced"
    else:
        assert content == b"A\n"


def test_racing_appends_and_overwrites_end_in_a_serial_outcome(base: str) -> None:
    """Real processes released together, many times: never ``old`` + append after the overwrite succeeded."""
    target = Path(base, "t.txt")
    lost = []
    for attempt in range(30):
        target.write_bytes(OLD)
        barrier = MP.Barrier(2)
        appender = start(base, "append", APPENDED, barrier=barrier)
        overwriter = start(base, "overwrite", OVER, barrier=barrier)
        assert finish(appender) == OK and finish(overwriter) == OK
        content = target.read_bytes()
        if content not in (OVER, OVER + APPENDED):
            lost.append((attempt, content[:8]))
    assert not lost, f"overwrite lost in {len(lost)} of 30 races: {lost[:5]}"
    assert os.listdir(base) == ["t.txt"]
