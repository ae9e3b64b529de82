"""Confinement and atomic writes on real files in temp dirs (no Airflow)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FileError, FlowValidationError, PathTraversalError
from airflow_provider_flow.storage.atomic import atomic_write
from airflow_provider_flow.storage.base import check_base, resolve_base
from airflow_provider_flow.storage.local import file_error, glob_confined, open_confined
from airflow_provider_flow.storage.paths import confine_path


def run_as_nobody(body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a child that imports the package, then drops to 'nobody': a real EACCES, no mock."""
    code = "import os\nimport sys\nfrom airflow_provider_flow.errors import FileError\n"
    code += "from airflow_provider_flow.storage.atomic import atomic_write\n"
    code += "from airflow_provider_flow.storage.local import glob_confined\n"
    code += "os.setgid(65534); os.setuid(65534)\n" + body
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=60,
    )


def nobody_can_enter() -> Path:
    """A folder under /tmp: pytest's tmp_path sits in a 0700 folder 'nobody' cannot enter."""
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    folder.chmod(0o755)
    return folder


def tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file -> content, symlink -> 'link:<target>', folder -> 'dir'."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = f"link:{os.readlink(p)}"
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = p.read_bytes()
    return out


@pytest.fixture
def layout(tmp_path: Path) -> tuple[str, Path]:
    """base/ with symlinks that escape to outside/, plus benign ones."""
    base = tmp_path / "base"
    outside = tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    (outside / "victim.json").write_text('["old"]')
    (base / "inner").mkdir()
    (base / "inner" / "real.json").write_text("[]")
    (base / "link_dir").symlink_to(outside)
    (base / "link_file.json").symlink_to(outside / "victim.json")
    (base / "dangling.json").symlink_to(outside / "new.json")
    (base / "inner" / "up").symlink_to("../../outside")
    (base / "root").symlink_to("/")
    (base / "alias.json").symlink_to("inner/real.json")
    (base / "alias_dir").symlink_to("inner")
    return os.path.realpath(base), outside


HOSTILE = [
    ("../escape.json", "'..'"),
    ("../../escape.json", "'..'"),
    ("inner/../../escape.json", "'..'"),
    ("./../escape.json", "'..'"),
    ("a/b/../../../escape.json", "'..'"),
    ("..", "names a folder"),
    ("/etc/passwd", "is absolute"),
    ("//etc/passwd", "is absolute"),
    ("~/escape.json", "'~'"),
    ("~root/escape.json", "'~'"),
    ("esc\x00ape.json", "NUL"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("inner/", "names a folder"),
    (".", "names a folder"),
    ("a/ /b.json", "blank"),
    ("..\\..\\escape.json", "backslash"),
    ("link_dir/escape.json", "symlink"),
    ("link_file.json", "symlink"),
    ("dangling.json", "symlink"),
    ("inner/up/escape.json", "symlink"),
    ("link_dir/../escape.json", "symlink"),
    ("root/etc/passwd", "symlink"),
]


@pytest.mark.parametrize(("requested", "reason"), HOSTILE)
def test_confine_path_refuses_hostile_paths(layout: tuple[str, Path], requested: str, reason: str) -> None:
    base, _ = layout
    with pytest.raises(PathTraversalError) as info:
        confine_path(base, requested, operation="write")
    err = info.value
    assert reason in err.reason
    assert err.requested_path == requested and err.base == base
    assert repr(requested) in str(err) and base in str(err)
    assert not err.is_retryable


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("out.json", "out.json"),
        ("new/nested/folders/out.json", "new/nested/folders/out.json"),
        ("inner/../out.json", "out.json"),
        ("./inner//real.json", "inner/real.json"),
        ("alias.json", "inner/real.json"),
        ("alias_dir/x.json", "inner/x.json"),
        ("~tilde_inside/x.json".replace("~", "a~"), "a~tilde_inside/x.json"),
    ],
)
def test_confine_path_allows_paths_inside(layout: tuple[str, Path], requested: str, expected: str) -> None:
    base, _ = layout
    assert confine_path(base, requested, operation="write") == os.path.join(base, expected)


