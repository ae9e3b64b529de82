#!/usr/bin/env bash
# The README's test command: set up the environment, then lint, type-check, check the import contracts
# (pyproject's [tool.importlinter]) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
echo "==> ruff check";        .venv/bin/ruff check .
echo "==> ruff format --check"; .venv/bin/ruff format --check .
echo "==> mypy";              .venv/bin/mypy airflow_provider_flow
echo "==> import contracts";  .venv/bin/lint-imports --no-cache
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
