"""The hostile-path suite of local files, case for case, through file.sink and file.source on S3 (issue 12).

The cases are not copied: :data:`tests.storage.s3.test_object_keys.LOCAL_CASES` is built from the local suite's
:data:`tests.storage.test_storage.HOSTILE` (``..``, absolute, ``~``, NUL, empty, blank, folder-only, backslash),
minus the symlink cases (a bucket has no symlinks: those paths are plain keys inside the prefix), and
``OBJECT_CASES`` adds what only object storage has to fear (another bucket or scheme, percent-encoding, control
characters, lone surrogates, keys past S3's 1024 bytes). A case added to the local list runs here as well.

Each case goes through the node configs a DAG author writes (``base_uri`` + ``path``), in every write mode and
both source outputs, against the real server (SeaweedFS). Before and after, *every* bucket of the server is
listed whole, with its incomplete multipart uploads: nothing may appear, change or vanish anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import PathTraversalError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.nodes.file_source import FileSourceConfig, FileSourceRuntime
from airflow_provider_flow.storage.object_keys import ObjectLocation
from tests.fixtures.s3 import BUCKET, all_keys
from tests.nodes.test_file_nodes_s3 import s3_config, settings_for
from tests.s3_server import SeaweedS3
from tests.storage.s3.test_object_keys import LOCAL_CASES, OBJECT_CASES
from tests.storage.test_long_names import EMOJI_NAME, NAME_247

ROWS = [{"id": 1, "city": "Köln"}, {"id": 2, "city": "Zürich"}]

# Glob patterns given to file.source: the same escapes, in the forms a pattern can take.
GLOB_CASES = [
    ("../*.ndjson", "'..'"),
    ("**/../../*.ndjson", "'..'"),
    ("a/*/../../../*.ndjson", "'..'"),
    ("/*.ndjson", "is absolute"),
    ("%2e%2e/*.ndjson", "percent"),
    ("*%2f..%2f*.ndjson", "percent"),
    (f"s3://{BUCKET}/*", "scheme"),
    ("..\\*.ndjson", "backslash"),
    ("~/*.ndjson", "'~'"),
    ("*\x00.ndjson", "control"),
]


def whole_server(admin: Any) -> dict[str, tuple[dict[str, str], list[tuple[str, str]]]]:
    """Every bucket of the server: all its keys with ETags, and all its incomplete multipart uploads."""
    picture: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {}
    for bucket in sorted(b["Name"] for b in admin.list_buckets()["Buckets"]):
        uploads: list[tuple[str, str]] = []
        for page in admin.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            uploads += [(u["Key"], u["UploadId"]) for u in page.get("Uploads") or []]
        picture[bucket] = (all_keys(admin, bucket), sorted(uploads))
    return picture


@pytest.fixture
def seeded(s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any) -> ObjectLocation:
    """A base that holds files, with neighbours outside it that an escape could reach: the listing must show them
    untouched (and a refused read must not have returned them)."""
    prefix = s3_location.key_prefix
    for key in (prefix + "inside.ndjson", prefix.rstrip("/") + "-sibling/escape.json", "escape.json", "etc/passwd"):
        s3_admin.put_object(Bucket=BUCKET, Key=key, Body=b'{"outside": true}\n')
    return s3_location


def refused(call: Any) -> PathTraversalError:
    with pytest.raises(PathTraversalError) as info:
        call()
    assert not info.value.is_retryable
    return info.value


@pytest.mark.parametrize(("requested", "reason"), LOCAL_CASES + OBJECT_CASES)
def test_hostile_path_through_file_nodes_changes_nothing_on_the_server(
    requested: str, reason: str, s3_server: SeaweedS3, seeded: ObjectLocation, s3_admin: Any
) -> None:
    before = whole_server(s3_admin)
    state = ExecutionState(settings=settings_for(s3_server, seeded))
    for mode in ("overwrite", "error_if_exists"):
        config = validate_config(FileSinkConfig, s3_config(seeded, path=requested, mode=mode, format="ndjson"))
        err = refused(lambda config=config: FileSinkRuntime().execute(config, ROWS, state))
        assert reason in err.reason and err.base == seeded.uri
    for output in ("records", "reference"):
        config = validate_config(FileSourceConfig, s3_config(seeded, path=requested, output=output, format="ndjson"))
        err = refused(lambda config=config: FileSourceRuntime().execute(config, None, state))
        assert reason in err.reason
    assert whole_server(s3_admin) == before


@pytest.mark.parametrize(("pattern", "reason"), GLOB_CASES)
def test_hostile_glob_through_file_source_reads_nothing(
    pattern: str, reason: str, s3_server: SeaweedS3, seeded: ObjectLocation, s3_admin: Any
) -> None:
    before = whole_server(s3_admin)
    state = ExecutionState(settings=settings_for(s3_server, seeded))
    for output in ("records", "reference"):
        config = validate_config(FileSourceConfig, s3_config(seeded, path=pattern, output=output, format="ndjson"))
        err = refused(lambda config=config: FileSourceRuntime().execute(config, None, state))
        assert reason in err.reason
    assert whole_server(s3_admin) == before


@pytest.mark.parametrize("name", [NAME_247, EMOJI_NAME], ids=["e-acute", "emoji"])
def test_long_multibyte_names_of_the_local_suite_land_inside_the_prefix(
    name: str, s3_server: SeaweedS3, seeded: ObjectLocation, s3_admin: Any
) -> None:
    """The local long-name cases are valid keys on S3: written under the prefix, nothing else changes."""
    before = whole_server(s3_admin)
    state = ExecutionState(settings=settings_for(s3_server, seeded))
    config = validate_config(FileSinkConfig, s3_config(seeded, path=f"sub/{name}"))
    ref = FileSinkRuntime().execute(config, ROWS, state)
    after = whole_server(s3_admin)
    key = f"{seeded.key_prefix}sub/{name}"
    assert set(after[BUCKET][0]) - set(before[BUCKET][0]) == {key}
    assert {k: v for k, v in after[BUCKET][0].items() if k != key} == before[BUCKET][0]
    assert {b: v for b, v in after.items() if b != BUCKET} == {b: v for b, v in before.items() if b != BUCKET}
    source = validate_config(FileSourceConfig, s3_config(seeded, path=f"sub/{name}"))
    assert FileSourceRuntime().execute(source, None, state) == ROWS and ref.records == 2
