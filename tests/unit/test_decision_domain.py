import uuid
from datetime import UTC, datetime

import pytest

from warden.decision.domain import ACTIONS, CaseView, decide
from warden.shared.contracts.events import Subject
from warden.shared.errors import Conflict, InvalidInput

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def case(status: str = "open", category: str = "hate_speech") -> CaseView:
    return CaseView(case_id=uuid.uuid4(), subject=Subject(type="content", id="post-1"),
                    policy_area="community_standards", category=category, status=status,
                    report_ids=[uuid.uuid4()])


def test_remove_restricts_and_carries_dsa_category():
    decision = decide(case(), action="remove", policy_cited="CS-3.1", rationale="slur",
                      reviewer_id="alice", territorial_scope=[], now=NOW)
    assert decision.restricts is True
    assert decision.dsa_category == "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"
    assert decision.reviewer_id == "alice"
    assert decision.decided_at == NOW


@pytest.mark.parametrize("action", ["label", "no_action"])
def test_non_restrictive_actions(action):
    assert decide(case(), action=action, policy_cited="x", rationale="y", reviewer_id="a",
                  territorial_scope=[], now=NOW).restricts is False


def test_unknown_action_is_invalid_input_naming_the_field():
    with pytest.raises(InvalidInput) as err:
        decide(case(), action="obliterate", policy_cited="x", rationale="y", reviewer_id="a",
               territorial_scope=[], now=NOW)
    assert err.value.errors[0]["field"] == "body.action"


def test_decided_case_takes_no_second_decision():
    with pytest.raises(Conflict):
        decide(case(status="decided"), action="remove", policy_cited="x", rationale="y",
               reviewer_id="a", territorial_scope=[], now=NOW)


def test_catalogue_has_the_first_actions():
    assert {"remove", "restrict", "label", "no_action"} <= set(ACTIONS)
