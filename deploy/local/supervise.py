"""Keep local processes running the way a developer expects of ``make run``.

    python deploy/local/supervise.py [--log-dir DIR] [--state-dir DIR] [--quiet] \
        'intake=python -m warden.intake' 'routing=python -m warden.routing' ...

* Each program runs in a session of its own; its output goes to ``<log-dir>/<name>.log`` and,
  unless ``--quiet``, to this terminal with the name in front of every line.
* A program that exits on its own (a crash, ``kill -9``, a failed start) is restarted after a
  backoff that doubles from 1 s up to 30 s, and the restart is reported on the terminal. The
  backoff starts over once a program has stayed up for 30 s. After 8 quick failures in a row
  the supervisor gives up: it stops everything and exits 1, so a broken configuration is not
  hidden behind an endless restart loop.
* Ctrl-C (SIGINT) or SIGTERM stops every program (SIGTERM, then SIGKILL after 15 s) and
  exits 130. If the supervisor itself dies, the kernel sends its programs SIGTERM.
* ``<state-dir>/<name>.pid`` holds the pid of the running instance and
  ``<state-dir>/events.jsonl`` one JSON line per start, exit and restart (tools such as the
  fault suite read them).

Production does not use this: there the platform restarts the services (see
docs/operations.md: Kubernetes ``restartPolicy`` and probes, systemd ``Restart=on-failure``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 30.0
GIVE_UP_AFTER = 8
STOP_TIMEOUT_S = 15.0
EXIT_INTERRUPTED = 130


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def describe_exit(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def restart_delay(failures: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** max(0, failures - 1))


@dataclass
class Program:
    name: str
    argv: list[str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    failures: int = 0
    started_at: float = field(default=0.0)


class Supervisor:
    def __init__(self, programs: list[Program], *, log_dir: Path, state_dir: Path,
                 echo: bool = True) -> None:
        self.programs = programs
        self.log_dir = log_dir
        self.state_dir = state_dir
        self.echo = echo
        self.stopping = asyncio.Event()
        self.exit_code = 0
        self._width = max(len(p.name) for p in programs)

    # ------------------------------------------------------------------ reporting
    def say(self, text: str) -> None:
        print(f"[supervise] {text}", file=sys.stderr, flush=True)

    def record(self, program: Program, event: str, **fields) -> None:
        line = {"at": time.time(), "program": program.name, "event": event, **fields}
        with (self.state_dir / "events.jsonl").open("a") as out:
            out.write(json.dumps(line) + "\n")

    # ------------------------------------------------------------------ running
    async def run(self) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._interrupted, sig)
        tasks = [asyncio.create_task(self._keep_running(p), name=p.name) for p in self.programs]
        await self.stopping.wait()
        await self._stop_all()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return self.exit_code

    def _interrupted(self, sig: int) -> None:
        if not self.stopping.is_set():
            self.say(f"{signal.Signals(sig).name}: stopping every program")
            self.exit_code = EXIT_INTERRUPTED
            self.stopping.set()

    async def _keep_running(self, program: Program) -> None:
        while not self.stopping.is_set():
            status, uptime = await self._run_once(program)
            if self.stopping.is_set():
                return
            program.failures = 1 if uptime >= STABLE_AFTER_S else program.failures + 1
            self.record(program, "exited", status=status, uptime_s=round(uptime, 2))
            if program.failures > GIVE_UP_AFTER:
                self.say(f"!! {program.name} failed {GIVE_UP_AFTER} times in a row "
                         f"({describe_exit(status)}); giving up and stopping everything "
                         f"(see {self.log_dir / (program.name + '.log')})")
                self.record(program, "gave_up", status=status)
                self.exit_code = 1
                self.stopping.set()
                return
            delay = restart_delay(program.failures)
            program.restarts += 1
            self.say(f"!! {program.name} {describe_exit(status)} after {uptime:.1f}s; "
                     f"restart #{program.restarts} in {delay:.0f}s")
            self.record(program, "restarting", restart=program.restarts, delay_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def _run_once(self, program: Program) -> tuple[int, float]:
        log_path = self.log_dir / f"{program.name}.log"
        process = await asyncio.create_subprocess_exec(
            *program.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent, limit=1 << 20)
        program.process, program.started_at = process, time.monotonic()
        (self.state_dir / f"{program.name}.pid").write_text(f"{process.pid}\n")
        self.record(program, "started", pid=process.pid, restart=program.restarts)
        prefix = f"{program.name:<{self._width}}| "
        assert process.stdout is not None
        with log_path.open("ab") as log:
            while line := await process.stdout.readline():
                log.write(line)
                log.flush()
                if self.echo:
                    sys.stdout.write(prefix + line.decode(errors="replace"))
                    sys.stdout.flush()
        status = await process.wait()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / f"{program.name}.pid").unlink()
        return status, time.monotonic() - program.started_at

    async def _stop_all(self) -> None:
        running = [p for p in self.programs if p.process and p.process.returncode is None]
        for program in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(program.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for program in running:
            try:
                await asyncio.wait_for(program.process.wait(),
                                       max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                self.say(f"{program.name} did not stop within {STOP_TIMEOUT_S:.0f}s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(program.process.pid, signal.SIGKILL)
                await program.process.wait()
            self.record(program, "stopped", status=program.process.returncode)


def parse_program(spec: str) -> Program:
    name, sep, command = spec.partition("=")
    if not sep or not name or not command.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=COMMAND, got {spec!r}")
    return Program(name=name, argv=shlex.split(command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("programs", nargs="+", type=parse_program, metavar="NAME=COMMAND")
    parser.add_argument("--log-dir", type=Path, default=Path(".local/logs"))
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="pid files and events.jsonl (default: the log directory)")
    parser.add_argument("--quiet", action="store_true", help="logs to files only")
    args = parser.parse_args(argv)
    supervisor = Supervisor(args.programs, log_dir=args.log_dir,
                            state_dir=args.state_dir or args.log_dir, echo=not args.quiet)
    return asyncio.run(supervisor.run())


if __name__ == "__main__":
    sys.exit(main())
