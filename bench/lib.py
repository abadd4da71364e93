"""What the benchmarks share: throwaway databases and topics, service processes, wrk, an
open-loop HTTP load generator, process CPU and RSS readings.

Nothing here is imported by the services; the benchmarks import the services' code only to
migrate their databases and build events.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _part in ("", "shared", "services/intake", "services/routing", "services/decision",
              "services/notify"):
    if str(REPO / _part) not in sys.path:
        sys.path.insert(0, str(REPO / _part))

import asyncpg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

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


# --- databases and topics -----------------------------------------------------------------

async def create_database(service: str) -> tuple[str, str]:
    """A fresh, migrated database for ``service``: (name, SQLAlchemy URL)."""
    import importlib

    from warden.shared.migrations import upgrade

    name = f"warden_bench_{service}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = (sa.make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
           .render_as_string(hide_password=False))
    await upgrade(importlib.import_module(MIGRATIONS[service]).MIGRATIONS, url)
    return name, url


async def drop_database(name: str, attempts: int = 20) -> None:
    """Drop it, waiting out a backend we may not terminate (an autovacuum worker)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        for attempt in range(attempts):
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
                if attempt == attempts - 1:
                    print(f"  (could not drop {name}; drop it by hand)")
                    return
                await asyncio.sleep(1)
    finally:
        await conn.close()


async def scalar(url: str, sql: str) -> object:
    conn = await asyncpg.connect(sa.make_url(url).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def create_topics(prefix: str, partitions: int = 3) -> list[str]:
    from warden.shared.bus.kafka import ensure_topics
    from warden.shared.contracts.topics import all_topics_with_dlq

    names = [f"{prefix}{t}" for t in all_topics_with_dlq()]
    await ensure_topics(KAFKA, names, partitions, 1)
    return names


async def delete_topics(names: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics(names)
    except Exception as exc:  # noqa: BLE001 - clean-up is best effort
        print(f"  (could not delete bench topics: {exc!r})")
    finally:
        await admin.close()


# --- processes ------------------------------------------------------------------------------

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


# --- load: report bodies, wrk, and an open-loop generator ------------------------------------

def report_template() -> str:
    """A user report as JSON with ``__ID__`` where each request puts a fresh content id."""
    from warden.intake.examples import example

    body = example("user")
    body["content"]["id"] = "__ID__"
    return json.dumps(body)


def ensure_wrk() -> str:
    """wrk from Debian, installed like the rest of the local infrastructure when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("  installing wrk (apt-get install -y wrk)")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


@dataclass
class WrkResult:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    wrk_cpu_s: float

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds


def wrk(url: str, *, connections: int, seconds: float, threads: int = 2,
        headers: dict[str, str] | None = None) -> WrkResult:
    """Closed-loop load: ``connections`` keep-alive connections, each POSTing a distinct user
    report as soon as its previous answer came (bench/wrk_reports.lua makes each body)."""
    env = {**os.environ, "WARDEN_BENCH_BODY": report_template(),
           "WARDEN_BENCH_RUN": uuid.uuid4().hex[:10],
           "WARDEN_BENCH_HEADERS": json.dumps(headers or {})}
    started = os.times()
    out = subprocess.run([ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--timeout", "10s", "-s", str(REPO / "bench" / "wrk_reports.lua"),
                          url], env=env, capture_output=True, text=True, check=True)
    finished = os.times()
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    if data["errors"] and data["errors"] == data["requests"]:
        raise RuntimeError(f"every request to {url} failed (wrong route or status?)")
    return WrkResult(requests=data["requests"], errors=data["errors"],
                     seconds=data["duration_us"] / 1e6, p50_ms=data["p50_us"] / 1000,
                     p99_ms=data["p99_us"] / 1000,
                     wrk_cpu_s=(finished.children_user + finished.children_system)
                     - (started.children_user + started.children_system))


@dataclass
class OpenLoopResult:
    offered_rate: float
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    generator_cpu_s: float
    accepted_ids: list[str] = field(repr=False, default_factory=list)
    sent_at: dict[str, float] = field(repr=False, default_factory=dict)
    dispatch_lag_ms: list[float] = field(repr=False, default_factory=list)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def cpu_share(self) -> float:
        """The generator's own CPU time over its wall time (1.0 = a whole core: the limit)."""
        return self.generator_cpu_s / self.seconds

    @property
    def lag_p99_ms(self) -> float:
        """How late the generator itself dispatched requests behind their schedule (p99): near
        zero while it keeps up; growing when it, not the server, is the limit."""
        return percentile(self.dispatch_lag_ms, 0.99)

    def summary(self) -> str:
        return (f"generator CPU {self.cpu_share:.0%} of a core, dispatch lag p99 "
                f"{self.lag_p99_ms:.1f} ms")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


KEEP_ALIVE_S = 4.0  # below uvicorn's keep-alive timeout


async def open_loop(host: str, port: int, *, rate: float, seconds: float,
                    headers: dict[str, str], max_connections: int = 256) -> OpenLoopResult:
    """Fixed-rate load that does not wait for answers: request *i* is due at ``i / rate``
    seconds, and its latency is measured from that due time (not from when it could be sent),
    so a stalled server is charged for the requests it kept waiting (no coordinated omission).

    Plain HTTP/1.1 over keep-alive sockets, a pool that grows when every connection is busy:
    cheap enough that this process's own CPU (reported) is never the limit at these rates.
    """
    template = report_template()
    run = uuid.uuid4().hex[:10]
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # last used
    opened = 0
    slots = asyncio.Semaphore(max_connections)
    latencies: list[float] = []
    accepted: list[str] = []
    sent_at: dict[str, float] = {}
    failures = 0
    loop = asyncio.get_running_loop()
    cpu_before = time.process_time()

    async def one(i: int, due: float) -> None:
        nonlocal opened, failures
        body = template.replace("__ID__", f"ol-{run}-{i}").encode()
        request = (f"POST /v1/reports HTTP/1.1\r\nHost: {host}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                   f"{head}\r\n").encode() + body
        async with slots:
            # A connection idle for longer than the server keeps one open (uvicorn: 5 s) may
            # be closed under our feet: such a request would fail without reaching the server.
            while idle and loop.time() - idle[-1][2] > KEEP_ALIVE_S:
                idle.pop()[1].close()
            if idle:
                reader, writer, _ = idle.pop()
            else:
                reader, writer = await asyncio.open_connection(host, port)
                opened += 1
            try:
                writer.write(request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                answer = await reader.readexactly(length)
                done = loop.time()
                if status_line.split()[1] == b"201":
                    latencies.append((done - due) * 1000)
                    report_id = json.loads(answer)["id"]
                    accepted.append(report_id)
                    sent_at[report_id] = time.time() - (done - due)
                else:
                    failures += 1
                idle.append((reader, writer, loop.time()))
            except (OSError, asyncio.IncompleteReadError, IndexError):
                failures += 1
                writer.close()

    tasks = []
    lags: list[float] = []
    start = loop.time() + 0.05
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append((loop.time() - due) * 1000)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    for _, writer, _ in idle:
        writer.close()
    return OpenLoopResult(offered_rate=rate, sent=total, ok=len(latencies), seconds=elapsed,
                          latencies_ms=latencies, generator_cpu_s=time.process_time() - cpu_before,
                          accepted_ids=accepted, sent_at=sent_at, dispatch_lag_ms=lags)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
