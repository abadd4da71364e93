"""Who may work on a case: skills for its queue, and the lease a reviewer holds on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from warden.shared.auth import LEAD_ROLES, Reviewer
from warden.shared.errors import Conflict, Forbidden, InvalidInput


def require_skills(reviewer: Reviewer, queue: str, skills: frozenset[str]) -> None:
    if not reviewer.has_skills(skills):
        missing = ", ".join(sorted(skills - reviewer.skills))
        raise Forbidden(f"queue {queue!r} needs the skills: {missing}")


def is_lead(reviewer: Reviewer) -> bool:
    return bool(reviewer.roles & LEAD_ROLES)


def lease_until(now: datetime, requested_seconds: int | None, *, default_seconds: int,
                max_seconds: int) -> datetime:
    seconds = default_seconds if requested_seconds is None else requested_seconds
    if not 1 <= seconds <= max_seconds:
        raise InvalidInput(f"lease_seconds must be between 1 and {max_seconds}", errors=[{
            "field": "body.lease_seconds", "message": f"between 1 and {max_seconds}",
            "type": "range"}])
    return now + timedelta(seconds=seconds)


@dataclass(frozen=True)
class LeaseView:
    assignee_id: str | None
    lease_expires_at: datetime | None

    def active(self, now: datetime) -> bool:
        return bool(self.assignee_id and self.lease_expires_at and self.lease_expires_at > now)


def require_lease_holder(lease: LeaseView, reviewer: Reviewer, now: datetime, *,
                         leads_may: bool) -> None:
    """Only the reviewer holding a live lease acts on a claimed case (a lead may step in where
    ``leads_may``: releasing or transferring a case someone left behind)."""
    if leads_may and is_lead(reviewer):
        return
    if not lease.active(now):
        raise Conflict("you do not hold a lease on this case (it is unclaimed or the lease "
                       "expired); claim it first")
    if lease.assignee_id != reviewer.id:
        raise Conflict(f"the case is leased to another reviewer until "
                       f"{lease.lease_expires_at.isoformat()}")
