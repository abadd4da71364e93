"""Decision rules without I/O: catalogues, who may decide and approve, strikes, appeal
windows, reversals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.decision import domain
from warden.decision.catalogue import (
    DEFAULT_ACTIONS_PATH,
    DEFAULT_POLICIES_PATH,
    CatalogueError,
    load_catalogue,
    parse_catalogue,
)
from warden.decision.domain import ActionRequest, CaseView
from warden.shared.auth import Reviewer
from warden.shared.contracts.events import Subject
from warden.shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from warden.shared.lease_tokens import Lease

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
ACTIONS = DEFAULT_ACTIONS_PATH.read_text()
POLICIES = DEFAULT_POLICIES_PATH.read_text()
POST = Subject(type="content", id="post-1", owner_id="acct-1")
AD = Subject(type="ad", id="ad-1", owner_id="adv-1")


def case(status="open", stage="review", queue="hate_harassment") -> CaseView:
    return CaseView(case_id=uuid.uuid4(), subject=POST, policy_area="community_standards",
                    category="hate_speech", queue=queue, status=status, stage=stage,
                    report_ids=[uuid.uuid4()])


def lease(view: CaseView, reviewer="alice", *, queue=None, skills=(), expires=NOW + timedelta(
        minutes=10)) -> Lease:
    return Lease(reviewer_id=reviewer, case_id=view.case_id, queue=queue or view.queue,
                 required_skills=frozenset(skills), stage=view.stage, expires_at=expires,
                 issued_at=NOW, lease_id="l1")


def reviewer(name="alice", *skills) -> Reviewer:
    return Reviewer(id=name, skills=frozenset(skills), roles=frozenset({"reviewer"}))


def plan(*requests, subject=POST, strikes=0, scope=()):
    return domain.plan_actions(CATALOGUE, subject, list(requests), default_scope=list(scope),
                               now=NOW, active_strikes=strikes)


def field_of(excinfo) -> str:
    return excinfo.value.errors[0]["field"]


# --- catalogues -------------------------------------------------------------------------------

def test_shipped_catalogues_cover_the_dsa_restrictions():
    assert {"remove", "disable_in_territories", "age_restrict", "demote", "label",
            "restrict_interaction", "suspend_monetisation", "terminate_monetisation",
            "suspend_service_partially", "suspend_service_totally", "account_suspend",
            "account_terminate", "disapprove_ad", "restrict_advertiser", "strike",
            "refer_law_enforcement", "refer_child_safety_hotline", "no_action"} \
        <= set(CATALOGUE.choosable())
    assert not any(CATALOGUE.actions[c].restoration for c in CATALOGUE.choosable())
    assert CATALOGUE.policies["CSE-1"].ground == "illegal_content"


@pytest.mark.parametrize(("old", "new", "field"), [
    ("restored_by: restore_content\n  disable", "restored_by: restore_it\n  disable",
     "actions.remove.restored_by"),
    ("DECISION_VISIBILITY_CONTENT_DEMOTED", "DECISION_VISIBILITY_DEMOTED",
     "actions.demote.sor.decision_visibility"),
    ("{strikes: 5, action: account_terminate}", "{strikes: 5, action: account_ban}",
     "strikes.thresholds[1].action"),
    ("{strikes: 3, action: account_suspend, duration: 7d}", "{strikes: 3, action: account_suspend}",
     "strikes.thresholds[0].duration"),
    ("    four_eyes: true\n    sor: {decision_account", "    four_eyes: yes please\n    sor: "
     "{decision_account", "actions.account_terminate.four_eyes"),
])
def test_a_bad_action_entry_is_named(old, new, field):
    assert old in ACTIONS
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(ACTIONS.replace(old, new, 1), POLICIES)
    assert field in [p["field"] for p in err.value.errors]


def test_a_bad_policy_entry_is_named():
    broken = POLICIES.replace('    legal_basis: "Directive 2011/93/EU, Art. 5 (child sexual abuse '
                              'material)"\n', "")
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(ACTIONS, broken)
    assert err.value.errors[0]["field"] == "policies.CSE-1"
    assert "legal_basis" in err.value.errors[0]["message"]
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(ACTIONS, POLICIES.replace("dsa_category: STATEMENT_CATEGORY_VIOLENCE",
                                                  "dsa_category: STATEMENT_CATEGORY_VIOLENT"))
    assert err.value.errors[0]["field"] == "policies.THREAT-1.dsa_category"


def test_unreadable_catalogue_is_refused(tmp_path: Path):
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "missing.yaml", DEFAULT_POLICIES_PATH)
    (tmp_path / "a.yaml").write_text("- not a mapping")
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "a.yaml", DEFAULT_POLICIES_PATH)


# --- actions on a subject -----------------------------------------------------------------------

def test_subject_types_allow_their_actions():
    assert plan(ActionRequest("disapprove_ad"), subject=AD)[0].target_id == "ad-1"
    with pytest.raises(InvalidInput) as err:
        plan(ActionRequest("disapprove_ad"))
    assert field_of(err) == "body.actions[0].code"
    assert plan(ActionRequest("account_suspend", ends_at=NOW + timedelta(days=1)))[0] \
        .target_id == "acct-1"  # owner-targeted


@pytest.mark.parametrize("scope", [["DE", "XX"], ["de", "fra"], ["EU"]])
def test_territorial_scope_must_be_iso_codes(scope):
    with pytest.raises(InvalidInput) as err:
        plan(ActionRequest("disable_in_territories"), scope=scope)
    assert field_of(err).startswith("body.territorial_scope[")


def test_territorial_scope_is_normalised_and_per_action():
    [action] = plan(ActionRequest("disable_in_territories", territorial_scope=["de", "AT", "DE"]))
    assert action.territorial_scope == ["DE", "AT"]
    with pytest.raises(InvalidInput) as err:
        plan(ActionRequest("disable_in_territories"))
    assert field_of(err) == "body.actions[0].territorial_scope"


def test_temporary_actions_need_a_future_end_date():
    with pytest.raises(InvalidInput) as err:
        plan(ActionRequest("suspend_service_totally"))
    assert field_of(err) == "body.actions[0].ends_at"
    with pytest.raises(InvalidInput):
        plan(ActionRequest("suspend_service_totally", ends_at=NOW - timedelta(days=1)))
    with pytest.raises(InvalidInput) as err:
        plan(ActionRequest("account_terminate", ends_at=NOW + timedelta(days=1)))
    assert field_of(err) == "body.actions[0].ends_at"


def test_exclusive_unknown_and_duplicate_actions():
    for requests in ([ActionRequest("no_action"), ActionRequest("remove")],
                     [ActionRequest("remove"), ActionRequest("remove")],
                     [ActionRequest("restore_content")], []):
        with pytest.raises(InvalidInput):
            plan(*requests)


def test_owner_actions_need_an_owner():
    with pytest.raises(InvalidInput):
        plan(ActionRequest("strike"), subject=Subject(type="content", id="p"))


def test_four_eyes_for_severe_actions():
    assert domain.needs_four_eyes(CATALOGUE, plan(ActionRequest("remove"),
                                                  ActionRequest("account_terminate")))
    assert domain.needs_four_eyes(CATALOGUE, plan(ActionRequest("refer_law_enforcement")))
    assert not domain.needs_four_eyes(CATALOGUE, plan(ActionRequest("remove")))


# --- strikes ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("before", "added"), [(0, set()), (1, set()), (2, {"account_suspend"}),
                                               (3, set()), (4, {"account_terminate"}),
                                               (9, set())])
def test_strike_thresholds_add_restrictions_once(before, added):
    actions = plan(ActionRequest("remove"), ActionRequest("strike"), strikes=before)
    extra = {a.code for a in actions if a.added_by_rule}
    assert extra == added
    for action in actions:
        if action.added_by_rule:
            assert action.added_by_rule.startswith("strike_threshold:")
            assert action.target_id == "acct-1"
    if added == {"account_suspend"}:
        assert next(a for a in actions if a.code == "account_suspend").ends_at == \
            NOW + timedelta(days=7)


def test_no_strike_no_threshold():
    assert len(plan(ActionRequest("remove"), strikes=2)) == 1


# --- who may decide -----------------------------------------------------------------------------

def kind_of(excinfo) -> str:
    return excinfo.value.errors[0]["type"]


def test_the_lease_holder_decides():
    view = case()
    domain.authorise_decider(view, reviewer(), lease(view), NOW)


@pytest.mark.parametrize(("make_lease", "kind"), [
    (lambda v: None, "not_claimed"),
    (lambda v: lease(case()), "not_claimed"),
    (lambda v: lease(v, "bob"), "held_by_other"),
    (lambda v: lease(v, expires=NOW), "lease_expired"),
    (lambda v: lease(v, queue="general"), "transferred"),
])
def test_everyone_else_gets_a_409_that_says_why(make_lease, kind):
    view = case()
    with pytest.raises(Conflict) as err:
        domain.authorise_decider(view, reviewer(), make_lease(view), NOW)
    assert kind_of(err) == kind


def test_skills_decided_and_pending_cases_and_appeal_exclusion():
    view = case(queue="child_safety")
    with pytest.raises(Forbidden):
        domain.authorise_decider(view, reviewer(), lease(view, skills=("child_safety",)), NOW)
    domain.authorise_decider(view, reviewer("alice", "child_safety"),
                             lease(view, skills=("child_safety",)), NOW)
    for status in ("decided", "pending_approval"):
        decided = case(status=status)
        with pytest.raises(Conflict):
            domain.authorise_decider(decided, reviewer(), lease(decided), NOW)
    appeal = case(stage="appeal", queue="appeals")
    with pytest.raises(Forbidden):
        domain.authorise_decider(appeal, reviewer(), lease(appeal), NOW,
                                 excluded={"alice", "bob"})
    domain.authorise_decider(appeal, reviewer("dora"), lease(appeal, "dora"), NOW,
                             excluded={"alice", "bob"})


def test_four_eyes_approver_rules():
    def approve(who, *, status="pending_approval", expires=NOW + timedelta(hours=1),
                skills=()):
        domain.authorise_approver(decided_by="alice", status=status, expires_at=expires,
                                  required_skills=set(skills), reviewer=who, now=NOW,
                                  decision_id=uuid.uuid4())

    approve(reviewer("bob"))
    with pytest.raises(Forbidden):
        approve(reviewer("alice"))
    with pytest.raises(Forbidden):
        approve(reviewer("bob"), skills=("child_safety",))
    approve(reviewer("bob", "child_safety"), skills=("child_safety",))
    with pytest.raises(Conflict):
        approve(reviewer("bob"), expires=NOW)
    with pytest.raises(Conflict):
        approve(reviewer("bob"), status="final")


# --- appeals ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("decided", "deadline"), [
    (datetime(2026, 1, 31, 9, tzinfo=UTC), datetime(2026, 7, 31, 9, tzinfo=UTC)),
    (datetime(2026, 8, 31, 9, tzinfo=UTC), datetime(2027, 2, 28, 9, tzinfo=UTC)),
    (datetime(2027, 9, 30, 9, tzinfo=UTC), datetime(2028, 3, 30, 9, tzinfo=UTC)),
])
def test_appeal_window_is_six_calendar_months(decided, deadline):
    assert domain.appeal_deadline(decided, None) == deadline


def test_appeal_window_runs_from_notification_once_known():
    decided = datetime(2026, 1, 10, tzinfo=UTC)
    assert domain.appeal_deadline(decided, datetime(2026, 1, 20, tzinfo=UTC)) == \
        datetime(2026, 7, 20, tzinfo=UTC)


def check(**overrides):
    arguments = dict(decision_id=uuid.uuid4(), status="final", stage="review", subject=POST,
                     restricts_anything=True, appellant_id="acct-1",
                     appellant_kind="affected_user", deadline=NOW + timedelta(days=1), now=NOW)
    arguments.update(overrides)
    domain.check_appeal(**arguments)


def test_appeal_eligibility():
    check()
    with pytest.raises(NotFound):
        check(status=None)
    with pytest.raises(NotFound):
        check(status="pending_approval")
    with pytest.raises(Forbidden):
        check(appellant_id="stranger")
    with pytest.raises(Forbidden):
        check(appellant_kind="reporter", appellant_id="rep-1")
    check(appellant_kind="reporter", appellant_id="rep-1", restricts_anything=False)
    with pytest.raises(Conflict) as late:
        check(deadline=NOW - timedelta(seconds=1))
    assert late.value.errors[0]["type"] == "appeal_window_closed"
    with pytest.raises(Conflict):
        check(stage="appeal")
    check(subject=Subject(type="account", id="acct-9"), appellant_id="acct-9")


def test_reversal_restores_each_restriction():
    original = plan(ActionRequest("remove"), ActionRequest("strike"),
                    ActionRequest("account_suspend", ends_at=NOW + timedelta(days=2)))
    restoring = domain.reversal_actions(CATALOGUE, original, now=NOW)
    assert [(a.code, a.restores, a.restricts) for a in restoring] == [
        ("restore_content", "remove", False), ("reinstate_account", "account_suspend", False)]
    kept = domain.reversal_actions(CATALOGUE, original, keep={"remove"}, now=NOW)
    assert [a.code for a in kept] == ["reinstate_account"]
