"""Typed flow runtime for Apache Airflow.

Runtimes (``airflow_provider_flow.runtimes``) are plain Python; operators (``airflow_provider_flow.operators``)
adapt them to Airflow. Importing this package imports neither Airflow nor any runtime.
"""

__version__ = "0.1.0"
