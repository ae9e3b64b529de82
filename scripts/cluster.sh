#!/usr/bin/env bash
# A distributed Airflow on 127.0.0.1 (scripts/cluster.py): PostgreSQL, Redis, SeaweedFS S3, the demo server and
# Airflow with CeleryExecutor (api-server, scheduler, dag-processor, triggerer, two Celery workers that share no
# folder). Prints the UI URL and login; Ctrl-C stops every process it started. `--run DAG_ID [--conf JSON]`
# triggers one run, prints each task's state and worker, and stops. Installs postgresql/redis-server with apt-get
# when missing and run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python scripts/cluster.py "$@"
