"""Event handlers of the intake service (thin: parse, delegate, persist).

``reports.raw`` carries reports from upstream systems that produce to Kafka instead of
calling the API. A record's value is a report body exactly as ``POST /v1/reports`` takes
it, either plain JSON or wrapped as the ``data`` of a CloudEvent (structured mode).

Who the client is: the Kafka header ``warden-client`` names a registered client (for a
CloudEvent, the extension attribute ``wardenclient`` may say it instead), and the header
``warden-signature`` proves it: an HMAC made with that client's API key (see
:mod:`warden.intake.access`). Kafka's own ACLs decide who may produce to the topic; only
the signature binds a record to a client, which decides attribution, the channels allowed
(its ``submit:<channel>`` scopes, as over HTTP) and the namespace of its dedupe keys. An
optional ``idempotency-key`` header works like the HTTP header (and is signed too).

Anything that cannot become a report — not JSON, no or unknown client, no signature or one
that does not match the client's key, a channel the client may not submit, a report failing
validation — goes to ``reports.raw.dlq`` with the reason.

The other consumer follows each report downstream (routed, decided, notified) from the
events that carry its id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import ConsumerRecord
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.intake import persistence
from warden.intake.access import SIGNATURE_HEADER, raw_signed_content, valid_raw_signature
from warden.intake.channels import REPORT_ADAPTER, ChannelReport
from warden.intake.domain import invalid, problems_of
from warden.intake.service import accept
from warden.shared.apikeys.store import client_and_key_hash_by_name
from warden.shared.app import Runtime
from warden.shared.bus.consumer import Delivery, Incoming
from warden.shared.clock import utcnow
from warden.shared.contracts import topics
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import (
    CASE_ROUTED_V1,
    DECISION_RECORDED_V1,
    DECISION_RECORDED_V2,
    NOTIFICATION_DELIVERED_V1,
)
from warden.shared.errors import Forbidden, InvalidInput, InvalidMessage

RAW_REPORT = "warden.report.raw"
CLIENT_HEADER = "warden-client"
CLIENT_ATTRIBUTE = "wardenclient"
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
# A record's own timestamp is its receipt time (legal deadlines run from it), unless it is
# implausible: in the future, or older than the topic's retention could explain.
PLAUSIBLE_RECORD_AGE = timedelta(days=7)


@dataclass(frozen=True)
class RawReport:
    client_name: str
    report: ChannelReport
    idempotency_key: str | None
    produced_at: datetime | None
    signature: str
    signed_content: bytes


def parse_raw_report(record: ConsumerRecord) -> Incoming:
    """A ``reports.raw`` record -> a validated report (``InvalidMessage`` sends it to the DLQ)."""
    headers = {key.lower(): value for key, value in record.headers or []}
    document = _json_object(record.value)
    event = None
    if "specversion" in document:
        event = CloudEvent.from_bytes(record.value)
        body, event_id = event.data, f"ce:{event.source}:{event.id}"
        client = _header(headers, CLIENT_HEADER) or _client_attribute(event)
    else:
        body, event_id = document, f"record:{record.topic}:{record.partition}:{record.offset}"
        client = _header(headers, CLIENT_HEADER)
    if not client:
        raise InvalidMessage(f"no client named: set the Kafka header {CLIENT_HEADER!r} "
                             f"(or the CloudEvent attribute {CLIENT_ATTRIBUTE!r})")
    signature = _header(headers, SIGNATURE_HEADER)
    if not signature:
        raise InvalidMessage(f"record not signed: the Kafka header {SIGNATURE_HEADER!r} must "
                             f"carry the HMAC of the record made with client {client!r}'s key")
    raw_key = _header(headers, IDEMPOTENCY_HEADER)
    try:
        report = REPORT_ADAPTER.validate_python(body)
    except ValidationError as exc:
        raise _as_invalid_message(invalid(problems_of(exc.errors()), location="")) from exc
    produced_at = (datetime.fromtimestamp(record.timestamp / 1000, UTC)
                   if record.timestamp and record.timestamp > 0 else None)
    return Incoming(event_id=event_id, type=RAW_REPORT, record=record, event=event,
                    payload=RawReport(client_name=client, report=report,
                                      idempotency_key=_idempotency_key(raw_key),
                                      produced_at=produced_at, signature=signature,
                                      signed_content=raw_signed_content(
                                          client, raw_key, record.value)))


def receipt_time(produced_at: datetime | None, now: datetime) -> datetime:
    if produced_at is None or produced_at > now or now - produced_at > PLAUSIBLE_RECORD_AGE:
        return now
    return produced_at


def _json_object(raw: bytes | None) -> dict:
    if raw is None:
        raise InvalidMessage("empty record value (tombstone) where a report was expected")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"record value is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidMessage("record value is JSON but not an object")
    return document


def _header(headers: dict[str, bytes], name: str) -> str | None:
    value = headers.get(name)
    if not value:
        return None
    try:
        text = value.decode().strip()
    except UnicodeDecodeError as exc:
        raise InvalidMessage(f"Kafka header {name!r} is not UTF-8") from exc
    if "\x00" in text:
        raise InvalidMessage(f"Kafka header {name!r} contains a NUL character")
    return text or None


def _client_attribute(event: CloudEvent) -> str | None:
    value = (event.model_extra or {}).get(CLIENT_ATTRIBUTE)
    if value is not None and (not isinstance(value, str) or "\x00" in value):
        raise InvalidMessage(f"CloudEvent attribute {CLIENT_ATTRIBUTE!r} must be a plain string")
    return value


def _idempotency_key(key: str | None) -> str | None:
    if key is not None and len(key) > MAX_KEY_LENGTH:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _as_invalid_message(exc: InvalidInput | Forbidden) -> InvalidMessage:
    return InvalidMessage(exc.detail, errors=exc.errors)


def raw_report_handler(runtime: Runtime):
    async def on_raw_report(delivery: Delivery) -> None:
        raw: RawReport = delivery.payload
        found = await client_and_key_hash_by_name(delivery.session, raw.client_name)
        if found is None:
            raise InvalidMessage(f"unknown or revoked client {raw.client_name!r}")
        client, key_hash = found
        if not valid_raw_signature(key_hash, raw.signed_content, raw.signature):
            raise InvalidMessage(f"the {SIGNATURE_HEADER!r} header does not match client "
                                 f"{raw.client_name!r}'s key: the record is not from it")
        try:
            await accept(delivery.session, runtime.outbox, client, raw.report,
                         idempotency_key=raw.idempotency_key,
                         received_at=receipt_time(raw.produced_at, utcnow()),
                         location="")
        except (InvalidInput, Forbidden) as exc:
            raise _as_invalid_message(exc) from exc

    return on_raw_report


# Runs of one topic's events, one statement each (see ``persistence._latest_facts``).

async def on_cases_routed(session: AsyncSession, deliveries: list[Delivery]) -> None:
    await persistence.record_routings(session, [d.payload for d in deliveries])


async def on_decisions_recorded(session: AsyncSession, deliveries: list[Delivery]) -> None:
    # A report's status needs only what v1 carried.
    await persistence.record_decisions(session, [
        d.payload.as_v1() if d.message.type == DECISION_RECORDED_V2 else d.payload
        for d in deliveries])


async def on_notifications_delivered(session: AsyncSession,
                                     deliveries: list[Delivery]) -> None:
    await persistence.record_notifications(session, [d.payload for d in deliveries])


def wire(runtime: Runtime) -> None:
    runtime.consumers.append(runtime.consumer(
        "raw", [topics.REPORTS_RAW], {RAW_REPORT: raw_report_handler(runtime)},
        parse=parse_raw_report))
    runtime.consumers.append(runtime.consumer(
        "status", [topics.CASES_ROUTED, topics.DECISIONS_RECORDED, topics.NOTIFICATIONS_DELIVERED],
        {}, batch_handlers={CASE_ROUTED_V1: on_cases_routed,
                            DECISION_RECORDED_V1: on_decisions_recorded,
                            DECISION_RECORDED_V2: on_decisions_recorded,
                            NOTIFICATION_DELIVERED_V1: on_notifications_delivered},
        wants={NOTIFICATION_DELIVERED_V1: persistence.tells_the_outcome}, background=True))
