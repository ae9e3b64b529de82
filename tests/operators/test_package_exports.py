"""Every operator imports from ``airflow_provider_flow.operators`` (a new user's first import failed), lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import airflow_provider_flow.operators as operators
from airflow_provider_flow.operators.base import FlowNodeOperator

NAMES = [
    "FlowNodeOperator",
    "HttpSourceOperator",
    "HttpSinkOperator",
    "FileSourceOperator",
    "FileSinkOperator",
    "TransformOperator",
    "AiTransformOperator",
]


@pytest.mark.parametrize("name", NAMES)
def test_every_operator_imports_from_the_package(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from airflow_provider_flow.operators import {name}", namespace)
    operator = namespace[name]
    assert isinstance(operator, type) and issubclass(operator, FlowNodeOperator)
    assert name in operators.__all__


def test_the_public_names_and_their_homes_agree() -> None:
    assert sorted(operators._HOMES) == sorted(operators.__all__) == sorted(NAMES)


def test_an_unknown_name_lists_the_operators() -> None:
    with pytest.raises(AttributeError, match=r"operators: .*HttpSourceOperator"):
        _ = operators.HttpSourceOperatr


def test_importing_one_operator_does_not_import_the_others() -> None:
    code = (
        "import sys\n"
        "from airflow_provider_flow.operators import TransformOperator\n"
        "print(sorted(m for m in sys.modules if m.startswith('airflow_provider_flow.operators.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.strip().splitlines()[-1]
    assert "airflow_provider_flow.operators.transform" in loaded
    for other in ("http", "file", "ai"):
        assert f"airflow_provider_flow.operators.{other}'" not in loaded
