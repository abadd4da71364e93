"""Intake service tables (its own database)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

# The reports' foreign key names api_clients, the shared table of API-key clients.
from warden.shared.apikeys.models import ApiClient  # noqa: F401
from warden.shared.db import jsonb_column, utc_column


class Report(SQLModel, table=True):
    """One accepted report, its canonical form, and how far downstream it has gone.

    The two unique constraints are what makes resends (and concurrent resends) return
    the first report: inserts use ON CONFLICT DO NOTHING, never check-then-insert.
    """

    __tablename__ = "reports"
    __table_args__ = (
        sa.UniqueConstraint("client_id", "idempotency_key", name="reports_idempotency_key"),
        sa.UniqueConstraint("client_id", "channel", "external_id", name="reports_external_id"),
    )

    id: uuid.UUID = Field(sa_column=sa.Column(PG_UUID(as_uuid=True), primary_key=True))
    client_id: uuid.UUID = Field(sa_column=sa.Column(
        PG_UUID(as_uuid=True), sa.ForeignKey("api_clients.id"), nullable=False))
    channel: str
    external_id: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str
    subject_id: str
    received_at: datetime = Field(sa_column=utc_column())
    normalized: dict = Field(sa_column=jsonb_column())
    case_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(PG_UUID(as_uuid=True)))
    queue: str | None = None
    routed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    decision_id: uuid.UUID | None = Field(default=None,
                                          sa_column=sa.Column(PG_UUID(as_uuid=True)))
    action: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    notified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
