#!/usr/bin/env bash
# `make bench`: every bench/bench_*.py in turn against the local Kafka and PostgreSQL.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Benchmarks run the services with development keys and secrets.
export WARDEN_DEV_MODE="${WARDEN_DEV_MODE:-true}"
bash deploy/local/up.sh
status=0
for script in bench/bench_*.py; do
  echo "==> $script"
  .venv/bin/python "$script" || status=1
done
exit $status
