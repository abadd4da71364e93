"""Decision rules: what makes a decision valid, who may take, approve and appeal it, strikes,
appeal windows and reversals. Pure functions over plain values; no I/O here.

One module per concern, all reachable from here (``domain.authorise_decider``):

- ``cases``: the states a case and its decisions go through, and the case as decision sees it;
- ``actions``: actions and policies from the catalogue, strike thresholds, reversals;
- ``authority``: who may decide (the lease holder) and who may approve (four-eyes);
- ``appeals``: the appeal window and who may appeal.
"""

from __future__ import annotations

from warden.decision.domain.actions import (
    automated_flags,
    check_action_codes,
    check_territorial_scope,
    cite_policy,
    needs_four_eyes,
    owner_of,
    plan_actions,
    restricts,
    reversal_actions,
    strike_consequences,
)
from warden.decision.domain.appeals import (
    APPEAL_WINDOW_MONTHS,
    AppellantKind,
    add_months,
    appeal_deadline,
    check_appeal,
    excluded_from_appeal,
)
from warden.decision.domain.authority import (
    authorise_approver,
    authorise_decider,
    pending_expiry,
)
from warden.decision.domain.cases import (
    APPEAL,
    DECIDED,
    EXPIRED,
    FINAL,
    OPEN,
    PENDING_APPROVAL,
    REJECTED,
    REVERSED,
    REVIEW,
    ActionRequest,
    CaseView,
)

__all__ = [
    "APPEAL", "APPEAL_WINDOW_MONTHS", "DECIDED", "EXPIRED", "FINAL", "OPEN", "PENDING_APPROVAL",
    "REJECTED", "REVERSED", "REVIEW", "ActionRequest", "AppellantKind", "CaseView",
    "add_months", "appeal_deadline", "authorise_approver", "authorise_decider",
    "automated_flags", "check_action_codes", "check_appeal", "check_territorial_scope",
    "cite_policy", "excluded_from_appeal", "needs_four_eyes", "owner_of", "pending_expiry",
    "plan_actions", "restricts", "reversal_actions", "strike_consequences",
]
