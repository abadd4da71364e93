"""Fixtures for the routing service: the app on real Kafka and PostgreSQL, reports, tokens."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support.apps import eventually, running
from tests.support.kafka import produce_event, read_events
from warden.routing import service
from warden.routing.app import MIGRATIONS, create_app
from warden.routing.policy import DEFAULT_POLICY_PATH
from warden.routing.service import Routing
from warden.routing.settings import RoutingSettings
from warden.shared.app import Runtime
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    REPORT_NORMALIZED_V1,
    Channel,
    LegalReference,
    Reporter,
    ReportNormalizedV1,
    Subject,
)
from warden.shared.contracts.taxonomy import CATEGORIES


def make_report(subject_id: str | None = None, category: str = "hate_speech",
                channel: Channel = Channel.USER, *, reporter_id: str | None = None,
                deadline: datetime | None = None, received_at: datetime | None = None,
                subject_type: str = "content") -> ReportNormalizedV1:
    return ReportNormalizedV1(
        report_id=uuid.uuid4(), client_id="tests", channel=channel,
        received_at=received_at or datetime.now(UTC),
        reporter=Reporter(kind=channel, id=reporter_id or f"reporter-{uuid.uuid4().hex[:8]}"),
        subject=Subject(type=subject_type, id=subject_id or f"post-{uuid.uuid4().hex[:10]}",
                        url="https://example.test/p/1"),
        policy_area=CATEGORIES[category].area.value, category=category,
        dsa_category=CATEGORIES[category].dsa.value,
        legal=LegalReference(deadline=deadline, issuing_authority="Test authority")
        if deadline else None)


@dataclass
class RoutingApp:
    settings: RoutingSettings
    client: httpx.AsyncClient
    runtime: Runtime
    kafka: str

    @property
    def ctx(self) -> Routing:
        return self.runtime.extras["routing"]

    def auth(self, reviewer: str = "alice", skills: list[str] = (),
             roles: list[str] = ("reviewer",)) -> dict[str, str]:
        token = issue_reviewer_token(self.settings.reviewer_token_secret, reviewer, list(skills),
                                     list(roles))
        return {"Authorization": f"Bearer {token}"}

    async def publish(self, topic: str, event: CloudEvent, key: str) -> None:
        await produce_event(self.kafka, self.settings.topic(topic), event, key)

    async def send_report(self, report: ReportNormalizedV1) -> CloudEvent:
        event = new_event(type=REPORT_NORMALIZED_V1, source="/warden/intake",
                          subject=report.subject.id, payload=report)
        await self.publish(topics.REPORTS_NORMALIZED, event, report.subject.id)
        return event

    async def seed(self, report: ReportNormalizedV1):
        """Route a report straight through the use case (no Kafka hop): fast set-up."""
        async with self.runtime.sessions() as session, session.begin():
            return await service.route_report(self.ctx, session, report, datetime.now(UTC))

    async def routed(self, expect: int, *, settle: float = 0.0, timeout: float = 20.0):
        return await read_events(self.kafka, self.settings.topic(topics.CASES_ROUTED),
                                 expect=expect, event_type=CASE_ROUTED_V1, settle=settle,
                                 timeout=timeout)

    async def scalar(self, sql: str, **params):
        async with self.runtime.engine.connect() as conn:
            return await conn.scalar(sa.text(sql), params)

    async def case_of_report(self, report_id: uuid.UUID) -> dict | None:
        case_id = await self.scalar("SELECT case_id FROM case_reports WHERE report_id = :r",
                                    r=report_id)
        if case_id is None:
            return None
        response = await self.client.get(f"/v1/cases/{case_id}",
                                         headers=self.auth(skills=["child_safety", "terrorism"]))
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_case(self, report: ReportNormalizedV1, what: str = "the report's case") -> dict:
        return await eventually(lambda: self.case_of_report(report.report_id), what=what,
                                timeout=20)


@pytest.fixture
def policy_file(tmp_path) -> Path:
    path = tmp_path / "policy.yaml"
    shutil.copy(DEFAULT_POLICY_PATH, path)
    return path


@pytest.fixture
def routing_settings(infra, topic_prefix, policy_file):
    async def build(database_url: str, **overrides) -> RoutingSettings:
        values = dict(database_url=database_url, kafka_bootstrap=infra.kafka,
                      topic_prefix=topic_prefix, policy_path=policy_file,
                      reload_on_sighup=False, outbox_poll_interval_s=1.0,
                      consumer_backoff_initial_s=0.05, sla_check_interval_s=0.2,
                      lease_sweep_interval_s=0.2, db_pool_size=10)
        values.update(overrides)
        return RoutingSettings(**values)
    return build


@pytest.fixture
async def routing_db(make_database) -> str:
    return await make_database("routing", MIGRATIONS)


@pytest.fixture
async def start_routing(infra, routing_db, routing_settings):
    """``async with start_routing(**settings overrides) as app`` (several may share the DB)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def start(**overrides):
        settings = await routing_settings(routing_db, **overrides)
        app = create_app(settings)
        async with running(app) as client:
            yield RoutingApp(settings=settings, client=client, runtime=app.state.runtime,
                             kafka=infra.kafka)

    return start


@pytest.fixture
async def routing_app(start_routing):
    async with start_routing() as app:
        yield app
