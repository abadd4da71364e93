"""The HTTP client's own cost per signed webhook POST: httpx against aiohttp (what notify's
``http_clients`` uses), the same body and headers, 16 in flight, to a bare ASGI receiver in
another process (so the receiver's CPU is not counted). Prints the client process's CPU per
POST and the rate, alternating the two clients.

    .venv/bin/python bench/bench_http_clients.py [POSTS]
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402

CONCURRENCY = 16
BODY = json.dumps({"notice": "reporter_receipt", "text": "x" * 1500}).encode()
HEADERS = {"webhook-id": "bench", "webhook-timestamp": "1", "webhook-signature": "v1,bench",
           "content-type": "application/json"}
RECEIVER = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
'''


async def timed(post, n: int) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) for ``n`` POSTs, ``CONCURRENCY`` at once."""
    free = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with free:
            await post()

    await asyncio.gather(*(one() for _ in range(CONCURRENCY)))  # connections warm
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def with_httpx(url: str, n: int) -> tuple[float, float]:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as client:
        async def post() -> None:
            assert (await client.post(url, content=BODY, headers=HEADERS)).status_code == 204

        return await timed(post, n)


async def with_aiohttp(url: str, n: int) -> tuple[float, float]:
    from warden.notify.http_clients import HttpClients

    clients = HttpClients(connections=CONCURRENCY, timeout_s=10)
    try:
        async def post() -> None:
            assert (await clients.post(url, BODY, HEADERS)).status == 204

        return await timed(post, n)
    finally:
        await clients.aclose()


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    port = lib.free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER + "\nimport uvicorn\nuvicorn.run(app, host='127.0.0.1', "
         f"port={port}, log_level='warning', access_log=False)"])
    try:
        url = f"http://127.0.0.1:{port}/hooks"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for name, run in (("httpx", with_httpx), ("aiohttp", with_aiohttp)) * 2:
            cpu, wall = asyncio.run(run(url, n))
            print(f"{name:8} {n} POSTs: {1000 * cpu / n:.2f} ms of client CPU each, "
                  f"{n / wall:,.0f}/s")
    finally:
        receiver.terminate()
        receiver.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
