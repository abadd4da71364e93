"""Audiences, channels (webhook, email, Transparency Database), secret rotation, circuit breaker,
priorities, the reports notify remembers for later notices.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("endpoints", sa.Column("kind", sa.Text, nullable=False,
                                         server_default="webhook"))
    op.add_column("endpoints", sa.Column("audiences", JSONB, nullable=False,
                                         server_default=sa.text("'[]'::jsonb")))
    op.add_column("endpoints", sa.Column("previous_secret", sa.Text))
    op.add_column("endpoints", sa.Column("previous_secret_expires_at",
                                         sa.DateTime(timezone=True)))
    op.add_column("endpoints", sa.Column("disabled_reason", sa.Text))
    op.add_column("endpoints", sa.Column("consecutive_failures", sa.Integer, nullable=False,
                                         server_default="0"))
    op.add_column("endpoints", sa.Column("circuit_open_until", sa.DateTime(timezone=True)))
    op.create_check_constraint("endpoints_known_kind", "endpoints",
                               "kind IN ('webhook', 'email', 'transparency_db')")

    op.add_column("notifications", sa.Column("audience", sa.Text, nullable=False,
                                             server_default="subscriber"))
    op.add_column("notifications", sa.Column("notice", sa.Text))
    op.add_column("notifications", sa.Column("channel", sa.Text, nullable=False,
                                             server_default="webhook"))
    op.add_column("notifications", sa.Column("recipient", sa.Text))
    op.add_column("notifications", sa.Column("locale", sa.Text))
    op.add_column("notifications", sa.Column("priority", sa.Integer, nullable=False,
                                             server_default="0"))
    op.add_column("notifications", sa.Column("dedupe_key", sa.Text))
    op.add_column("notifications", sa.Column("puid", sa.Text))
    op.add_column("notifications", sa.Column("last_response", JSONB))
    op.execute("UPDATE notifications SET dedupe_key = source_event_id")
    op.alter_column("notifications", "dedupe_key", nullable=False)
    # Exactly once per event and audience (and recipient): the key says which.
    op.drop_constraint("notifications_once_per_event", "notifications", type_="unique")
    op.create_unique_constraint("notifications_once_per_key", "notifications",
                                ["endpoint_id", "dedupe_key"])
    # Authority notices first, then the oldest due.
    op.drop_index("notifications_due", table_name="notifications")
    op.create_index("notifications_due", "notifications",
                    [sa.text("priority DESC"), "next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))

    op.create_table(
        "known_reports",
        sa.Column("report_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("channel", sa.Text),
        sa.Column("reporter_id", sa.Text),
        sa.Column("contact_email", sa.Text),
        sa.Column("locale", sa.Text),
        sa.Column("authority", sa.Text),
        sa.Column("authority_country", sa.Text),
        sa.Column("order_reference", sa.Text),
        sa.Column("order_type", sa.Text),
        sa.Column("deadline", sa.DateTime(timezone=True)),
        sa.Column("subject_id", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True)),
        sa.Column("normalized_event_id", sa.Text),
        sa.Column("case_id", UUID(as_uuid=True)),
        sa.Column("routed_at", sa.DateTime(timezone=True)),
        sa.Column("queue", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("known_reports")
    op.drop_index("notifications_due", table_name="notifications")
    op.create_index("notifications_due", "notifications", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.drop_constraint("notifications_once_per_key", "notifications", type_="unique")
    op.create_unique_constraint("notifications_once_per_event", "notifications",
                                ["endpoint_id", "source_event_id"])
    for column in ("last_response", "puid", "dedupe_key", "priority", "locale", "recipient",
                   "channel", "notice", "audience"):
        op.drop_column("notifications", column)
    op.drop_constraint("endpoints_known_kind", "endpoints", type_="check")
    for column in ("circuit_open_until", "consecutive_failures", "disabled_reason",
                   "previous_secret_expires_at", "previous_secret", "audiences", "kind"):
        op.drop_column("endpoints", column)
