"""HTTP API: reviewers decide, approve and decide appeals; upstream systems file appeals;
anyone entitled reads statements of reasons, strikes and the audit chain's verification.

One module per use case, like ``warden.decision.service``: ``decisions``, ``approvals``
(four-eyes), ``appeals`` and ``records`` (strikes, audit). Deciding needs the lease token
routing returned with the claim (``Lease-Token`` header), see ``common``.
"""

from __future__ import annotations

from fastapi import APIRouter

from warden.decision.routes import appeals, approvals, decisions, records

router = APIRouter()
for part in (decisions, approvals, records, appeals):
    router.include_router(part.router)
