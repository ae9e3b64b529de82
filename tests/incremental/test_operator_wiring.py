"""How incremental tasks are wired into a DAG when it is parsed: the watermark asset as inlet/outlet, and the
mistakes refused before any run."""

from __future__ import annotations

import pytest

from airflow_provider_flow.errors import FlowValidationError
from airflow_provider_flow.incremental import IncrementalConfig
from airflow_provider_flow.operators.http import HttpSourceOperator
from airflow_provider_flow.operators.incremental import WatermarkCommitOperator, watermark_asset


def test_the_source_reads_and_the_commit_step_writes_the_same_asset() -> None:
    from airflow.sdk import DAG

    with DAG(dag_id="wiring", schedule=None):
        source = HttpSourceOperator(
            task_id="fetch", endpoint="/p", incremental=IncrementalConfig(cursor="updated_at", param="since")
        )
        commit = WatermarkCommitOperator(task_id="commit", source_task_id="fetch")
        plain = HttpSourceOperator(task_id="plain", endpoint="/p")
    asset = watermark_asset("wiring", "fetch")
    assert asset.uri == "x-flow-watermark://wiring/fetch" and asset.name == "flow_watermark.wiring.fetch"
    assert source.inlets == [asset]
    assert commit.inlets == [asset] and commit.outlets == [asset]
    assert plain.inlets == []


def test_an_incremental_task_outside_a_dag_is_refused() -> None:
    with pytest.raises(FlowValidationError, match="create it inside a DAG"):
        HttpSourceOperator(task_id="fetch", endpoint="/p", incremental={"cursor": "t"})
    with pytest.raises(FlowValidationError, match="create the commit step inside"):
        WatermarkCommitOperator(task_id="commit", source_task_id="fetch")


def test_a_templated_block_and_a_misspelled_key_are_refused_at_parse_time() -> None:
    from airflow.sdk import DAG

    with DAG(dag_id="wiring_bad", schedule=None):
        with pytest.raises(FlowValidationError, match="must be a mapping when the DAG is parsed"):
            HttpSourceOperator(task_id="a", endpoint="/p", incremental="{{ var.json.inc }}")
        with pytest.raises(FlowValidationError, match="curser"):
            HttpSourceOperator(task_id="b", endpoint="/p", incremental={"curser": "t"})
