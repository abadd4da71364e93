"""Where the benchmarks find the services, the infrastructure and their keys."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for _part in ("", "shared", "services/intake", "services/routing", "services/decision",
              "services/notify"):
    if str(REPO / _part) not in sys.path:
        sys.path.insert(0, str(REPO / _part))

ADMIN_DSN = os.environ.get("WARDEN_BENCH_POSTGRES_DSN",
                           "postgresql://warden:warden@127.0.0.1:54320/postgres")
KAFKA = os.environ.get("WARDEN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
API_KEY = "bench-intake-key-0123456789abcdef0123456789"
REVIEWER_SECRET = "bench-reviewer-secret-of-at-least-32-bytes"
WEBHOOK_SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQtMDEyMzQ1Njc4OQ=="
# The services' code: this tree, or another one (``WARDEN_BENCH_TREE``, e.g. an earlier commit
# extracted with ``git archive``) to measure before and after on the same box in one window.
TREE = Path(os.environ.get("WARDEN_BENCH_TREE") or REPO)
PYTHONPATH = os.pathsep.join(str(TREE / p) for p in (
    "", "shared", "services/intake", "services/routing", "services/decision", "services/notify"))
MIGRATIONS = {
    "intake": "warden.intake.app", "routing": "warden.routing.app",
    "decision": "warden.decision.app", "notify": "warden.notify.app",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
