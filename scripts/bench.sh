#!/usr/bin/env bash
# Run every benchmark (quick by default; --mode full for the issue's sizes) and write benchmarks/RESULTS.md.
# Options go to benchmarks/run_all.py (--mode, --only, --note, --output). PYTHON overrides the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$python" benchmarks/run_all.py "$@"
