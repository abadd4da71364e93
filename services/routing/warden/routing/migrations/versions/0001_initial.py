"""Cases, the reports in them, case history, outbox and inbox.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from warden.shared.db import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN = "status = 'open'"


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False)


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "cases",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _text("subject_id"),
        sa.Column("subject", JSONB, nullable=False),
        _text("policy_area"),
        _text("category"),
        _text("status"),
        _text("stage"),
        _text("queue"),
        _text("rule_id"),
        _text("policy_version"),
        _int("severity"),
        _int("base_priority"),
        _int("priority"),
        _utc("due_at"),
        _utc("legal_deadline", nullable=True),
        sa.Column("channels", JSONB, nullable=False),
        _int("report_count"),
        _int("reporter_count"),
        sa.Column("priority_handling", sa.Boolean, nullable=False),
        _utc("priority_review_at", nullable=True),
        sa.Column("previous_case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"),
                  nullable=True),
        _text("excluded_reviewer_id", nullable=True),
        sa.Column("appeal_id", UUID(as_uuid=True), nullable=True),
        sa.Column("decision_id", UUID(as_uuid=True), nullable=True),
        _text("decided_by", nullable=True),
        _text("assignee_id", nullable=True),
        _utc("lease_expires_at", nullable=True),
        _utc("opened_at"),
        _utc("queued_at"),
        _utc("updated_at"),
        _utc("closed_at", nullable=True),
        _utc("sla_at_risk_for", nullable=True),
        _utc("sla_overdue_for", nullable=True),
    )
    op.create_index("cases_one_open_per_subject", "cases", ["subject_id", "policy_area"],
                    unique=True, postgresql_where=sa.text("status = 'open' AND stage = 'review'"))
    op.create_index("cases_claim_order", "cases", ["queue", sa.text("priority DESC"), "due_at"],
                    postgresql_where=sa.text(OPEN))
    op.create_index("cases_open_due", "cases", ["due_at"], postgresql_where=sa.text(OPEN))
    op.create_index("cases_leased", "cases", ["lease_expires_at"],
                    postgresql_where=sa.text("assignee_id IS NOT NULL"))
    op.create_index("cases_by_subject", "cases", ["subject_id", "policy_area", "opened_at"])
    op.create_index("cases_priority_review", "cases", ["priority_review_at"],
                    postgresql_where=sa.text(OPEN))

    op.create_table(
        "case_reports",
        sa.Column("report_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
        _text("channel"),
        _text("category"),
        _text("reporter_key", nullable=True),
        _text("rule_id"),
        _utc("received_at"),
        _utc("joined_at"),
        _utc("legal_deadline", nullable=True),
        sa.Column("report", JSONB, nullable=False),
    )
    op.create_index("case_reports_by_reporter", "case_reports", ["case_id", "reporter_key"])

    op.create_table(
        "case_history",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("cases.id"), nullable=False),
        _utc("at"),
        _text("action"),
        _text("actor"),
        _text("queue"),
        _int("priority"),
        _utc("due_at"),
        _text("detail", nullable=True),
    )
    op.create_index("case_history_by_case", "case_history", ["case_id", "seq"])


def downgrade() -> None:
    op.drop_table("case_history")
    op.drop_table("case_reports")
    op.drop_table("cases")
    drop_messaging_tables(op)
