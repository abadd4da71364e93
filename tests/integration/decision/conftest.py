"""Fixtures for the decision service: the app on real Kafka and PostgreSQL, routed cases,
reviewer tokens and lease tokens signed the way routing signs them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.apps import eventually, running
from tests.support.kafka import produce_event, read_events
from warden.decision.app import MIGRATIONS, create_app
from warden.decision.settings import DecisionSettings
from warden.shared import lease_tokens
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import CASE_ROUTED_V1, CaseRoutedV1, Subject

APPEAL_KEY = "test-appeals-key-0123456789abcdef"


@dataclass
class DecisionApp:
    settings: DecisionSettings
    client: httpx.AsyncClient
    kafka: str

    def auth(self, reviewer: str = "alice", skills: tuple[str, ...] = (),
             roles: tuple[str, ...] = ("reviewer",)) -> dict[str, str]:
        token = issue_reviewer_token(self.settings.reviewer_token_secret, reviewer,
                                     list(skills), list(roles))
        return {"Authorization": f"Bearer {token}"}

    def lease(self, case: CaseRoutedV1, reviewer: str = "alice", *, queue: str | None = None,
              skills: tuple[str, ...] = (), expires_in: timedelta = timedelta(minutes=15),
              key: str = lease_tokens.DEV_SIGNING_KEY) -> dict[str, str]:
        now = datetime.now(UTC)
        token = lease_tokens.mint(key, lease_tokens.Lease(
            reviewer_id=reviewer, case_id=case.case_id, queue=queue or case.queue,
            required_skills=frozenset(skills), stage=case.stage or "review",
            expires_at=now + expires_in, issued_at=now, lease_id=uuid.uuid4().hex))
        return {lease_tokens.HEADER: token}

    def as_holder(self, case: CaseRoutedV1, reviewer: str = "alice",
                  skills: tuple[str, ...] = ()) -> dict[str, str]:
        return {**self.auth(reviewer, skills), **self.lease(case, reviewer, skills=skills)}

    async def route(self, routed: CaseRoutedV1) -> CaseRoutedV1:
        event = new_event(type=CASE_ROUTED_V1, source="/warden/routing",
                          subject=routed.subject.id, payload=routed)
        await produce_event(self.kafka, self.settings.topic(topics.CASES_ROUTED), event,
                            routed.subject.id)
        return routed

    async def routed_case(self, *, subject_type: str = "content", owner: str | None = "acct-1",
                          queue: str = "hate_harassment", category: str = "hate_speech",
                          channels: tuple[str, ...] = ("user",), **extra) -> CaseRoutedV1:
        now = datetime.now(UTC)
        routed = CaseRoutedV1(
            case_id=uuid.uuid4(),
            subject=Subject(type=subject_type, id=f"{subject_type}-{uuid.uuid4().hex[:8]}",
                            owner_id=owner, content_type="text", language="en"),
            policy_area="community_standards", category=category, queue=queue, priority=40,
            due_at=now + timedelta(hours=24), reason="opened", report_ids=[uuid.uuid4()],
            channels=list(channels), rule_id="hate", policy_version="test", routed_at=now,
            **extra)
        await self.route(routed)
        await self.known(routed.case_id)
        return routed

    async def known(self, case_id: uuid.UUID) -> None:
        async def probe():
            r = await self.client.get(f"/v1/cases/{case_id}/decisions", headers=self.auth())
            return r.status_code == 200
        await eventually(probe, what=f"case {case_id} to reach the decision service")

    async def events(self, event_type: str, expect: int, settle: float = 0.0
                     ) -> list[CloudEvent]:
        return await read_events(self.kafka, self.settings.topic(topics.DECISIONS_RECORDED)
                                 if event_type.startswith("warden.decision") else
                                 self.settings.topic(topics.APPEALS_FILED), expect=expect,
                                 event_type=event_type, settle=settle)


@pytest.fixture
async def decision_settings(infra, topic_prefix, make_database) -> DecisionSettings:
    return DecisionSettings(database_url=await make_database("decision", MIGRATIONS),
                            kafka_bootstrap=infra.kafka, topic_prefix=topic_prefix,
                            dev_api_key=APPEAL_KEY, approval_sweep_interval_s=0.2,
                            consumer_backoff_initial_s=0.05)


@pytest.fixture
async def decision(infra, decision_settings) -> DecisionApp:
    async with running(create_app(decision_settings)) as client:
        yield DecisionApp(settings=decision_settings, client=client, kafka=infra.kafka)


def remove_body(**overrides) -> dict:
    body = {"actions": [{"code": "remove"}], "policy_id": "CS-HATE-1",
            "facts": "A post calling a religious group vermin, reported by a user.",
            "reasoning": "Dehumanising comparison aimed at a protected group."}
    body.update(overrides)
    return body
