"""Fixtures for the notify service: a real HTTP webhook receiver on 127.0.0.1, settings, events."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
    at: float = field(default_factory=time.time)  # when it arrived: the signature's "now"


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


# --- Standard Webhooks verification, written from the published specification -------------
# (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
# on purpose independent of warden.notify.signing: the signed content is
# "{webhook-id}.{webhook-timestamp}.{body}", HMAC-SHA256 with the base64-decoded part of the
# "whsec_" secret, base64-encoded, sent as "v1,<signature>"; several space-delimited
# signatures may be sent; timestamps older or newer than five minutes are refused.

def spec_verify(secret: str, got: Received) -> str:
    """The webhook's id if ``got`` verifies with ``secret``; its timestamp is checked against
    when it arrived, as a receiver does (a test may read it again long after)."""
    import base64
    import hashlib
    import hmac

    headers, body = got.headers, got.body
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(got.at - int(timestamp)) <= 300, "timestamp outside the tolerance"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for versioned in headers["webhook-signature"].split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return msg_id
    raise AssertionError("no webhook-signature verifies with this secret")


# --- a real SMTP server on 127.0.0.1 -------------------------------------------------------

@pytest.fixture
def smtp_server():
    """aiosmtpd's SMTP server in its own thread; ``.url`` for notify, ``.handler.received``."""
    import socket

    from aiosmtpd.controller import Controller

    from warden.notify.smtp_sink import RecordingHandler

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    controller.url = f"smtp://127.0.0.1:{port}"
    try:
        yield controller
    finally:
        controller.stop()


# --- events of the other services --------------------------------------------------------

def report_event(channel: str = "user", *, locale: str | None = None, email: str | None = None,
                 reporter_id: str | None = "user-1", legal=None, subject_id: str | None = None,
                 report_id: uuid.UUID | None = None) -> tuple[CloudEvent, Any]:
    from warden.shared.contracts.events import (
        REPORT_NORMALIZED_V1,
        Channel,
        Reporter,
        ReportNormalizedV1,
    )

    subject_id = subject_id or f"post-{uuid.uuid4().hex[:8]}"
    payload = ReportNormalizedV1(
        report_id=report_id or uuid.uuid4(), client_id="client-1", channel=Channel(channel),
        received_at=datetime.now(UTC),
        reporter=Reporter(kind=Channel(channel), id=reporter_id, email=email),
        subject=Subject(type="content", id=subject_id, url=f"https://social.example/{subject_id}",
                        owner_id="acct-9"),
        policy_area="hate_harassment", category="hate_speech",
        dsa_category="STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", legal=legal, locale=locale,
        text="the reporter's own words")
    return new_event(type=REPORT_NORMALIZED_V1, source="/warden/intake", subject=subject_id,
                     payload=payload, correlation_id=f"corr-{uuid.uuid4().hex[:8]}"), payload


def routed_event(report) -> CloudEvent:
    from warden.shared.contracts.events import CASE_ROUTED_V1, CaseRoutedV1

    now = datetime.now(UTC)
    payload = CaseRoutedV1(
        case_id=uuid.uuid4(), subject=report.subject, policy_area=report.policy_area,
        category=report.category, queue="terrorism", priority=100, due_at=now, reason="opened",
        report_ids=[report.report_id], channels=[report.channel], rule_id="r1",
        policy_version="1", routed_at=now, legal_deadline=report.legal.deadline
        if report.legal else None)
    return new_event(type=CASE_ROUTED_V1, source="/warden/routing", subject=report.subject.id,
                     payload=payload)


def statement_document(puid: str, **overrides) -> dict:
    """A statement of reasons the Transparency Database accepts (its published rules)."""
    today = datetime.now(UTC).date().isoformat()
    document = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Terrorist content regulation (EU) 2021/784",
        "illegal_content_explanation": "Incites terrorist offences.",
        "content_type": ["CONTENT_TYPE_TEXT"],
        "category": "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "decision_facts": "A post inciting violence.",
        "source_type": "SOURCE_TYPE_OTHER_NOTIFICATION",
        "automated_detection": "No", "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "content_date": today, "application_date": today, "puid": puid,
        "territorial_scope": ["DE"],
    }
    return {**document, **overrides}


def decision_v2_event(*, subject: Subject, report_ids: list[uuid.UUID], codes=("remove",),
                      restricts: bool = True, statement: dict | None | bool = True,
                      appeal_outcome: str | None = None, reverses: uuid.UUID | None = None,
                      decision_id: uuid.UUID | None = None) -> tuple[CloudEvent, Any]:
    from warden.shared.contracts.events import (
        DECISION_RECORDED_V2,
        ActionTaken,
        AppealRights,
        DecisionRecordedV2,
        PolicyGround,
        StatementOfReasonsRef,
    )

    now = datetime.now(UTC)
    decision_id = decision_id or uuid.uuid4()
    puid = f"warden-{decision_id}"
    kinds = {"remove": "content", "refer_law_enforcement": "referral",
             "refer_child_safety_hotline": "referral", "no_action": "none",
             "restore_content": "restoration"}
    document = statement_document(puid) if statement is True else statement or None
    payload = DecisionRecordedV2(
        decision_id=decision_id, case_id=uuid.uuid4(), subject=subject,
        actions=[ActionTaken(code=c, kind=kinds[c], restricts=restricts and kinds[c] == "content",
                             target="subject", target_id=subject.id,
                             territorial_scope=["DE"] if kinds[c] == "content" else [],
                             starts_at=now) for c in codes],
        restricts=restricts,
        policy=PolicyGround(policy_id="TVE-1", policy_version="1", title="Terrorist content",
                            policy_area="terrorism", ground="illegal_content",
                            legal_basis="Regulation (EU) 2021/784",
                            explanation="Incites terrorist offences."),
        category="terrorist_content", dsa_category="STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        facts="A post <b>inciting</b> violence.", reasoning="Clear incitement.",
        automated_detection=False, automated_decision="not_automated", decided_by="rev-1",
        decided_at=now, final_at=now, report_ids=report_ids,
        stage="appeal" if appeal_outcome else "review",
        appeal_id=uuid.uuid4() if appeal_outcome else None, appeal_outcome=appeal_outcome,
        reverses=reverses,
        statement_of_reasons=StatementOfReasonsRef(
            puid=puid, url=f"/v1/decisions/{decision_id}/statement-of-reasons",
            category="STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", document=document)
        if restricts else None,
        appeal=AppealRights(deadline=now + timedelta(days=182), how="POST /v1/appeals")
        if restricts else None)
    return new_event(type=DECISION_RECORDED_V2, source="/warden/decision", subject=subject.id,
                     payload=payload, correlation_id=f"corr-{uuid.uuid4().hex[:8]}"), payload


async def publish(settings: NotifySettings, topic: str, event: CloudEvent) -> None:
    from tests.support.kafka import produce_event

    await produce_event(settings.kafka_bootstrap, settings.topic(topic), event,
                        key=event.subject or event.id)


async def notifications(client, settings: NotifySettings, **query) -> list[dict]:
    """Every notification in the delivery log (all pages)."""
    items, cursor = [], None
    while True:
        params = {"limit": 200, **query, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/notifications", params=params,
                                 headers=operator_headers(settings))).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items
