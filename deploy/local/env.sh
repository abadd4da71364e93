#!/usr/bin/env bash
# Print the environment the services need to use the local infrastructure:
#   eval "$(deploy/local/env.sh)"
# Honours KAFKA_PORT and PGPORT_WARDEN like kafka.sh and postgres.sh.
set -euo pipefail
kafka="127.0.0.1:${KAFKA_PORT:-9092}"
pg="postgresql+asyncpg://warden:warden@127.0.0.1:${PGPORT_WARDEN:-54320}"
printf 'export WARDEN_KAFKA_BOOTSTRAP=%s\n' "$kafka"
for svc in intake routing decision notify; do
    printf 'export WARDEN_%s_DATABASE_URL=%s/warden_%s\n' "$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')" "$pg" "$svc"
done
