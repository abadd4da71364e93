"""Decisions whose reports notify had not seen yet: their reporters are told once the
report arrives (the reports and decisions consumers run apart, so a decision can come first).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "awaited_reports",
        sa.Column("report_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("decision_event_id", sa.Text, primary_key=True),
        sa.Column("decision_event", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("awaited_reports")
