"""Fixtures for the notify service: a real HTTP webhook receiver on 127.0.0.1, settings, events."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI, Request, Response

from tests.support.apps import serving
from warden.notify.app import MIGRATIONS
from warden.notify.settings import NotifySettings
from warden.notify.signing import generate_secret
from warden.shared.auth import issue_reviewer_token
from warden.shared.contracts.envelope import CloudEvent, new_event
from warden.shared.contracts.events import DECISION_RECORDED_V1, DecisionRecordedV1, Subject

SECRET = generate_secret()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


@dataclass
class ScriptedReceiver:
    """Answers ``failure_status`` to the first ``fail_first`` POSTs (all, with ``fail_always``)."""

    url: str = ""
    fail_first: int = 0
    fail_always: bool = False
    failure_status: int = 500
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            body = await request.body()
            self.received.append(Received(dict(request.headers), body, path))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            failing = self.fail_always or len(self.received) <= self.fail_first
            return Response(status_code=self.failure_status if failing else 204)

        return app

    async def got(self, n: int = 1) -> list[Received] | None:
        return self.received if len(self.received) >= n else None


@contextlib.asynccontextmanager
async def serving_receiver(receiver: ScriptedReceiver):
    async with serving(receiver.app(), lifespan="off") as base_url:
        receiver.url = f"{base_url}/hooks"
        yield receiver


@pytest.fixture
async def receiver():
    async with serving_receiver(ScriptedReceiver()) as running_receiver:
        yield running_receiver


@pytest.fixture
async def notify_database(make_database) -> str:
    return await make_database("notify", MIGRATIONS)


@pytest.fixture
def make_settings(infra, topic_prefix, notify_database):
    def make(webhook_url: str, **overrides) -> NotifySettings:
        values = dict(database_url=notify_database, kafka_bootstrap=infra.kafka,
                      topic_prefix=topic_prefix, webhook_url=webhook_url, webhook_secret=SECRET,
                      delivery_max_attempts=3, delivery_backoff_initial_s=0.05,
                      delivery_backoff_max_s=0.2, delivery_poll_interval_s=0.5,
                      outbox_poll_interval_s=0.5, consumer_backoff_initial_s=0.05,
                      smtp_url="")
        return NotifySettings(**{**values, **overrides})

    return make


def operator_headers(settings: NotifySettings, roles: tuple[str, ...] = ("operator",)) -> dict:
    token = issue_reviewer_token(settings.reviewer_token_secret, "ops-1", roles=list(roles))
    return {"authorization": f"Bearer {token}"}


def decision_event(subject_id: str | None = None) -> tuple[CloudEvent, DecisionRecordedV1]:
    subject_id = subject_id or f"post-{uuid.uuid4().hex[:8]}"
    payload = DecisionRecordedV1(
        decision_id=uuid.uuid4(), case_id=uuid.uuid4(),
        subject=Subject(type="content", id=subject_id), action="remove",
        policy_area="hate_harassment", category="hate_speech",
        dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", policy_cited="HS-1",
        rationale="targets a protected group", reviewer_id="rev-1", decided_at=datetime.now(UTC),
        report_ids=[uuid.uuid4()], restricts=True)
    event = new_event(type=DECISION_RECORDED_V1, source="/warden/decision", subject=subject_id,
                      payload=payload, correlation_id=f"corr-{uuid.uuid4().hex[:8]}")
    return event, payload


async def publish_all(settings: NotifySettings, events: list[CloudEvent]) -> None:
    """Publish many decision events with one producer (keyed by subject, as decision does)."""
    from aiokafka import AIOKafkaProducer

    from warden.shared.contracts import topics

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [await producer.send(settings.topic(topics.DECISIONS_RECORDED), event.to_bytes(),
                                    key=event.subject.encode(),
                                    headers=[("ce_type", event.type.encode())])
                for event in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
