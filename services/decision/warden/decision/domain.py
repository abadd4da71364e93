"""Decision rules: the action catalogue and what makes a decision valid. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from warden.shared.contracts.events import DecisionRecordedV1, Subject
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class Action:
    code: str
    restricts: bool
    description: str


ACTIONS: dict[str, Action] = {
    a.code: a
    for a in (
        Action("remove", True, "Remove the content"),
        Action("restrict", True, "Restrict visibility (geo, age or reach)"),
        Action("label", False, "Keep the content with a warning label"),
        Action("no_action", False, "No violation found; nothing is restricted"),
    )
}


@dataclass(frozen=True)
class CaseView:
    case_id: uuid.UUID
    subject: Subject
    policy_area: str
    category: str
    status: str
    report_ids: list[uuid.UUID]


def decide(case: CaseView, *, action: str, policy_cited: str, rationale: str, reviewer_id: str,
           territorial_scope: list[str], now: datetime) -> DecisionRecordedV1:
    """Validate a reviewer's decision on a case and produce the recorded fact."""
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise InvalidInput(f"unknown action {action!r}",
                           errors=[{"field": "body.action", "message":
                                    f"must be one of {sorted(ACTIONS)}", "type": "enum"}])
    if case.status != "open":
        raise Conflict(f"case {case.case_id} is {case.status}; it no longer takes decisions")
    dsa = CATEGORIES[case.category].dsa.value if case.category in CATEGORIES else ""
    return DecisionRecordedV1(
        decision_id=uuid.uuid4(),
        case_id=case.case_id,
        subject=case.subject,
        action=chosen.code,
        policy_area=case.policy_area,
        category=case.category,
        dsa_category=dsa,
        policy_cited=policy_cited,
        rationale=rationale,
        reviewer_id=reviewer_id,
        decided_at=now,
        report_ids=case.report_ids,
        restricts=chosen.restricts,
        territorial_scope=territorial_scope,
    )
