"""Background worker of the decision service: pending decisions that were not approved in
time expire, and their cases go back to their queues.

Each pass is one transaction; several replicas may run it (each decision is locked and
re-checked before it expires, so none expires twice).
"""

from __future__ import annotations


from warden.decision.service import DecisionContext
from warden.decision.service.approvals import expire_pending
from warden.shared.clock import utcnow
from warden.shared.periodic import Periodic


class ApprovalExpiry(Periodic):
    """Pending decisions past their approval window expire and their cases go back."""

    name = "approval_expiry"
    ctx: DecisionContext

    async def tick(self) -> int:
        async with self.sessions() as session, session.begin():
            return await expire_pending(self.ctx, session, utcnow())
