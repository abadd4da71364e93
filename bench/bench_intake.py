"""Intake throughput: reports accepted per second by ONE intake worker, against a bare
FastAPI endpoint that only parses JSON, under the same load.

Both servers run as uvicorn subprocesses with one worker each. The load generator is
an async httpx client in this process with bounded concurrency, sending a distinct
user report per request (so every request is a real insert + outbox event, never a
duplicate), for a bounded number of requests or time. Intake uses a throwaway database
(created via WARDEN_BENCH_POSTGRES_DSN) and a throwaway topic namespace on
WARDEN_KAFKA_BOOTSTRAP; both are removed afterwards.

    .venv/bin/python bench/bench_intake.py [--requests 3000] [--concurrency 16]

On a small machine the in-process load generator competes with both servers (and with
Kafka and PostgreSQL) for CPU and caps the baseline figure, so the printed ratio
overstates intake's throughput relative to a parse-only endpoint: read it as an upper
bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "shared", REPO / "services" / "intake"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

ADMIN_DSN = os.environ.get("WARDEN_BENCH_POSTGRES_DSN",
                           "postgresql://warden:warden@127.0.0.1:54320/postgres")
KAFKA = os.environ.get("WARDEN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
API_KEY = "bench-intake-key"
PHASE_TIME_LIMIT_S = 30.0


# --- the baseline: FastAPI parsing JSON and nothing else ----------------------------------

def baseline_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/reports")
    async def parse_only(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": str(uuid.uuid4()), "channel": body.get("channel")},
                            status_code=201)

    return app


def serve_baseline(port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(), host="127.0.0.1", port=port, log_config=None,
                access_log=False)


# --- infrastructure -----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def create_database() -> tuple[str, str]:
    from warden.intake.app import MIGRATIONS
    from warden.shared.migrations import upgrade

    name = f"warden_bench_intake_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = (sa.make_url(ADMIN_DSN).set(drivername="postgresql+asyncpg", database=name)
           .render_as_string(hide_password=False))
    await upgrade(MIGRATIONS, url)
    return name, url


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def topics(prefix: str, *, create: bool) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from warden.shared.bus.kafka import ensure_topics
    from warden.shared.contracts.topics import all_topics_with_dlq

    names = [f"{prefix}{t}" for t in all_topics_with_dlq()]
    if create:
        await ensure_topics(KAFKA, names, 3, 1)
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, env={**os.environ, **env}, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_ready(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


# --- load ---------------------------------------------------------------------------------

def report_bodies(count: int) -> list[bytes]:
    from warden.intake.examples import example

    bodies = []
    for i in range(count):
        body = example("user")
        body["content"]["id"] = f"post-bench-{uuid.uuid4().hex[:12]}-{i}"
        bodies.append(json.dumps(body).encode())
    return bodies


@dataclass
class Result:
    name: str
    ok: int
    failed: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    def line(self) -> str:
        return (f"{self.name:9} {self.ok:6d} accepted  {self.failed:4d} failed  "
                f"{self.rate:8.1f} req/s  p50 {self.percentile(0.50):7.2f} ms  "
                f"p99 {self.percentile(0.99):7.2f} ms  ({self.seconds:.1f} s)")


async def load(name: str, url: str, bodies: list[bytes], concurrency: int,
               headers: dict[str, str]) -> Result:
    """``concurrency`` workers, each with its own keep-alive connection (one shared httpx
    pool degrades badly with many concurrent requests and would measure itself)."""
    latencies: list[float] = []
    failures = 0
    queue = iter(bodies)
    started = time.perf_counter()
    deadline = started + PHASE_TIME_LIMIT_S

    async def worker() -> None:
        nonlocal failures
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1), timeout=30,
                                     headers={"content-type": "application/json", **headers}
                                     ) as client:
            for body in queue:
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body)
                    ok = response.status_code == 201
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - sent)
                else:
                    failures += 1

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return Result(name, len(latencies), failures, time.perf_counter() - started, latencies)


async def outbox_state(url: str) -> tuple[int, int]:
    from warden.shared.db import create_engine

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            reports = await conn.scalar(sa.text("SELECT count(*) FROM reports"))
            pending = await conn.scalar(sa.text(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await engine.dispose()
    return reports, pending


async def main(requests: int, concurrency: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await topics(prefix, create=True)
    database, url = await create_database()
    intake_port, baseline_port = free_port(), free_port()
    intake = start([sys.executable, "-m", "warden.intake"], {
        "WARDEN_INTAKE_DATABASE_URL": url, "WARDEN_INTAKE_PORT": str(intake_port),
        "WARDEN_KAFKA_BOOTSTRAP": KAFKA, "WARDEN_TOPIC_PREFIX": prefix,
        "WARDEN_INTAKE_DEV_API_KEY": API_KEY, "WARDEN_INTAKE_RATE_LIMIT_PER_S": "1000000",
        "WARDEN_INTAKE_RATE_LIMIT_BURST": "1000000", "WARDEN_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO / "services" / "intake")]),
    })
    baseline = start([sys.executable, __file__, "--serve-baseline", str(baseline_port)], {})
    try:
        await wait_ready(f"http://127.0.0.1:{intake_port}/readyz", intake)
        await wait_ready(f"http://127.0.0.1:{baseline_port}/docs", baseline)
        warmup = max(100, requests // 20)
        bodies = report_bodies(2 * (requests + warmup))
        intake_bodies, baseline_bodies = bodies[:requests + warmup], bodies[requests + warmup:]
        auth = {"X-API-Key": API_KEY}
        print(f"load: {requests} distinct user reports per server after {warmup} warm-up "
              f"requests, concurrency {concurrency}, one uvicorn worker per server, "
              f"load generator in-process (same {os.cpu_count()}-core machine)")
        for name, port, source, headers in (
                ("intake", intake_port, intake_bodies, auth),
                ("baseline", baseline_port, baseline_bodies, {})):
            target = f"http://127.0.0.1:{port}/v1/reports"
            await load(name, target, source[:warmup], concurrency, headers)
            result = await load(name, target, source[warmup:], concurrency, headers)
            print(result.line())
            if name == "intake":
                intake_result = result
            else:
                baseline_result = result
        ratio = intake_result.rate / baseline_result.rate
        p50 = intake_result.percentile(0.5) / baseline_result.percentile(0.5)
        p99 = intake_result.percentile(0.99) / baseline_result.percentile(0.99)
        print(f"ratio     intake/baseline throughput {ratio:.3f}  p50 latency x{p50:.1f}  "
              f"p99 latency x{p99:.1f}")
        deadline = time.monotonic() + 30
        while True:
            stored, pending = await outbox_state(url)
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        print(f"stored    {stored} reports; {pending} events not yet published to Kafka")
        if intake_result.failed or pending:
            raise SystemExit("BENCH intake FAILED: requests failed or events unpublished")
    finally:
        stop(intake)
        stop(baseline)
        await drop_database(database)
        await topics(prefix, create=False)
    print("BENCH intake ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
    else:
        asyncio.run(main(args.requests, args.concurrency))
