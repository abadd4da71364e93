"""What the fault suite runs: its scenarios (one Kafka or the three-broker cluster), the faults
in each, the load's rate and the phase timings, for the full form and the short one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaos.faults import (
    Fault,
    KillService,
    LoseClusterBroker,
    PoisonRecords,
    ReceiverDown,
    RestartBroker,
    RestartPostgres,
)
from chaos.infra import REPO


@dataclass
class Timing:
    warm_s: float = 5.0
    tail_s: float = 5.0
    recover_timeout_s: float = 180.0
    drain_s: float = 120.0


@dataclass
class Scenario:
    name: str
    kafka: str                  # "single" or "cluster"
    faults: list[Fault]


@dataclass
class Config:
    form: str
    rate: float
    reviewers: int
    timing: Timing
    scenarios: list[Scenario]
    out_dir: Path = REPO / "chaos-results"


def full_config(rate: float = 15.0) -> Config:
    single = [KillService(f"kill -9 {s}", f"SIGKILL of {s}; the supervisor restarts it",
                          service=s) for s in ("intake", "routing", "decision", "notify")]
    single += [
        RestartPostgres("postgres restart", "PostgreSQL stopped (fast) for 15 s, then started",
                        hold_s=15),
        ReceiverDown("webhook receiver down", "the webhook receiver refuses connections "
                     "for 60 s", hold_s=60),
        PoisonRecords("poison records", "undecodable and schema-breaking records on every "
                      "topic"),
        RestartBroker("broker restart", "the Kafka broker stopped for 20 s, then started",
                      hold_s=20),
    ]
    cluster = [
        LoseClusterBroker("cluster: kill -9 broker 1", "SIGKILL of one of three brokers "
                          "(RF 3, min ISR 2) for 30 s, then started", hold_s=30, node=1,
                          how="kill"),
        LoseClusterBroker("cluster: stop broker 2", "clean stop of one of three brokers "
                          "for 30 s, then started", hold_s=30, node=2, how="stop"),
    ]
    return Config(form="full", rate=rate, reviewers=3, timing=Timing(),
                  scenarios=[Scenario("single", "single", single),
                             Scenario("cluster", "cluster", cluster)])


def short_config(rate: float = 5.0) -> Config:
    """What ``make test`` runs (tests/e2e/test_chaos_short.py): three faults at a lower rate,
    within about six minutes on a loaded two-core box."""
    faults = [
        KillService("kill -9 routing", "SIGKILL of routing; the supervisor restarts it",
                    service="routing"),
        PoisonRecords("poison records", "undecodable and schema-breaking records on every "
                      "topic"),
        RestartBroker("broker restart", "the Kafka broker stopped for 10 s, then started",
                      hold_s=10),
    ]
    return Config(form="short", rate=rate, reviewers=2,
                  timing=Timing(warm_s=3, tail_s=3, recover_timeout_s=90, drain_s=30),
                  scenarios=[Scenario("single", "single", faults)])
