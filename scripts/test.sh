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
# The browser test (tests/e2e/test_browser.py) drives Debian's Chromium through selenium. CI images lack it:
# install it when missing and we are root; otherwise say exactly what to install (the test then fails clearly,
# it is never skipped).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing chromium and chromium-driver for the browser test"
    apt-get update && apt-get install -y chromium chromium-driver
  else
    echo "!! the browser test needs Chromium: run 'sudo apt-get install -y chromium chromium-driver'" >&2
  fi
fi
echo "==> pytest"
exec .venv/bin/python -m pytest "$@"
