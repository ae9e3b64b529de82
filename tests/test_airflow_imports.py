"""Outside ``airflow_compat.py`` the package imports only Airflow's public Task SDK names.

``lint-imports`` (pyproject's ``[tool.importlinter]``) keeps Airflow out of the runtime layers, but cannot tell
``airflow.sdk`` from ``airflow.sdk.definitions._internal``: this test does that part, so a private or
version-sensitive import added anywhere else fails here and goes to ``airflow_compat.py`` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_flow

PACKAGE = Path(airflow_provider_flow.__file__).parent
COMPAT = PACKAGE / "airflow_compat.py"


def airflow_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every ``import airflow...`` / ``from airflow... import ...`` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "airflow" or node.module.startswith("airflow."):
                found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "airflow" or alias.name.startswith("airflow."):
                    found.append((node.lineno, alias.name, []))
    return found


def test_only_public_task_sdk_names_outside_airflow_compat() -> None:
    import airflow.sdk

    public = set(airflow.sdk.__all__)
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == COMPAT:
            continue
        for line, module, names in airflow_imports(path):
            if module != "airflow.sdk" or not set(names) <= public:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {module} {names}")
    assert offenders == [], "import these through airflow_compat.py:\n" + "\n".join(offenders)


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("from airflow.sdk.definitions.param import ParamsDict\nimport airflow.models\n")
    assert airflow_imports(sample) == [(1, "airflow.sdk.definitions.param", ["ParamsDict"]), (2, "airflow.models", [])]
