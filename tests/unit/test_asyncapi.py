"""The checked-in AsyncAPI document matches the payload models, topic by topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema_rs
import yaml

from warden.shared.contracts import asyncapi, topics
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import (
    APPEAL_FILED_V1,
    EVENT_MODELS,
    AppealFiledV1,
    Subject,
)

DOCUMENT = yaml.safe_load(asyncapi.ASYNCAPI_PATH.read_text())


def test_checked_in_document_is_what_the_models_generate():
    assert asyncapi.ASYNCAPI_PATH.read_text() == asyncapi.render(), \
        "asyncapi.yaml is stale: run `make schemas`"


def test_every_topic_and_event_type_is_described():
    assert set(DOCUMENT["channels"]) == set(topics.ALL_TOPICS)
    for event_type, (topic, model) in EVENT_MODELS.items():
        assert event_type in DOCUMENT["channels"][topic]["messages"]
        message = DOCUMENT["components"]["messages"][event_type]
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert data_ref == f"#/components/schemas/{model.__name__}"
        schema = DOCUMENT["components"]["schemas"][model.__name__]
        assert set(schema["properties"]) == set(model.model_fields)
        assert set(schema.get("required", [])) == {
            name for name, field in model.model_fields.items() if field.is_required()}


def test_every_reference_resolves():
    text = json.dumps(DOCUMENT)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        node = DOCUMENT
        for step in ref.removeprefix("#/").split("/"):
            node = node[step]


def test_a_real_event_validates_against_its_message():
    payload = AppealFiledV1(appeal_id=uuid.uuid4(), decision_id=uuid.uuid4(),
                            case_id=uuid.uuid4(), subject=Subject(type="content", id="p-1"),
                            appellant_id="acct-1", reason="satire", filed_at=datetime.now(UTC),
                            original_reviewer_id="alice", excluded_reviewer_ids=["alice"])
    event = json.loads(new_event(type=APPEAL_FILED_V1, source="/warden/decision",
                                 subject="p-1", payload=payload).to_bytes())
    schema = {"$ref": f"#/components/messages/{APPEAL_FILED_V1}/payload",
              "components": DOCUMENT["components"]}
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(event)
    event["data"].pop("appellant_id")
    assert not validator.is_valid(event)


def test_operations_name_who_sends_and_receives():
    operations = DOCUMENT["operations"]
    assert operations["decision.send.warden.decision.recorded.v2"]["action"] == "send"
    assert "notify.receive.warden.decision.recorded.v2" in operations
    assert "routing.receive.warden.decision.pending_approval.v1" in operations
