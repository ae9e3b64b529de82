"""A file.sink worker SIGKILLed in the middle of a multipart upload to a real S3 server (SeaweedFS): issue 12.

test_object_store.py kills a bare ``atomic_write`` at a point the child announces itself. Here the child is a real
``file.sink`` run (records -> NDJSON -> multipart upload), and the kill is triggered by what the *server* shows:
an incomplete multipart upload at the target key holding at least one part (``list_multipart_uploads`` +
``list_parts``), so the kill lands while the worker is mid-upload, not at a cooperative pause.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.storage.object_keys import ObjectLocation
from airflow_provider_flow.storage.object_store import ObjectStorage
from tests.child_processes import sigkill_when
from tests.fixtures.s3 import BUCKET, all_keys, make_fs, open_uploads
from tests.nodes.test_file_nodes_s3 import s3_config, settings_for
from tests.s3_server import SeaweedS3

REPO = Path(__file__).resolve().parents[3]

# The child: file.sink of an endless record stream with 5 MiB parts. After about 12 MiB (two parts sent) it slows
# down, so that the parent's kill (triggered by the server's view) lands while the upload is still open.
CHILD = textwrap.dedent(
    """
    import os, time
    from airflow_provider_flow.core.config import validate_config
    from airflow_provider_flow.core.settings import StaticSettingsProvider
    from airflow_provider_flow.core.state import ExecutionState
    from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
    from airflow_provider_flow.storage.object_keys import parse_base_uri
    from airflow_provider_flow.storage.object_store import MIN_PART_SIZE
    from tests.fixtures.s3 import make_fs

    location = parse_base_uri(os.environ["S3_BASE"])
    fs = make_fs(os.environ["S3_ENDPOINT"], os.environ["S3_KEY"], os.environ["S3_SECRET"])
    fs_by_base = {f"s3://{location.conn_id}@{location.bucket}": fs}
    state = ExecutionState(settings=StaticSettingsProvider(object_storage=fs_by_base))
    config = {"base_uri": location.uri, "conn_id": location.conn_id, "path": "out/victim.ndjson"}
    config = validate_config(FileSinkConfig, {**config, "part_size": MIN_PART_SIZE})

    def records():
        i = 0
        while True:
            i += 1
            if i > 20_000:
                time.sleep(0.01)
            yield {"i": i, "pad": "k" * 600}

    FileSinkRuntime().execute(config, records(), state)
    """
)


def parts_uploaded(admin: Any, key: str) -> int:
    """Parts the server holds for the incomplete upload at ``key`` (0 while there is none)."""
    uploads = [u for u in admin.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads") or []]
    uploads = [u for u in uploads if u["Key"] == key]
    if not uploads:
        return 0
    reply = admin.list_parts(Bucket=BUCKET, Key=key, UploadId=uploads[0]["UploadId"])
    return len(reply.get("Parts") or [])


@pytest.mark.parametrize("previous", [b'{"old": "object"}\n' * 1000, None], ids=["overwrite", "new-key"])
def test_sigkill_mid_multipart_file_sink_leaves_old_object_or_nothing(
    previous: bytes | None, s3_server: SeaweedS3, s3_location: ObjectLocation, s3_admin: Any
) -> None:
    key = f"{s3_location.key_prefix}out/victim.ndjson"
    if previous is not None:
        s3_admin.put_object(Bucket=BUCKET, Key=key, Body=previous)
    before = all_keys(s3_admin)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "S3_ENDPOINT": s3_server.endpoint,
        "S3_KEY": s3_server.access_key,
        "S3_SECRET": s3_server.secret_key,
        "S3_BASE": f"s3://{s3_location.conn_id}@{s3_location.bucket}/{s3_location.prefix}",
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stderr=subprocess.PIPE, cwd=str(REPO))
    sigkill_when(child, lambda: parts_uploaded(s3_admin, key) >= 1, timeout=90)
    assert child.returncode == -9

    # The old object is intact byte for byte (or there is none), and no object appeared anywhere.
    assert all_keys(s3_admin) == before
    if previous is not None:
        assert s3_admin.get_object(Bucket=BUCKET, Key=key)["Body"].read() == previous
    else:
        with pytest.raises(s3_admin.exceptions.NoSuchKey):
            s3_admin.get_object(Bucket=BUCKET, Key=key)
    # What the kill left is an incomplete upload with the parts sent so far, invisible to readers.
    assert open_uploads(s3_admin, s3_location.key_prefix) == [key]
    assert parts_uploaded(s3_admin, key) >= 1

    # A later file.sink under the same base (default stale_upload_seconds: a day) leaves the young upload alone:
    # it could be a slow live writer...
    state = ExecutionState(settings=settings_for(s3_server, s3_location))
    later = validate_config(FileSinkConfig, s3_config(s3_location, path="out/later.ndjson"))
    assert FileSinkRuntime().execute(later, [{"n": 1}], state).records == 1
    assert open_uploads(s3_admin, s3_location.key_prefix) == [key]
    # ...and a write whose age limit the upload has passed aborts it (documented: stale_upload_seconds).
    fs = make_fs(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    sweeper = ObjectStorage(fs, s3_location, stale_upload_seconds=0)
    with sweeper.atomic_write("out/sweep.txt") as writer:
        writer.write(b"s")
    assert open_uploads(s3_admin, s3_location.key_prefix) == []
    if previous is not None:
        assert s3_admin.get_object(Bucket=BUCKET, Key=key)["Body"].read() == previous
    assert set(all_keys(s3_admin)) - set(before) == {
        f"{s3_location.key_prefix}out/later.ndjson",
        f"{s3_location.key_prefix}out/sweep.txt",
    }
