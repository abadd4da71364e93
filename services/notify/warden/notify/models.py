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
    """A receiver of webhooks and the event types it subscribed to."""

    __tablename__ = "endpoints"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_uuid_pk())
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    url: str
    secret: str
    event_types: list = Field(default_factory=list, sa_column=jsonb_column())
    enabled: bool = True
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class Notification(SQLModel, table=True):
    """One event to be told to one endpoint; its id is the ``webhook-id`` on every attempt."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("endpoint_id", "source_event_id",
                                          name="notifications_once_per_event"),)

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
