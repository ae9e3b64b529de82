"""Run the lineage test DAG in a fresh process whose OpenLineage configuration is set before Airflow starts.

The provider's plugin decides at import time whether its listener is registered (``conf.is_disabled()``: no
transport configured means disabled), so OpenLineage cannot be switched on inside the test session after
Airflow was imported there; the rest of the suite runs with it off. Usage:
``python -m tests.lineage.ol_dag_run '{"server": ..., "base": ..., "events": ..., "token": ...}'``
(the parent passes AIRFLOW_HOME and the metadata DB of its session in the environment).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime


def main(args: dict[str, str]) -> None:
    os.environ["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
        {"type": "file", "log_file_path": args["events"], "append": True}
    )
    os.environ["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "flow-tests"
    os.environ.pop("AIRFLOW__OPENLINEAGE__DISABLED", None)

    from airflow.sdk import DAG

    from airflow_provider_flow.operators.file import FileSinkOperator
    from airflow_provider_flow.operators.http import HttpSourceOperator
    from airflow_provider_flow.operators.transform import TransformOperator
    from tests.airflow_harness import run_dag

    base = args["base"]
    with DAG("lineage_e2e", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        source = HttpSourceOperator(
            task_id="fetch",
            http_conn_id="lineage_api",
            endpoint=f"/cursor/items?token={args['token']}",
            records_path="data",
            pagination={"type": "cursor", "cursor_path": "meta.next_cursor"},
            output_path="raw/items.ndjson",
            base_path=base,
        )
        shaped = TransformOperator(
            task_id="shape",
            data=source.output,
            operations=[
                {"filter": "id > `1`"},
                {"select": {"item_id": "id", "label": "upper(name)"}},
                {"rename": {"item_id": "key"}},
            ],
            output_path="shaped/items.ndjson",
            base_path=base,
        )
        FileSinkOperator(task_id="store", data=shaped.output, path="final/items.json", base_path=base)
    result = run_dag(dag)
    print(
        "LINEAGE_RESULT " + json.dumps({"state": result.state, "tasks": {k: v.state for k, v in result.tasks.items()}})
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
