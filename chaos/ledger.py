"""Counting what became of the load: every accepted report in exactly one case, every
decision recorded once, published once and delivered once to every audience.

Sources, each read as its owner keeps it:

* intake's ``reports`` and routing's ``case_reports`` (the report -> case link);
* decision's ``decisions``;
* the ``decisions.recorded`` topic, read from the beginning by a consumer of our own;
* the webhooks the receiver got (a ``webhook-id`` is one notification; the same id twice is
  a resend, which receivers absorb; two ids for one decision, audience and recipient is a
  double — a decision on a case of several reports tells each of their reporters).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from chaos.system import System
from warden.shared.contracts.topics import DECISIONS_RECORDED


async def behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    """True while the consumer has not reached ``ends`` on some partition."""
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


@dataclass
class TopicReader:
    """Keeps reading ``decisions.recorded``: event ids per decision id."""

    system: System
    events: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    records: Counter = field(default_factory=Counter)  # event id -> times seen
    _consumer: AIOKafkaConsumer | None = None

    async def _ensure(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            topic = self.system.prefix + DECISIONS_RECORDED
            consumer = AIOKafkaConsumer(bootstrap_servers=self.system.kafka, group_id=None,
                                        enable_auto_commit=False, auto_offset_reset="earliest",
                                        request_timeout_ms=15000)
            await consumer.start()
            consumer.assign([TopicPartition(topic, p) for p in range(self.system.partitions)])
            self._consumer = consumer
        return self._consumer

    async def catch_up(self, timeout: float = 15.0) -> bool:
        """Read up to the current end of every partition; False if Kafka did not answer."""
        try:
            return await asyncio.wait_for(self._catch_up(), timeout)
        except (TimeoutError, KafkaError, OSError):
            return False

    async def _catch_up(self) -> bool:
        consumer = await self._ensure()
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while await behind(consumer, ends):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    self._take(record.value)
        return True

    def _take(self, value: bytes) -> None:
        try:
            event = json.loads(value)
            decision_id = str(event["data"]["decision_id"])
            event_id = str(event["id"])
        except (ValueError, KeyError, TypeError):
            return  # the poison phase's records: the DLQ check looks at those
        self.events[decision_id].add(event_id)
        self.records[event_id] += 1

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None


@dataclass
class Snapshot:
    """Where every report and decision stands at one moment."""

    in_intake: set[str]
    case_of: dict[str, list[str]]            # report id -> case ids
    decisions: dict[str, str]                # decision id -> case id (decision's table)
    decided_at: dict[str, float]
    decisions_per_case: Counter
    audiences: set[str]
    # (decision id, audience) -> recipient -> webhook ids
    webhooks: dict[tuple[str, str], dict[str | None, set[str]]]
    webhook_resends: Counter                     # decision id -> extra copies of a webhook
    events: dict[str, set[str]]
    event_resends: Counter                       # decision id -> extra copies of an event


async def snapshot(system: System, reader: TopicReader, report_ids: list[str]) -> Snapshot:
    ids = [uuid.UUID(r) for r in report_ids]
    intake_rows, routed_rows, decision_rows = await asyncio.gather(
        system.query("intake", "SELECT id FROM reports WHERE id = ANY($1::uuid[])", ids),
        system.query("routing", "SELECT report_id, case_id FROM case_reports "
                                "WHERE report_id = ANY($1::uuid[])", ids),
        system.query("decision", "SELECT id, case_id, extract(epoch FROM decided_at) AS at "
                                 "FROM decisions"),
    )
    await reader.catch_up()
    case_of: dict[str, list[str]] = defaultdict(list)
    for row in routed_rows:
        case_of[str(row["report_id"])].append(str(row["case_id"]))
    webhooks: dict[tuple[str, str], dict[str | None, set[str]]] = defaultdict(dict)
    seen: set[str] = set()
    webhook_resends: Counter = Counter()
    for hook in system.receiver.webhooks:
        if hook.decision_id:
            webhooks[(hook.decision_id, hook.audience)].setdefault(
                hook.recipient, set()).add(hook.webhook_id)
            if hook.webhook_id in seen:
                webhook_resends[hook.decision_id] += 1
        seen.add(hook.webhook_id)
    event_resends: Counter = Counter()
    for decision_id, event_ids in reader.events.items():
        event_resends[decision_id] = sum(reader.records[e] - 1 for e in event_ids)
    audiences = {hook.audience for hook in system.receiver.webhooks} or {"/webhooks"}
    decisions = {str(r["id"]): str(r["case_id"]) for r in decision_rows}
    return Snapshot(
        in_intake={str(r["id"]) for r in intake_rows}, case_of=case_of, decisions=decisions,
        decided_at={str(r["id"]): float(r["at"]) for r in decision_rows},
        decisions_per_case=Counter(decisions.values()), audiences=audiences, webhooks=webhooks,
        webhook_resends=webhook_resends, events={k: set(v) for k, v in reader.events.items()},
        event_resends=event_resends)


@dataclass
class Account:
    """The figures of one phase."""

    accepted: int = 0
    routed: int = 0
    decisions_acked: int = 0
    decisions: int = 0
    events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    lost: dict[str, list[str]] = field(default_factory=dict)
    doubled: dict[str, list[str]] = field(default_factory=dict)
    resent: dict[str, int] = field(default_factory=dict)

    @property
    def lost_total(self) -> int:
        return sum(len(v) for v in self.lost.values())

    @property
    def doubled_total(self) -> int:
        return sum(len(v) for v in self.doubled.values())

    @property
    def complete(self) -> bool:
        return self.lost_total == 0

    def as_json(self) -> dict:
        return {
            "accepted_reports": self.accepted, "reports_in_one_case": self.routed,
            "decisions_acknowledged": self.decisions_acked, "decisions_recorded": self.decisions,
            "decision_events": self.events, "deliveries_per_audience": self.deliveries,
            "lost": {k: {"count": len(v), "sample": v[:10]} for k, v in self.lost.items() if v},
            "doubled": {k: {"count": len(v), "sample": v[:10]}
                        for k, v in self.doubled.items() if v},
            "resent_same_id": self.resent,
        }


def account(snap: Snapshot, report_ids: list[str], acked: dict[str, str],
            decision_ids: list[str]) -> Account:
    """Figures for the given reports (accepted by intake) and decisions (acknowledged ones
    plus those found in decision's table for the phase)."""
    result = Account(accepted=len(report_ids), decisions_acked=len(acked))
    result.lost["report not in intake"] = [r for r in report_ids if r not in snap.in_intake]
    result.lost["report in no case"] = [r for r in report_ids if not snap.case_of.get(r)]
    result.doubled["report in several cases"] = [r for r in report_ids
                                                 if len(snap.case_of.get(r, [])) > 1]
    result.routed = sum(1 for r in report_ids if len(snap.case_of.get(r, [])) == 1)
    result.lost["acknowledged decision not recorded"] = [d for d in acked
                                                         if d not in snap.decisions]
    recorded = [d for d in decision_ids if d in snap.decisions]
    result.decisions = len(recorded)
    result.doubled["case decided more than once"] = sorted(
        {snap.decisions[d] for d in recorded if snap.decisions_per_case[snap.decisions[d]] > 1})
    result.lost["decision without event"] = [d for d in recorded if not snap.events.get(d)]
    result.doubled["decision with several events"] = [d for d in recorded
                                                      if len(snap.events.get(d, ())) > 1]
    result.events = sum(1 for d in recorded if len(snap.events.get(d, ())) == 1)
    for audience in sorted(snap.audiences):
        hooks = {d: snap.webhooks.get((d, audience), {}) for d in recorded}
        result.lost[f"decision not delivered to {audience}"] = [d for d, h in hooks.items()
                                                                 if not h]
        result.doubled[f"decision delivered to {audience} as several notifications"] = [
            d for d, h in hooks.items() if any(len(ids) > 1 for ids in h.values())]
        result.deliveries[audience] = sum(1 for h in hooks.values()
                                          if h and all(len(ids) == 1 for ids in h.values()))
    result.lost = {k: v for k, v in result.lost.items() if v}
    result.doubled = {k: v for k, v in result.doubled.items() if v}
    result.resent = {"webhooks": sum(snap.webhook_resends[d] for d in recorded),
                     "decision_events": sum(snap.event_resends[d] for d in recorded)}
    return result
