"""The four services as real processes under the local supervisor, on the suite's own
Kafka and PostgreSQL, each with a fresh database and a fresh topic namespace."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
import sqlalchemy as sa

from chaos.infra import REPO, kill_pid
from chaos.receiver import Receiver
from warden.shared.bus.kafka import ensure_topics
from warden.shared.contracts.topics import all_topics_with_dlq
from warden.shared.migrations import upgrade
from warden.cli.services import SERVICE_NAMES, service

PORTS = {"intake": 8101, "routing": 8102, "decision": 8103, "notify": 8104}
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"chaos-suite-webhook-secret-0123456789").decode()
REVIEWER_SECRET = "chaos-suite-reviewer-token-secret-of-48-bytes-0123"
API_KEY = "chaos-intake-key-0123456789abcdef"


def sqlalchemy_url(admin_dsn: str, database: str) -> str:
    return (sa.make_url(admin_dsn).set(drivername="postgresql+asyncpg", database=database)
            .render_as_string(hide_password=False))


def libpq_url(admin_dsn: str, database: str) -> str:
    return sa.make_url(admin_dsn).set(database=database).render_as_string(hide_password=False)


@dataclass
class System:
    kafka: str
    admin_dsn: str
    run_dir: Path
    replication: int = 1
    partitions: int = 3
    prefix: str = field(default_factory=lambda: f"chaos{uuid.uuid4().hex[:6]}.")
    receiver: Receiver = field(default_factory=lambda: Receiver(WEBHOOK_SECRET))
    supervisor: asyncio.subprocess.Process | None = None
    pools: dict[str, asyncpg.Pool] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.run_dir / "state"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{PORTS[name]}"

    def database(self, name: str) -> str:
        return f"{self.prefix.rstrip('.')}_{name}"

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICE_NAMES:  # one at a time: Alembic's context is process-global
            await self._fresh_database(name)
        await ensure_topics(self.kafka, [self.prefix + t for t in all_topics_with_dlq()],
                            self.partitions, self.replication)
        await self.receiver.start()
        await self.start_services()

    async def _fresh_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.database(name)}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self.database(name)}"')
        finally:
            await conn.close()
        await upgrade(service(name).migrations, sqlalchemy_url(self.admin_dsn, self.database(name)))

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("WARDEN_")}
        env.update({
            "WARDEN_KAFKA_BOOTSTRAP": self.kafka,
            "WARDEN_TOPIC_PREFIX": self.prefix,
            "WARDEN_TOPIC_REPLICATION": str(self.replication),
            "WARDEN_REVIEWER_TOKEN_SECRET": REVIEWER_SECRET,
            "WARDEN_LOG_LEVEL": "INFO",
            "WARDEN_INTAKE_DEV_API_KEY": API_KEY,
            # The load is one client; its rate is the suite's to choose, not the limiter's.
            "WARDEN_INTAKE_RATE_LIMIT_PER_S": "10000",
            "WARDEN_INTAKE_RATE_LIMIT_BURST": "10000",
            "WARDEN_NOTIFY_WEBHOOK_URL": self.receiver.url,
            "WARDEN_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PYTHONUNBUFFERED": "1",
            "WARDEN_DEV_MODE": "true",  # the local dev secrets above
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "cli"), str(REPO / "shared")] + [str(REPO / "services" / n) for n in SERVICE_NAMES]
                + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        })
        for name in SERVICE_NAMES:
            upper = name.upper()
            env[f"WARDEN_{upper}_PORT"] = str(PORTS[name])
            env[f"WARDEN_{upper}_DATABASE_URL"] = sqlalchemy_url(self.admin_dsn,
                                                                 self.database(name))
        return env

    async def start_services(self) -> None:
        """The four services under deploy/local/supervise.py, as ``make run`` runs them."""
        programs = [f"{n}={sys.executable} -m warden.{n}" for n in SERVICE_NAMES]
        self.supervisor = await asyncio.create_subprocess_exec(
            sys.executable, str(REPO / "deploy" / "local" / "supervise.py"), "--quiet",
            "--log-dir", str(self.log_dir), "--state-dir", str(self.state_dir), *programs,
            env=self.env(), cwd=REPO, stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.run_dir / "supervisor.log").open("ab"),
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        await self.wait_ready(timeout=120)

    async def stop_services(self) -> None:
        if self.supervisor and self.supervisor.returncode is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.supervisor.wait(), 40)
            except TimeoutError:
                self.supervisor.kill()
                await self.supervisor.wait()
        self.supervisor = None

    async def restart_services(self) -> None:
        await self.stop_services()
        await self.start_services()

    async def stop(self) -> None:
        for pool in self.pools.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)
        self.pools.clear()
        await self.stop_services()
        await self.receiver.stop()

    async def remove_data(self) -> None:
        """Drop the run's databases and topics (the infrastructure itself stays)."""
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            for name in SERVICE_NAMES:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.database(name)}" WITH (FORCE)')
        finally:
            await conn.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka, client_id="chaos-cleanup")
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if doomed:
                await admin.delete_topics(doomed, timeout_ms=30000)
        finally:
            await admin.close()

    # ------------------------------------------------------------------ processes
    def pid(self, name: str) -> int | None:
        try:
            return int((self.state_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        pid = self.pid(name)
        if pid is None or not kill_pid(pid, sig):
            raise RuntimeError(f"{name} is not running; nothing to kill")
        return pid

    def restarts(self) -> list[dict]:
        """The supervisor's events (start, exit, restart) so far."""
        path = self.state_dir / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    # ------------------------------------------------------------------ readiness
    async def readiness(self, client: httpx.AsyncClient) -> dict[str, bool]:
        async def ready(name: str) -> bool:
            try:
                response = await client.get(f"{self.url(name)}/readyz", timeout=3)
            except httpx.HTTPError:
                return False
            return response.status_code == 200
        results = await asyncio.gather(*(ready(n) for n in SERVICE_NAMES))
        return dict(zip(SERVICE_NAMES, results, strict=True))

    async def wait_ready(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                state = await self.readiness(client)
                if all(state.values()):
                    return
                if self.supervisor and self.supervisor.returncode is not None:
                    raise RuntimeError(f"the supervisor gave up (see {self.log_dir})")
                if loop.time() > deadline:
                    raise RuntimeError(f"not ready after {timeout:.0f}s: "
                                       f"{[n for n, ok in state.items() if not ok]} "
                                       f"(see {self.log_dir})")
                await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ databases
    async def pool(self, name: str) -> asyncpg.Pool:
        if name not in self.pools:
            self.pools[name] = await asyncpg.create_pool(
                libpq_url(self.admin_dsn, self.database(name)), min_size=0, max_size=2,
                command_timeout=20)
        return self.pools[name]

    async def query(self, name: str, sql: str, *args) -> list[asyncpg.Record]:
        pool = await self.pool(name)
        return await pool.fetch(sql, *args)
