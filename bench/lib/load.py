"""Load: report bodies, wrk, and an open-loop HTTP generator that timestamps every request
against its schedule."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lib.settings import REPO


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

