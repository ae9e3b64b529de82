"""``scripts/demo.py`` wipes its work folders on every run: only folders it created itself."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def demo_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flow_demo_script", REPO / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_demo_refuses_to_wipe_a_data_folder_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "data" / "thesis.txt"
    precious.parent.mkdir()
    precious.write_text("years of work")
    with pytest.raises(SystemExit, match="was not created by this demo"):
        demo_module().main(["--workdir", str(tmp_path)])
    assert precious.read_text() == "years of work"


def test_demo_claims_a_new_workdir_and_may_wipe_it_later(tmp_path: Path) -> None:
    demo = demo_module()
    workdir = tmp_path / "new"
    demo.claim_workdir(workdir)
    (workdir / "data").mkdir()
    (workdir / "data" / "old_output.ndjson").write_text("{}\n")
    demo.claim_workdir(workdir)  # its own folder: no refusal
    assert (workdir / demo.MARKER).exists()
