"""Decision service tables (its own database)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from warden.shared.db import jsonb_column, utc_column


class RoutedCase(SQLModel, table=True):
    """What routing told us about a case: the decision service's view of it."""

    __tablename__ = "routed_cases"

    case_id: uuid.UUID = Field(sa_column=sa.Column(PG_UUID(as_uuid=True), primary_key=True))
    subject: dict = Field(sa_column=jsonb_column())
    policy_area: str
    category: str
    queue: str
    priority: int
    due_at: datetime = Field(sa_column=utc_column())
    report_ids: list = Field(default_factory=list, sa_column=jsonb_column())
    status: str = "open"
    routed_at: datetime = Field(sa_column=utc_column())


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4,
                          sa_column=sa.Column(PG_UUID(as_uuid=True), primary_key=True))
    case_id: uuid.UUID = Field(sa_column=sa.Column(
        PG_UUID(as_uuid=True), sa.ForeignKey("routed_cases.case_id"), nullable=False, index=True))
    action: str
    policy_cited: str
    rationale: str
    reviewer_id: str
    restricts: bool
    dsa_category: str
    territorial_scope: list = Field(default_factory=list, sa_column=jsonb_column())
    decided_at: datetime = Field(sa_column=utc_column())
