"""Profile one intake worker under wrk with py-spy: where its CPU goes per request.

Starts intake on a fresh database (Kafka and PostgreSQL up), warms it up, then records
``--seconds`` of samples while wrk drives distinct user reports at it, and prints the
inclusive share of the functions seen most, beside the CPU per request of the run.

    .venv/bin/python bench/profile_intake.py [--seconds 10] [--top 40] [--out intake.raw]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lib  # noqa: E402


def inclusive(raw: Path, top: int) -> list[tuple[float, str]]:
    """py-spy's raw (collapsed stacks) output as inclusive shares of the samples."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in set(stack.split(";")):
            counts[frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1]] += int(n)
    return [(100 * n / max(1, total), frame) for frame, n in counts.most_common(top)]


async def main(seconds: float, connections: int, top: int, out: Path) -> None:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    names = await lib.create_topics(prefix)
    database, url = await lib.create_database("intake")
    intake = lib.start_service("intake", database_url=url, prefix=prefix)
    auth = {"X-API-Key": lib.API_KEY}
    try:
        await lib.wait_ready(intake)
        lib.wrk(intake.url, connections=connections, seconds=2, headers=auth)
        result: list[lib.WrkResult] = []
        load = threading.Thread(target=lambda: result.append(lib.wrk(
            intake.url, connections=connections, seconds=seconds + 1, headers=auth)))
        before = intake.cpu_seconds()
        load.start()
        subprocess.run([pyspy, "record", "-p", str(intake.process.pid), "-d", str(int(seconds)),
                        "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking"],
                       check=True, capture_output=True)
        load.join()
        run = result[0]
        cpu_ms = (intake.cpu_seconds() - before) / max(1, run.requests) * 1000
        print(f"wrk {run.rate:.0f} req/s, p99 {run.p99_ms:.1f} ms, errors {run.errors}, "
              f"intake CPU {cpu_ms:.2f} ms/request, load {lib.load_average()}")
        for share, frame in inclusive(out, top):
            print(f"{share:5.1f}%  {frame}")
    finally:
        lib.stop(intake)
        await lib.drop_database(database)
        await lib.delete_topics(names)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--out", type=Path, default=Path("/tmp/intake-profile.raw"))
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.connections, args.top, args.out))
