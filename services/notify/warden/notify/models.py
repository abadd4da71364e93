"""Notify service tables (its own database)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from warden.shared.db import jsonb_column, utc_column


def _uuid_pk() -> sa.Column:
    return sa.Column(PG_UUID(as_uuid=True), primary_key=True)


class Endpoint(SQLModel, table=True):
    """Where notifications go: a webhook receiver, an SMTP relay or the Transparency Database.

    ``event_types`` subscribes to raw events (downstream tools); ``audiences`` to the notices
    written for people (reporter, affected, authority, ...). ``secret`` signs webhooks (for the
    Transparency Database it is the API token); ``previous_secret`` still signs too until
    ``previous_secret_expires_at``, so a receiver can switch secrets without downtime.
    """

    __tablename__ = "endpoints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_uuid_pk())
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    url: str
    secret: str
    event_types: list = Field(default_factory=list, sa_column=jsonb_column())
    enabled: bool = True
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    kind: str = "webhook"
    audiences: list = Field(default_factory=list, sa_column=jsonb_column())
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = Field(default=None,
                                                        sa_column=utc_column(nullable=True))
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    circuit_open_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class KnownReport(SQLModel, table=True):
    """What notify remembers of a report to tell its reporter (or authority) later.

    Filled from ``reports.normalized`` and ``cases.routed``, whichever comes first.
    """

    __tablename__ = "known_reports"

    report_id: uuid.UUID = Field(sa_column=_uuid_pk())
    channel: str | None = None
    reporter_id: str | None = None
    contact_email: str | None = None
    locale: str | None = None
    authority: str | None = None
    authority_country: str | None = None
    order_reference: str | None = None
    order_type: str | None = None
    deadline: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    subject_id: str | None = None
    received_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    normalized_event_id: str | None = None
    case_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(PG_UUID(as_uuid=True)))
    routed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    queue: str | None = None


class Notification(SQLModel, table=True):
    """One notice (or raw event) for one endpoint; its id is the ``webhook-id`` on every attempt.

    ``dedupe_key`` makes it exactly once per event, audience and recipient.
    """

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("endpoint_id", "dedupe_key",
                                          name="notifications_once_per_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_uuid_pk())
    endpoint_id: uuid.UUID = Field(sa_column=sa.Column(
        PG_UUID(as_uuid=True), sa.ForeignKey("endpoints.id"), nullable=False))
    source_event_id: str
    source_event_type: str
    subject_id: str
    correlation_id: str | None = None
    case_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(PG_UUID(as_uuid=True)))
    decision_id: uuid.UUID | None = Field(default=None,
                                          sa_column=sa.Column(PG_UUID(as_uuid=True)))
    report_ids: list = Field(default_factory=list, sa_column=jsonb_column())
    body: str
    status: str = "pending"
    attempts: int = 0
    attempts_in_round: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    claim_token: uuid.UUID | None = Field(default=None,
                                          sa_column=sa.Column(PG_UUID(as_uuid=True)))
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    audience: str = "subscriber"
    notice: str | None = None
    channel: str = "webhook"
    recipient: str | None = None
    locale: str | None = None
    priority: int = 0
    dedupe_key: str = ""
    puid: str | None = None
    last_response: dict | None = Field(default=None, sa_column=jsonb_column(nullable=True))
    # The W3C trace context of the event this notification tells of: its delivery continues
    # that trace (the report's, from intake's request on).
    traceparent: str | None = None


# A pending notification, said as the partial index of due notifications says it: a literal,
# not a bound parameter, since only then can the generic plan of a prepared statement use that
# index. With the status bound, the lease statement sorted every pending notification and the
# next-due query read the whole table (every notification ever sent): 12 and 3 ms a call.
IS_PENDING = Notification.__table__.c.status == sa.literal_column("'pending'")


class DeliveryAttempt(SQLModel, table=True):
    """Every POST ever made for a notification, successful or not."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(),
                                                             primary_key=True))
    notification_id: uuid.UUID = Field(sa_column=sa.Column(
        PG_UUID(as_uuid=True), sa.ForeignKey("notifications.id"), nullable=False, index=True))
    number: int
    url: str
    started_at: datetime = Field(sa_column=utc_column())
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    outcome: str


class AwaitedReport(SQLModel, table=True):
    """A decision that named a report notify had not seen yet: the report's reporter is told
    of the decision when ``reports.normalized`` brings the report (the event is kept whole)."""

    __tablename__ = "awaited_reports"

    report_id: uuid.UUID = Field(sa_column=_uuid_pk())
    decision_event_id: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    decision_event: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=utc_column(server_default=sa.func.now()))
