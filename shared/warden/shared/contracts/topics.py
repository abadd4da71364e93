"""Topic names. Each service may add a prefix from settings (test isolation, multi-tenant brokers)."""

REPORTS_RAW = "reports.raw"
REPORTS_NORMALIZED = "reports.normalized"
CASES_ROUTED = "cases.routed"
CASES_SLA = "cases.sla"
DECISIONS_RECORDED = "decisions.recorded"
APPEALS_FILED = "appeals.filed"
NOTIFICATIONS_DELIVERED = "notifications.delivered"
# Dead notifications (events of their own, not raw dead letters): what an operator must redeliver.
NOTIFICATIONS_DLQ = "notifications.dlq"

ALL_TOPICS = (
    REPORTS_RAW,
    REPORTS_NORMALIZED,
    CASES_ROUTED,
    CASES_SLA,
    DECISIONS_RECORDED,
    APPEALS_FILED,
    NOTIFICATIONS_DELIVERED,
    NOTIFICATIONS_DLQ,
)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


def all_topics_with_dlq() -> list[str]:
    # notifications.dlq is itself a dead-letter topic: it gets no DLQ of its own.
    return [name for topic in ALL_TOPICS
            for name in ((topic,) if topic.endswith(".dlq") else (topic, dlq(topic)))]
