"""The transform runtime: every operation, errors with record index, streaming and bounded memory."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_flow.core.config import validate_config
from airflow_provider_flow.core.settings import StaticSettingsProvider
from airflow_provider_flow.core.state import ExecutionState
from airflow_provider_flow.errors import FlowValidationError, PathTraversalError
from airflow_provider_flow.nodes.transform import TransformConfig, TransformRuntime, build_stages, transform_records
from airflow_provider_flow.records.operations import run_pipeline
from airflow_provider_flow.records.reference import FileReference
from airflow_provider_flow.records.writer import write_records

PEOPLE = [
    {"id": 1, "name": "ada", "age": 36, "team": "core", "tags": ["x"]},
    {"id": 2, "name": "bob", "age": 17, "team": "web"},
    {"id": 3, "name": "cy", "age": 52, "team": "core"},
    {"id": 4, "name": "dee", "team": "ops"},
    {"id": 5, "name": "eve", "age": 29, "team": "web"},
]


def test_filter_keeps_truthy_records() -> None:
    assert [r["id"] for r in transform_records(PEOPLE, [{"filter": "age >= `18`"}])] == [1, 3, 5]
    assert [r["id"] for r in transform_records(PEOPLE, [{"filter": "tags"}])] == [1]


def test_select_builds_new_records_and_map_extends_them() -> None:
    selected = transform_records(PEOPLE[:2], [{"select": {"who": "upper(name)", "adult": "age >= `18`"}}])
    assert selected == [{"who": "ADA", "adult": True}, {"who": "BOB", "adult": False}]
    mapped = transform_records(PEOPLE[:1], [{"map": {"name": "upper(name)", "n_tags": "length(tags)"}}])
    assert mapped == [{**PEOPLE[0], "name": "ADA", "n_tags": 1}]


def test_rename_and_drop() -> None:
    out = transform_records(PEOPLE[:1], [{"rename": {"name": "full_name", "nope": "x"}}, {"drop": ["tags", "age"]}])
    assert out == [{"id": 1, "full_name": "ada", "team": "core"}]


def test_rename_onto_an_existing_field_replaces_it_whatever_the_key_order() -> None:
    records = [{"total": 1, "amount": 2}, {"amount": 2, "total": 1}]
    assert transform_records(records, [{"rename": {"amount": "total"}}]) == [{"total": 2}, {"total": 2}]
    swapped = transform_records([{"a": 1, "b": 2}], [{"rename": {"a": "b", "b": "a"}}])
    assert swapped == [{"b": 1, "a": 2}]
    with pytest.raises(FlowValidationError, match="two fields are renamed to 'x'"):
        transform_records([{"a": 1, "c": 2}], [{"rename": {"a": "x", "c": "x"}}])


def test_limit_stops_reading_the_input() -> None:
    pulled: list[int] = []

    def source() -> Any:
        for i in range(1_000_000):
            pulled.append(i)
            yield {"i": i}

    assert transform_records(source(), [{"filter": "i > `2`"}, {"limit": 2}]) == [{"i": 3}, {"i": 4}]
    assert len(pulled) == 5
    assert transform_records(PEOPLE, [{"limit": 0}]) == []


def test_sort_by_short_and_long_form_missing_keys_last_and_stable() -> None:
    asc = transform_records(PEOPLE, [{"sort_by": "age"}])
    assert [r["id"] for r in asc] == [2, 5, 1, 3, 4]
    desc = transform_records(PEOPLE, [{"sort_by": {"key": "age", "reverse": True}}])
    assert [r["id"] for r in desc] == [3, 1, 5, 2, 4]
    by_team = transform_records(PEOPLE, [{"sort_by": "team"}])
    assert [r["id"] for r in by_team] == [1, 3, 4, 2, 5]  # stable within a team


def test_sort_by_mixed_key_types_names_the_record() -> None:
    records = [{"k": 1}, {"k": 2}, {"k": "three"}]
    with pytest.raises(FlowValidationError) as info:
        transform_records(records, [{"sort_by": "k"}])
    assert "failed on record 2" in str(info.value) and "earlier keys are numbers" in str(info.value)
    assert info.value.field == "operations[0].sort_by"


def test_unique_by_keeps_first_of_each_key() -> None:
    out = transform_records(PEOPLE, [{"unique_by": "team"}])
    assert [r["id"] for r in out] == [1, 2, 4]
    out = transform_records([{"k": {"a": 1, "b": 2}}, {"k": {"b": 2, "a": 1}}, {"k": None}], [{"unique_by": "k"}])
    assert len(out) == 2


@pytest.mark.parametrize("reverse", [False, True])
def test_sort_spills_runs_to_disk_and_matches_the_in_memory_sort(reverse: bool) -> None:
    rng = random.Random(7)
    records = [{"k": rng.randint(0, 20), "i": i} if i % 9 else {"i": i} for i in range(503)]
    op = {"sort_by": {"key": "k", "reverse": reverse}}
    in_memory = validate_config(TransformConfig, {"operations": [op]})
    spilling = validate_config(TransformConfig, {"operations": [op], "sort_buffer_records": 10})
    expected = list(run_pipeline(records, build_stages(in_memory)))
    assert list(run_pipeline(records, build_stages(spilling))) == expected
    keyed = [r for r in expected if "k" in r]
    assert keyed == sorted(keyed, key=lambda r: r["k"], reverse=reverse)  # sorted, and stable (ties by input)
    assert [r["i"] for r in expected[len(keyed) :]] == [i for i in range(503) if i % 9 == 0]  # missing keys last


def test_unique_by_bound_is_a_clear_error_and_duplicates_do_not_count() -> None:
    records = [{"i": i} for i in range(10)]
    config = validate_config(TransformConfig, {"operations": [{"unique_by": "i"}], "max_unique_keys": 5})
    with pytest.raises(FlowValidationError, match="max_unique_keys=5"):
        list(run_pipeline(records, build_stages(config)))
    config = validate_config(TransformConfig, {"operations": [{"unique_by": "`1`"}], "max_unique_keys": 1})
    assert len(list(run_pipeline(records, build_stages(config)))) == 1


def test_operations_apply_in_order() -> None:
    ops = [
        {"filter": "age != null"},
        {"sort_by": {"key": "age", "reverse": True}},
        {"select": {"name": "name", "team": "team"}},
        {"unique_by": "team"},
        {"limit": 2},
    ]
    assert transform_records(PEOPLE, ops) == [{"name": "cy", "team": "core"}, {"name": "eve", "team": "web"}]


def test_expression_error_names_operation_record_index_and_reason() -> None:
    with pytest.raises(FlowValidationError) as info:
        transform_records(PEOPLE, [{"filter": "length(age) > `1`"}])
    err = info.value
    assert err.field == "operations[0].filter"
    assert "expression 'length(age) > `1`' failed on record 0" in str(err) and "invalid type" in str(err)
    assert not err.is_retryable


def test_select_error_names_output_field_and_input_index_even_after_sorting() -> None:
    records = [{"v": "b", "o": 2}, {"v": 3, "o": 1}, {"v": "a", "o": 3}]
    with pytest.raises(FlowValidationError) as info:
        transform_records(records, [{"sort_by": "o"}, {"select": {"n": "length(v)"}}])
    assert info.value.field == "operations[1].select.n" and "failed on record 1" in str(info.value)


def test_rename_on_non_object_records_is_explained() -> None:
    with pytest.raises(FlowValidationError, match="record 1 is int"):
        transform_records([{"a": 1}, 5], [{"rename": {"a": "b"}}])


def test_apply_callable_maps_and_drops_and_reports_failures() -> None:
    def double_or_drop(record: dict[str, Any]) -> dict[str, Any] | None:
        return None if record["id"] % 2 else {**record, "id2": record["id"] * 2}

    out = transform_records(PEOPLE, [{"apply": double_or_drop}, {"select": {"id2": "id2"}}])
    assert out == [{"id2": 4}, {"id2": 8}]
    with pytest.raises(FlowValidationError) as info:
        transform_records(PEOPLE, [{"apply": lambda r: r["age"]}])
    assert "KeyError" in str(info.value) and "record 3" in str(info.value)


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ([{"filtr": "a"}], "unknown operation 'filtr'; allowed: filter, select"),
        ([{"filter": "a", "limit": 1}], "one key per operation"),
        ([{"filter": "a[?"}], "config.operations[0].filter: invalid JMESPath expression 'a[?'"),
        ([{"limit": -1}], "config.operations[0].limit"),
        ([{"select": {"a": "b b"}}], "config.operations[0].select.a"),
        ([{"apply": "os.system"}], "config.operations[0].apply: Input should be callable"),
    ],
)
def test_bad_operations_fail_validation_naming_the_place(operations: list[Any], message: str) -> None:
    with pytest.raises(FlowValidationError) as info:
        validate_config(TransformConfig, {"operations": operations})
    assert message in str(info.value)
    assert "Value error" not in str(info.value)  # pydantic's prefix is noise to a DAG author


def _state(base: Path) -> ExecutionState:
    return ExecutionState(settings=StaticSettingsProvider(fs={"fs": str(base)}))


def test_runtime_streams_a_file_reference_to_an_output_file(tmp_path: Path) -> None:
    ref = write_records(str(tmp_path), "in.ndjson", [{"i": i} for i in range(1000)], fs_conn_id="fs")
    config = validate_config(
        TransformConfig,
        {
            "operations": [{"filter": "i > `989`"}, {"map": {"sq": "i"}}],
            "output_path": "out/x.json",
            "fs_conn_id": "fs",
        },
    )
    out = TransformRuntime().execute(config, ref.model_dump(mode="json"), _state(tmp_path))
    assert isinstance(out, FileReference) and out.records == 10 and out.format == "json"
    assert json.loads((tmp_path / "out" / "x.json").read_text())[0] == {"i": 990, "sq": 990}
    inline = TransformRuntime().execute(validate_config(TransformConfig, {}), [{"a": 1}], _state(tmp_path))
    assert inline == [{"a": 1}]


def test_failure_mid_stream_leaves_no_partial_output_file(tmp_path: Path) -> None:
    records = [{"v": "x"}] * 500 + [{"v": 5}]
    config = validate_config(
        TransformConfig,
        {"operations": [{"select": {"n": "length(v)"}}], "output_path": "out.ndjson", "base_path": str(tmp_path)},
    )
    with pytest.raises(FlowValidationError, match="failed on record 500"):
        TransformRuntime().execute(config, records, _state(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_output_path_escaping_the_base_is_refused(tmp_path: Path) -> None:
    config = validate_config(TransformConfig, {"output_path": "../evil.ndjson", "base_path": str(tmp_path)})
    with pytest.raises(PathTraversalError):
        TransformRuntime().execute(config, [{"a": 1}], _state(tmp_path))
    assert not (tmp_path.parent / "evil.ndjson").exists()
