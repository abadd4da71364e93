"""Notify against real Kafka, PostgreSQL and an HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time

from tests.integration.notify.conftest import (
    SECRET,
    ScriptedReceiver,
    decision_event,
    operator_headers,
)
from tests.support.apps import eventually, running
from tests.support.kafka import produce_event, read_events, read_records
from warden.notify.app import create_app
from warden.notify.signing import verify
from warden.shared.contracts import topics
from warden.shared.contracts.events import NOTIFICATION_DELIVERED_V1, NotificationDeliveredV1


async def publish_decision(settings, event, key: str) -> None:
    await produce_event(settings.kafka_bootstrap, settings.topic(topics.DECISIONS_RECORDED),
                        event, key=key)


async def outcomes(settings, expect: int, settle: float = 0.0) -> list[NotificationDeliveredV1]:
    events = await read_events(settings.kafka_bootstrap,
                               settings.topic(topics.NOTIFICATIONS_DELIVERED), expect=expect,
                               timeout=30, event_type=NOTIFICATION_DELIVERED_V1, settle=settle)
    return [e.payload() for e in events]


async def only_notification(client, headers) -> dict | None:
    items = (await client.get("/v1/notifications", headers=headers)).json()["items"]
    return items[0] if items else None


async def test_decision_becomes_a_signed_webhook_and_a_delivered_event(receiver, make_settings):
    settings = make_settings(receiver.url)
    event, decision = decision_event()
    async with running(create_app(settings)) as client:
        await publish_decision(settings, event, key=decision.subject.id)
        [got] = await eventually(receiver.got, what="the webhook at the receiver")
        [outcome] = await outcomes(settings, expect=1)
        headers = operator_headers(settings)
        listing = (await client.get("/v1/notifications", headers=headers)).json()
        detail = (await client.get(f"/v1/notifications/{outcome.notification_id}",
                                   headers=headers)).json()
        anonymous = await client.get("/v1/notifications")
        reviewer = await client.get("/v1/notifications",
                                    headers=operator_headers(settings, roles=("reviewer",)))

    webhook_id = verify(SECRET, got.headers, got.body, now=int(time.time()))
    assert got.headers["content-type"] == "application/json"
    document = json.loads(got.body)
    assert document["type"] == event.type and document["notification_id"] == webhook_id
    assert document["event"]["id"] == event.id
    assert document["event"]["data"]["decision_id"] == str(decision.decision_id)

    assert outcome.status == "delivered" and outcome.attempts == 1
    assert str(outcome.notification_id) == webhook_id
    assert (outcome.decision_id, outcome.case_id) == (decision.decision_id, decision.case_id)
    assert outcome.report_ids == decision.report_ids
    assert outcome.source_event_id == event.id and outcome.endpoint_url == receiver.url
    [record] = await read_records(settings.kafka_bootstrap,
                                  settings.topic(topics.NOTIFICATIONS_DELIVERED), expect=1)
    assert record.key == decision.subject.id.encode()  # keyed by the subject, like its cause

    assert [n["id"] for n in listing["items"]] == [webhook_id]
    assert listing["items"][0]["status"] == "delivered"
    assert listing["items"][0]["correlation_id"] == event.correlationid
    [attempt] = detail["delivery_attempts"]
    assert attempt["status_code"] == 204 and attempt["outcome"] == "delivered"
    assert attempt["error"] is None and attempt["duration_ms"] > 0
    assert anonymous.status_code == 401 and reviewer.status_code == 403
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_failing_receiver_is_retried_until_delivered_and_every_attempt_kept(
        receiver, make_settings):
    receiver.fail_first = 2
    settings = make_settings(receiver.url, delivery_max_attempts=4)
    event, decision = decision_event()
    async with running(create_app(settings)) as client:
        await publish_decision(settings, event, key=decision.subject.id)
        [outcome] = await outcomes(settings, expect=1)
        detail = (await client.get(f"/v1/notifications/{outcome.notification_id}",
                                   headers=operator_headers(settings))).json()

    assert outcome.status == "delivered" and outcome.attempts == 3
    assert len(receiver.received) == 3
    ids = {verify(SECRET, r.headers, r.body, now=int(time.time())) for r in receiver.received}
    assert ids == {str(outcome.notification_id)}  # one webhook-id across retries
    assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
    attempts = detail["delivery_attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert [a["status_code"] for a in attempts] == [500, 500, 204]
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "delivered"]
    assert attempts[0]["error"] == "receiver answered HTTP 500"
    assert attempts[0]["started_at"] < attempts[1]["started_at"] < attempts[2]["started_at"]
    assert detail["status"] == "delivered" and detail["attempts"] == 3


async def test_receiver_that_always_fails_leaves_a_dead_notification_an_operator_redelivers(
        receiver, make_settings):
    receiver.fail_always, receiver.failure_status = True, 503
    settings = make_settings(receiver.url, delivery_max_attempts=3)
    event, decision = decision_event()
    async with running(create_app(settings)) as client:
        headers = operator_headers(settings)
        await publish_decision(settings, event, key=decision.subject.id)
        [dead] = await outcomes(settings, expect=1)
        dead_list = (await client.get("/v1/notifications?status=dead", headers=headers)).json()
        delivered_list = (await client.get("/v1/notifications?status=delivered",
                                           headers=headers)).json()

        # Pause the endpoint so the redelivered notification stays visibly pending.
        [endpoint] = (await client.get("/v1/endpoints", headers=headers)).json()
        paused = await client.patch(f"/v1/endpoints/{endpoint['id']}", json={"enabled": False},
                                    headers=headers)
        redeliver = await client.post(f"/v1/notifications/{dead.notification_id}/redeliver",
                                      headers=headers)
        again = await client.post(f"/v1/notifications/{dead.notification_id}/redeliver",
                                  headers=headers)
        unknown = await client.post("/v1/notifications/00000000-0000-0000-0000-000000000000"
                                    "/redeliver", headers=headers)

        receiver.fail_always = False
        await client.patch(f"/v1/endpoints/{endpoint['id']}", json={"enabled": True},
                           headers=headers)
        _, delivered = await outcomes(settings, expect=2)
        detail = (await client.get(f"/v1/notifications/{dead.notification_id}",
                                   headers=headers)).json()

    assert dead.status == "dead" and dead.attempts == 3 and len(receiver.received) == 4
    assert [n["id"] for n in dead_list["items"]] == [str(dead.notification_id)]
    assert dead_list["items"][0]["last_error"] == "receiver answered HTTP 503"
    assert delivered_list["items"] == []
    assert paused.json()["enabled"] is False
    assert redeliver.status_code == 202 and redeliver.json()["status"] == "pending"
    assert again.status_code == 409 and unknown.status_code == 404
    assert delivered.notification_id == dead.notification_id
    assert delivered.status == "delivered" and delivered.attempts == 4
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["retry", "retry", "dead",
                                                                  "delivered"]


async def test_same_decision_event_delivered_twice_gives_one_notification(receiver,
                                                                          make_settings):
    settings = make_settings(receiver.url)
    event, decision = decision_event()
    # A later event on the same key (so the same partition, in order) proves the duplicate
    # has been consumed by the time its own webhook arrives.
    sentinel, _ = decision_event(subject_id=decision.subject.id)
    async with running(create_app(settings)) as client:
        for each in (event, event, sentinel):
            await publish_decision(settings, each, key=decision.subject.id)
        await eventually(lambda: receiver.got(2), what="the event's and the sentinel's webhooks")
        listing = (await client.get("/v1/notifications",
                                    headers=operator_headers(settings))).json()
        finished = await outcomes(settings, expect=2)

    delivered_events = [json.loads(r.body)["event"]["id"] for r in receiver.received]
    assert sorted(delivered_events) == sorted([event.id, sentinel.id])
    assert sorted(n["source_event_id"] for n in listing["items"]) == sorted([event.id,
                                                                             sentinel.id])
    assert sorted(o.source_event_id for o in finished) == sorted([event.id, sentinel.id])
