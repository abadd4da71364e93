"""Routing rules: where a report goes, how urgent a case is, who may work on it. No I/O here.

A case gathers every report on one subject within one policy area while it is open. Its
due time is the earliest of each report's own due time (received + the SLA of the rule
that placed it) and every legal deadline; its priority is a sum of weighted factors from
the policy and only rises while the case is open.
"""

from typing import Literal

from warden.routing.domain.access import (
    LeaseView,
    is_lead,
    lease_until,
    require_lease_holder,
    require_skills,
)
from warden.routing.domain.cases import (
    APPEAL_RULE_ID,
    DEADLINE_APPROACHING,
    DECIDED,
    ESCALATED,
    OPENED,
    REOPENED_FOR_APPEAL,
    REPORT_JOINED,
    TRANSFERRED,
    CaseState,
    Change,
    case_from_reports,
    describe_changes,
    join_case,
    open_case,
    refresh_priority,
    reopen_for_appeal,
    reprioritised,
    transfer,
)
from warden.routing.domain.placement import (
    Placement,
    as_utc,
    legal_deadline,
    place_report,
    reporter_key,
    severity_of,
)
from warden.routing.domain.priority import (
    compute_priority,
    deadline_boost,
    next_priority_review,
    reporters_boost,
)

SlaState = Literal["at_risk", "overdue"]

__all__ = [
    "APPEAL_RULE_ID", "DEADLINE_APPROACHING", "DECIDED", "ESCALATED", "OPENED",
    "REOPENED_FOR_APPEAL", "REPORT_JOINED", "TRANSFERRED", "CaseState", "Change", "LeaseView",
    "Placement", "SlaState", "as_utc", "case_from_reports", "compute_priority",
    "deadline_boost", "describe_changes", "is_lead", "join_case", "lease_until",
    "legal_deadline", "next_priority_review", "open_case", "place_report", "refresh_priority",
    "reopen_for_appeal", "reporter_key", "reporters_boost", "reprioritised",
    "require_lease_holder", "require_skills", "severity_of", "transfer",
]
