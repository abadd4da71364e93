"""Runs the scenarios: for each fault, load -> fault -> recovery -> drain -> count.

Per phase (one fault):

1. the load runs ``warm_s`` seconds, then the fault starts (t0) and lasts ``hold_s``;
2. after it is healed, the suite polls until the system has *recovered*: every service
   answers ``/readyz`` 200 and everything acknowledged before the fault ended has come
   through (each report in a case, each decision published and delivered to every audience,
   and the fault's own checks). *Time to recover* is measured from t0. A system that has not
   recovered after ``recover_timeout_s`` is restarted by the suite, as an operator would,
   and the phase says so;
3. the load keeps running ``tail_s`` more seconds, stops, and the suite waits (up to
   ``drain_s``) for the phase's work to come through before it counts.

When every phase has run, everything is counted once more (a late double shows there).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from chaos.config import Config, Scenario
from chaos.faults import Context, Fault
from chaos.infra import KafkaCluster, KafkaNode, Postgres, Scripts, chaos_dir
from chaos.ledger import Account, TopicReader, account, snapshot
from chaos.load import Load, Tally
from chaos.report import results_json
from chaos.system import System

log_lines: list[str] = []


def say(text: str) -> None:
    line = f"[chaos {datetime.now(UTC).strftime('%H:%M:%S')}] {text}"
    log_lines.append(line)
    print(line, flush=True)


@dataclass
class PhaseResult:
    scenario: str
    fault: Fault
    started_at: float
    injected_at: float = 0.0
    healed_at: float = 0.0
    ended_at: float = 0.0
    recovered_at: float | None = None
    restarted_by_suite: bool = False
    account: Account = field(default_factory=Account)
    problems: dict[str, list[str]] = field(default_factory=dict)
    supervisor_events: list[dict] = field(default_factory=list)
    error: str | None = None
    last_check_error: str | None = None   # why the last count could not be made, if it failed
    last_readiness: dict[str, bool] = field(default_factory=dict)
    # What had not come through when recovery timed out (late, not lost: the final count says).
    late_at_timeout: dict[str, int] = field(default_factory=dict)

    @property
    def recover_s(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.injected_at

    @property
    def lost(self) -> int:
        return self.account.lost_total + sum(len(v) for v in self.problems.values())

    @property
    def passed(self) -> bool:
        return (self.error is None and self.recovered_at is not None and self.lost == 0
                and self.account.doubled_total == 0)


class Runner:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.started = datetime.now(UTC)
        self.run_dir = config.out_dir / f"run-{self.started.strftime('%Y%m%dT%H%M%S')}-{config.form}"
        self.scripts = Scripts(log=self.run_dir / "infra.log")
        self.postgres = Postgres(self.scripts)
        self.results: list[PhaseResult] = []
        self.tallies: dict[str, Tally] = {}

    # ------------------------------------------------------------------ whole run
    async def run(self) -> list[PhaseResult]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        say(f"{self.config.form} form, {self.config.rate:g} reports/s, "
            f"{self.config.reviewers} reviewers; logs in {self.run_dir}")
        await self.postgres.start()
        try:
            for scenario in self.config.scenarios:
                await self.run_scenario(scenario)
        finally:
            with contextlib.suppress(Exception):
                await self.postgres.stop()
        return self.results

    async def run_scenario(self, scenario: Scenario) -> None:
        kafka = KafkaNode(self.scripts) if scenario.kafka == "single" else KafkaCluster(self.scripts)
        say(f"scenario {scenario.name}: starting {kafka.name}")
        # Fresh storage: topics an interrupted run left behind would slow the start down.
        await kafka.reset()
        await kafka.start()
        system = System(kafka=kafka.bootstrap, admin_dsn=self.postgres.admin_dsn,
                        run_dir=self.run_dir / scenario.name,
                        replication=3 if scenario.kafka == "cluster" else 1)
        load = Load(system, rate=self.config.rate, reviewers=self.config.reviewers)
        reader = TopicReader(system)
        ctx = Context(system=system, postgres=self.postgres, kafka=kafka)
        phases: list[PhaseResult] = []
        try:
            say(f"scenario {scenario.name}: starting the services")
            await system.start()
            for fault in scenario.faults:
                phase = PhaseResult(scenario=scenario.name, fault=fault, started_at=time.time())
                phases.append(phase)
                self.results.append(phase)
                try:
                    await self.run_phase(phase, ctx, load, reader)
                except Exception as exc:  # noqa: BLE001 - reported, and the next fault runs
                    phase.error = f"{type(exc).__name__}: {exc}"
                    say(f"!! {fault.name}: {phase.error}")
                    await load.stop()
                    await self._back_to_health(ctx, phase)
            say(f"scenario {scenario.name}: final count")
            await self._final_count(phases, ctx, load, reader)
        finally:
            self.tallies.update(load.tallies)
            await load.close()
            await reader.close()
            await system.stop()
            with contextlib.suppress(Exception):
                await system.remove_data()
            with contextlib.suppress(Exception):
                await kafka.stop()

    # ------------------------------------------------------------------ one fault
    async def run_phase(self, phase: PhaseResult, ctx: Context, load: Load,
                        reader: TopicReader) -> None:
        timing, fault = self.config.timing, phase.fault
        say(f"--- {fault.name}: {fault.description}")
        load.start(fault.name)
        await asyncio.sleep(timing.warm_s)
        phase.injected_at = time.time()
        await fault.inject(ctx)
        if fault.hold_s:
            await asyncio.sleep(fault.hold_s)
        await fault.heal(ctx)
        phase.healed_at = time.time()
        say(f"{fault.name}: healed after {phase.healed_at - phase.injected_at:.1f}s; "
            "waiting for recovery")
        phase.recovered_at = await self._wait_recovered(phase, ctx, load, reader,
                                                        timing.recover_timeout_s)
        if phase.recovered_at is None:
            phase.late_at_timeout = {k: len(v) for k, v in phase.account.lost.items()}
            say(f"!! {fault.name}: not recovered {timing.recover_timeout_s:.0f}s after the "
                f"fault ended (still to come: {phase.late_at_timeout or phase.last_readiness}); "
                "restarting the services, as an operator would")
            await self._back_to_health(ctx, phase)
        else:
            say(f"{fault.name}: recovered {phase.recover_s:.1f}s after the fault began")
        await asyncio.sleep(timing.tail_s)
        await load.stop()
        phase.ended_at = time.time()
        await self._drain(phase, ctx, load, reader, timing.drain_s)
        events = ctx.system.restarts()
        phase.supervisor_events = [e for e in events
                                   if phase.started_at <= e["at"] <= phase.ended_at]
        tally = load.tally(fault.name)
        say(f"{fault.name}: accepted {phase.account.accepted}, lost {phase.lost}, doubled "
            f"{phase.account.doubled_total}, 5xx {tally.http_5xx} (503: {tally.http_503}), "
            f"no answer {tally.refused}")

    async def _back_to_health(self, ctx: Context, phase: PhaseResult) -> None:
        phase.restarted_by_suite = True
        if not ctx.system.receiver.up:
            await ctx.system.receiver.start()
        await ctx.system.restart_services()

    def _phase_items(self, phase: PhaseResult, load: Load, *, until: float | None = None
                     ) -> tuple[list[str], dict[str, str]]:
        tally = load.tally(phase.fault.name)
        reports = [r for r, at in tally.accepted.items() if until is None or at <= until]
        acked = {d: c for d, c in tally.decisions.items()
                 if until is None or tally.decisions_at[d] <= until}
        return reports, acked

    async def _count(self, phase: PhaseResult, ctx: Context, load: Load, reader: TopicReader,
                     *, until: float | None, window_end: float | None) -> Account:
        reports, acked = self._phase_items(phase, load, until=until)
        snap = await snapshot(ctx.system, reader, reports)
        # Decisions of the phase: those a reviewer was told of, and those recorded during it
        # whose answer never reached the reviewer (the service died in between).
        owners = {d: name for name, t in load.tallies.items() for d in t.decisions}
        end = window_end if window_end is not None else time.time()
        decided = set(acked) | {d for d, at in snap.decided_at.items() if d not in owners
                                and phase.started_at <= at <= end
                                and (until is None or at <= until)}
        return account(snap, reports, acked, sorted(decided))

    async def _complete(self, phase: PhaseResult, ctx: Context, load: Load,
                        reader: TopicReader, until: float | None) -> bool:
        try:
            result = await self._count(phase, ctx, load, reader, until=until, window_end=None)
            problems = await phase.fault.problems(ctx)
        except Exception as exc:  # noqa: BLE001 - the database or Kafka may still be away
            phase.last_check_error = f"{type(exc).__name__}: {exc}"[:500]
            return False
        phase.last_check_error = None
        phase.account, phase.problems = result, problems
        return result.complete and not problems

    async def _wait_recovered(self, phase: PhaseResult, ctx: Context, load: Load,
                              reader: TopicReader, timeout: float) -> float | None:
        deadline = time.time() + timeout
        async with httpx.AsyncClient() as client:
            while time.time() < deadline:
                ready = await ctx.system.readiness(client)
                phase.last_readiness = ready
                if all(ready.values()) and await self._complete(phase, ctx, load, reader,
                                                                until=phase.healed_at):
                    return time.time()
                await asyncio.sleep(1.0)
        return None

    async def _drain(self, phase: PhaseResult, ctx: Context, load: Load, reader: TopicReader,
                     timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if await self._complete(phase, ctx, load, reader, until=None):
                return
            await asyncio.sleep(2.0)

    async def _final_count(self, phases: list[PhaseResult], ctx: Context, load: Load,
                           reader: TopicReader) -> None:
        for phase in phases:
            with contextlib.suppress(Exception):
                phase.account = await self._count(phase, ctx, load, reader, until=None,
                                                  window_end=phase.ended_at or time.time())
                phase.problems = await phase.fault.problems(ctx)


@contextlib.contextmanager
def exclusive_run():
    """One run at a time per machine: the ports and the data directory are the suite's own."""
    path = chaos_dir() / ".suite.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another fault-suite run holds the lock; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


async def run_suite(config: Config) -> tuple[Runner, Path]:
    """Run every scenario and write ``chaos-results/chaos-<time>-<form>.json``."""
    runner = Runner(config)
    with exclusive_run():
        try:
            await runner.run()
        finally:
            document = results_json(runner)
            out = config.out_dir / f"chaos-{runner.started.strftime('%Y%m%dT%H%M%S')}-{config.form}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(document, indent=2, default=str) + "\n")
            (runner.run_dir / "chaos.log").write_text("\n".join(log_lines) + "\n")
    return runner, out
