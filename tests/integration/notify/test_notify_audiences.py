"""Who is told what: receipts, outcomes, statements of reasons, authority notices, referrals —
against real Kafka, PostgreSQL, an HTTP receiver and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.integration.notify.conftest import (
    SECRET,
    decision_v2_event,
    notifications,
    publish,
    report_event,
    routed_event,
    spec_verify,
)
from tests.support.apps import eventually, running
from tests.support.kafka import read_events
from warden.notify.app import create_app
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    DECISION_PENDING_APPROVAL_V1,
    NOTIFICATION_DEAD_V1,
    NOTIFICATION_DELIVERED_V1,
    DecisionPendingApprovalV1,
    LegalReference,
)


def webhooks(receiver) -> list[dict]:
    """Every webhook received, signature checked with the published algorithm."""
    out = []
    for got in receiver.received:
        webhook_id = spec_verify(SECRET, got)
        document = json.loads(got.body)
        assert document["notification_id"] == webhook_id
        out.append(document)
    return out


def notices_of(receiver, kind: str) -> list[dict]:
    return [d for d in webhooks(receiver) if d.get("notice") == kind]


async def test_reporters_get_a_receipt_in_their_language_by_their_channel_once(
        receiver, smtp_server, make_settings):
    settings = make_settings(receiver.url, smtp_url=smtp_server.url)
    german, german_report = report_event("user", locale="de-DE", reporter_id="user-de")
    flagger, flagger_report = report_event("trusted_flagger", locale="fr",
                                           email="notices@flagger.example",
                                           reporter_id="flagger-1")
    portuguese, _ = report_event("user", locale="pt-BR", reporter_id="user-pt")
    detector, _ = report_event("automated", reporter_id="classifier-7")
    # The same report published again under a new event id (a replay upstream).
    replay = new_event(type=german.type, source=german.source, subject=german.subject,
                       payload=german_report)
    async with running(create_app(settings)) as client:
        for event in (german, flagger, portuguese, detector, replay):
            await publish(settings, topics.REPORTS_NORMALIZED, event)
        await eventually(lambda: receiver.got(2), what="two messaging receipts")
        [mail] = await eventually(
            lambda: _at_least(smtp_server.handler.received, 1), what="the flagger's email")
        delivered = await read_events(
            settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED), expect=3,
            event_type=NOTIFICATION_DELIVERED_V1, settle=2.0)
        log = await notifications(client, settings)

    receipts = {d["recipient"]: d for d in notices_of(receiver, "reporter_receipt")}
    assert set(receipts) == {"user-de", "user-pt"}  # nothing for the detector, nothing twice
    assert receipts["user-de"]["locale"] == "de"
    assert receipts["user-de"]["message"]["subject"] == \
        f"Wir haben Ihre Meldung {german_report.report_id} erhalten"
    assert receipts["user-de"]["data"]["report_reference"] == str(german_report.report_id)
    assert receipts["user-pt"]["locale"] == "en"  # no Portuguese templates: English
    assert receipts["user-pt"]["message"]["subject"].startswith("We received your report")
    assert "the reporter's own words" not in json.dumps(receipts["user-de"])

    assert mail.to == ["notices@flagger.example"]
    assert str(mail.message["Subject"]) == \
        f"Nous avons bien reçu votre signalement {flagger_report.report_id}"
    assert str(flagger_report.report_id) in mail.text and "<html>" in mail.html
    email_log = [n for n in log if n["channel"] == "email"]
    assert [n["recipient"] for n in email_log] == ["notices@flagger.example"]
    assert str(mail.message["Message-ID"]) == f"<{email_log[0]['id']}@warden.notify>"

    assert len(delivered) == 3 and len(log) == 3
    outcomes = [e.payload() for e in delivered]
    assert {o.audience for o in outcomes} == {"reporter"}
    assert {o.notice for o in outcomes} == {"reporter_receipt"}
    assert {o.channel for o in outcomes} == {"webhook", "email"}


async def _at_least(items: list, n: int):
    return list(items) if len(items) >= n else None


async def test_authority_receipt_then_outcome_with_the_time_of_removal_and_everyone_told(
        receiver, make_settings):
    settings = make_settings(receiver.url)
    deadline = datetime.now(UTC) + timedelta(hours=1)
    legal = LegalReference(issuing_authority="Bundeskriminalamt", authority_country="DE",
                           order_reference="TCO-2026-17", deadline=deadline,
                           order_type="terrorist_content_removal_order",
                           legal_basis="Regulation (EU) 2021/784")
    order, order_report = report_event("regulator", reporter_id="Bundeskriminalamt",
                                       legal=legal)
    user, user_report = report_event("user", reporter_id="user-4821",
                                     subject_id=order_report.subject.id, locale="en-GB")
    decision, decided = decision_v2_event(
        subject=order_report.subject, report_ids=[order_report.report_id, user_report.report_id],
        codes=("remove", "refer_law_enforcement"))
    pending = new_event(type=DECISION_PENDING_APPROVAL_V1, source="/warden/decision",
                        subject=order_report.subject.id, payload=DecisionPendingApprovalV1(
                            decision_id=decided.decision_id, case_id=decided.case_id,
                            subject=order_report.subject, decided_by="rev-1", queue="terrorism",
                            action_codes=["remove", "refer_law_enforcement"],
                            decided_at=datetime.now(UTC),
                            expires_at=datetime.now(UTC) + timedelta(hours=4)))
    async with running(create_app(settings)) as client:
        # Routing may be quicker than notify's report consumer: the receipt waits for both.
        await publish(settings, topics.CASES_ROUTED, routed_event(order_report))
        await publish(settings, topics.REPORTS_NORMALIZED, order)
        await publish(settings, topics.REPORTS_NORMALIZED, user)
        await eventually(lambda: _kinds(receiver, {"authority_receipt", "reporter_receipt"}),
                         what="the order's receipt and the user's receipt")
        await publish(settings, topics.DECISIONS_RECORDED, pending)  # not final: tells no one
        await publish(settings, topics.DECISIONS_RECORDED, decision)
        await eventually(lambda: _kinds(receiver, {"authority_outcome", "reporter_outcome",
                                                   "statement_of_reasons", "referral"}),
                         what="every notice of the decision")
        delivered = await read_events(
            settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED),
            expect=7, event_type=NOTIFICATION_DELIVERED_V1, settle=2.0)
        log = await notifications(client, settings)

    [receipt] = notices_of(receiver, "authority_receipt")
    assert receipt["audience"] == "authority" and receipt["locale"] == "de"
    assert receipt["message"]["subject"] == "Eingangsbestätigung der Anordnung TCO-2026-17"
    assert receipt["data"]["deadline"] == deadline.isoformat().replace("+00:00", "Z")
    [outcome] = notices_of(receiver, "authority_outcome")
    removed_at = decided.final_at.isoformat().replace("+00:00", "Z")
    assert outcome["data"]["removed_at"] == removed_at and outcome["data"]["within_deadline"]
    assert f"Zeitpunkt der Entfernung: {removed_at}" in outcome["message"]["text"]

    [told] = notices_of(receiver, "reporter_outcome")
    assert told["recipient"] == "user-4821" and told["data"]["action_taken"] is True
    assert told["data"]["facts"] is None  # written for the affected user, not the reporter
    [statement] = notices_of(receiver, "statement_of_reasons")
    assert statement["recipient"] == "acct-9" and statement["audience"] == "affected"
    assert statement["data"]["puid"] == f"warden-{decided.decision_id}"
    assert statement["data"]["appeal_until"] == \
        decided.appeal.deadline.isoformat().replace("+00:00", "Z")
    assert "Bundeskriminalamt" not in json.dumps(statement)  # who reported stays private
    [referral] = notices_of(receiver, "referral")
    assert referral["audience"] == "law_enforcement"

    priorities = {n["notice"]: n["priority"] for n in log}
    assert priorities["authority_receipt"] == priorities["authority_outcome"] == 100
    assert priorities["reporter_outcome"] == 0
    reporter_outcomes = [e.payload() for e in delivered if e.payload().notice ==
                         "reporter_outcome"]
    assert [o.report_ids for o in reporter_outcomes] == [[user_report.report_id]]
    # Six notices, and the raw decision event for downstream tools; each once.
    assert len(delivered) == len(log) == 7
    assert sorted(n["audience"] for n in log) == sorted(
        ["authority", "authority", "reporter", "reporter", "affected", "law_enforcement",
         "subscriber"])


async def _kinds(receiver, kinds: set[str]):
    seen = {d.get("notice") for d in webhooks(receiver)}
    return seen if kinds <= seen else None


async def test_appeal_outcome_and_restoration_reach_the_affected_user(receiver, make_settings):
    settings = make_settings(receiver.url)
    _, report = report_event("user")
    first, decided = decision_v2_event(subject=report.subject, report_ids=[])
    reversal, _ = decision_v2_event(subject=report.subject, report_ids=[],
                                    codes=("restore_content",), restricts=False,
                                    appeal_outcome="reversed", reverses=decided.decision_id)
    upheld, _ = decision_v2_event(subject=report.subject, report_ids=[],
                                  appeal_outcome="upheld")
    async with running(create_app(settings)):
        for event in (first, reversal, upheld):
            await publish(settings, topics.DECISIONS_RECORDED, event)
        await eventually(lambda: _kinds(receiver, {"statement_of_reasons", "restoration",
                                                   "appeal_outcome"}),
                         what="statement, restoration and appeal outcome")
    [restored] = notices_of(receiver, "restoration")
    assert restored["data"]["reverses_decision_id"] == str(decided.decision_id)
    assert restored["message"]["subject"] == f"Your content {report.subject.id} has been restored"
    [appeal] = notices_of(receiver, "appeal_outcome")
    assert appeal["data"]["appeal_outcome"] == "upheld"


async def test_a_mailbox_refused_for_good_is_dead_with_the_smtp_reply(
        receiver, smtp_server, make_settings):
    smtp_server.handler.refuse_with = "550 5.1.1 no such mailbox"
    settings = make_settings(receiver.url, smtp_url=smtp_server.url)
    async with running(create_app(settings)):
        await publish(settings, topics.REPORTS_NORMALIZED, report_event(
            "rights_holder", email="gone@studio.example", reporter_id="studio")[0])
        [dead] = await read_events(settings.kafka_bootstrap,
                                   settings.topic(topics.NOTIFICATIONS_DLQ), expect=1,
                                   event_type=NOTIFICATION_DEAD_V1)
    payload = dead.payload()
    assert payload.channel == "email" and payload.attempts == 1
    assert payload.reason == "recipient refused: SMTP 550"
    assert smtp_server.handler.received == [] and receiver.received == []


async def test_a_decision_that_comes_before_its_report_still_tells_the_reporter_once(
        receiver, make_settings):
    """The reports and decisions consumers run apart (after a restart or a broker loss one
    can be behind): the reporter is told of the decision once the report arrives."""
    settings = make_settings(receiver.url)
    report, reported = report_event("user", reporter_id="user-late")
    decision, decided = decision_v2_event(subject=reported.subject,
                                          report_ids=[reported.report_id])
    async with running(create_app(settings)) as client:
        # Routing's event first too: a report known only from cases.routed is not "seen".
        await publish(settings, topics.CASES_ROUTED, routed_event(reported))
        await publish(settings, topics.DECISIONS_RECORDED, decision)
        await eventually(lambda: _kinds(receiver, {"statement_of_reasons"}),
                         what="the affected party told, the reporter not yet")
        assert not notices_of(receiver, "reporter_outcome")
        await publish(settings, topics.REPORTS_NORMALIZED, report)
        await eventually(lambda: _kinds(receiver, {"reporter_receipt", "reporter_outcome"}),
                         what="the reporter's receipt and outcome once the report came")
        await publish(settings, topics.REPORTS_NORMALIZED, report)  # a resend adds nothing
        delivered = await read_events(
            settings.kafka_bootstrap, settings.topic(topics.NOTIFICATIONS_DELIVERED),
            expect=4, event_type=NOTIFICATION_DELIVERED_V1, settle=2.0)
        log = await notifications(client, settings)

    [told] = notices_of(receiver, "reporter_outcome")
    assert told["recipient"] == "user-late"
    assert told["data"]["decision_id"] == str(decided.decision_id)
    assert len(notices_of(receiver, "statement_of_reasons")) == 1
    # Receipt, outcome, statement of reasons and the raw decision event: each once.
    assert len(delivered) == len(log) == 4
    assert sorted(n["audience"] for n in log) == ["affected", "reporter", "reporter",
                                                  "subscriber"]
