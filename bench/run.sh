#!/usr/bin/env bash
# `make bench`: Kafka and PostgreSQL up (reused when running), wrk installed when missing, then
# every figure in one run (bench/run.py). bench_notify.py measures notify's delivery on its own.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Benchmarks run the services with development keys and secrets.
export WARDEN_DEV_MODE="${WARDEN_DEV_MODE:-true}"
bash deploy/local/up.sh
if ! command -v wrk >/dev/null; then
  apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q wrk; }
fi
.venv/bin/python bench/run.py
