"""Who may decide a case, and who may approve a decision that needs four eyes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from warden.decision.domain.cases import DECIDED, PENDING_APPROVAL, CaseView
from warden.shared.auth import Reviewer
from warden.shared.errors import Conflict, Forbidden
from warden.shared.lease_tokens import HEADER as LEASE_HEADER
from warden.shared.lease_tokens import Lease


def _lease_conflict(message: str, kind: str) -> Conflict:
    return Conflict(message, errors=[{"field": f"header.{LEASE_HEADER}", "message": message,
                                      "type": kind}])


def authorise_decider(case: CaseView, reviewer: Reviewer, lease: Lease | None,
                      now: datetime, *, excluded: set[str] = frozenset()) -> None:
    """Only the reviewer holding a live lease on the case, with the queue's skills, decides
    it; on appeal, nobody who took part in the decision appealed against."""
    if case.status == DECIDED:
        raise Conflict(f"case {case.case_id} is already decided")
    if case.status == PENDING_APPROVAL:
        raise Conflict(f"case {case.case_id} has a decision awaiting approval")
    if lease is None or lease.case_id != case.case_id:
        raise _lease_conflict(f"case {case.case_id} is not claimed by you: claim it at routing "
                              f"and send the lease token as the {LEASE_HEADER} header",
                              "not_claimed")
    if lease.reviewer_id != reviewer.id:
        raise _lease_conflict(f"case {case.case_id} is held by someone else", "held_by_other")
    if lease.expires_at <= now:
        raise _lease_conflict(f"your lease on case {case.case_id} expired at "
                              f"{lease.expires_at.isoformat()}; claim it again", "lease_expired")
    if lease.queue != case.queue:
        raise _lease_conflict(f"case {case.case_id} moved to queue {case.queue!r} after your "
                              f"claim in {lease.queue!r}; claim it again", "transferred")
    if not reviewer.has_skills(lease.required_skills):
        missing = ", ".join(sorted(lease.required_skills - reviewer.skills))
        raise Forbidden(f"queue {case.queue!r} needs the skills {missing}")
    if reviewer.id in excluded:
        raise Forbidden(f"you took part in the decision appealed against; another reviewer "
                        f"decides appeal {case.appeal_id}")


def authorise_approver(*, decided_by: str | None, status: str, expires_at: datetime | None,
                       required_skills: set[str], reviewer: Reviewer, now: datetime,
                       decision_id: uuid.UUID) -> None:
    """A second reviewer, never the first, with the queue's skills, before expiry."""
    if status != PENDING_APPROVAL:
        raise Conflict(f"decision {decision_id} is {status}; it does not await approval")
    if expires_at is not None and expires_at <= now:
        raise Conflict(f"decision {decision_id} expired unapproved at {expires_at.isoformat()}")
    if reviewer.id == decided_by:
        raise Forbidden("the reviewer who took a decision cannot approve or reject it; a "
                        "second reviewer must")
    if not reviewer.has_skills(required_skills):
        missing = ", ".join(sorted(set(required_skills) - reviewer.skills))
        raise Forbidden(f"approving needs the queue's skills: {missing}")


def pending_expiry(now: datetime, ttl: timedelta) -> datetime:
    return now + ttl
