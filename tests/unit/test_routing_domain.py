"""Pure routing rules: due times, priority, grouping reports into a case, appeals, leases."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from warden.routing import domain
from warden.routing.domain import (
    LeaseView,
    compute_priority,
    deadline_boost,
    join_case,
    lease_until,
    open_case,
    place_report,
    refresh_priority,
    reopen_for_appeal,
    reporters_boost,
    require_lease_holder,
    require_skills,
    transfer,
)
from warden.routing.policy import DEFAULT_POLICY_PATH, PriorityWeights, load_policy_file
from warden.shared.auth import Reviewer
from warden.shared.contracts.events import (
    Channel,
    LegalReference,
    Reporter,
    ReportNormalizedV1,
    Subject,
)
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.errors import Conflict, Forbidden, InvalidInput

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = load_policy_file(DEFAULT_POLICY_PATH).policy
WEIGHTS = POLICY.priority


def report(category: str = "hate_speech", channel: Channel = Channel.USER, *,
           received_at: datetime = T0, deadline: datetime | None = None,
           priority_handling: bool = False) -> ReportNormalizedV1:
    return ReportNormalizedV1(
        report_id=uuid.uuid4(), client_id="test", channel=channel, received_at=received_at,
        reporter=Reporter(kind=channel, id="r1"), subject=Subject(type="content", id="post-1"),
        policy_area=CATEGORIES[category].area.value, category=category,
        dsa_category=CATEGORIES[category].dsa.value, priority_handling=priority_handling,
        legal=LegalReference(deadline=deadline) if deadline else None)


def opened(rep: ReportNormalizedV1, now: datetime = T0):
    return open_case(POLICY, place_report(POLICY, rep), rep, now)


def joined(case, rep, now=T0, new_reporter=True):
    return join_case(POLICY, case, place_report(POLICY, rep), rep, new_reporter=new_reporter,
                     now=now)


# --- due times ------------------------------------------------------------------------------

def test_due_is_the_queue_sla_from_receipt():
    placement = place_report(POLICY, report("hate_speech"))
    assert placement.queue == "hate_harassment"
    assert placement.due_at == T0 + 24 * HOUR
    assert placement.legal_deadline is None


def test_a_legal_deadline_earlier_than_the_sla_wins():
    placement = place_report(POLICY, report("illegal_content_order", Channel.REGULATOR,
                                            deadline=T0 + 3 * HOUR))
    assert placement.due_at == T0 + 3 * HOUR
    assert placement.legal_deadline == T0 + 3 * HOUR


def test_a_legal_deadline_later_than_the_sla_does_not_delay_the_case():
    placement = place_report(POLICY, report("illegal_content_order", Channel.REGULATOR,
                                            deadline=T0 + 30 * 24 * HOUR))
    assert placement.due_at == T0 + 24 * HOUR


def test_terrorist_content_order_is_due_within_one_hour_even_without_a_stated_deadline():
    placement = place_report(POLICY, report("terrorist_content_order", Channel.REGULATOR))
    assert placement.due_at == T0 + HOUR
    assert placement.legal_deadline == T0 + HOUR


def test_terrorist_content_order_stating_a_later_deadline_still_gets_the_legal_hour():
    placement = place_report(POLICY, report("terrorist_content_order", Channel.REGULATOR,
                                            deadline=T0 + 5 * HOUR))
    assert placement.legal_deadline == T0 + HOUR


def test_an_order_typed_as_terrorist_content_removal_is_due_within_the_hour():
    order = report("illegal_content_order", Channel.REGULATOR)
    typed = order.model_copy(update={"legal": LegalReference(
        order_type="terrorist_content_removal_order", deadline=T0 + 48 * HOUR)})
    assert place_report(POLICY, typed).due_at == T0 + HOUR
    assert place_report(POLICY, order).due_at == T0 + 24 * HOUR


def test_a_timestamp_without_zone_is_taken_as_utc():
    naive = report(received_at=T0.replace(tzinfo=None))
    assert place_report(POLICY, naive).due_at == T0 + 24 * HOUR


# --- priority -------------------------------------------------------------------------------

def prio(**overrides) -> int:
    args = dict(base_priority=10, severity=1, channels=(Channel.USER,), reporters=1,
                priority_handling=False, due_at=T0 + 100 * HOUR, now=T0)
    return compute_priority(WEIGHTS, **{**args, **overrides})


def test_priority_grows_with_severity():
    assert prio(severity=5) > prio(severity=3) > prio(severity=1)


def test_regulator_then_trusted_flagger_come_first():
    regulator = prio(channels=(Channel.REGULATOR,))
    flagger = prio(channels=(Channel.TRUSTED_FLAGGER,))
    assert regulator > flagger > prio(channels=(Channel.USER,))
    assert prio(channels=(Channel.USER, Channel.REGULATOR)) == regulator


def test_priority_handling_flag_adds():
    assert prio(priority_handling=True) == prio() + WEIGHTS.priority_handling


def test_priority_grows_with_reporters_and_is_capped():
    assert [reporters_boost(WEIGHTS, n) for n in (1, 2, 3, 4, 8, 1024)] == [0, 5, 5, 10, 15, 25]


def test_priority_grows_as_the_deadline_nears():
    assert [deadline_boost(WEIGHTS, T0 + d, T0)
            for d in (48 * HOUR, 20 * HOUR, 3 * HOUR, 30 * 60 * timedelta(seconds=1), -HOUR)] \
        == [0, 10, 20, 30, 40]
    assert prio(due_at=T0 + HOUR) > prio(due_at=T0 + 10 * HOUR) > prio()


def test_priority_weights_come_from_the_policy():
    flat = PriorityWeights(severity=0, channel={}, priority_handling=0, reporters_step=0,
                           deadline=[], overdue=0)
    assert compute_priority(flat, base_priority=7, severity=5, channels=(Channel.REGULATOR,),
                            reporters=100, priority_handling=True, due_at=T0, now=T0) == 7


# --- grouping ------------------------------------------------------------------------------

def test_open_case_records_rule_and_policy_version():
    case = opened(report("hate_speech"))
    assert (case.queue, case.rule_id, case.policy_version) == \
        ("hate_harassment", "hate-harassment", POLICY.version)
    assert case.report_count == 1 and case.channels == (Channel.USER,)
    assert case.priority == prio(base_priority=40, severity=3, due_at=T0 + 24 * HOUR)


def test_joining_report_updates_counts_channels_and_raises_priority():
    case = opened(report("hate_speech"))
    change = joined(case, report("hate_speech", Channel.TRUSTED_FLAGGER, priority_handling=True))
    after = change.state
    assert change.reason == domain.REPORT_JOINED
    assert after.report_count == 2 and after.reporters == 2
    assert set(after.channels) == {Channel.USER, Channel.TRUSTED_FLAGGER}
    assert after.priority > case.priority
    assert after.queue == case.queue and not change.queue_changed
    assert "priority" in change.detail


def test_same_reporter_again_counts_the_report_not_the_reporter():
    case = opened(report())
    after = joined(case, report(), new_reporter=False).state
    assert (after.report_count, after.reporters) == (2, 1)
    assert after.priority == case.priority


def test_joining_report_with_an_earlier_legal_deadline_moves_the_due_time():
    case = opened(report("hate_speech"))
    change = joined(case, report("hate_speech", deadline=T0 + 2 * HOUR))
    assert change.state.due_at == T0 + 2 * HOUR
    assert change.state.legal_deadline == T0 + 2 * HOUR
    assert "due" in change.detail


def test_later_report_never_pushes_the_due_time_back():
    case = opened(report("hate_speech"))
    later = joined(case, report("hate_speech", received_at=T0 + 10 * HOUR)).state
    assert later.due_at == case.due_at


def test_priority_never_drops_when_a_report_joins():
    case = replace(opened(report()), priority=999)
    assert joined(case, report()).state.priority == 999


def test_more_severe_report_escalates_the_case_to_its_specialist_queue():
    case = opened(report("hate_speech"))
    change = joined(case, report("terrorism"))
    assert change.reason == domain.ESCALATED and change.queue_changed
    assert change.state.queue == "terrorism_violent_extremism"
    assert change.state.rule_id == "terrorism" and change.state.category == "terrorism"
    assert change.state.due_at == T0 + 2 * HOUR


def test_less_severe_report_leaves_queue_and_category():
    case = opened(report("terrorism"))
    change = joined(case, report("spam"))
    assert change.state.queue == "terrorism_violent_extremism"
    assert change.state.category == "terrorism" and not change.queue_changed


def test_a_case_rebuilt_from_reports_matches_one_grown_report_by_report():
    reports = [report("hate_speech"), report("terrorism", Channel.TRUSTED_FLAGGER),
               report("spam", deadline=T0 + 2 * HOUR)]
    state, opening = domain.case_from_reports(POLICY, reports, T0)
    grown = opened(reports[0])
    for rep, new_reporter in zip(reports[1:], (True, False), strict=True):
        grown = joined(grown, rep, new_reporter=new_reporter).state
    assert state == grown
    assert opening.rule_id == "hate-harassment" and state.queue == "terrorism_violent_extremism"
    assert (state.report_count, state.reporters) == (3, 2)  # "r1" reported twice as a user


def test_refresh_raises_priority_only_when_a_deadline_tier_is_crossed():
    case = opened(report("hate_speech"))  # due in 24 h: tier "within 24h" already counted
    assert refresh_priority(POLICY, case, T0 + HOUR).reason is None
    change = refresh_priority(POLICY, case, T0 + 21 * HOUR)  # 3 h left
    assert change.reason == domain.DEADLINE_APPROACHING
    assert change.state.priority == case.priority + 10
    overdue = refresh_priority(POLICY, change.state, T0 + 25 * HOUR)
    assert overdue.state.priority == case.priority + 30


def test_next_priority_review_is_the_next_deadline_tier_boundary():
    case = opened(report("hate_speech"))  # due T0 + 24 h; tiers at 24 h, 4 h, 1 h before
    assert case.priority_review_at == T0 + 20 * HOUR
    later = refresh_priority(POLICY, case, T0 + 20 * HOUR).state
    assert later.priority_review_at == T0 + 23 * HOUR
    last = refresh_priority(POLICY, later, T0 + 23 * HOUR).state
    assert last.priority_review_at == T0 + 24 * HOUR  # becoming overdue counts too
    assert refresh_priority(POLICY, last, T0 + 24 * HOUR).state.priority_review_at is None


# --- appeals, transfers --------------------------------------------------------------------

def test_appeal_reopens_in_the_appeals_queue_with_a_fresh_clock():
    case = opened(report("hate_speech"))
    filed = T0 + 48 * HOUR
    change = reopen_for_appeal(POLICY, case, filed_at=filed, now=filed)
    assert change.reason == domain.REOPENED_FOR_APPEAL
    assert change.state.queue == "appeals" and change.state.rule_id == domain.APPEAL_RULE_ID
    assert change.state.due_at == filed + timedelta(days=7)
    assert change.state.report_count == case.report_count


def test_transfer_keeps_due_time_and_priority():
    case = opened(report("hate_speech"))
    change = transfer(POLICY, case, "general")
    assert change.state.queue == "general" and change.reason == domain.TRANSFERRED
    assert (change.state.due_at, change.state.priority) == (case.due_at, case.priority)


def test_transfer_to_unknown_queue_is_invalid_naming_the_field():
    with pytest.raises(InvalidInput) as err:
        transfer(POLICY, opened(report()), "nowhere")
    assert err.value.errors[0]["field"] == "body.queue"


def test_transfer_to_the_same_queue_is_a_conflict():
    with pytest.raises(Conflict):
        transfer(POLICY, opened(report("hate_speech")), "hate_harassment")


# --- reviewers and leases ------------------------------------------------------------------

def reviewer(rid="alice", skills=(), roles=("reviewer",)) -> Reviewer:
    return Reviewer(id=rid, skills=frozenset(skills), roles=frozenset(roles))


def test_skills_are_required_and_the_error_names_the_missing_ones():
    require_skills(reviewer(skills=["child_safety"]), "child_safety", frozenset({"child_safety"}))
    with pytest.raises(Forbidden) as err:
        require_skills(reviewer(), "child_safety", frozenset({"child_safety"}))
    assert "child_safety" in err.value.detail


def test_lease_length_defaults_and_bounds():
    assert lease_until(T0, None, default_seconds=300, max_seconds=3600) == T0 + timedelta(minutes=5)
    assert lease_until(T0, 60, default_seconds=300, max_seconds=3600) == T0 + timedelta(minutes=1)
    for bad in (0, 3601):
        with pytest.raises(InvalidInput):
            lease_until(T0, bad, default_seconds=300, max_seconds=3600)


def test_only_the_lease_holder_acts_on_a_claimed_case():
    lease = LeaseView(assignee_id="alice", lease_expires_at=T0 + HOUR)
    require_lease_holder(lease, reviewer("alice"), T0, leads_may=False)
    with pytest.raises(Conflict):
        require_lease_holder(lease, reviewer("bob"), T0, leads_may=False)
    with pytest.raises(Conflict):  # expired: the case went back to its queue
        require_lease_holder(lease, reviewer("alice"), T0 + 2 * HOUR, leads_may=False)


def test_a_lead_may_step_in_where_allowed():
    lease = LeaseView(assignee_id="alice", lease_expires_at=T0 + HOUR)
    require_lease_holder(lease, reviewer("carol", roles=["lead"]), T0, leads_may=True)
    with pytest.raises(Conflict):
        require_lease_holder(lease, reviewer("carol", roles=["lead"]), T0, leads_may=False)
