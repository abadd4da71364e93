"""Routing use cases, one module per use case. Each runs inside one database transaction opened
by its caller (a consumer handler, a route, a worker): load and lock, decide with the pure rules
in ``domain``, store, and stage the resulting events in the outbox of the same transaction.

Callers use them as ``service.<use case>``; the modules are:
``reports`` (reports in, a run at a time), ``cases`` (decisions and appeals in), ``leases``
(reviewers' claims and the expiry sweeper), ``queues`` (case files, queue views and metrics),
``policy`` (reload), ``sla`` (at-risk/overdue announcements, priority refresh), ``context``
(what they share).
"""

from warden.routing.service.cases import close_on_decision, reopen_on_appeal
from warden.routing.service.context import Routing, after_commit, emit_routed
from warden.routing.service.leases import (
    claim_next,
    release,
    renew_lease,
    return_expired_leases,
    transfer,
)
from warden.routing.service.policy import ReloadOutcome, publish_policy_metric, reload_policy
from warden.routing.service.reports import route_report, route_reports
from warden.routing.service.queues import (
    CaseFile,
    QueueOverview,
    decode_cursor,
    encode_cursor,
    list_queue,
    publish_queue_metrics,
    queue_overview,
    read_case,
)
from warden.routing.service.sla import announce_sla, refresh_priorities

__all__ = [
    "CaseFile", "QueueOverview", "ReloadOutcome", "Routing", "after_commit", "announce_sla",
    "claim_next", "close_on_decision", "decode_cursor", "emit_routed", "encode_cursor",
    "list_queue", "publish_policy_metric", "publish_queue_metrics", "queue_overview",
    "read_case", "refresh_priorities", "release", "reload_policy", "renew_lease",
    "reopen_on_appeal", "return_expired_leases", "route_report", "route_reports", "transfer",
]
