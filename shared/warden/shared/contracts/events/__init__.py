"""Versioned event payloads, one Pydantic model per CloudEvents ``type``.

Within a version only additive, optional fields may be added; anything else is a
new version (``...v2``) on the same topic. JSON Schemas generated from these
models are checked in under ``schemas/`` (``warden schemas write``).

The models live by the service that emits them (``reports``, ``cases``, ``decisions``,
``appeals``, ``notifications``; ``common`` for what they share); the registry of types,
topics and models is here.
"""

from __future__ import annotations

from warden.shared.contracts import topics
from warden.shared.contracts.events.appeals import (
    AppealFiledV1,
)
from warden.shared.contracts.events.cases import (
    AutomatedDecisionOrder,
    CaseRoutedV1,
    CaseSlaV1,
)
from warden.shared.contracts.events.common import (
    Channel,
    Payload,
    Subject,
)
from warden.shared.contracts.events.decisions import (
    AUTOMATED_DECIDER,
    ActionTaken,
    AppealRights,
    DecisionApprovalClosedV1,
    DecisionPendingApprovalV1,
    DecisionRecordedV1,
    DecisionRecordedV2,
    PolicyGround,
    StatementOfReasonsRef,
)
from warden.shared.contracts.events.notifications import (
    NotificationDeadV1,
    NotificationDeliveredV1,
)
from warden.shared.contracts.events.reports import (
    LegalReference,
    ReportNormalizedV1,
    Reporter,
)
from warden.shared.errors import InvalidMessage

__all__ = [
    "AUTOMATED_DECIDER",
    "ActionTaken",
    "AppealFiledV1",
    "AppealRights",
    "AutomatedDecisionOrder",
    "CaseRoutedV1",
    "CaseSlaV1",
    "Channel",
    "DecisionApprovalClosedV1",
    "DecisionPendingApprovalV1",
    "DecisionRecordedV1",
    "DecisionRecordedV2",
    "LegalReference",
    "NotificationDeadV1",
    "NotificationDeliveredV1",
    "Payload",
    "PolicyGround",
    "ReportNormalizedV1",
    "Reporter",
    "StatementOfReasonsRef",
    "Subject",
    "EVENT_MODELS", "payload_model_for", "topic_for",
]

REPORT_NORMALIZED_V1 = "warden.report.normalized.v1"
CASE_ROUTED_V1 = "warden.case.routed.v1"
CASE_SLA_V1 = "warden.case.sla.v1"
DECISION_RECORDED_V1 = "warden.decision.recorded.v1"
DECISION_RECORDED_V2 = "warden.decision.recorded.v2"
DECISION_PENDING_APPROVAL_V1 = "warden.decision.pending_approval.v1"
DECISION_APPROVAL_CLOSED_V1 = "warden.decision.approval_closed.v1"
APPEAL_FILED_V1 = "warden.appeal.filed.v1"
NOTIFICATION_DELIVERED_V1 = "warden.notification.delivered.v1"
NOTIFICATION_DEAD_V1 = "warden.notification.dead.v1"

# type -> (topic, payload model)
EVENT_MODELS: dict[str, tuple[str, type[Payload]]] = {
    REPORT_NORMALIZED_V1: (topics.REPORTS_NORMALIZED, ReportNormalizedV1),
    CASE_ROUTED_V1: (topics.CASES_ROUTED, CaseRoutedV1),
    CASE_SLA_V1: (topics.CASES_SLA, CaseSlaV1),
    DECISION_RECORDED_V1: (topics.DECISIONS_RECORDED, DecisionRecordedV1),
    DECISION_RECORDED_V2: (topics.DECISIONS_RECORDED, DecisionRecordedV2),
    DECISION_PENDING_APPROVAL_V1: (topics.DECISIONS_RECORDED, DecisionPendingApprovalV1),
    DECISION_APPROVAL_CLOSED_V1: (topics.DECISIONS_RECORDED, DecisionApprovalClosedV1),
    APPEAL_FILED_V1: (topics.APPEALS_FILED, AppealFiledV1),
    NOTIFICATION_DELIVERED_V1: (topics.NOTIFICATIONS_DELIVERED, NotificationDeliveredV1),
    NOTIFICATION_DEAD_V1: (topics.NOTIFICATIONS_DLQ, NotificationDeadV1),
}


def payload_model_for(event_type: str) -> type[Payload]:
    try:
        return EVENT_MODELS[event_type][1]
    except KeyError:
        raise InvalidMessage(f"unknown event type {event_type!r}") from None


def topic_for(event_type: str) -> str:
    return EVENT_MODELS[event_type][0]
