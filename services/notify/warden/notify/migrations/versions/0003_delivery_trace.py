"""The trace a notification's delivery continues: the ``traceparent`` of the event it tells of.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("traceparent", sa.Text))


def downgrade() -> None:
    op.drop_column("notifications", "traceparent")
