"""Intake A/B: the intake of an earlier commit and of this tree, interleaved under the same wrk
load in the same minutes, beside the bare FastAPI endpoint; CPU per request of each process.

On a box shared with other work the absolute rates move with the neighbours' load; running
the two versions turn about makes their comparison fair.

    .venv/bin/python bench/bench_intake_ab.py --old 17a28e5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_intake  # noqa: E402
import lib  # noqa: E402

PARTS = ("", "shared", "services/intake", "services/routing", "services/decision",
         "services/notify")


def extract(rev: str, into: Path) -> str:
    """The tree of ``rev`` under ``into``; its PYTHONPATH."""
    archive = subprocess.run(["git", "archive", rev], cwd=lib.REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return os.pathsep.join(str(into / part) for part in PARTS)


async def main(old_rev: str, runs: int, seconds: float, connections: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    names = await lib.create_topics(prefix)
    databases = [await lib.create_database("intake") for _ in range(2)]
    procs: dict[str, lib.Proc] = {}
    auth = {"X-API-Key": lib.API_KEY}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"old": extract(old_rev, Path(tmp)), "new": lib.PYTHONPATH}
        try:
            for (label, path), (_, url) in zip(paths.items(), databases, strict=True):
                port = lib.free_port()
                env = lib.service_env("intake", database_url=url, port=port, prefix=prefix,
                                      PYTHONPATH=path)
                procs[label] = lib.start(f"intake-{label}",
                                         [sys.executable, "-m", "warden.intake"], env, port)
            procs["bare"] = bench_intake.start_bare()
            rates: dict[str, list[float]] = {k: [] for k in procs}
            cpu: dict[str, list[float]] = {k: [] for k in procs}
            for proc in procs.values():
                await lib.wait_ready(proc)
            for label, proc in procs.items():
                lib.wrk(proc.url, connections=connections, seconds=2,
                        headers={} if label == "bare" else auth)
            for _ in range(runs):
                for label, proc in procs.items():
                    before = proc.cpu_seconds()
                    result = lib.wrk(proc.url, connections=connections, seconds=seconds,
                                     headers={} if label == "bare" else auth)
                    rates[label].append(result.rate)
                    cpu[label].append((proc.cpu_seconds() - before)
                                      / max(1, result.requests) * 1000)
                    print(f"  {label:5} {result.rate:7.0f} req/s  p99 {result.p99_ms:7.1f} ms  "
                          f"errors {result.errors}  CPU {cpu[label][-1]:.2f} ms/req  "
                          f"load {lib.load_average()}", flush=True)
            bare = statistics.median(rates["bare"])
            for label in procs:
                rate = statistics.median(rates[label])
                print(f"{label:5} median {rate:7.0f} req/s  CPU {statistics.median(cpu[label]):.2f}"
                      f" ms/req  ratio to bare {rate / bare:.3f}")
        finally:
            for proc in procs.values():
                lib.stop(proc)
            for database, _ in databases:
                await lib.drop_database(database)
            await lib.delete_topics(names)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the earlier commit")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.old, args.runs, args.seconds, args.connections))
