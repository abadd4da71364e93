"""Service processes: start, wait until ready, stop, and read their CPU and RSS."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.settings import (
    API_KEY,
    KAFKA,
    PYTHONPATH,
    REPO,
    REVIEWER_SECRET,
    WEBHOOK_SECRET,
    free_port,
)


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    port: int | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The process and its children (uvicorn --workers forks)."""
        found = [self.process.pid]
        for pid in list(found):
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                found += [int(c) for c in children.read_text().split()]
        return found

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def rss_mb(self) -> float:
        return sum(rss_mb(pid) for pid in self.pids())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infrastructure_cpu_seconds() -> dict[str, float]:
    """CPU used so far by the Kafka broker and by PostgreSQL (every backend, and the backends
    that exited, which the postmaster reaped), for a process's share of a run."""
    used = {"kafka": 0.0, "postgres": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if any(arg == b"kafka.Kafka" for arg in argv):
            used["kafka"] += (int(fields[11]) + int(fields[12])) / tick
        elif argv[0].endswith(b"/postgres") or argv[0].startswith(b"postgres:"):
            reaped = int(fields[13]) + int(fields[14]) if argv[0].endswith(b"/postgres") else 0
            used["postgres"] += (int(fields[11]) + int(fields[12]) + reaped) / tick
    return used


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


LOG_DIR = REPO / "bench-results" / "logs"


def start(name: str, argv: list[str], env: dict[str, str], port: int | None = None) -> Proc:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}.log"
    process = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": PYTHONPATH,
                                          "PYTHONUNBUFFERED": "1", **env},
                               cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    return Proc(name=name, process=process, port=port, log=log)


def service_env(service: str, *, database_url: str, port: int, prefix: str,
                **extra: str) -> dict[str, str]:
    upper = service.upper()
    return {
        "WARDEN_KAFKA_BOOTSTRAP": KAFKA, "WARDEN_TOPIC_PREFIX": prefix,
        "WARDEN_CREATE_TOPICS": "false", "WARDEN_LOG_LEVEL": "WARNING",
        "WARDEN_REVIEWER_TOKEN_SECRET": REVIEWER_SECRET,
        f"WARDEN_{upper}_DATABASE_URL": database_url, f"WARDEN_{upper}_PORT": str(port),
        "WARDEN_INTAKE_DEV_API_KEY": API_KEY,
        "WARDEN_INTAKE_RATE_LIMIT_PER_S": "1000000", "WARDEN_INTAKE_RATE_LIMIT_BURST": "1000000",
        "WARDEN_NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET, "WARDEN_DEV_MODE": "true",
        **extra,
    }


def start_service(service: str, *, database_url: str, prefix: str, name: str | None = None,
                  **extra: str) -> Proc:
    port = free_port()
    env = service_env(service, database_url=database_url, port=port, prefix=prefix, **extra)
    return start(name or service, [sys.executable, "-m", f"warden.{service}"], env, port)


def stop(proc: Proc, timeout: float = 20) -> None:
    if proc.process.poll() is None:
        proc.process.send_signal(signal.SIGTERM)
        try:
            proc.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait()


async def wait_ready(proc: Proc, path: str = "/readyz", timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}")
            try:
                if (await client.get(proc.url + path, timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout}s:\n{proc.log.read_text()[-3000:]}")
