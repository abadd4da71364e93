"""Notify under operational conditions: replicas, restarts, expired leases, endpoints, paging."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from tests.integration.notify.conftest import (
    SECRET,
    ScriptedReceiver,
    decision_event,
    operator_headers,
    publish_all,
    serving_receiver,
)
from tests.support.apps import eventually, running
from tests.support.kafka import read_events
from warden.notify import leases
from warden.notify.app import create_app
from warden.notify.delivery import DeliveryWorker
from warden.notify.signing import verify
from warden.shared.contracts import topics
from warden.shared.contracts.events import NOTIFICATION_DELIVERED_V1


async def notifications(client, headers, **query) -> list[dict]:
    return (await client.get("/v1/notifications", params=query, headers=headers)).json()["items"]


async def test_two_replicas_send_each_notification_exactly_once(receiver, make_settings):
    receiver.delay_s = 0.01
    # The app only queues; two workers on the same database play two notify replicas.
    settings = make_settings(receiver.url, delivery_enabled=False, delivery_batch_size=4)
    events = [decision_event()[0] for _ in range(24)]
    app = create_app(settings)
    async with running(app) as client:
        headers = operator_headers(settings)
        await publish_all(settings, events)

        async def all_queued():
            return len(await notifications(client, headers, status="pending", limit=200)) == 24

        await eventually(all_queued, what="24 pending notifications")
        runtime = app.state.runtime
        replicas = [DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                   outbox=runtime.outbox) for _ in range(2)]
        for replica in replicas:
            await replica.start()
        try:
            await eventually(lambda: receiver.got(24), what="24 webhooks")

            async def all_delivered():
                return len(await notifications(client, headers, status="delivered",
                                               limit=200)) == 24

            await eventually(all_delivered, what="24 delivered notifications")
        finally:
            for replica in replicas:
                await replica.stop()
        ids = [verify(SECRET, r.headers, r.body, now=int(time.time())) for r in receiver.received]
        attempts = [len((await client.get(f"/v1/notifications/{i}", headers=headers)).json()
                        ["delivery_attempts"]) for i in set(ids)]

    assert len(ids) == 24 and len(set(ids)) == 24
    assert attempts == [1] * 24


async def test_listing_pages_newest_first_and_rejects_bad_queries(receiver, make_settings):
    settings = make_settings(receiver.url, delivery_enabled=False)
    events = [decision_event()[0] for _ in range(5)]
    async with running(create_app(settings)) as client:
        headers = operator_headers(settings)
        await publish_all(settings, events)

        async def five():
            return len(await notifications(client, headers)) == 5

        await eventually(five, what="5 notifications")
        pages, cursor = [], None
        while True:
            page = (await client.get("/v1/notifications", headers=headers,
                                     params={"limit": 2, **({"cursor": cursor} if cursor else {})}
                                     )).json()
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        everything = await notifications(client, headers)
        bad_status = await client.get("/v1/notifications?status=lost", headers=headers)
        bad_cursor = await client.get("/v1/notifications?cursor=bm9wZQ", headers=headers)
        bad_limit = await client.get("/v1/notifications?limit=0", headers=headers)
        bad_id = await client.get("/v1/notifications/not-a-uuid", headers=headers)
        missing = await client.get("/v1/notifications/00000000-0000-0000-0000-000000000000",
                                   headers=headers)

    assert [len(p) for p in pages] == [2, 2, 1]
    paged = [n["id"] for p in pages for n in p]
    assert paged == [n["id"] for n in everything] and len(set(paged)) == 5
    created = [n["created_at"] for n in everything]
    assert created == sorted(created, reverse=True)
    for response in (bad_status, bad_cursor, bad_limit, bad_id):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    assert missing.status_code == 404


async def test_delivery_cut_short_by_a_restart_is_sent_after_it(make_settings):
    slow = ScriptedReceiver(delay_s=1.5)
    async with serving_receiver(slow):
        settings = make_settings(slow.url)
        event, decision = decision_event()
        async with running(create_app(settings)):
            await publish_all(settings, [event])
            await eventually(slow.got, what="the first POST to reach the slow receiver")
        # The service stopped mid-POST; the next start sends it again without waiting a lease.
        slow.delay_s = 0
        async with running(create_app(settings)) as client:
            outcome = (await read_events(settings.kafka_bootstrap,
                                         settings.topic(topics.NOTIFICATIONS_DELIVERED), expect=1,
                                         event_type=NOTIFICATION_DELIVERED_V1, timeout=20)
                       )[0].payload()
            detail = (await client.get(f"/v1/notifications/{outcome.notification_id}",
                                       headers=operator_headers(settings))).json()

    assert outcome.status == "delivered" and outcome.decision_id == decision.decision_id
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["interrupted", "delivered"]
    ids = {r.headers["webhook-id"] for r in slow.received}
    assert ids == {str(outcome.notification_id)}


async def test_worker_whose_lease_ran_out_does_not_override_the_new_holder(receiver,
                                                                           make_settings):
    settings = make_settings(receiver.url, delivery_enabled=False)
    event, _ = decision_event()
    app = create_app(settings)
    async with running(app) as client:
        headers = operator_headers(settings)
        await publish_all(settings, [event])
        [queued] = await eventually(lambda: notifications(client, headers), what="a notification")
        runtime = app.state.runtime
        async with runtime.sessions() as session, session.begin():
            # A lease that is already over, as if this worker had stalled for too long.
            [old_claim] = await leases.claim_due(
                session, limit=1, now=datetime.now(UTC), lease=timedelta(seconds=-1))
        stale, current = (DeliveryWorker(settings=settings, sessions=runtime.sessions,
                                         outbox=runtime.outbox) for _ in range(2))
        await stale.start()
        await current.start()  # takes the notification over and delivers it
        try:
            async def delivered_by_the_current_holder():
                found = await client.get(f"/v1/notifications/{queued['id']}", headers=headers)
                return found.json()["status"] == "delivered"

            # Its send recorded, not only received: a worker stopped between the two hands
            # the notification back as interrupted.
            await eventually(delivered_by_the_current_holder,
                             what="the current holder's delivery recorded")
            late_result = await stale.post(old_claim)
            await stale.record(old_claim, late_result)
        finally:
            await stale.stop()
            await current.stop()
        detail = (await client.get(f"/v1/notifications/{queued['id']}", headers=headers)).json()

    assert detail["status"] == "delivered"
    assert sorted(a["outcome"] for a in detail["delivery_attempts"]) == ["delivered",
                                                                         "superseded"]


async def test_endpoints_added_by_an_operator_get_their_own_signed_copy(receiver, make_settings):
    settings = make_settings(receiver.url)
    event, decision = decision_event()
    async with serving_receiver(ScriptedReceiver()) as second:
        async with running(create_app(settings)) as client:
            headers = operator_headers(settings)
            created = await client.post("/v1/endpoints", headers=headers, json={
                "name": "regulator-portal", "url": second.url})
            duplicate = await client.post("/v1/endpoints", headers=headers, json={
                "name": "regulator-portal", "url": second.url})
            bad = [await client.post("/v1/endpoints", headers=headers, json=body) for body in (
                {"name": "x", "url": "ftp://example.com"},
                {"name": "y", "url": second.url, "event_types": ["warden.made.up.v1"]},
                {"name": "z", "url": second.url, "secret": "plain-text"},
                {"name": "bad name!", "url": second.url},
            )]
            listed = (await client.get("/v1/endpoints", headers=headers)).json()
            await publish_all(settings, [event])
            await eventually(receiver.got, what="the configured endpoint's webhook")
            await eventually(second.got, what="the added endpoint's webhook")

    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and secret != SECRET
    assert duplicate.status_code == 409
    assert [b.status_code for b in bad] == [422] * 4
    assert sorted(e["name"] for e in listed) == ["configured", "regulator-portal"]
    assert all("secret" not in e for e in listed)
    [first_copy], [second_copy] = receiver.received, second.received
    assert verify(SECRET, first_copy.headers, first_copy.body, now=int(time.time()))
    assert verify(secret, second_copy.headers, second_copy.body, now=int(time.time()))
    assert first_copy.headers["webhook-id"] != second_copy.headers["webhook-id"]
    for copy in (first_copy, second_copy):
        assert json.loads(copy.body)["event"]["data"]["decision_id"] == str(decision.decision_id)
