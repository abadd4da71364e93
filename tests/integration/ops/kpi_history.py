"""A known event history for the KPI tests, with every figure counted by hand.

Times are hours after T0 (2026-03-02 00:00 UTC); the report window is 2026-03-01 to
2026-03-04 (T0 - 24 h to T0 + 48 h).

reports (channel, category, received)      case (queue)          first decision
R1 user           hate_speech    0 h       C1 hate_harassment   D1 remove     2 h (due 24 h)
R2 user           hate_speech    1 h       C1 (joined)          D1            2 h
R3 trusted_flagger scam          3 h       C2 scams_fraud       D2 no_action  6 h (due 4 h)
R4 regulator      terrorist_content 4 h    C3 terrorism         D3 remove     4.5 h (due 5 h)
   (terrorist-content removal order, legal deadline 5 h)
R5 regulator      illegal_goods  5 h       C4 regulatory_legal  D4 disable    40 h (due 30 h, final on approval)
   (removal order, legal deadline 30 h)
R6 automated      csam           24 h      C5 child_safety      D5 remove     24.1 h (automated)
R7 user           spam           26 h      C6 general           - (open at the end: 22 h old)
R8 user           spam           -240 h    (before the window: not counted)
R1 again: a reprocessed copy (new event id, same report id): counted once.

appeals: D2 appealed at 10 h (C2 reopened in appeals at 10 h, reversed by D2R at 12 h);
         D1 appealed at 20 h (C1 reopened in appeals at 20 h, still open: 28 h old)
decisions D3, D4, D5 are warden.decision.recorded.v2, the others v1.
four-eyes: D4 decided at 38 h, approved (final) at 40 h; a pending decision on C6 rejected at
           30 h, another expired at 31 h (neither approved nor rejected: not counted)
notifications: reporter delivered 2 s after D1, reporter delivered 4 s after D2,
               affected_user dead after D1, affected_user delivered 10 s after D3
plus one record on cases.routed that is not JSON (unreadable, not archived).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent

T0 = datetime(2026, 3, 2, tzinfo=UTC)
SINCE = "2026-03-01T00:00:00Z"
UNTIL = "2026-03-04T00:00:00Z"


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"warden-kpi-test/{name}"))


def _event(type_: str, hours: float, data: dict, subject: str, source: str) -> CloudEvent:
    return CloudEvent(type=type_, source=f"/warden/{source}", subject=subject,
                      time=T0 + timedelta(hours=hours), data=data,
                      correlationid=str(uuid.uuid4()))


def report(name, channel, category, hours, *, deadline=None, order_type=None):
    legal = None
    if deadline is not None:
        legal = {"deadline": at(deadline), "order_type": order_type,
                 "issuing_authority": "authority", "order_reference": f"ORD-{name}"}
    data = {"report_id": _id(name), "client_id": _id("client"), "channel": channel,
            "received_at": at(hours), "reporter": {"kind": channel},
            "subject": {"type": "content", "id": f"post-{name}"}, "policy_area": "x",
            "category": category, "dsa_category": "STATEMENT_CATEGORY_X", "legal": legal}
    return topics.REPORTS_NORMALIZED, _event("warden.report.normalized.v1", hours, data,
                                             f"post-{name}", "intake")


def routed(case, queue, hours, reports, *, due, reason="opened", status="open"):
    data = {"case_id": _id(case), "subject": {"type": "content", "id": f"subject-{case}"},
            "policy_area": "x", "category": "x", "queue": queue, "priority": 50,
            "status": status,
            "due_at": at(due), "reason": reason, "report_ids": [_id(r) for r in reports],
            "rule_id": "rule", "policy_version": "1", "routed_at": at(hours)}
    return topics.CASES_ROUTED, _event("warden.case.routed.v1", hours, data, f"subject-{case}",
                                       "routing")


def decided(name, case, action, hours, *, automated=False, reverses=None):
    data = {"decision_id": _id(name), "case_id": _id(case),
            "subject": {"type": "content", "id": f"subject-{case}"}, "action": action,
            "policy_area": "x", "category": "x", "dsa_category": "x", "policy_cited": "P-1",
            "rationale": "r", "reviewer_id": "auto" if automated else "alice",
            "decided_at": at(hours), "automated_decision": automated,
            "reverses_decision_id": _id(reverses) if reverses else None}
    return topics.DECISIONS_RECORDED, _event("warden.decision.recorded.v1", hours, data,
                                             f"subject-{case}", "decision")


def appealed(name, decision, case, hours):
    data = {"appeal_id": _id(name), "decision_id": _id(decision), "case_id": _id(case),
            "subject": {"type": "content", "id": f"subject-{case}"}, "appellant_id": "u",
            "reason": "r", "filed_at": at(hours), "original_reviewer_id": "alice"}
    return topics.APPEALS_FILED, _event("warden.appeal.filed.v1", hours, data,
                                        f"subject-{case}", "decision")


def decided_v2(name, case, action, decided, *, final=None, automated="not_automated",
               approved_by=None):
    """A ``warden.decision.recorded.v2`` (the fields the KPIs read, and a few more)."""
    data = {"decision_id": _id(name), "case_id": _id(case),
            "subject": {"type": "content", "id": f"subject-{case}"},
            "actions": [{"code": action, "kind": "content", "restricts": True,
                         "target": "subject", "starts_at": at(final or decided)}],
            "restricts": True, "category": "x", "dsa_category": "x", "facts": "f",
            "reasoning": "r", "automated_detection": automated != "not_automated",
            "automated_decision": automated,
            "decided_by": None if automated == "fully" else "bob", "approved_by": approved_by,
            "decided_at": at(decided), "final_at": at(final or decided), "stage": "review"}
    return topics.DECISIONS_RECORDED, _event("warden.decision.recorded.v2", final or decided,
                                             data, f"subject-{case}", "decision")


def rejected(decision, case, hours):
    data = {"decision_id": _id(decision), "case_id": _id(case),
            "subject": {"type": "content", "id": f"subject-{case}"}, "outcome": "rejected",
            "decided_by": "bob", "closed_by": "carol", "closed_at": at(hours)}
    return topics.DECISIONS_RECORDED, _event("warden.decision.approval_closed.v1", hours, data,
                                             f"subject-{case}", "decision")


def expired(decision, case, hours):
    data = {"decision_id": _id(decision), "case_id": _id(case),
            "subject": {"type": "content", "id": f"subject-{case}"}, "outcome": "expired",
            "decided_by": "bob", "closed_at": at(hours)}
    return topics.DECISIONS_RECORDED, _event("warden.decision.approval_closed.v1", hours, data,
                                             f"subject-{case}", "decision")


def delivered(name, audience, status, source_event: CloudEvent, after_seconds):
    finished = source_event.time + timedelta(seconds=after_seconds)
    data = {"notification_id": _id(name), "source_event_id": source_event.id,
            "source_event_type": source_event.type, "recipient": audience,
            "endpoint_url": "http://127.0.0.1/x", "status": status, "attempts": 1,
            "finished_at": finished.isoformat()}
    return topics.NOTIFICATIONS_DELIVERED, _event("warden.notification.delivered.v1",
                                                  (finished - T0).total_seconds() / 3600,
                                                  data, "s", "notify")


def history() -> list[tuple[str, CloudEvent]]:
    d1 = decided("D1", "C1", "remove", 2)
    d2 = decided("D2", "C2", "no_action", 6)
    d3 = decided_v2("D3", "C3", "remove", 4.5)
    r1 = report("R1", "user", "hate_speech", 0)
    reprocessed_r1 = (r1[0], r1[1].model_copy(update={"id": str(uuid.uuid4())}))
    return [
        r1, reprocessed_r1,
        report("R2", "user", "hate_speech", 1),
        report("R3", "trusted_flagger", "scam", 3),
        report("R4", "regulator", "terrorist_content", 4, deadline=5,
               order_type="terrorist_content_removal_order"),
        report("R5", "regulator", "illegal_goods", 5, deadline=30, order_type="removal_order"),
        report("R6", "automated", "csam", 24),
        report("R7", "user", "spam", 26),
        report("R8", "user", "spam", -240),
        routed("C1", "hate_harassment", 0.01, ["R1"], due=24),
        routed("C1", "hate_harassment", 1.01, ["R1", "R2"], due=24, reason="report_joined"),
        routed("C2", "scams_fraud", 3.01, ["R3"], due=4),
        routed("C3", "terrorism", 4.01, ["R4"], due=5),
        routed("C4", "regulatory_legal", 5.01, ["R5"], due=30),
        routed("C5", "child_safety", 24.01, ["R6"], due=25),
        routed("C6", "general", 26.0, ["R7"], due=50),
        routed("C8", "general", -239, ["R8"], due=-200),
        decided("D8", "C8", "remove", -238),
        d1, d2, d3,
        # What routing announces once a decision closed a case (queue and due time kept).
        routed("C3", "terrorism", 4.6, ["R4"], due=5, reason="decided", status="decided"),
        # Four-eyes: decided at 38 h, final when approved at 40 h (the first action's time).
        decided_v2("D4", "C4", "disable", 38, final=40, approved_by="carol"),
        decided_v2("D5", "C5", "remove", 24.1, automated="fully"),
        appealed("A2", "D2", "C2", 10),
        routed("C2", "appeals", 10, ["R3"], due=20, reason="reopened_for_appeal"),
        decided("D2R", "C2", "restore", 12, reverses="D2"),
        appealed("A1", "D1", "C1", 20),
        routed("C1", "appeals", 20, ["R1", "R2"], due=60, reason="reopened_for_appeal"),
        rejected("DX", "C6", 30),
        expired("DY", "C6", 31),
        delivered("N1", "reporter", "delivered", d1[1], 2),
        delivered("N2", "reporter", "delivered", d2[1], 4),
        delivered("N3", "affected_user", "dead", d1[1], 600),
        delivered("N4", "affected_user", "delivered", d3[1], 10),
    ]


# Every figure of the report for the window, counted by hand from the table above.
EXPECTED = {
    "reports_by_channel_over_time": [
        {"day": "2026-03-02", "channel": "regulator", "reports": 2},
        {"day": "2026-03-02", "channel": "trusted_flagger", "reports": 1},
        {"day": "2026-03-02", "channel": "user", "reports": 2},
        {"day": "2026-03-03", "channel": "automated", "reports": 1},
        {"day": "2026-03-03", "channel": "user", "reports": 1},
    ],
    "reports_by_category": [
        {"category": "hate_speech", "channel": "user", "reports": 2},
        {"category": "csam", "channel": "automated", "reports": 1},
        {"category": "illegal_goods", "channel": "regulator", "reports": 1},
        {"category": "scam", "channel": "trusted_flagger", "reports": 1},
        {"category": "spam", "channel": "user", "reports": 1},
        {"category": "terrorist_content", "channel": "regulator", "reports": 1},
    ],
    # quantile_cont interpolates: user [1 h, 2 h] -> p50 1.5, p90 1.9.
    "time_to_first_action_by_queue": [
        {"queue": "child_safety", "reports": 1, "p50_hours": 0.1, "p90_hours": 0.1},
        {"queue": "hate_harassment", "reports": 2, "p50_hours": 1.5, "p90_hours": 1.9},
        {"queue": "regulatory_legal", "reports": 1, "p50_hours": 35.0, "p90_hours": 35.0},
        {"queue": "scams_fraud", "reports": 1, "p50_hours": 3.0, "p90_hours": 3.0},
        {"queue": "terrorism", "reports": 1, "p50_hours": 0.5, "p90_hours": 0.5},
    ],
    "time_to_first_action_by_channel": [
        {"channel": "automated", "reports": 1, "p50_hours": 0.1, "p90_hours": 0.1},
        {"channel": "regulator", "reports": 2, "p50_hours": 17.75, "p90_hours": 31.55},
        {"channel": "trusted_flagger", "reports": 1, "p50_hours": 3.0, "p90_hours": 3.0},
        {"channel": "user", "reports": 2, "p50_hours": 1.5, "p90_hours": 1.9},
    ],
    "sla_compliance_by_queue": [
        {"queue": "child_safety", "decided_cases": 1, "within_sla": 1, "compliance_pct": 100.0},
        {"queue": "hate_harassment", "decided_cases": 1, "within_sla": 1,
         "compliance_pct": 100.0},
        {"queue": "regulatory_legal", "decided_cases": 1, "within_sla": 0,
         "compliance_pct": 0.0},
        {"queue": "scams_fraud", "decided_cases": 1, "within_sla": 0, "compliance_pct": 0.0},
        {"queue": "terrorism", "decided_cases": 1, "within_sla": 1, "compliance_pct": 100.0},
    ],
    "legal_deadline_compliance": [
        {"rule": "TCO one-hour rule", "due": 1, "met": 1, "compliance_pct": 100.0},
        {"rule": "authority orders", "due": 2, "met": 1, "compliance_pct": 50.0},
    ],
    "backlog_by_queue": [
        {"queue": "appeals", "open_cases": 1, "oldest_age_hours": 28.0},
        {"queue": "general", "open_cases": 1, "oldest_age_hours": 22.0},
    ],
    "appeals": [{"decisions": 5, "appealed": 2, "overturned": 1, "appeal_rate_pct": 40.0,
                 "overturn_rate_pct": 50.0}],
    "action_mix": [
        {"action": "remove", "decisions": 3, "share_pct": 60.0},
        {"action": "disable", "decisions": 1, "share_pct": 20.0},
        {"action": "no_action", "decisions": 1, "share_pct": 20.0},
    ],
    "automated_vs_human": [
        {"decided_by": "automated", "decisions": 1, "share_pct": 20.0},
        {"decided_by": "human", "decisions": 4, "share_pct": 80.0},
    ],
    "four_eyes": [{"reviewed": 2, "rejected": 1, "rejection_rate_pct": 50.0}],
    "notification_delivery": [
        {"audience": "affected_user", "notifications": 2, "delivered": 1, "success_pct": 50.0,
         "p50_seconds": 10.0, "p90_seconds": 10.0},
        {"audience": "reporter", "notifications": 2, "delivered": 2, "success_pct": 100.0,
         "p50_seconds": 3.0, "p90_seconds": 3.8},
    ],
}
