"""Staged pages in segments (records/staging.py): how many files and checkpoints a staged run makes, what a try
killed outright loses, and checkpoints written before segments existed (one file per page) still resuming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.state import MemoryStore
from airflow_provider_flow.errors import FlowError
from airflow_provider_flow.records import staging
from tests.fixtures.http_server import FlowHttpServer
from tests.resume.pages_api import ALL_IDS, PER_PAGE, PagesApi, run_source
from tests.resume.test_source_resume import ids_in, staged_files

KEY = "http.source/resume"


class CountingStore(MemoryStore):
    """The task state store, counting its writes (each one an API call on Airflow 3.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def set(self, key: str, value: Any) -> None:
        self.writes += 1
        super().set(key, value)


def attempt(server: FlowHttpServer, path: str, base: Path, store: MemoryStore, try_number: int = 1) -> Any:
    return run_source(server, path, str(base), store, try_number=try_number)


def test_fast_pages_share_one_segment_and_no_checkpoint_until_a_failure(
    http_server: FlowHttpServer, tmp_path: Path
) -> None:
    """Ten quick pages: one staged file, no checkpoint write on the way (one file and one write per page made a
    staged run to S3 3.5x slower); the failure at page 8 closes the segment at page 7 and checkpoints it once."""
    api = PagesApi(http_server, "/segments/fast", fail_page=8)
    store = CountingStore()
    with pytest.raises(FlowError):
        attempt(http_server, "/segments/fast", tmp_path, store)
    saved = store.get(KEY)
    assert (saved["pages"], saved["records"], saved["segments"], store.writes) == (7, 7 * PER_PAGE, [1], 1)
    assert [p.name for p in staged_files(tmp_path)] == ["page-00000001.ndjson"]

    ref = attempt(http_server, "/segments/fast", tmp_path, store, try_number=2)
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10, 11]
    assert ids_in(tmp_path / "items.ndjson") == ALL_IDS and ref.records == len(ALL_IDS)
    assert store.get(KEY) is None and staged_files(tmp_path) == []


def test_a_segment_closes_when_due_so_a_killed_try_loses_only_the_last_two(
    http_server: FlowHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With segments due after 20 bytes (every page), each page is its own segment, closed in the background while
    the next page is fetched and checkpointed once published. A try that dies without running its error path (a
    SIGKILL: here that path is disabled) keeps every page but the one closing and the one being fetched."""
    from airflow_provider_flow.records.resume import SourceCheckpoints

    monkeypatch.setattr(staging, "SEGMENT_BYTES", 20)
    api = PagesApi(http_server, "/segments/due", fail_page=6)
    store = CountingStore()
    monkeypatch.setattr(SourceCheckpoints, "_keep_finished_pages", lambda self: None)
    with pytest.raises(FlowError):
        attempt(http_server, "/segments/due", tmp_path, store)
    saved = store.get(KEY)
    assert (saved["pages"], saved["segments"], store.writes) == (4, [1, 2, 3, 4], 4)
    monkeypatch.undo()
    ref = attempt(http_server, "/segments/due", tmp_path, store, try_number=2)
    assert api.pages_requested == [1, 2, 3, 4, 5, 6, 5, 6, 7, 8, 9, 10, 11]
    assert ids_in(tmp_path / "items.ndjson") == ALL_IDS and ref.records == len(ALL_IDS)
    assert staged_files(tmp_path) == []


def test_a_segment_that_fails_to_close_keeps_nothing_after_it(
    http_server: FlowHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background commit that fails (the store refused it) fails the try, and the finished pages after that
    segment are not kept either (a checkpoint naming them would skip the lost pages)."""
    monkeypatch.setattr(staging, "SEGMENT_BYTES", 20)
    PagesApi(http_server, "/segments/lost")
    store = CountingStore()
    (tmp_path / "blocked" / "page-3").mkdir(parents=True)  # a folder where segment 3 is published: its commit fails
    (tmp_path / "blocked" / "page-3" / "x").write_text("x")
    real = staging.PageStage.page_path
    monkeypatch.setattr(
        staging.PageStage, "page_path", lambda self, page: "blocked/page-3" if page == 3 else real(self, page)
    )
    with pytest.raises(FlowError):
        attempt(http_server, "/segments/lost", tmp_path, store)
    saved = store.get(KEY)
    assert (saved["pages"], saved["segments"]) == (2, [1, 2])  # pages 1-2 kept; 3 lost, so 4 and on are not


def test_a_checkpoint_from_before_segments_resumes_from_its_page_files(
    http_server: FlowHttpServer, tmp_path: Path
) -> None:
    """A retry after an upgrade finds the old layout (one file per page, no ``segments`` in the checkpoint)."""
    api = PagesApi(http_server, "/segments/old", fail_page=4)
    store = MemoryStore()
    with pytest.raises(FlowError):
        attempt(http_server, "/segments/old", tmp_path, store)
    saved = store.get(KEY)
    (segment,) = staged_files(tmp_path)
    lines = segment.read_bytes().splitlines(keepends=True)
    for page in range(1, 4):  # rewrite the stage as the old code left it: page-0000000N.ndjson each
        chunk = lines[(page - 1) * PER_PAGE : page * PER_PAGE]
        segment.with_name(f"page-{page:08d}.ndjson").write_bytes(b"".join(chunk))
    store.set(KEY, {k: v for k, v in saved.items() if k != "segments"})

    ref = attempt(http_server, "/segments/old", tmp_path, store, try_number=2)
    assert api.pages_requested == [1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11]
    assert ids_in(tmp_path / "items.ndjson") == ALL_IDS and ref.records == len(ALL_IDS)
    assert staged_files(tmp_path) == [] and json.dumps(store.get(KEY)) == "null"


def test_a_segment_whose_background_commit_fails_keeps_nothing_after_it(
    http_server: FlowHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same when the commit of a segment closing in the background fails (the rename of its temporary file:
    injected, a real disk fails there too rarely to provoke): the error surfaces while later pages are fetched."""
    from contextlib import contextmanager

    from airflow_provider_flow.storage.local_store import LocalStorage

    monkeypatch.setattr(staging, "SEGMENT_BYTES", 20)
    PagesApi(http_server, "/segments/commit")
    store = CountingStore()
    real = LocalStorage.atomic_write

    @contextmanager
    def failing_commit(self: LocalStorage, path: str, **kwargs: Any) -> Any:
        with real(self, path, **kwargs) as writer:
            yield writer
            if path.endswith("page-00000003.ndjson"):
                raise OSError("rename failed")

    monkeypatch.setattr(LocalStorage, "atomic_write", failing_commit)
    with pytest.raises(OSError, match="rename failed"):
        attempt(http_server, "/segments/commit", tmp_path, store)
    saved = store.get(KEY)
    assert (saved["pages"], saved["segments"]) == (2, [1, 2])
    assert not any(p.name == "page-00000004.ndjson" for p in staged_files(tmp_path))
