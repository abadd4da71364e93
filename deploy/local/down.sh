#!/usr/bin/env bash
# Stop the local infrastructure started by up.sh (data is kept; see kafka.sh/postgres.sh reset).
# Also stops the 3-node test cluster of kafka-cluster.sh when it runs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
rc=0
"$here/kafka.sh" stop || rc=1
"$here/kafka-cluster.sh" stop || rc=1
"$here/postgres.sh" stop || rc=1
exit "$rc"
