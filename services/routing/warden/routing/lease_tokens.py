"""Lease tokens routing hands out with a claim (see ``warden.shared.lease_tokens``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from warden.routing.models import Case
from warden.routing.policy import LoadedPolicy
from warden.shared import lease_tokens


def token_for(case: Case, policy: LoadedPolicy, signing_key: str, now: datetime) -> str:
    """A token proving the case's current lease: its holder, queue (and the skills that queue
    needs), expiring with the lease."""
    lease = lease_tokens.Lease(
        reviewer_id=case.assignee_id, case_id=case.id, queue=case.queue,
        required_skills=policy.policy.skills_for(case.queue), stage=case.stage,
        expires_at=case.lease_expires_at, issued_at=now, lease_id=uuid.uuid4().hex)
    return lease_tokens.mint(signing_key, lease)
