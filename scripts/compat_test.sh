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
# Resumed retries on 3.1 go through the storage-backed fallback (no task state store): tests/resume, except the
# sink test that relies on the native store (a sink without storage has no fallback and resends every batch).
# Incremental loading on 3.1 keeps the watermark in the commit step's asset event extra (the fallback).
RESUME=(tests/resume/test_source_resume.py
  tests/resume/test_sink_resume.py::test_on_airflow_before_3_3_the_delivered_batches_are_kept_in_the_node_storage
  tests/resume/test_sink_resume.py::test_changed_input_resends_everything_and_a_last_try_keeps_nothing)
exec "$VENV/bin/python" -m pytest -q tests/operators/test_base_operator.py tests/test_errors.py tests/core/test_registry.py \
  tests/incremental/test_three_runs.py tests/incremental/test_watermark_runtime.py "${RESUME[@]}" "$@"
