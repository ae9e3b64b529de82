"""Typed flow runtime for Apache Airflow.

Node runtimes (``nodes/``, written against ``core/``) are plain Python over shared layers (``http/``,
``storage/``, ``records/``, ``llm/``); ``hooks/``, ``operators/`` and ``flows/`` adapt them to Airflow. Importing
this package imports neither Airflow nor any runtime.
"""

__version__ = "0.1.0"
