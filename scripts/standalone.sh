#!/usr/bin/env bash
# The README's third command: `airflow standalone` with the example DAGs, the demo server and the example
# connections, on 127.0.0.1 (port 8080 if free). Prints the UI URL and where the admin password is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python scripts/standalone.py "$@"
