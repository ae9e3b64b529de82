"""Every OSError met while confining a path becomes a FlowError, never a raw one (issue 10, class 15).

A raw ``OSError`` is treated as a bug by the base operator (retried under the task's ``retries``); a symlink
swapped during the check is hostile input, so it must be a refused path (``PathTraversalError``) or a
non-retryable ``FileError``. A real process swaps a folder between a directory, a symlink to outside, a symlink
loop, a plain file and nothing, as fast as it can, while file.sink and file.source resolve paths through it.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowError, PathTraversalError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.storage.atomic import atomic_write

MP = multiprocessing.get_context("fork")
INSIDE = {"side": "inside"}
OUTSIDE = {"side": "outside"}


def swap_forever(base: str, outside: str, stop: Event) -> None:
    """Child body: cycle ``base/sw`` through dir, symlink out, symlink loop, file, nothing, until ``stop``."""
    sw, parked = os.path.join(base, "sw"), os.path.join(base, "sw_parked")
    steps: list[Callable[[], None]] = [
        lambda: _remove_stray_folder(sw, parked),
        lambda: os.rename(parked, sw),
        lambda: os.rename(sw, parked),
        lambda: os.symlink(outside, sw),
        lambda: os.unlink(sw),
        lambda: os.symlink("sw", sw),
        lambda: os.unlink(sw),
        lambda: Path(sw).write_text("a file where a folder should be"),
        lambda: os.unlink(sw),
        lambda: os.symlink("sw_parked", sw),  # inside the base: allowed, but a moving target
        lambda: os.unlink(sw),
    ]
    while not stop.is_set():
        for step in steps:
            with contextlib.suppress(OSError):
                step()
    os._exit(0)


def _remove_stray_folder(sw: str, parked: str) -> None:
    """A sink creates ``sw`` when it finds nothing there; remove that copy so the cycle keeps going."""
    if os.path.isdir(parked) and stat.S_ISDIR(os.lstat(sw).st_mode):
        shutil.rmtree(sw)


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    base, outside = tmp_path / "base", tmp_path / "outside"
    (base / "sw_parked" / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "sub").mkdir()
    for folder, record in ((base / "sw_parked", INSIDE), (outside, OUTSIDE)):
        (folder / "data.ndjson").write_text(json.dumps(record) + "\n")
        (folder / "sub" / "deep.ndjson").write_text(json.dumps(record) + "\n")
    yield os.path.realpath(base), outside


def state_for(base: str) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))


def source(base: str, **config: Any) -> Any:
    return FileSourceRuntime().execute(validate_config(FileSourceConfig, config), None, state_for(base))


def sink(base: str, data: Any, **config: Any) -> Any:
    return FileSinkRuntime().execute(validate_config(FileSinkConfig, config), data, state_for(base))


def outside_tree(outside: Path) -> dict[str, bytes]:
    return {str(p.relative_to(outside)): p.read_bytes() for p in sorted(outside.rglob("*")) if p.is_file()}


def test_only_flow_errors_come_out_while_a_folder_is_swapped(layout: tuple[str, Path]) -> None:
    base, outside = layout
    before = outside_tree(outside)
    operations: list[Callable[[int], Any]] = [
        lambda i: sink(base, [{"i": i}], path="sw/out.ndjson"),
        lambda i: sink(base, [{"i": i}], path="sw/sub/out.ndjson", mode="append"),
        lambda i: source(base, path="sw/data.ndjson", output="records"),
        lambda i: source(base, path="sw/sub/deep.ndjson", output="reference"),
        lambda i: source(base, path="sw/*.ndjson", allow_empty=True, output="records"),
        lambda i: source(base, path="sw/**/*.ndjson", allow_empty=True, output="reference"),
    ]
    stop = MP.Event()
    swapper = MP.Process(target=swap_forever, args=(base, str(outside), stop))
    swapper.start()
    outcomes: Counter[str] = Counter()
    raw: list[str] = []
    leaked: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        for i in range(1500):
            if time.monotonic() > deadline:
                break
            for operation in operations:
                try:
                    result = operation(i)
                except FlowError as err:
                    outcomes[type(err).__name__] += 1
                    assert not err.is_retryable, err
                except Exception as exc:
                    raw.append(f"{type(exc).__name__}: {exc}")
                else:
                    outcomes["ok"] += 1
                    if OUTSIDE in (result if isinstance(result, list) else []):
                        leaked.append(result)
    finally:
        stop.set()
        swapper.join(timeout=30)
    assert not raw, f"{len(raw)} raw errors (outcomes {dict(outcomes)}), first: {raw[:3]}"
    assert not leaked, f"records from outside the base were returned: {leaked[:2]}"
    assert outside_tree(outside) == before, "something was written outside the base"
    assert outcomes["ok"] > 0 and outcomes["PathTraversalError"] > 0, dict(outcomes)


def test_a_symlink_loop_is_a_refused_path(layout: tuple[str, Path]) -> None:
    base, _ = layout
    os.symlink("loop", os.path.join(base, "loop"))
    os.symlink("b", os.path.join(base, "a"))
    os.symlink("a", os.path.join(base, "b"))
    for path in ("loop/x.ndjson", "a/x.ndjson", "loop", "a"):
        with pytest.raises(PathTraversalError):
            sink(base, [{"i": 1}], path=path, format="ndjson")
        with pytest.raises(PathTraversalError):
            source(base, path=path, format="ndjson")


def test_a_file_where_a_folder_is_expected_is_a_non_retryable_file_error(layout: tuple[str, Path]) -> None:
    base, _ = layout
    Path(base, "plain").write_text("x")
    for call in (
        lambda: sink(base, [{"i": 1}], path="plain/x.ndjson"),
        lambda: sink(base, [{"i": 1}], path="plain/deeper/x.ndjson"),
        lambda: source(base, path="plain/x.ndjson"),
        lambda: source(base, path="plain/*.ndjson"),
    ):
        with pytest.raises(FileError) as info:
            call()
        assert not info.value.is_retryable and "ENOTDIR" in str(info.value), info.value


def test_a_folder_replaced_by_a_file_during_the_write_is_refused(layout: tuple[str, Path]) -> None:
    base, _ = layout
    with pytest.raises(FlowError) as info, atomic_write(base, "sw_parked/out.ndjson") as writer:
        writer.write(b"{}\n")
        os.rename(os.path.join(base, "sw_parked"), os.path.join(base, "moved"))
        Path(base, "sw_parked").write_text("now a file")
    assert isinstance(info.value, PathTraversalError) and not info.value.is_retryable


def test_a_name_the_filesystem_encoding_cannot_hold_is_refused(layout: tuple[str, Path]) -> None:
    base, _ = layout
    with pytest.raises(PathTraversalError, match="encoding"):
        sink(base, [{"i": 1}], path="bad\ud800name.ndjson")
    with pytest.raises(PathTraversalError, match="encoding"):
        source(base, path="bad\ud800name.ndjson")
