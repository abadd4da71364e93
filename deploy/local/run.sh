#!/usr/bin/env bash
# `make run`: the whole system on this machine.
# Kafka + PostgreSQL (reused if already up), migrations, topics, the four services and a
# webhook receiver and an SMTP sink that log what notify sends. Ctrl-C stops what this run started.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
py="$repo/.venv/bin/python"
logs="${WARDEN_LOCAL_DIR:-$repo/.local}/logs"
mkdir -p "$logs"

# A development run: the published local secrets and the dev API key are allowed (a
# production start refuses them).
export WARDEN_DEV_MODE="${WARDEN_DEV_MODE:-true}"
export WARDEN_INTAKE_DEV_API_KEY="${WARDEN_INTAKE_DEV_API_KEY:-dev-intake-key}"
export WARDEN_DECISION_DEV_API_KEY="${WARDEN_DECISION_DEV_API_KEY:-dev-decision-key}"
export WARDEN_RECEIVER_PORT="${WARDEN_RECEIVER_PORT:-8099}"
export WARDEN_NOTIFY_WEBHOOK_URL="${WARDEN_NOTIFY_WEBHOOK_URL:-http://127.0.0.1:${WARDEN_RECEIVER_PORT}/webhooks}"
export WARDEN_SMTP_SINK_PORT="${WARDEN_SMTP_SINK_PORT:-8025}"
export WARDEN_NOTIFY_SMTP_URL="${WARDEN_NOTIFY_SMTP_URL:-smtp://127.0.0.1:${WARDEN_SMTP_SINK_PORT}}"
export WARDEN_LOG_JSON="${WARDEN_LOG_JSON:-true}"

infra_started=()
bash deploy/local/kafka.sh status >/dev/null 2>&1 || infra_started+=(kafka)
bash deploy/local/postgres.sh status >/dev/null 2>&1 || infra_started+=(postgres)
bash deploy/local/up.sh

echo "==> topics and migrations"
"$py" -m warden.cli topics
"$py" -m warden.cli migrate all

# The services run under deploy/local/supervise.py: a crashed service is restarted with a
# backoff and the restart is reported here; Ctrl-C (or SIGTERM) stops them all.
supervisor=""
stop_all() {
  trap - INT TERM EXIT
  echo
  if [ -n "$supervisor" ]; then
    echo "==> stopping services"
    kill -TERM "$supervisor" 2>/dev/null || true
    wait "$supervisor" 2>/dev/null || true
  fi
  for component in "${infra_started[@]}"; do bash "deploy/local/$component.sh" stop || true; done
  echo "==> stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

echo "==> starting services (logs in $logs)"
"$py" deploy/local/supervise.py --log-dir "$logs" \
  "receiver=$py -m warden.notify.receiver" \
  "smtp=$py -m warden.notify.smtp_sink" \
  "intake=$py -m warden.intake" \
  "routing=$py -m warden.routing" \
  "decision=$py -m warden.decision" \
  "notify=$py -m warden.notify" &
supervisor=$!

declare -A ports=([intake]=${WARDEN_INTAKE_PORT:-8001} [routing]=${WARDEN_ROUTING_PORT:-8002}
                 [decision]=${WARDEN_DECISION_PORT:-8003} [notify]=${WARDEN_NOTIFY_PORT:-8004})
for name in intake routing decision notify; do
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:${ports[$name]}/readyz" >/dev/null 2>&1 && break
    kill -0 "$supervisor" 2>/dev/null || { echo "!! the services could not be kept running; see $logs"; exit 1; }
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:${ports[$name]}/readyz" >/dev/null 2>&1 \
    || { echo "!! $name did not become ready; see $logs/$name.log"; exit 1; }
done

cat <<EOT

Warden is running:
  intake    http://127.0.0.1:8001   (API key: X-API-Key: $WARDEN_INTAKE_DEV_API_KEY)   docs: /docs
  routing   http://127.0.0.1:8002   (reviewers: Authorization: Bearer \$(bin/warden token --reviewer alice))
  decision  http://127.0.0.1:8003   (appeals: X-API-Key: $WARDEN_DECISION_DEV_API_KEY)
  notify    http://127.0.0.1:8004
  receiver  $WARDEN_NOTIFY_WEBHOOK_URL   (logs every signed webhook it gets)
  smtp      $WARDEN_NOTIFY_SMTP_URL   (SMTP sink: logs every email notify sends)
  Kafka     ${WARDEN_KAFKA_BOOTSTRAP:-127.0.0.1:9092}    PostgreSQL 127.0.0.1:${PGPORT_WARDEN:-54320}
Walkthrough with curl: README.md. Ctrl-C stops everything.

EOT
status=0
wait "$supervisor" || status=$?
supervisor=""
# 130: stopped by Ctrl-C or SIGTERM. Anything else: a service kept failing and the supervisor
# gave up (it said which one, and why).
if [ "$status" -eq 130 ]; then exit 130; fi
echo "!! stopped because a service kept failing (status $status; see $logs)"
exit 1