def test_resolve_base_sources_and_refusals(tmp_path: Path) -> None:
    real = os.path.realpath(tmp_path)
    state = ExecutionState(settings=StaticSettingsProvider(fs={"fs_data": str(tmp_path)}))
    assert resolve_base(state, fs_conn_id="fs_data", base_path=None) == real
    assert resolve_base(state, fs_conn_id="fs_data", base_path=str(tmp_path / ".")) == real
    with pytest.raises(FlowValidationError, match="no base directory"):
        resolve_base(state, fs_conn_id=None, base_path=None)
    with pytest.raises(FlowValidationError, match="fs_other"):
        resolve_base(state, fs_conn_id="fs_other", base_path=None)
    with pytest.raises(FlowValidationError, match="relative"):
        check_base("data/files")
    with pytest.raises(FlowValidationError, match="root"):
        check_base("/")
    with pytest.raises(FileError, match="does not exist"):
        check_base(str(tmp_path / "missing"))


def test_atomic_write_creates_nested_folders_and_reports(tmp_path: Path) -> None:
    base = os.path.realpath(tmp_path)
    with atomic_write(base, "a/b/c.bin") as w:
        w.write(b"hello ")
        w.write(b"world")
    assert (tmp_path / "a/b/c.bin").read_bytes() == b"hello world"
    assert w.relative_path == "a/b/c.bin" and w.path == os.path.join(base, "a/b/c.bin") and w.bytes == 11
    assert w.sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert os.listdir(tmp_path / "a/b") == ["c.bin"]


