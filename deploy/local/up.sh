#!/usr/bin/env bash
# Start the local infrastructure: Kafka (fetched with Maven on first use) and PostgreSQL.
# Idempotent: what already runs is left running. Then: eval "$(deploy/local/env.sh)"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
"$here/kafka.sh" start
"$here/postgres.sh" start
echo "[up] Kafka and PostgreSQL are running; for the services' settings run: eval \"\$($here/env.sh)\""
