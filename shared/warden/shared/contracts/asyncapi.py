"""The AsyncAPI 3.0 document of every Warden topic, generated from the payload models.

Checked in as ``asyncapi.yaml`` beside the JSON Schemas (``make schemas`` rewrites both);
a test fails when the file and the models disagree. Each message is the CloudEvents
envelope whose ``data`` is the payload model; Kafka keys are the subject's id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    CASE_ROUTED_V1,
    CASE_SLA_V1,
    DECISION_APPROVAL_CLOSED_V1,
    DECISION_PENDING_APPROVAL_V1,
    DECISION_RECORDED_V1,
    DECISION_RECORDED_V2,
    EVENT_MODELS,
    NOTIFICATION_DELIVERED_V1,
    REPORT_NORMALIZED_V1,
)

ASYNCAPI_PATH = Path(__file__).with_name("asyncapi.yaml")
RAW_REPORT = "raw-report"
_REF = "#/components/schemas/{model}"

# Who publishes and who consumes each message (v1 decisions are still read, no longer sent).
SENDERS: dict[str, str] = {
    REPORT_NORMALIZED_V1: "intake", CASE_ROUTED_V1: "routing", CASE_SLA_V1: "routing",
    DECISION_RECORDED_V2: "decision", DECISION_PENDING_APPROVAL_V1: "decision",
    DECISION_APPROVAL_CLOSED_V1: "decision", APPEAL_FILED_V1: "decision",
    NOTIFICATION_DELIVERED_V1: "notify",
}
RECEIVERS: dict[str, tuple[str, ...]] = {
    RAW_REPORT: ("intake",),
    REPORT_NORMALIZED_V1: ("routing",),
    CASE_ROUTED_V1: ("intake", "decision"),
    CASE_SLA_V1: (),
    DECISION_RECORDED_V1: ("intake", "routing", "notify"),
    DECISION_RECORDED_V2: ("intake", "routing", "notify"),
    DECISION_PENDING_APPROVAL_V1: ("routing",),
    DECISION_APPROVAL_CLOSED_V1: ("routing",),
    APPEAL_FILED_V1: ("routing",),
    NOTIFICATION_DELIVERED_V1: ("intake", "decision"),
}


def _doc(model) -> str:
    return " ".join((model.__doc__ or "").split())


def build_document() -> dict[str, Any]:
    models = [CloudEvent, *(model for _, model in EVENT_MODELS.values())]
    _, schema = models_json_schema([(m, "validation") for m in models], ref_template=_REF)
    components_schemas = dict(sorted(schema.get("$defs", {}).items()))
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    by_topic: dict[str, list[str]] = {t: [] for t in topics.ALL_TOPICS}
    by_topic[topics.REPORTS_RAW].append(RAW_REPORT)
    messages[RAW_REPORT] = {
        "name": RAW_REPORT, "title": "A report an upstream system sends over Kafka",
        "summary": "The JSON body of POST /v1/reports at intake (or a CloudEvent wrapping "
                   "it); refused records go to reports.raw.dlq with the reason.",
        "contentType": "application/json", "payload": {"type": "object"}}
    for event_type, (topic, model) in EVENT_MODELS.items():
        by_topic[topic].append(event_type)
        messages[event_type] = {
            "name": event_type, "title": model.__name__,
            "summary": _doc(model) or event_type,
            "contentType": "application/cloudevents+json",
            "headers": {"type": "object", "properties": {
                "ce_type": {"const": event_type}, "ce_id": {"type": "string"},
                "correlationid": {"type": "string"}, "traceparent": {"type": "string"}}},
            "payload": {"allOf": [
                {"$ref": _REF.format(model="CloudEvent")},
                {"type": "object", "properties": {
                    "type": {"const": event_type},
                    "data": {"$ref": _REF.format(model=model.__name__)}}}]},
            "bindings": {"kafka": {"key": {"type": "string",
                                           "description": "the subject's id"}}},
        }
        if event_type == DECISION_RECORDED_V1:
            messages[event_type]["deprecated"] = True
    for topic, names in by_topic.items():
        channels[topic] = {
            "address": topic,
            "description": f"Dead letters: {topics.dlq(topic)} (original bytes, reason in "
                           f"dlq.* headers).",
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names}}
    operations: dict[str, Any] = {}
    for name in messages:
        topic = next(t for t, names in by_topic.items() if name in names)
        ref = {"$ref": f"#/channels/{topic}/messages/{name}"}
        if name in SENDERS:
            operations[f"{SENDERS[name]}.send.{name}"] = {
                "action": "send", "channel": {"$ref": f"#/channels/{topic}"}, "messages": [ref]}
        for receiver in RECEIVERS.get(name, ()):
            operations[f"{receiver}.receive.{name}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [ref]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Warden events", "version": "1.0.0",
                 "description": "Every Kafka topic of the Warden services: CloudEvents 1.0 "
                                "in structured JSON mode, keyed by the subject's id."},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka",
                              "description": "make run (topic names may carry a prefix)"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components_schemas},
    }


def render() -> str:
    return ("# Generated by `make schemas` from warden.shared.contracts; do not edit.\n"
            + yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=100))


def write(path: Path = ASYNCAPI_PATH) -> Path:
    path.write_text(render())
    return path
