"""API clients, reports (with their dedupe keys and downstream status), outbox and inbox.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from warden.shared.apikeys.migration import create_api_clients_table, drop_api_clients_table
from warden.shared.db import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables(op)
    create_api_clients_table(op)
    op.create_table(
        "reports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("client_id", UUID(as_uuid=True), sa.ForeignKey("api_clients.id"),
                  nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("idempotency_key", sa.Text, nullable=True),
        sa.Column("request_fingerprint", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("normalized", JSONB, nullable=False),
        sa.Column("case_id", UUID(as_uuid=True), nullable=True),
        sa.Column("queue", sa.Text, nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_id", UUID(as_uuid=True), nullable=True),
        sa.Column("action", sa.Text, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        # NULLs never conflict, so reports without a key or external id are not constrained.
        sa.UniqueConstraint("client_id", "idempotency_key", name="reports_idempotency_key"),
        sa.UniqueConstraint("client_id", "channel", "external_id", name="reports_external_id"),
    )


def downgrade() -> None:
    op.drop_table("reports")
    drop_api_clients_table(op)
    drop_messaging_tables(op)
