"""Start the four services as real processes (uvicorn via ``python -m warden.<svc>``).

Each gets a fresh database and the test's topic namespace; a real HTTP receiver on
127.0.0.1 collects the webhooks notify sends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from warden.cli.services import service

SERVICES = ("intake", "routing", "decision", "notify")
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"end-to-end-test-secret-0123456789").decode()
REVIEWER_SECRET = "end-to-end-reviewer-secret-of-32-bytes+"
DEV_API_KEY = "e2e-intake-key"
DEV_APPEALS_KEY = "e2e-appeals-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def standard_webhooks_signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify a Standard Webhooks signature independently of notify's own code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class LocalServer:
    """A real HTTP server on 127.0.0.1 (a free port) serving ``routes()``, run in the test's loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    def routes(self) -> list[Route]:
        raise NotImplementedError

    async def start(self) -> None:
        app = Starlette(routes=self.routes())
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._task:
            await self._task


class Receiver(LocalServer):
    """Records every webhook it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def routes(self) -> list[Route]:
        return [Route("/webhooks", self._webhook, methods=["POST"])]

    async def _webhook(self, request: Request) -> Response:
        self.received.append(({k.lower(): v for k, v in request.headers.items()},
                              await request.body()))
        return Response(status_code=204)


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def service_env(name: str, *, database_url: str, port: int, kafka: str, topic_prefix: str,
                receiver_url: str) -> dict[str, str]:
    upper = name.upper()
    return {
        **os.environ,
        # A test run: the development API key below is allowed.
        "WARDEN_DEV_MODE": "true",
        "WARDEN_KAFKA_BOOTSTRAP": kafka,
        "WARDEN_TOPIC_PREFIX": topic_prefix,
        "WARDEN_REVIEWER_TOKEN_SECRET": REVIEWER_SECRET,
        "WARDEN_LOG_LEVEL": "INFO",
        f"WARDEN_{upper}_DATABASE_URL": database_url,
        f"WARDEN_{upper}_PORT": str(port),
        "WARDEN_INTAKE_DEV_API_KEY": DEV_API_KEY,
        "WARDEN_DECISION_DEV_API_KEY": DEV_APPEALS_KEY,
        "WARDEN_NOTIFY_WEBHOOK_URL": receiver_url,
        "WARDEN_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WARDEN_NOTIFY_SMTP_URL": "",  # every notice of these tests goes by webhook
        "WARDEN_NOTIFY_DELIVERY_POLL_INTERVAL_S": "0.5",
        "PYTHONUNBUFFERED": "1",
    }


def start_service(name: str, env: dict[str, str], port: int, log_dir: Path) -> ServiceProcess:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen([sys.executable, "-m", f"warden.{name}"], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    return ServiceProcess(name=name, port=port, process=process, log=log)


async def wait_ready(service: ServiceProcess, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            if service.process.poll() is not None:
                raise AssertionError(f"{service.name} exited:\n{service.log_tail()}")
            try:
                if (await client.get(f"{service.url}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"{service.name} not ready after {timeout}s:\n{service.log_tail()}")


def stop_service(service: ServiceProcess, timeout: float = 15.0) -> int | None:
    """SIGTERM (graceful lifespan shutdown), then SIGKILL if it does not stop in time."""
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()
    return service.process.returncode


@contextlib.asynccontextmanager
async def running_services(infra, topic_prefix: str, make_database, log_dir: Path,
                           receiver: Receiver, extra_env: dict[str, str] | None = None
                           ) -> AsyncIterator[dict[str, ServiceProcess]]:
    """The four services as processes, each on a fresh database, ready; on exit each is sent
    SIGTERM and its exit code is left in ``ServiceProcess.exit_code``."""
    processes: dict[str, ServiceProcess] = {}
    try:
        for name in SERVICES:
            url = await make_database(name, service(name).migrations)
            port = free_port()
            env = service_env(name, database_url=url, port=port, kafka=infra.kafka,
                              topic_prefix=topic_prefix, receiver_url=receiver.url)
            processes[name] = start_service(name, {**env, **(extra_env or {})}, port, log_dir)
        for process in processes.values():
            await wait_ready(process)
        yield processes
    finally:
        for process in processes.values():
            process.exit_code = stop_service(process)
