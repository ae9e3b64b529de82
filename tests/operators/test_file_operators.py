"""FileSourceOperator / FileSinkOperator in real ``dag.test()`` runs.

The hostile-path table runs as ONE DAG (one task per path) so the whole table costs one DAG run: every task must
fail on its first try although ``retries=2``, and nothing may appear outside the base directory.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.operators.file import FileSinkOperator, FileSourceOperator, file_asset
from airflow_provider_flow.records.reader import iter_records
from airflow_provider_flow.records.writer import write_records
from tests.airflow_harness import run_dag


def snapshot(root: Path, *, skip: Path | None = None) -> dict[str, str]:
    """Every entry under ``root`` (except the ``skip`` subtree): files with size+mtime+content hash, links, dirs."""
    import hashlib

    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if skip is not None and p == skip:
                continue
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                st = p.stat()
                out[rel] = f"{st.st_size}:{st.st_mtime_ns}:{hashlib.sha256(p.read_bytes()).hexdigest()}"
    return out


class SwapWhenWriting(threading.Thread):
    """Waits for the sink's temp file in ``folder``, then swaps ``folder`` for a symlink to ``target``.

    That is the window between the path check and the rename: a sink that re-resolved the path string would now
    write outside the base.
    """

    def __init__(self, folder: Path, target: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.target = folder, target
        self.swapped = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                names = os.listdir(self.folder)
            except FileNotFoundError:
                names = []
            if any(n.startswith(".out.ndjson.") and n.endswith(".tmp") for n in names):
                os.rename(self.folder, self.folder.with_name("swap_moved"))
                os.symlink(self.target, self.folder)
                self.swapped.set()
                return
            time.sleep(0.0005)


@pytest.fixture
def hostile_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    home = tmp_path / "home"
    for folder in (base, outside, home, base / "inner", base / "swap"):
        folder.mkdir()
    (outside / "victim.json").write_text('["victim"]')
    (base / "link_dir").symlink_to(outside)
    (base / "link_file.json").symlink_to(outside / "victim.json")
    (base / "dangling.json").symlink_to(outside / "created_through_link.json")
    (base / "inner" / "up").symlink_to("../../outside")
    (base / "to_root").symlink_to("/")
    (base / "to_home").symlink_to(home)
    write_records(str(base), "big.ndjson", ({"i": i, "pad": "p" * 100} for i in range(150_000)))
    monkeypatch.setenv("HOME", str(home))  # '~' would land here if anything expanded it
    monkeypatch.setenv("AIRFLOW_CONN_FS_HOSTILE", json.dumps({"conn_type": "fs", "extra": {"path": str(base)}}))
    return {"root": tmp_path, "base": base, "outside": outside, "home": home}


def test_hostile_paths_fail_first_try_and_write_nothing_outside(
    airflow_db: Any, hostile_layout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow.sdk import DAG, Param

    root, base, outside = hostile_layout["root"], hostile_layout["base"], hostile_layout["outside"]
    static = {
        "dotdot": "../escape.json",
        "dotdot_deep": "../../../../../../tmp/escape.json",
        "dotdot_inside_first": "inner/../../escape.json",
        "dot_slash_dotdot": "./../escape.json",
        "dotdot_climb": "a/b/../../../escape.json",
        "dotdot_only": "..",
        "absolute_outside": str(outside / "absolute.json"),
        "absolute_double_slash": "//" + str(outside / "absolute2.json").lstrip("/"),
        "tilde": "~/escape.json",
        "tilde_user": "~root/escape.json",
        "nul": "esc\x00ape.json",
        "empty": "",
        "blank": "   ",
        "folder_only": "inner/",
        "dot": ".",
        "backslash": "..\\..\\escape.json",
        "symlinked_folder": "link_dir/escape.json",
        "symlinked_file": "link_file.json",
        "dangling_symlink": "dangling.json",
        "relative_symlink_up": "inner/up/escape.json",
        "symlink_then_dotdot": "link_dir/../escape.json",
        "symlink_to_root": "to_root" + str(outside / "via_root.json"),
        "symlink_to_home": "to_home/escape.json",
    }
    from_params = {
        "p_dotdot": "../from_conf.json",
        "p_absolute": str(outside / "from_conf.json"),
        "p_tilde": "~/from_conf.json",
        "p_nul": "a\x00.json",
        "p_symlinked_folder": "link_dir/from_conf.json",
        "p_symlinked_file": "link_file.json",
        "p_empty": "",
    }
    params = {key: Param("ok.json", type="string") for key in from_params}
    params["p_folder"] = Param("inner", type="string")
    common: dict[str, Any] = {"retries": 2, "retry_delay": timedelta(seconds=1), "data": [{"x": 1}]}
    with DAG("file_hostile_paths", schedule=None, start_date=datetime(2024, 1, 1), params=params) as dag:
        for i, (name, path) in enumerate(static.items()):
            # half through the fs connection, half through an explicit base_path: both routes are confined
            where = {"fs_conn_id": "fs_hostile"} if i % 2 else {"base_path": str(base)}
            FileSinkOperator(task_id=f"static_{name}", path=path, format="json", **where, **common)
        for name in from_params:
            FileSinkOperator(
                task_id=f"param_{name}",
                path="{{ params." + name + " }}",
                format="json",
                fs_conn_id="fs_hostile",
                **common,
            )
        # a template that builds a traversal from an innocent-looking param
        FileSinkOperator(
            task_id="param_built_traversal",
            path="{{ params.p_folder }}/../../escape.json",
            fs_conn_id="fs_hostile",
            **common,
        )
        # the folder is swapped for a symlink to outside while the sink is writing (check -> use gap)
        big = FileSourceOperator(task_id="swap_source", path="big.ndjson", fs_conn_id="fs_hostile", output="reference")
        FileSinkOperator(
            task_id="swap_sink",
            path="swap/out.ndjson",
            data=big.output,
            fs_conn_id="fs_hostile",
            retries=2,
            retry_delay=timedelta(seconds=1),
        )

    stray = Path("/tmp/escape.json")  # where 'dotdot_deep' would land; outside the snapshot root
    assert not stray.exists()
    hostile_tasks = [t for t in dag.task_ids if t != "swap_source"]
    assert len(hostile_tasks) >= 25
    outside_before = snapshot(root, skip=base)
    base_before = snapshot(base)
    swapper = SwapWhenWriting(base / "swap", outside)
    swapper.start()
    try:
        result = run_dag(dag, conf=from_params)
    finally:
        swapper.stop.set()
        swapper.join(timeout=5)
    log = capsys.readouterr().out

    assert result.tasks["swap_source"].state == "success"
    assert swapper.swapped.is_set(), "the swap never happened: the sink wrote before the watcher saw its temp file"
    outcomes = {t: (result.tasks[t].state, result.tasks[t].try_number) for t in hostile_tasks}
    assert outcomes == {t: ("failed", 1) for t in hostile_tasks}
    assert log.count("Refused path") >= len(hostile_tasks)
    assert "Retryable failure" not in log
    assert "Refused path 'swap/out.ndjson'" in log  # the swap itself was caught, not some other error

    # Nothing was written outside the base: the tree around it is identical, byte for byte and mtime for mtime.
    assert not stray.exists()
    assert snapshot(root, skip=base) == outside_before
    # Inside the base only the swap changed; the sink's temp file was removed from the moved folder.
    base_after = snapshot(base)
    assert base_after["swap"] == "link:" + str(outside)
    assert base_after["swap_moved"] == "dir" and os.listdir(base / "swap_moved") == []
    assert {k: v for k, v in base_after.items() if not k.startswith("swap")} == {
        k: v for k, v in base_before.items() if not k.startswith("swap")
    }


def test_source_to_sink_flow_with_connection_params_and_assets(
    airflow_db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import DAG, Asset, Param

    base = tmp_path / "data"
    base.mkdir()
    real = os.path.realpath(base)
    write_records(real, "in/2024-05-01.csv", [{"city": "Köln", "note": 'says "hi", twice'}])
    write_records(real, "in/2024-05-02.csv", [{"city": "Zürich", "note": ""}])
    write_records(real, "in/big.ndjson", [{"i": i} for i in range(3000)])
    write_records(real, "out/exists.json", [{"keep": True}])
    monkeypatch.setenv("AIRFLOW_CONN_FS_FLOW", json.dumps({"conn_type": "fs", "extra": {"path": str(base)}}))

    with DAG(
        "file_flow",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        params={"name": Param("report", type="string")},
    ) as dag:
        small = FileSourceOperator(task_id="read_small", path="in/*.csv", fs_conn_id="fs_flow")
        FileSinkOperator(
            task_id="write_small", path="out/{{ params.name }}.ndjson", data=small.output, fs_conn_id="fs_flow"
        )
        big = FileSourceOperator(task_id="read_big", path="in/big.ndjson", fs_conn_id="fs_flow", max_inline_bytes=1024)
        FileSinkOperator(task_id="write_big", path="out/big.csv", data=big.output, base_path=real)
        FileSinkOperator(
            task_id="exists",
            path="out/exists.json",
            data=[{"new": True}],
            fs_conn_id="fs_flow",
            mode="error_if_exists",
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
        FileSinkOperator(
            task_id="no_connection",
            path="x.json",
            data=[],
            fs_conn_id="fs_missing",
            retries=2,
            retry_delay=timedelta(seconds=1),
        )

    assert dag.get_task("write_big").outlets == [Asset(uri=f"file://{real}/out/big.csv")]
    assert dag.get_task("exists").outlets == [file_asset("out/exists.json", fs_conn_id="fs_flow")]
    assert dag.get_task("write_small").outlets == []  # templated path: no static asset

    result = run_dag(dag, conf={"name": "cities"})

    assert result.xcom("read_small") == [
        {"city": "Köln", "note": 'says "hi", twice'},
        {"city": "Zürich", "note": ""},
    ]
    small_ref = result.xcom("write_small")
    assert small_ref["path"] == "out/cities.ndjson" and small_ref["records"] == 2
    assert small_ref["fs_conn_id"] == "fs_flow" and "base_path" not in small_ref
    assert next(iter_records(real, "out/cities.ndjson"))["city"] == "Köln"

    big_ref = result.xcom("read_big")
    assert big_ref["kind"] == "file" and big_ref["records"] == 3000 and big_ref["path"] == "in/big.ndjson"
    out_ref = result.xcom("write_big")
    assert out_ref["records"] == 3000 and out_ref["format"] == "csv" and out_ref["base_path"] == real
    assert sum(1 for _ in iter_records(real, "out/big.csv")) == 3000

    assert (result.tasks["exists"].state, result.tasks["exists"].try_number) == ("failed", 1)
    assert list(iter_records(real, "out/exists.json")) == [{"keep": True}]
    assert (result.tasks["no_connection"].state, result.tasks["no_connection"].try_number) == ("failed", 1)


def test_asset_declaration_rules() -> None:
    from airflow.sdk import Asset

    mine = Asset("x-team://orders/paid")
    assert FileSinkOperator(task_id="a", path="../x.json", data=[]).outlets == []  # refused at run time: no asset
    assert FileSinkOperator(task_id="b", path="x.json", data=[], outlets=[mine]).outlets == [mine]
    assert FileSinkOperator(task_id="c", path="x.json", data=[], declare_asset=False).outlets == []
    assert FileSinkOperator(task_id="d", path="r/./x.json", data=[], base_path="{{ var.value.base }}").outlets == []
    assert file_asset("r/./a b.json", base_path="/data/").uri == "file:///data/r/a%20b.json"
    assert file_asset("r/x.json", fs_conn_id="fs_lake").uri == "flowfs://fs_lake/r/x.json"
    with pytest.raises(ValueError, match="refuse"):
        file_asset("../x.json")
