"""Endpoints, notifications, delivery attempts, outbox and inbox.

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
        "endpoints",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("event_types", JSONB, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("endpoint_id", UUID(as_uuid=True), sa.ForeignKey("endpoints.id"),
                  nullable=False),
        sa.Column("source_event_id", sa.Text, nullable=False),
        sa.Column("source_event_type", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.Text),
        sa.Column("case_id", UUID(as_uuid=True)),
        sa.Column("decision_id", UUID(as_uuid=True)),
        sa.Column("report_ids", JSONB, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("attempts_in_round", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("claim_token", UUID(as_uuid=True)),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("endpoint_id", "source_event_id",
                            name="notifications_once_per_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')",
                           name="notifications_known_status"),
    )
    # The delivery worker's question: which pending notifications are due?
    op.create_index("notifications_due", "notifications", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    # The operator's delivery log: newest first, optionally by status.
    op.create_index("notifications_newest", "notifications",
                    [sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_index("notifications_by_status_newest", "notifications",
                    ["status", sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("notification_id", UUID(as_uuid=True), sa.ForeignKey("notifications.id"),
                  nullable=False, index=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("outcome", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_index("notifications_by_status_newest", table_name="notifications")
    op.drop_index("notifications_newest", table_name="notifications")
    op.drop_index("notifications_due", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("endpoints")
    drop_messaging_tables(op)
