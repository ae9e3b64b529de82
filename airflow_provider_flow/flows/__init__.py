"""Flow files: DAGs written as YAML/JSON node lists.

:mod:`.spec` validates a flow file without Airflow (used by ``python -m airflow_provider_flow validate``);
:mod:`.dag_builder` turns valid flow files into DAGs inside a DAG file. Import them from their modules:
this package imports neither.
"""
