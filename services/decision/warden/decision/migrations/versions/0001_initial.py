"""Routed cases, decisions, outbox and inbox.

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


def upgrade() -> None:
    create_messaging_tables(op)
    op.create_table(
        "routed_cases",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject", JSONB, nullable=False),
        sa.Column("policy_area", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_ids", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), sa.ForeignKey("routed_cases.case_id"),
                  nullable=False, index=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("policy_cited", sa.Text, nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("reviewer_id", sa.Text, nullable=False),
        sa.Column("restricts", sa.Boolean, nullable=False),
        sa.Column("dsa_category", sa.Text, nullable=False),
        sa.Column("territorial_scope", JSONB, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("routed_cases")
    drop_messaging_tables(op)
