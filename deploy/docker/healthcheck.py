"""Container health check: GET /healthz of the service named by $SERVICE (exit 0 if alive)."""

import os
import sys
import urllib.request

DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "decision": 8003, "notify": 8004}

service = os.environ.get("SERVICE", "intake")
port = os.environ.get(f"WARDEN_{service.upper()}_PORT", DEFAULT_PORTS.get(service, 8000))
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
