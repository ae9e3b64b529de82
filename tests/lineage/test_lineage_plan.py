"""``node_lineage`` per runtime without Airflow: settings from a StaticSettingsProvider, files in tmp_path."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.http.settings import HttpSettings
from airflow_provider_flow.lineage import node_lineage
from airflow_provider_flow.nodes.file_sink import FileSinkConfig
from airflow_provider_flow.nodes.http_sink import HttpSinkConfig

SECRET = "Pl4n-Secret-Tok"


def _settings() -> StaticSettingsProvider:
    return StaticSettingsProvider(
        http={"api": HttpSettings(base_url="https://user:pw@api.example.com:8443/v1", bearer_token=SECRET)}
    )


def test_http_sink_reads_an_object_reference_and_writes_the_endpoint() -> None:
    config = HttpSinkConfig(endpoint=f"/orders/{SECRET}?key=abc", http_conn_id="api")
    ref = {"kind": "file", "path": "exports/a.ndjson", "base_path": "s3://bucket/team", "format": "ndjson"}
    lineage = node_lineage("http.sink", config, ref, None, _settings())
    assert [d.key for d in lineage.inputs] == [("s3://bucket", "team/exports/a.ndjson")]
    assert [d.key for d in lineage.outputs] == [("https://api.example.com:8443", "/v1/orders/***")]


def test_http_sink_after_the_run_reports_the_schema_sent() -> None:
    config = HttpSinkConfig(endpoint="/in", http_conn_id="api")
    lineage = node_lineage("http.sink", config, [{"id": 1, "ok": True}], {"accepted_records": 1}, _settings())
    (out,) = lineage.outputs
    assert out.schema is not None
    assert [(f.name, f.type) for f in out.schema] == [("id", "integer"), ("ok", "boolean")]


def test_file_sink_before_the_run_names_its_confined_target(tmp_path: Path) -> None:
    config = FileSinkConfig(path="out/../final.csv", base_path=str(tmp_path))
    lineage = node_lineage("file.sink", config, [{"a": 1}], None, StaticSettingsProvider())
    assert [d.key for d in lineage.outputs] == [("file", str(tmp_path.resolve() / "final.csv"))]
    refused = node_lineage("file.sink", FileSinkConfig(path="../x", base_path=str(tmp_path)), [], None, _settings())
    assert refused.outputs == ()
