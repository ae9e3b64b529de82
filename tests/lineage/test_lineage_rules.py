"""The Airflow-free lineage rules: naming, schema sampling, column lineage through transform operations."""

from __future__ import annotations

from airflow_provider_flow.lineage.columns import expression_fields, plan_operations
from airflow_provider_flow.lineage.naming import http_dataset_id, uri_dataset_id
from airflow_provider_flow.lineage.schema import infer_schema
from airflow_provider_flow.nodes.transform import TransformConfig


def _plan(operations: list[dict]) -> object:
    return plan_operations(TransformConfig.model_validate({"operations": operations}).operations)


def test_http_names_drop_credentials_query_and_default_ports() -> None:
    assert http_dataset_id("http://u:pw@127.0.0.1:8080/a/b?token=x#f") == ("http://127.0.0.1:8080", "/a/b")
    assert http_dataset_id("HTTPS://API.example.com:443/v1") == ("https://api.example.com", "/v1")
    assert http_dataset_id("http://h/keys/S3cr3t-Val/items", ["S3cr3t-Val"]) == ("http://h", "/keys/***/items")
    assert http_dataset_id("ftp://h/x") is None


def test_object_uris_name_bucket_and_key() -> None:
    assert uri_dataset_id("s3://bucket/exports/a.ndjson") == ("s3://bucket", "exports/a.ndjson")
    assert uri_dataset_id("file:///data/a.json") == ("file", "/data/a.json")
    assert uri_dataset_id("s3://key:secret@bucket/a") is None


def test_schema_from_first_records_with_types_merged() -> None:
    schema = infer_schema([{"id": 1, "v": 1.5, "tags": []}, {"id": None, "v": 2, "o": {"x": "s"}}, "not a dict"])
    assert schema is not None
    by_name = {f.name: f for f in schema}
    assert [f.name for f in schema] == ["id", "v", "tags", "o"]
    assert (by_name["id"].type, by_name["v"].type, by_name["tags"].type) == ("integer|null", "number", "array")
    assert [(f.name, f.type) for f in by_name["o"].fields] == [("x", "string")]
    assert infer_schema([{"n": i} for i in range(500)], limit=3) is not None


def test_expression_fields_are_the_top_level_fields_read() -> None:
    assert expression_fields("a.b") == {"a"}
    assert expression_fields("join('-', [a, b.c])") == {"a", "b"}
    assert expression_fields("sort_by(items, &price)[0].x") == {"items"}
    assert expression_fields("a | b") == {"a"}
    assert expression_fields("@") is None
    assert expression_fields("`1`") == set()


def test_column_plan_select_rename_map_drop() -> None:
    plan = _plan([{"filter": "id > `0`"}, {"select": {"out": "a.b", "id": "id"}}, {"rename": {"id": "key"}}])
    assert plan.passthrough is False
    assert plan.sources_of("out") == {"a": "a.b"}
    assert plan.sources_of("key") == {"id": None}
    assert plan.sources_of("id") == {}
    mapped = _plan([{"map": {"label": "upper(name)"}}, {"drop": ["secret"]}, {"limit": 3}])
    assert mapped.passthrough is True
    assert mapped.sources_of("label") == {"name": "upper(name)"}
    assert mapped.sources_of("other") == {"other": None}
    assert mapped.sources_of("secret") == {}
    assert _plan([{"apply": lambda r: r}]) is None
