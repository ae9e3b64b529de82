"""Test session setup: a private AIRFLOW_HOME with a SQLite metadata DB, created before Airflow is imported.

Airflow reads its configuration at import time, so the environment is set here, at conftest import, not in a
fixture. Test DAG files live in ``tests/dags`` (the configured dags folder), because Airflow 3.3's
``dag.test()`` only runs DAGs the metadata DB already knows; DAGs built inside a test go through
:func:`tests.airflow_harness.run_dag`, which serializes them first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="apf-airflow-home-"))
TESTS_DIR = Path(__file__).resolve().parent
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(TESTS_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)

import pytest  # noqa: E402

# Every module in tests/fixtures/ is a plugin: a new fixture module needs no edit here.
pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}" for path in (TESTS_DIR / "fixtures").glob("*.py") if path.stem != "__init__"
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the metadata DB once per session (about 6 s)."""
    from airflow.utils import db

    db.initdb()
    return _HOME
