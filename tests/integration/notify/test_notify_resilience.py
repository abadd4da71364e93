"""Delivery under trouble: a receiver that is down then back, one that refuses for good, one
that is gone, notify restarted mid-retry, and authority notices overtaking a backlog."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

from tests.integration.notify.conftest import (
    SECRET,
    ScriptedReceiver,
    notifications,
    operator_headers,
    publish,
    report_event,
    routed_event,
    spec_verify,
)
from tests.support.apps import eventually, running, serving
from tests.support.kafka import read_events
from warden.notify.app import create_app
from warden.shared.contracts import topics
from warden.shared.contracts.events import (
    NOTIFICATION_DEAD_V1,
    NOTIFICATION_DELIVERED_V1,
    LegalReference,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def circuit_gauge(client, endpoint: str, value: float) -> bool:
    metrics = (await client.get("/metrics")).text
    # prometheus_client writes a sample's labels in alphabetical order.
    return f'warden_notify_circuit_open{{endpoint="{endpoint}",service="notify"}} {value}' \
        in metrics


async def test_receiver_down_for_a_while_then_up_gets_everything_once(make_settings):
    port = free_port()
    settings = make_settings(f"http://127.0.0.1:{port}/hooks", delivery_max_attempts=50,
                             delivery_backoff_initial_s=0.05, delivery_backoff_max_s=0.3,
                             circuit_failure_threshold=3, circuit_open_s=0.5,
                             circuit_max_open_s=1.0)
    reports = [report_event("user", reporter_id=f"user-{n}")[0] for n in range(5)]
    receiver = ScriptedReceiver()
    async with running(create_app(settings)) as client:
        for event in reports:
            await publish(settings, topics.REPORTS_NORMALIZED, event)

        async def circuit_open():
            [endpoint] = (await client.get("/v1/endpoints",
                                           headers=operator_headers(settings))).json()
            return endpoint if endpoint["circuit_open_until"] else None

        down = await eventually(circuit_open, what="the circuit to open while it is down")
        # What on-call sees: the endpoint's circuit gauge says open while it is down.
        await eventually(lambda: circuit_gauge(client, down["name"], 1.0),
                         what="the open-circuit gauge at 1")

        async def all_tried():
            pending = await notifications(client, settings, status="pending")
            return pending if len(pending) == 5 and all(n["last_error"] for n in pending) \
                else None

        # The circuit lets a probe through after each cool-down: in the end all were tried.
        failed = await eventually(all_tried, what="every notice tried while it is down")
        async with serving(receiver.app(), lifespan="off", port=port):
            delivered = await read_events(
                settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED),
                expect=5, event_type=NOTIFICATION_DELIVERED_V1, timeout=60, settle=2.0)
            [back] = (await client.get("/v1/endpoints", headers=operator_headers(settings))).json()
            closed = await eventually(lambda: circuit_gauge(client, back["name"], 0.0),
                                      what="the open-circuit gauge back at 0")

    assert down["consecutive_failures"] >= 3
    assert {n["last_error"].split(":")[0] for n in failed} == {"ConnectError"}
    ids = [spec_verify(SECRET, r) for r in receiver.received]
    assert len(ids) == len(set(ids)) == 5  # all delivered, each once
    assert {e.payload().status for e in delivered} == {"delivered"}
    assert back["consecutive_failures"] == 0 and back["circuit_open_until"] is None
    assert closed, "the open-circuit gauge back at 0 once the receiver answered"


async def test_permanent_refusal_is_dead_at_once_and_a_gone_endpoint_is_disabled(
        receiver, make_settings):
    receiver.fail_always, receiver.failure_status = True, 422
    settings = make_settings(receiver.url, delivery_max_attempts=5)
    async with running(create_app(settings)) as client:
        await publish(settings, topics.REPORTS_NORMALIZED, report_event("user")[0])
        [dead] = await read_events(settings.kafka_bootstrap,
                                   settings.topic(topics.NOTIFICATIONS_DLQ), expect=1,
                                   event_type=NOTIFICATION_DEAD_V1)
        receiver.failure_status = 410
        await publish(settings, topics.REPORTS_NORMALIZED, report_event("user")[0])
        await read_events(settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DLQ),
                          expect=2, event_type=NOTIFICATION_DEAD_V1)
        [endpoint] = (await client.get("/v1/endpoints", headers=operator_headers(settings))).json()
        # A third notice waits for the operator: the endpoint is disabled, nothing is sent.
        await publish(settings, topics.REPORTS_NORMALIZED, report_event("user")[0])
        waiting = await eventually(lambda: _pending(client, settings), what="a waiting notice")

    payload = dead.payload()
    assert payload.attempts == 1 and payload.reason == "receiver answered HTTP 422"
    assert payload.audience == "reporter" and payload.notice == "reporter_receipt"
    assert not endpoint["enabled"] and "410" in endpoint["disabled_reason"]
    assert len(receiver.received) == 2 and len(waiting) == 1 and waiting[0]["attempts"] == 0


async def _pending(client, settings):
    return await notifications(client, settings, status="pending") or None


async def test_restart_mid_retry_loses_nothing_and_doubles_nothing(make_settings):
    receiver = ScriptedReceiver(fail_first=1)
    async with serving(receiver.app(), lifespan="off") as base_url:
        settings = make_settings(f"{base_url}/hooks", delivery_max_attempts=5,
                                 delivery_backoff_initial_s=2.0, delivery_backoff_max_s=2.0)
        event, _ = report_event("user")
        async with running(create_app(settings)):
            await publish(settings, topics.REPORTS_NORMALIZED, event)
            await eventually(lambda: receiver.got(1), what="the first (failed) attempt")
        # notify is down; the retry is due in about a second, kept in the database.
        async with running(create_app(settings)) as client:
            delivered = await read_events(
                settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED),
                expect=1, event_type=NOTIFICATION_DELIVERED_V1, settle=3.0)
            [notification] = await notifications(client, settings)

    assert len(delivered) == 1 and delivered[0].payload().status == "delivered"
    assert len(receiver.received) == 2
    assert {spec_verify(SECRET, r) for r in receiver.received} == \
        {notification["id"]}
    assert notification["attempts"] == 2


async def test_authority_notices_overtake_a_backlog_of_user_notices(receiver, make_settings):
    settings = make_settings(receiver.url, delivery_batch_size=2)
    headers = operator_headers(settings)
    async with running(create_app(settings)) as client:
        # The messaging endpoint is paused while a backlog builds up behind it.
        [endpoint] = (await client.get("/v1/endpoints", headers=headers)).json()
        await client.patch(f"/v1/endpoints/{endpoint['id']}", json={"enabled": False},
                           headers=headers)
        for n in range(30):
            await publish(settings, topics.REPORTS_NORMALIZED,
                          report_event("user", reporter_id=f"user-{n}")[0])
        await eventually(lambda: _queued(client, settings, 30), what="a backlog of 30")
        legal = LegalReference(issuing_authority="Garante", authority_country="IT",
                               order_reference="ORD-9", order_type="removal_order",
                               deadline=datetime.now(UTC) + timedelta(hours=1))
        order, order_report = report_event("regulator", reporter_id="Garante", legal=legal)
        await publish(settings, topics.REPORTS_NORMALIZED, order)
        await publish(settings, topics.CASES_ROUTED, routed_event(order_report))
        await eventually(lambda: _queued(client, settings, 31), what="the order's receipt queued")
        await client.patch(f"/v1/endpoints/{endpoint['id']}", json={"enabled": True},
                           headers=headers)
        await read_events(settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED),
                          expect=31, event_type=NOTIFICATION_DELIVERED_V1, timeout=60)

    order_of_arrival = [json.loads(r.body)["notice"] for r in receiver.received]
    assert len(order_of_arrival) == 31
    # Queued last, sent in the first batch: it never waits behind user notices.
    assert "authority_receipt" in order_of_arrival[:2], order_of_arrival
    [receipt] = [json.loads(r.body) for r in receiver.received
                 if json.loads(r.body)["notice"] == "authority_receipt"]
    assert receipt["locale"] == "it" and "ORD-9" in receipt["message"]["subject"]


async def _queued(client, settings, n: int):
    items = await notifications(client, settings)
    return items if len(items) >= n else None
