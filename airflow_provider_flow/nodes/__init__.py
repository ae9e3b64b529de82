"""The built-in node runtimes, one module each: its config model on top, the runtime below.

Runtimes are found through the entry-point group ``airflow_provider_flow.runtimes`` (this package's own
``pyproject.toml`` declares these six exactly like a third-party distribution would), so importing this package
registers nothing. Nodes never import each other: what two of them share lives in ``http/``, ``storage/``,
``records/``, ``llm/`` or ``core/``.
"""
