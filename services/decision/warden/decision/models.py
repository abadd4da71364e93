"""Decision service tables (its own database): the enforcement record.

``routed_cases`` is the lean copy of what routing said about each case (only what deciding
needs); ``decisions``, ``appeals`` and ``strikes`` are the record of what was done;
``audit_log`` is the hash chain over every step of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from warden.shared.apikeys.models import ApiClient  # noqa: F401  (upstream systems, appeals)
from warden.shared.db import jsonb_column, utc_column


def _uuid(primary_key: bool = False, nullable: bool = True, **kwargs) -> sa.Column:
    return sa.Column(PG_UUID(as_uuid=True), primary_key=primary_key,
                     nullable=nullable and not primary_key, **kwargs)


class Case(SQLModel, table=True):
    # Not "cases": every service's models share one SQLModel registry in a process that
    # loads several (tests, tools), and routing has that name.
    __tablename__ = "routed_cases"

    case_id: uuid.UUID = Field(sa_column=_uuid(primary_key=True))
    subject: dict = Field(sa_column=jsonb_column())
    policy_area: str
    category: str
    queue: str
    channels: list = Field(default_factory=list, sa_column=jsonb_column())
    report_ids: list = Field(default_factory=list, sa_column=jsonb_column())
    first_routed_at: datetime = Field(sa_column=utc_column())
    routed_at: datetime = Field(sa_column=utc_column())
    # Owned by the decision service: routing's events never change these.
    status: str = "open"
    stage: str = "review"
    appeal_id: uuid.UUID | None = Field(default=None, sa_column=_uuid())


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"

    id: uuid.UUID = Field(sa_column=_uuid(primary_key=True))
    case_id: uuid.UUID = Field(sa_column=_uuid(nullable=False, index=True))
    stage: str
    status: str
    queue: str
    subject: dict = Field(sa_column=jsonb_column())
    owner_id: str | None = None
    actions: list = Field(sa_column=jsonb_column())
    policy: dict = Field(sa_column=jsonb_column())
    category: str
    dsa_category: str
    facts: str
    reasoning: str
    automated_detection: bool
    automated_decision: str
    automation_rule: str | None = None
    decided_by: str | None = None
    approved_by: str | None = None
    approval_note: str | None = None
    closed_by: str | None = None
    required_skills: list = Field(default_factory=list, sa_column=jsonb_column())
    report_ids: list = Field(default_factory=list, sa_column=jsonb_column())
    channels: list = Field(default_factory=list, sa_column=jsonb_column())
    content_date: datetime = Field(sa_column=utc_column())
    decided_at: datetime = Field(sa_column=utc_column())
    final_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    notified_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    appeal_id: uuid.UUID | None = Field(default=None, sa_column=_uuid())
    appeal_outcome: str | None = None
    reverses: uuid.UUID | None = Field(default=None, sa_column=_uuid())
    reversed_by: uuid.UUID | None = Field(default=None, sa_column=_uuid())
    puid: str | None = Field(default=None, sa_column=sa.Column(sa.Text, unique=True))
    statement: dict | None = Field(default=None, sa_column=jsonb_column(nullable=True))


class Appeal(SQLModel, table=True):
    __tablename__ = "appeals"
    __table_args__ = (sa.UniqueConstraint("decision_id", "appellant_id"),)

    id: uuid.UUID = Field(sa_column=_uuid(primary_key=True))
    decision_id: uuid.UUID = Field(sa_column=_uuid(nullable=False))
    case_id: uuid.UUID = Field(sa_column=_uuid(nullable=False))
    appellant_id: str
    appellant_kind: str
    client_id: str
    reason: str
    filed_at: datetime = Field(sa_column=utc_column())
    deadline: datetime = Field(sa_column=utc_column())
    status: str = "open"
    outcome_decision_id: uuid.UUID | None = Field(default=None, sa_column=_uuid())
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class Strike(SQLModel, table=True):
    __tablename__ = "strikes"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, primary_key=True,
                                                             autoincrement=True))
    account_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False, index=True))
    decision_id: uuid.UUID = Field(sa_column=_uuid(nullable=False))
    policy_id: str
    issued_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    removed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    removed_reason: str | None = None


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_log"

    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=utc_column())
    kind: str
    entity_id: str
    actor: str | None = None
    content: dict = Field(sa_column=jsonb_column())
    prev_hash: str
    hash: str
