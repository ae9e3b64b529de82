"""File names up to NAME_MAX bytes work in every write mode; longer ones are refused up front (issue 10, class 14).

The temporary name (``.<name>.<hex>.tmp``) is longer than the target's, so it is trimmed to fit NAME_MAX in bytes
of the filesystem encoding, on a character boundary: a 247-byte name of two-byte characters must still work.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.nodes.file_sink import FileSinkConfig, FileSinkRuntime
from airflow_provider_flow.records.reader import iter_records
from airflow_provider_flow.storage.atomic import WRITE_MODES, atomic_write
from airflow_provider_flow.storage.temp_files import temp_name

NAME_247 = "é" * 120 + ".ndjson"  # 240 + 7 bytes in UTF-8, 127 characters
EMOJI_NAME = "😀" * 61 + ".ndjson"  # 244 + 7 bytes: a cut in the middle of a 4-byte character would be invalid


@pytest.fixture
def base(tmp_path: Path) -> str:
    return os.path.realpath(tmp_path)


def sink(base: str, path: str, records: list[dict[str, int]], mode: str) -> None:
    config = validate_config(FileSinkConfig, {"path": path, "mode": mode})
    state = ExecutionState(settings=StaticSettingsProvider(fs={"fs_default": base}))
    FileSinkRuntime().execute(config, records, state)


def test_names_are_the_sizes_the_issue_names() -> None:
    assert len(os.fsencode(NAME_247)) == 247 and len(os.fsencode(EMOJI_NAME)) == 251


@pytest.mark.parametrize("name", [NAME_247, EMOJI_NAME, "x" * 250 + ".json"], ids=["e-acute", "emoji", "ascii"])
@pytest.mark.parametrize("mode", WRITE_MODES)
def test_file_sink_writes_a_long_multibyte_name_in_every_mode(base: str, name: str, mode: str) -> None:
    path = f"sub/{name}"
    if mode == "append":
        sink(base, path, [{"i": 0}], "overwrite")
    sink(base, path, [{"i": 1}], mode)
    expected = [{"i": 0}, {"i": 1}] if mode == "append" else [{"i": 1}]
    assert list(iter_records(base, path)) == expected
    assert os.listdir(Path(base, "sub")) == [name]  # no temp file left behind


@pytest.mark.parametrize("name", [NAME_247, EMOJI_NAME, "x" * 255, "a"], ids=["e-acute", "emoji", "ascii", "short"])
def test_temp_names_fit_name_max_in_bytes_on_a_character_boundary(base: str, name: str) -> None:
    tmp = temp_name(name, name_max=255)
    encoded = os.fsencode(tmp)
    assert len(encoded) <= 255
    assert os.fsdecode(encoded) == tmp and tmp.startswith(".") and tmp.endswith(".tmp")
    assert name.startswith(tmp[1:].rsplit(".", 2)[0])  # a prefix of the target's name, whole characters only


def test_a_name_past_name_max_is_refused_before_anything_is_written(base: str) -> None:
    name = "é" * 128 + ".x"  # 258 bytes
    with pytest.raises(FlowValidationError) as info, atomic_write(base, name) as writer:
        writer.write(b"never")
    assert info.value.field == "path" and "258 bytes" in str(info.value) and "255" in str(info.value)
    assert not info.value.is_retryable
    assert os.listdir(base) == []
