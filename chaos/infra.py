"""The suite's own Kafka and PostgreSQL, which it may stop, kill and restart at will.

Never the shared broker on 9092 or the database on 54320: the suite drives the project's own
scripts (deploy/local) with other ports and a data directory of its own
(``WARDEN_CHAOS_DIR``, default ``<repo>/.local-chaos``):

* one Kafka node on 127.0.0.1:19292 (controller 19293),
* the three-node KRaft cluster of ``kafka-cluster.sh`` on 19092-19094 (controllers 19192-19194),
* PostgreSQL on 127.0.0.1:19432.

Every port the suite stops and starts again lies below Linux's ephemeral range (32768-60999
by default): clients that keep reconnecting to a stopped broker on a port inside that range
can be given that very port as their own source port (a TCP self-connect), and the broker
then cannot bind it again ("Address already in use"), as a broker restart on 39092 showed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "local"
SINGLE_KAFKA_PORT = 19292
SINGLE_CONTROLLER_PORT = 19293
POSTGRES_PORT = 19432
CLUSTER_BOOTSTRAP = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"


def chaos_dir() -> Path:
    return Path(os.environ.get("WARDEN_CHAOS_DIR", REPO / ".local-chaos")).resolve()


class ScriptFailed(RuntimeError):
    pass


@dataclass
class Scripts:
    """Runs deploy/local scripts with the suite's ports and directory; output goes to a log."""

    log: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "WARDEN_LOCAL_DIR": str(chaos_dir()),
                "KAFKA_PORT": str(SINGLE_KAFKA_PORT),
                "KAFKA_CONTROLLER_PORT": str(SINGLE_CONTROLLER_PORT),
                "PGPORT_WARDEN": str(POSTGRES_PORT), "KAFKA_CLUSTER_STOP_TIMEOUT": "30",
                # A busy two-core box can take well over the default minute to start a broker.
                "KAFKA_READY_TIMEOUT": os.environ.get("KAFKA_READY_TIMEOUT", "180")}

    async def run(self, script: str, *args: str, timeout: float = 300) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n$ {script} {' '.join(args)}\n".encode())
            out.flush()
            process = await asyncio.create_subprocess_exec(
                "bash", str(DEPLOY / script), *args, env=self.env(), cwd=REPO,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
            try:
                status = await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise ScriptFailed(f"{script} {' '.join(args)} took over {timeout:.0f}s "
                                   f"(see {self.log})") from None
        if status != 0:
            raise ScriptFailed(f"{script} {' '.join(args)} exited with {status} (see {self.log})")


def share_kafka_jars() -> None:
    """Reuse the jars of the project's usual .local (if fetched) instead of fetching again."""
    ours = chaos_dir() / "kafka" / "lib"
    usual = REPO / ".local" / "kafka" / "lib"
    if ours.exists() or not (usual / ".warden-pom.sha256").exists():
        return
    ours.parent.mkdir(parents=True, exist_ok=True)
    ours.symlink_to(usual, target_is_directory=True)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class KafkaNode:
    """The single broker (kafka.sh on 19292)."""

    bootstrap = f"127.0.0.1:{SINGLE_KAFKA_PORT}"
    name = "kafka"

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def start(self) -> None:
        share_kafka_jars()
        await self.scripts.run("kafka.sh", "start")

    async def stop(self) -> None:
        await self.scripts.run("kafka.sh", "stop")

    async def reset(self) -> None:
        await self.scripts.run("kafka.sh", "reset")


class KafkaCluster:
    """Three brokers (kafka-cluster.sh on 19092-19094), replication 3, min.insync.replicas 2."""

    bootstrap = CLUSTER_BOOTSTRAP
    name = "kafka-cluster"

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def start(self, node: int | None = None) -> None:
        share_kafka_jars()
        await self.scripts.run("kafka-cluster.sh", "start", *([str(node)] if node else []))

    async def stop(self, node: int | None = None) -> None:
        await self.scripts.run("kafka-cluster.sh", "stop", *([str(node)] if node else []))

    async def kill(self, node: int) -> None:
        await self.scripts.run("kafka-cluster.sh", "kill", str(node))

    async def reset(self) -> None:
        await self.scripts.run("kafka-cluster.sh", "reset")

    def node_pid(self, node: int) -> int | None:
        return _pid(chaos_dir() / "kafka-cluster" / f"node{node}" / "kafka.pid")


class Postgres:
    admin_dsn = f"postgresql://warden:warden@127.0.0.1:{POSTGRES_PORT}/postgres"
    name = "postgres"

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def start(self) -> None:
        await self.scripts.run("postgres.sh", "start")

    async def stop(self) -> None:
        await self.scripts.run("postgres.sh", "stop")

    async def reset(self) -> None:
        await self.scripts.run("postgres.sh", "reset")


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
