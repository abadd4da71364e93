"""The local webhook receiver: verifies signatures and logs one line per delivery, no free text."""

import json
import time
import uuid

import httpx

from warden.notify.domain import webhook_body
from warden.notify.receiver import ReceiverSettings, create_receiver_app, delivery_line
from warden.notify.signing import generate_secret, signature_headers
from warden.shared.contracts.envelope import new_event
from warden.shared.contracts.events import DECISION_RECORDED_V1
from tests.unit.test_notify_domain import decision

SECRET = generate_secret()


def signed_delivery(secret: str = SECRET) -> tuple[dict[str, str], bytes, str]:
    notification_id = str(uuid.uuid4())
    event = new_event(type=DECISION_RECORDED_V1, source="/warden/decision", subject="post-42",
                      payload=decision())
    body = webhook_body(uuid.UUID(notification_id), event).encode()
    return signature_headers(secret, notification_id, int(time.time()), body), body, notification_id


def test_a_valid_delivery_is_summarised_by_identifiers_only():
    headers, body, notification_id = signed_delivery()
    line = delivery_line(headers, body, secret=SECRET, now=time.time(), tolerance_s=300)
    assert line["signature_valid"] is True and line["webhook_id"] == notification_id
    assert line["type"] == DECISION_RECORDED_V1
    data = json.loads(body)["event"]["data"]
    assert line["summary"]["decision_id"] == data["decision_id"]
    assert line["summary"]["action"] == "remove"
    assert line["summary"]["subject"] == "content:post-42"
    assert line["summary"]["reports"] == 2
    logged = json.dumps(line)
    assert data["rationale"] not in logged and data["policy_cited"] not in logged


def test_tampered_or_foreign_deliveries_are_flagged_with_a_reason():
    headers, body, _ = signed_delivery(secret=generate_secret())
    line = delivery_line(headers, body, secret=SECRET, now=time.time(), tolerance_s=300)
    assert line["signature_valid"] is False and "no webhook-signature matches" in line["reason"]
    line = delivery_line({}, b"not json", secret=SECRET, now=time.time(), tolerance_s=300)
    assert line["signature_valid"] is False and line["type"] is None and line["summary"] == {}


async def test_receiver_app_answers_204_to_valid_and_401_to_invalid_and_logs_each():
    lines: list[str] = []
    app = create_receiver_app(ReceiverSettings(secret=SECRET), emit=lines.append)
    headers, body, notification_id = signed_delivery()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://receiver") as client:
        health = await client.get("/healthz")
        ok = await client.post("/webhooks", content=body, headers=headers)
        tampered = await client.post("/webhooks", content=body.replace(b"remove", b"label"),
                                     headers=headers)
    assert (health.status_code, ok.status_code, tampered.status_code) == (200, 204, 401)
    logged = [json.loads(line) for line in lines]
    assert [entry["signature_valid"] for entry in logged] == [True, False]
    assert all(entry["webhook_id"] == notification_id for entry in logged)
