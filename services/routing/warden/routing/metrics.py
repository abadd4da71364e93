"""Prometheus metrics of the routing service (exported on ``/metrics`` with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

REPORTS_ROUTED = Counter(
    "warden_routing_reports_total", "Normalised reports taken in, by outcome "
    "(opened a case, joined one, duplicate)", ["outcome"])
CASES_ROUTED = Counter(
    "warden_routing_cases_routed_total", "cases.routed events staged, by queue and reason",
    ["queue", "reason"])
CLAIMS = Counter(
    "warden_routing_claims_total", "Claim requests by queue and outcome (claimed, empty)",
    ["queue", "outcome"])
LEASES_EXPIRED = Counter(
    "warden_routing_leases_expired_total", "Leases that ran out and returned a case to its queue",
    ["queue"])
SLA_EVENTS = Counter(
    "warden_routing_sla_events_total", "cases.sla events emitted, by queue and state",
    ["queue", "state"])
QUEUE_DEPTH = Gauge("warden_routing_queue_depth", "Open cases per queue", ["queue"])
QUEUE_IN_REVIEW = Gauge("warden_routing_queue_in_review", "Open cases under a live lease",
                        ["queue"])
QUEUE_AT_RISK = Gauge("warden_routing_queue_at_risk",
                      "Open cases within the at-risk margin of their due time", ["queue"])
QUEUE_OVERDUE = Gauge("warden_routing_queue_overdue", "Open cases past their due time",
                      ["queue"])
LEGAL_DEADLINE_AT_RISK = Gauge(
    "warden_routing_legal_deadline_at_risk",
    "Open cases whose legal deadline (an authority order's) is within the at-risk margin "
    "or already passed", ["queue"])
QUEUE_OLDEST_AGE = Gauge("warden_routing_queue_oldest_age_seconds",
                         "Age in its queue of the longest-waiting open case", ["queue"])
POLICY_INFO = Gauge("warden_routing_policy_info", "The routing policy in force (value 1)",
                    ["version", "digest"])
POLICY_RELOADS = Counter("warden_routing_policy_reloads_total",
                         "Policy reload attempts by outcome (applied, unchanged, refused)",
                         ["outcome"])
