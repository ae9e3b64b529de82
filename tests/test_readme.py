"""The README's example DAG must stay true: it is parsed by a real DagBag exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.airflow_harness import dagbag_class

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_example_dag_imports_cleanly(tmp_path: Path) -> None:
    dags = [block for block in _python_blocks() if "with DAG(" in block]
    assert dags, "the README lost its example DAG"
    for i, block in enumerate(dags):
        (tmp_path / f"readme_example_{i}.py").write_text(block)
    bag = dagbag_class()(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    assert "orders_hourly" in bag.dags
    tasks = {task.task_id: task for task in bag.dags["orders_hourly"].tasks}
    assert set(tasks) == {"fetch_orders", "paid_orders", "write"}
    assert tasks["fetch_orders"].runtime == "http.source" and tasks["write"].runtime == "file.sink"
