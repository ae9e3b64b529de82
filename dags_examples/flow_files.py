"""Example (d): the loader DAG file that turns every flow file in ``flows/`` into a DAG.

One DAG per ``*.yaml``/``*.yml``/``*.json`` file, one task per node. An invalid flow file makes this file's import
fail with one message naming the file, the node and the key (the DAG import error in the UI);
``python -m airflow_provider_flow validate dags_examples/flows`` prints the same without Airflow.
"""

from __future__ import annotations

from pathlib import Path

from airflow_provider_flow.flows.dag_builder import load_flows

# "airflow" + "dag" appear in this file, so Airflow's safe-mode scan parses it.
globals().update(load_flows(Path(__file__).resolve().parent / "flows"))