def test_exception_inside_block_keeps_old_target_and_removes_temp(tmp_path: Path) -> None:
    base = os.path.realpath(tmp_path)
    (tmp_path / "t.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_write(base, "t.txt") as w:
        w.write(b"new partial")
        assert len(os.listdir(tmp_path)) == 2  # the temp file exists next to the target
        raise RuntimeError("boom")
    assert (tmp_path / "t.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["t.txt"]


def test_modes(tmp_path: Path) -> None:
    base = os.path.realpath(tmp_path)
    target = tmp_path / "m.txt"
    target.write_text("one\n")
    target.chmod(0o640)
    with atomic_write(base, "m.txt", mode="append") as w:
        w.write(b"two\n")
    assert target.read_text() == "one\ntwo\n" and w.bytes == 8
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file keeps its permissions
    with atomic_write(base, "m.txt") as w:
        w.write(b"three\n")
    assert target.read_text() == "three\n"
    with pytest.raises(FileError) as info, atomic_write(base, "m.txt", mode="error_if_exists") as w:
        w.write(b"never")
    assert info.value.details["errno"] == "EEXIST" and not info.value.is_retryable
    assert "error_if_exists" in str(info.value)
    assert target.read_text() == "three\n"
    with atomic_write(base, "fresh.txt", mode="error_if_exists") as w:
        w.write(b"x")
    assert (tmp_path / "fresh.txt").read_text() == "x"
    assert sorted(os.listdir(tmp_path)) == ["fresh.txt", "m.txt"]
    with pytest.raises(FlowValidationError, match="mode"), atomic_write(base, "z.txt", mode="upsert"):
        pass


def test_error_if_exists_loses_to_a_file_created_during_the_write(tmp_path: Path) -> None:
    base = os.path.realpath(tmp_path)
    with (
        pytest.raises(FileError, match="created by someone else"),
        atomic_write(base, "race.txt", mode="error_if_exists") as w,
    ):
        w.write(b"mine")
        (tmp_path / "race.txt").write_text("theirs")
    assert (tmp_path / "race.txt").read_text() == "theirs"
    assert os.listdir(tmp_path) == ["race.txt"]


def test_missing_folder_without_create_dirs(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info, atomic_write(os.path.realpath(tmp_path), "no/such/x.txt", create_dirs=False):
        pass
    assert info.value.operation == "mkdir" and "create_dirs" in str(info.value) and not info.value.is_retryable


def test_folder_swapped_for_symlink_between_check_and_commit(tmp_path: Path) -> None:
    """The classic TOCTOU: the folder is checked, then replaced by a symlink to outside before the rename."""
    base_dir, outside = tmp_path / "base", tmp_path / "outside"
    (base_dir / "sub").mkdir(parents=True)
    outside.mkdir()
    base = os.path.realpath(base_dir)
    before = tree(outside)
    with pytest.raises(PathTraversalError, match=r"replaced|moved|symlink"), atomic_write(base, "sub/out.txt") as w:
        w.write(b"payload")
        os.rename(base_dir / "sub", base_dir / "sub_moved")
        os.symlink(outside, base_dir / "sub")
    assert tree(outside) == before
    assert os.listdir(base_dir / "sub_moved") == []  # the temp file was removed, nothing committed


def test_folder_swapped_before_open_is_refused(tmp_path: Path) -> None:
    base_dir, outside = tmp_path / "base", tmp_path / "outside"
    (base_dir / "sub").mkdir(parents=True)
    outside.mkdir()
    base = os.path.realpath(base_dir)
    # check passes on the real folder ...
    confine_path(base, "sub/out.txt", operation="write")
    # ... then it is swapped; the O_NOFOLLOW walk refuses instead of following
    os.rename(base_dir / "sub", base_dir / "gone")
    os.symlink("../outside", base_dir / "sub")
    from airflow_provider_flow.storage import local

    with pytest.raises(PathTraversalError, match="became a symlink"):
        local.open_dir_chain(base, ["sub"], create=False, requested="sub/out.txt", operation="write")
    assert os.listdir(outside) == []


def test_final_file_swapped_for_symlink(tmp_path: Path) -> None:
    base_dir, outside = tmp_path / "base", tmp_path / "outside"
    base_dir.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_text("victim")
    (base_dir / "t.txt").write_text("old")
    base = os.path.realpath(base_dir)
    # overwrite: the rename replaces the link itself, the outside file is untouched
    with atomic_write(base, "t.txt") as w:
        os.unlink(base_dir / "t.txt")
        os.symlink(outside / "victim.txt", base_dir / "t.txt")
        w.write(b"new")
    assert (base_dir / "t.txt").read_text() == "new" and not (base_dir / "t.txt").is_symlink()
    # append must read the old content: a symlinked target is refused rather than read through
    os.unlink(base_dir / "t.txt")
    os.symlink(outside / "victim.txt", base_dir / "t.txt")
    with pytest.raises(PathTraversalError), atomic_write(base, "t.txt", mode="append"):
        pass
    assert (outside / "victim.txt").read_text() == "victim"


def test_hard_link_to_outside_file_is_replaced_not_written_through(tmp_path: Path) -> None:
    base_dir, outside = tmp_path / "base", tmp_path / "outside"
    base_dir.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_text("victim")
    os.link(outside / "victim.txt", base_dir / "hard.txt")
    with atomic_write(os.path.realpath(base_dir), "hard.txt", mode="append") as w:
        w.write(b"+new")
    assert (outside / "victim.txt").read_text() == "victim"
    assert (base_dir / "hard.txt").read_text() == "victim+new"
    with atomic_write(os.path.realpath(base_dir), "hard.txt") as w:
        w.write(b"over")
    assert (outside / "victim.txt").read_text() == "victim"
    assert (base_dir / "hard.txt").read_text() == "over"


def test_disk_full_is_a_retryable_file_error(tmp_path: Path) -> None:
    """/dev/full gives a real ENOSPC from the kernel; the target keeps its old content."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this platform")
    base = os.path.realpath(tmp_path)
    (tmp_path / "t.txt").write_text("old")
    with pytest.raises(FileError) as info, atomic_write(base, "t.txt") as w:
        w._file.close()
        w._file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115
        w.write(b"x" * 10)
    assert info.value.is_retryable and info.value.details["errno"] == "ENOSPC"
    assert info.value.operation == "write" and "no space left" in str(info.value)
    assert os.listdir(tmp_path) == ["t.txt"] and (tmp_path / "t.txt").read_text() == "old"


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (errno.ENOSPC, True),
        (errno.EIO, True),
        (errno.ESTALE, True),
        (errno.EACCES, False),
        (errno.EROFS, False),
        (errno.ENOENT, False),
    ],
)
def test_file_error_classification(code: int, retryable: bool) -> None:
    err = file_error(OSError(code, os.strerror(code)), path="/b/x", operation="write")
    assert err.is_retryable is retryable
    assert err.path == "/b/x" and err.operation == "write" and "'/b/x'" in str(err)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_permission_denied_is_not_retryable(tmp_path: Path) -> None:
    """Real EACCES: a child process drops to 'nobody' (after its imports) and writes into a root-owned folder."""
    folder = nobody_can_enter()
    result = run_as_nobody(
        "try:\n"
        f"    with atomic_write({str(os.path.realpath(folder))!r}, 'x.txt') as w: w.write(b'x')\n"
        "except FileError as e:\n"
        "    print(e.details['errno'], e.is_retryable, e.operation)\n"
    )
    try:
        assert result.stdout.split() == ["EACCES", "False", "open"], result.stderr
        assert os.listdir(folder) == []
    finally:
        folder.rmdir()


def test_open_confined_refuses_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(FileError, match="not a regular file"):
        open_confined(os.path.realpath(tmp_path), "pipe.txt")


def test_open_confined_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileError) as info:
        open_confined(os.path.realpath(tmp_path), "nope.json")
    assert info.value.details["errno"] == "ENOENT" and not info.value.is_retryable


def test_glob_confined(layout: tuple[str, Path]) -> None:
    base, outside = layout
    b = Path(base)
    (b / "data" / "2024").mkdir(parents=True)
    for name in ("data/a.csv", "data/b.csv", "data/2024/c.csv", "data/.hidden.csv", "data/d.json"):
        (b / name).write_text("x")
    (outside / "o.csv").write_text("x")
    assert glob_confined(base, "data/*.csv") == ["data/a.csv", "data/b.csv"]
    assert glob_confined(base, "data/**/*.csv") == ["data/2024/c.csv", "data/a.csv", "data/b.csv"]
    assert glob_confined(base, "*/2024/*") == ["data/2024/c.csv"]
    assert "link_dir/o.csv" not in glob_confined(base, "**/*.csv")  # symlinked folders are not walked
    with pytest.raises(PathTraversalError):
        glob_confined(base, "../*.csv")
    with pytest.raises(PathTraversalError):
        glob_confined(base, "link_dir/*.csv")
    with pytest.raises(PathTraversalError):
        glob_confined(base, "*.json")  # link_file.json / dangling.json point outside: refused, not skipped


def test_open_append_is_confined_and_appends_in_place(layout: tuple[str, Path]) -> None:
    base, outside = layout
    from airflow_provider_flow.storage.local import open_append

    for _ in range(2):
        fd = open_append(base, "journal/cache.ndjson")
        try:
            os.write(fd, b"{}\n")
        finally:
            os.close(fd)
    assert Path(base, "journal/cache.ndjson").read_bytes() == b"{}\n{}\n"
    assert stat.S_IMODE(Path(base, "journal/cache.ndjson").stat().st_mode) == 0o600
    for hostile in ("link_file.json", "link_dir/j.ndjson", "../j.ndjson"):
        with pytest.raises(PathTraversalError):
            open_append(base, hostile)
    assert (outside / "victim.json").read_text() == '["old"]' and sorted(os.listdir(outside)) == ["victim.json"]
    os.mkfifo(Path(base, "fifo.ndjson"))
    with pytest.raises(FileError, match="not a regular file"):
        open_append(base, "fifo.ndjson")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_glob_fails_on_a_folder_it_cannot_list_instead_of_missing_its_files() -> None:
    """os.walk skips unreadable folders silently: a file.source glob would hand on part of the data as all of it."""
    base = nobody_can_enter()
    try:
        (base / "open").mkdir(mode=0o755)
        (base / "open" / "a.csv").write_text("x")
        (base / "locked").mkdir(mode=0o700)  # root-owned: 'nobody' cannot list it
        (base / "locked" / "b.csv").write_text("x")
        result = run_as_nobody(
            "try:\n"
            f"    print(glob_confined({str(os.path.realpath(base))!r}, '**/*.csv'))\n"
            "except FileError as e:\n"
            "    print(e.details['errno'], e.operation, e.is_retryable, e.path.endswith('locked'))\n"
        )
        assert result.stdout.split() == ["EACCES", "glob", "False", "True"], result.stdout + result.stderr
    finally:
        shutil.rmtree(base)
