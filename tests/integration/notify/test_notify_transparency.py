"""Statements of reasons go to the Transparency Database in batches of up to 100, against a
local stand-in of its API that applies the published validation rules."""

from __future__ import annotations

from tests.integration.notify.conftest import (
    decision_v2_event,
    notifications,
    publish_all,
    statement_document,
)
from tests.support.apps import eventually, running, serving
from tests.support.kafka import read_events
from warden.notify.app import create_app
from warden.notify.tdb_standin import TransparencyStandIn
from warden.shared.contracts import topics
from warden.shared.contracts.events import NOTIFICATION_DEAD_V1, Subject


async def test_statements_are_batched_known_puids_count_and_refusals_are_kept(make_settings):
    standin = TransparencyStandIn(token="tdb-test-token")
    standin.fail_next = 1  # the first request meets an outage: the batch is retried
    events = []
    for n in range(130):
        subject = Subject(type="content", id=f"post-{n}")  # no owner: only the database
        event, decided = decision_v2_event(subject=subject, report_ids=[])
        events.append((event, decided))
    # One statement the database would refuse, one it has already.
    invalid_event, invalid = decision_v2_event(
        subject=Subject(type="content", id="post-bad"), report_ids=[],
        statement=statement_document("placeholder", category="STATEMENT_CATEGORY_MADE_UP"))
    invalid.statement_of_reasons.document["puid"] = invalid.statement_of_reasons.puid
    known_puid = events[0][1].statement_of_reasons.puid
    standin.statements[known_puid] = {"puid": known_puid}

    async with serving(standin.app(), lifespan="off") as base_url:
        settings = make_settings("", tdb_url=base_url, tdb_token="tdb-test-token",
                                 tdb_min_interval_s=0.0)
        async with running(create_app(settings)) as client:
            await publish_all(settings, [e for e, _ in events] + [invalid_event])

            async def settled():
                # One listing: asking "none pending?" and "131 in all?" apart raced the
                # consumer, which can queue the last statements between the two questions.
                done = await notifications(client, settings)
                return done if len(done) == 131 and \
                    all(n["status"] != "pending" for n in done) else None

            log = await eventually(settled, timeout=90, what="every statement settled")
            [dead_event] = await read_events(
                settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DLQ), expect=1,
                event_type=NOTIFICATION_DEAD_V1, settle=1.0)

    assert all(size <= 100 for size in standin.requests)
    assert max(standin.requests) > 1  # batched, not one request per statement
    assert {n["channel"] for n in log} == {"transparency_db"}
    delivered = [n for n in log if n["status"] == "delivered"]
    [dead] = [n for n in log if n["status"] == "dead"]
    assert len(delivered) == 130, [(n["status"], n.get("last_status_code"), n.get("last_error"), n.get("attempts")) for n in log if n["status"] != "delivered"]
    assert dead["puid"] == invalid.statement_of_reasons.puid
    assert "category" in dead["last_response"]["errors"]
    assert dead["last_status_code"] == 422
    [known] = [n for n in delivered if n["puid"] == known_puid]
    assert known["last_response"] == {"puid": known_puid, "existing": True}
    assert len(standin.statements) == 130  # 129 new + the one it had; the invalid one refused
    assert invalid.statement_of_reasons.puid not in standin.statements
    dead_payload = dead_event.payload()
    assert str(dead_payload.notification_id) == dead["id"]
    assert dead_payload.audience == "transparency_db" and "refused" in dead_payload.reason
