#!/usr/bin/env bash
# The oldest supported Airflow (3.1, no retry_policy): the base operator's exception translation alone must give
# the same retry/fail outcomes. Runs the foundation tests in a separate venv (.venv-airflow-3.1) pinned by
# requirements/compat-airflow-3.1.txt, plus the incremental-loading runs (the asset-event watermark fallback).
# Needs scripts/bootstrap.sh to have run (it borrows .venv's uv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-airflow-3.1
if [ ! -x "$VENV/bin/python" ]; then
  .venv/bin/uv venv --quiet --python .venv/bin/python "$VENV"
fi
.venv/bin/uv pip sync --quiet --python "$VENV/bin/python" requirements/compat-airflow-3.1.txt
.venv/bin/uv pip install --quiet --python "$VENV/bin/python" --no-deps -e .
echo "==> pytest on $("$VENV/bin/python" -c 'import airflow; print("Airflow", airflow.__version__)')"
exec "$VENV/bin/python" -m pytest -q tests/operators/test_base_operator.py tests/test_errors.py tests/core/test_registry.py \
  tests/incremental/test_three_runs.py tests/incremental/test_watermark_runtime.py "$@"
