"""FlowFsHook reads the base directory from Airflow's standard ``fs`` connection (env-var connections, no mocks)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.hooks.fs import FlowFsHook
from airflow_provider_flow.hooks.settings import AirflowSettingsProvider
from airflow_provider_flow.storage.base import FS


def test_base_path_from_json_and_uri_connections(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FS_JSON", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
    monkeypatch.setenv("AIRFLOW_CONN_FS_URI", "fs://?path=%2Fsrv%2Fdata")
    assert FlowFsHook(fs_conn_id="fs_json").get_base_path() == str(tmp_path)
    assert FlowFsHook(fs_conn_id="fs_uri").get_base_path() == "/srv/data"
    assert AirflowSettingsProvider().get(FS, "fs_json") == str(tmp_path)
    assert FlowFsHook(fs_conn_id="fs_json").test_connection()[0] is True
    ok, message = FlowFsHook(fs_conn_id="fs_uri").test_connection()
    assert not ok and "/srv/data" in message


def test_default_conn_id_is_fs_default() -> None:
    assert FlowFsHook().fs_conn_id == "fs_default" == FlowFsHook.default_conn_name
    assert FlowFsHook.conn_type == "fs"


def test_missing_connection_names_it_and_the_fix() -> None:
    with pytest.raises(FlowValidationError) as info:
        FlowFsHook(fs_conn_id="fs_not_there").get_base_path()
    message = str(info.value)
    assert "'fs_not_there' is not defined" in message and "AIRFLOW_CONN_FS_NOT_THERE" in message
    assert "base_path" in message and info.value.field == "fs_conn_id" and not info.value.is_retryable


@pytest.mark.parametrize("extra", [{}, {"path": ""}, {"path": "  "}, {"path": 7}])
def test_connection_without_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, extra: dict) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FS_EMPTY", json.dumps({"conn_type": "fs", "extra": extra}))
    with pytest.raises(FlowValidationError, match="no base directory in its extra 'path'"):
        FlowFsHook(fs_conn_id="fs_empty").get_base_path()
