#!/usr/bin/env bash
# The README's first command: install the environment, then run the scheduled example end to end, offline
# (fresh AIRFLOW_HOME under .demo/, SQLite, the bundled demo server). Extra arguments go to scripts/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
