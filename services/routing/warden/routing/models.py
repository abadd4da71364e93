"""Routing service tables (its own database): cases, the reports in them, and their history."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from warden.shared.db import jsonb_column, utc_column

OPEN = "open"
DECIDED = "decided"
REVIEW = "review"   # first-instance review of reports
APPEAL = "appeal"   # a decided case reopened by an appeal

# Grouping is enforced by the database, not by luck: at most one open first-instance case per
# subject and policy area, whatever the number of consumers racing to open it.
ONE_OPEN_CASE_INDEX = "cases_one_open_per_subject"
ONE_OPEN_CASE_WHERE = sa.text(f"status = '{OPEN}' AND stage = '{REVIEW}'")


def _uuid_pk() -> sa.Column:
    return sa.Column(PG_UUID(as_uuid=True), primary_key=True)


def _case_fk(nullable: bool = False) -> sa.Column:
    return sa.Column(PG_UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=nullable)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        sa.Index(ONE_OPEN_CASE_INDEX, "subject_id", "policy_area", unique=True,
                 postgresql_where=ONE_OPEN_CASE_WHERE),
        sa.Index("cases_claim_order", "queue", sa.text("priority DESC"), "due_at",
                 postgresql_where=sa.text(f"status = '{OPEN}'")),
        sa.Index("cases_open_due", "due_at", postgresql_where=sa.text(f"status = '{OPEN}'")),
        sa.Index("cases_leased", "lease_expires_at",
                 postgresql_where=sa.text("assignee_id IS NOT NULL")),
        sa.Index("cases_by_subject", "subject_id", "policy_area", "opened_at"),
        sa.Index("cases_priority_review", "priority_review_at",
                 postgresql_where=sa.text(f"status = '{OPEN}'")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=_uuid_pk())
    subject_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    subject: dict = Field(sa_column=jsonb_column())
    policy_area: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    category: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(default=OPEN, sa_column=sa.Column(sa.Text, nullable=False))
    stage: str = Field(default=REVIEW, sa_column=sa.Column(sa.Text, nullable=False))
    queue: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    rule_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    policy_version: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    severity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    base_priority: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    priority: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    due_at: datetime = Field(sa_column=utc_column())
    legal_deadline: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    channels: list = Field(default_factory=list, sa_column=jsonb_column())
    report_count: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False))
    reporter_count: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False))
    priority_handling: bool = Field(default=False,
                                    sa_column=sa.Column(sa.Boolean, nullable=False))
    priority_review_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    previous_case_id: uuid.UUID | None = Field(default=None, sa_column=_case_fk(nullable=True))
    excluded_reviewer_id: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    appeal_id: uuid.UUID | None = Field(default=None, sa_column=sa.Column(PG_UUID(as_uuid=True)))
    decision_id: uuid.UUID | None = Field(default=None,
                                          sa_column=sa.Column(PG_UUID(as_uuid=True)))
    decided_by: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    assignee_id: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    lease_expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    opened_at: datetime = Field(sa_column=utc_column())
    queued_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The due time each SLA event was emitted for: once per case and due time.
    sla_at_risk_for: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    sla_overdue_for: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class CaseReport(SQLModel, table=True):
    """A report and the case it joined (each report belongs to exactly one case)."""

    __tablename__ = "case_reports"
    __table_args__ = (sa.Index("case_reports_by_reporter", "case_id", "reporter_key"),)

    report_id: uuid.UUID = Field(sa_column=_uuid_pk())
    case_id: uuid.UUID = Field(sa_column=_case_fk())
    channel: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    category: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    reporter_key: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    rule_id: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    received_at: datetime = Field(sa_column=utc_column())
    joined_at: datetime = Field(sa_column=utc_column())
    legal_deadline: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    report: dict = Field(sa_column=jsonb_column())


class CaseHistory(SQLModel, table=True):
    """Everything that happened to a case, in order (what ``GET /v1/cases/{id}`` shows)."""

    __tablename__ = "case_history"
    __table_args__ = (sa.Index("case_history_by_case", "case_id", "seq"),)

    seq: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(),
                                                              primary_key=True))
    case_id: uuid.UUID = Field(sa_column=_case_fk())
    at: datetime = Field(sa_column=utc_column())
    action: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    queue: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    priority: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    due_at: datetime = Field(sa_column=utc_column())
    detail: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
