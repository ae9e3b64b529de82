#!/usr/bin/env bash
# Create .venv (if needed) and install the locked environment plus this package (editable).
# Needs only python3 (>= 3.10) with venv and pip; uv is installed from PyPI into the venv for speed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
echo "==> installing the locked environment (requirements/lock.txt)"
.venv/bin/uv pip sync --quiet --python .venv/bin/python requirements/lock.txt
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
