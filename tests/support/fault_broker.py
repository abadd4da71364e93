"""A Kafka broker of the test's own, which a test may stop and start (never the shared one).

It runs from ``deploy/local/kafka.sh`` on its own ports and data directory, so stopping it
disturbs nobody else's tests. Ports and directory can be moved with
``WARDEN_FAULT_KAFKA_PORT`` / ``WARDEN_FAULT_KAFKA_CONTROLLER_PORT`` / ``WARDEN_FAULT_LOCAL_DIR``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.infra import REPO_ROOT

KAFKA_SH = REPO_ROOT / "deploy" / "local" / "kafka.sh"


@dataclass
class FaultBroker:
    port: int = int(os.environ.get("WARDEN_FAULT_KAFKA_PORT", "29092"))
    controller_port: int = int(os.environ.get("WARDEN_FAULT_KAFKA_CONTROLLER_PORT", "29093"))
    local_dir: Path = field(default_factory=lambda: Path(os.environ.get(
        "WARDEN_FAULT_LOCAL_DIR", str(REPO_ROOT / ".local-fault"))))

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                "WARDEN_LOCAL_DIR": str(self.local_dir), "KAFKA_STOP_TIMEOUT": "30"}

    def run(self, command: str) -> None:
        done = subprocess.run([str(KAFKA_SH), command], env=self._env(), capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}")

    async def stop(self) -> None:
        await asyncio.to_thread(self.run, "stop")

    async def start(self) -> None:
        await asyncio.to_thread(self.run, "start")
