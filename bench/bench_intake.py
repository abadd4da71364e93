"""Intake: one worker against a bare FastAPI endpoint under the same wrk load, p99 at half
that rate from an open-loop generator, and two workers.

Kafka and PostgreSQL up, the other services stopped. Every request is a distinct user report
(a real insert and outbox event). Each figure is the median of ``RUNS`` runs, the intake and
bare runs interleaved so that a neighbour's load on the machine hits both alike.

    .venv/bin/python bench/bench_intake.py [--seconds 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402

RUNS = 3


def bare_app():
    """The baseline: FastAPI parsing the same JSON body and answering 201, nothing else."""
    app = FastAPI()

    @app.post("/v1/reports")
    async def parse_only(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": str(uuid.uuid4()), "channel": body.get("channel")},
                            status_code=201)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def start_bare() -> lib.Proc:
    port = lib.free_port()
    return lib.start("bare-fastapi", [sys.executable, "-m", "uvicorn", "--factory",
                                      "bench_intake:bare_app", "--port", str(port),
                                      "--no-access-log", "--log-level", "warning"],
                     {"PYTHONPATH": f"{lib.REPO / 'bench'}"}, port)


async def drained(url: str, timeout: float = 60) -> tuple[int, int]:
    """(reports stored, events not yet published) once the outbox is empty or time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        stored = await lib.scalar(url, "SELECT count(*) FROM reports")
        pending = await lib.scalar(url, "SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if pending == 0 or loop.time() > deadline:
            return stored, pending
        await asyncio.sleep(0.5)


def median_run(results: list[lib.WrkResult]) -> lib.WrkResult:
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


async def measure(seconds: float, connections: int, prefix: str) -> dict:
    auth = {"X-API-Key": lib.API_KEY}
    database, url = await lib.create_database("intake")
    intake = lib.start_service("intake", database_url=url, prefix=prefix)
    bare = start_bare()
    figures: dict = {}
    try:
        await lib.wait_ready(intake)
        await lib.wait_ready(bare)
        for proc, headers in ((intake, auth), (bare, {})):  # warm-up: pools, JIT-free caches
            lib.wrk(proc.url, connections=connections, seconds=2, headers=headers)
        runs: dict[str, list[lib.WrkResult]] = {"intake": [], "bare": []}
        cpu: dict[str, list[float]] = {"intake": [], "bare": []}
        for _ in range(RUNS):
            for name, proc, headers in (("intake", intake, auth), ("bare", bare, {})):
                before = proc.cpu_seconds()
                result = lib.wrk(proc.url, connections=connections, seconds=seconds,
                                 headers=headers)
                cpu[name].append((proc.cpu_seconds() - before) / max(1, result.requests) * 1000)
                runs[name].append(result)
                print(f"  wrk {name:6} {result.rate:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
                      f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}  "
                      f"server CPU {cpu[name][-1]:.2f} ms/req  wrk CPU {result.wrk_cpu_s:.1f} s")
        one, base = median_run(runs["intake"]), median_run(runs["bare"])
        half = round(one.rate / 2)
        # Latency at half the rate in the steady state: not while the relay still publishes
        # the events of the wrk runs (a backlog of thousands, on the same event loop).
        await drained(url)
        open_loop = await lib.open_loop("127.0.0.1", intake.port, rate=half, seconds=seconds,
                                        headers=auth)
        print(f"  open loop at {half}/s: {open_loop.ok}/{open_loop.sent} accepted, p50 "
              f"{open_loop.percentile(0.5):.1f} ms p99 {open_loop.percentile(0.99):.1f} ms "
              f"({open_loop.summary()})")
        stored, pending = await drained(url)
        accepted = sum(r.requests - r.errors for rs in runs.values() for r in rs)
        figures.update({
            "intake_1w_rps": one.rate, "bare_rps": base.rate,
            "intake_1w_p50_ms": one.p50_ms, "intake_1w_p99_ms": one.p99_ms,
            "intake_1w_cpu_ms_per_report": statistics.median(cpu["intake"]),
            "bare_cpu_ms_per_request": statistics.median(cpu["bare"]),
            "intake_half_rate": half, "intake_half_rate_p50_ms": open_loop.percentile(0.5),
            "intake_half_rate_p99_ms": open_loop.percentile(0.99),
            "intake_half_rate_ok": open_loop.ok, "intake_half_rate_sent": open_loop.sent,
            "open_loop_generator_cpu_share": open_loop.cpu_share,
            "open_loop_generator_lag_p99_ms": open_loop.lag_p99_ms,
            "wrk_cpu_share": max(r.wrk_cpu_s / r.seconds for rs in runs.values() for r in rs),
            "intake_runs_rps": [r.rate for r in runs["intake"]],
            "bare_runs_rps": [r.rate for r in runs["bare"]],
            "intake_stored": stored, "intake_unpublished": pending,
            "intake_rss_mb": intake.rss_mb(),
        })
        errors = sum(r.errors for r in runs["intake"])
        figures["intake_errors"] = errors + open_loop.sent - open_loop.ok
        del accepted
    finally:
        lib.stop(intake)
        lib.stop(bare)
        await lib.drop_database(database)

    database, url = await lib.create_database("intake")
    two = lib.start_service("intake", database_url=url, prefix=prefix, name="intake-2w",
                            WARDEN_INTAKE_WORKERS="2")
    try:
        await lib.wait_ready(two)
        lib.wrk(two.url, connections=connections, seconds=2, headers=auth)
        runs2 = []
        for _ in range(RUNS):
            result = lib.wrk(two.url, connections=connections, seconds=seconds, headers=auth)
            runs2.append(result)
            print(f"  wrk intake 2 workers {result.rate:8.0f} req/s  p99 {result.p99_ms:6.1f} ms")
        stored, pending = await drained(url)
        figures.update({"intake_2w_rps": median_run(runs2).rate,
                        "intake_2w_runs_rps": [r.rate for r in runs2],
                        "intake_2w_unpublished": pending})
    finally:
        lib.stop(two)
        await lib.drop_database(database)
    return figures


async def main(seconds: float, connections: int) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    names = await lib.create_topics(prefix)
    try:
        return await measure(seconds, connections, prefix)
    finally:
        await lib.delete_topics(names)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(asyncio.run(main(args.seconds, args.connections)))
