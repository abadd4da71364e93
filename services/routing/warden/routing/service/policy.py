"""Reloading the routing policy: install a valid policy that strands no open case."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from warden.routing import metrics, persistence
from warden.routing.policy import LoadedPolicy
from warden.routing.service.context import Routing
from warden.shared.errors import Conflict
from warden.shared.observability import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ReloadOutcome:
    previous: LoadedPolicy
    current: LoadedPolicy

    @property
    def changed(self) -> bool:
        return self.previous.digest != self.current.digest


async def reload_policy(ctx: Routing, session: AsyncSession, now: datetime) -> ReloadOutcome:
    """Re-read the policy file; install it only if valid and it strands no open case."""
    previous = ctx.policy
    try:
        candidate = ctx.policies.read_candidate()
        if candidate.digest != previous.digest:
            await _refuse_if_queues_stranded(session, candidate, now)
    except Exception:
        metrics.POLICY_RELOADS.labels("refused").inc()
        raise
    if candidate.digest == previous.digest:
        metrics.POLICY_RELOADS.labels("unchanged").inc()
        return ReloadOutcome(previous=previous, current=previous)
    ctx.policies.install(candidate)
    publish_policy_metric(previous, candidate)
    metrics.POLICY_RELOADS.labels("applied").inc()
    log.info("routing_policy_reloaded", previous=previous.version, version=candidate.version,
             digest=candidate.digest)
    return ReloadOutcome(previous=previous, current=candidate)


async def _refuse_if_queues_stranded(session: AsyncSession, candidate: LoadedPolicy,
                                     now: datetime) -> None:
    figures = await persistence.queue_figures(session, now, timedelta(0))
    stranded = {q: f.depth for q, f in figures.items() if q not in candidate.policy.queues}
    if stranded:
        listing = ", ".join(f"{q} ({n} open)" for q, n in sorted(stranded.items()))
        raise Conflict(f"the new policy drops queues that still hold open cases: {listing}; "
                       f"transfer those cases first")


def publish_policy_metric(previous: LoadedPolicy | None, current: LoadedPolicy) -> None:
    if previous is not None and previous.digest != current.digest:
        with contextlib.suppress(KeyError):
            metrics.POLICY_INFO.remove(previous.version, previous.digest)
    metrics.POLICY_INFO.labels(current.version, current.digest).set(1)
