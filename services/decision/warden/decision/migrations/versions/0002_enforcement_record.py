"""The enforcement record: lean cases, decisions with four-eyes and reversals, appeals,
strikes and the hash-chained audit log.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from warden.shared.apikeys.migration import create_api_clients_table, drop_api_clients_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The first slice's tables held no decision worth keeping (no policy, no lease check).
    op.drop_table("decisions")
    op.drop_table("routed_cases")
    op.create_table(
        "routed_cases",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject", JSONB, nullable=False),
        sa.Column("policy_area", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("channels", JSONB, nullable=False),
        sa.Column("report_ids", JSONB, nullable=False),
        sa.Column("first_routed_at", TS, nullable=False),
        sa.Column("routed_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("stage", sa.Text, nullable=False, server_default="review"),
        sa.Column("appeal_id", UUID(as_uuid=True)),
    )
    op.create_table(
        "decisions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("subject", JSONB, nullable=False),
        sa.Column("owner_id", sa.Text),
        sa.Column("actions", JSONB, nullable=False),
        sa.Column("policy", JSONB, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("dsa_category", sa.Text, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("reasoning", sa.Text, nullable=False),
        sa.Column("automated_detection", sa.Boolean, nullable=False),
        sa.Column("automated_decision", sa.Text, nullable=False),
        sa.Column("automation_rule", sa.Text),
        sa.Column("decided_by", sa.Text),
        sa.Column("approved_by", sa.Text),
        sa.Column("approval_note", sa.Text),
        sa.Column("closed_by", sa.Text),
        sa.Column("required_skills", JSONB, nullable=False),
        sa.Column("report_ids", JSONB, nullable=False),
        sa.Column("channels", JSONB, nullable=False),
        sa.Column("content_date", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("final_at", TS),
        sa.Column("expires_at", TS),
        sa.Column("closed_at", TS),
        sa.Column("notified_at", TS),
        sa.Column("appeal_id", UUID(as_uuid=True)),
        sa.Column("appeal_outcome", sa.Text),
        sa.Column("reverses", UUID(as_uuid=True)),
        sa.Column("reversed_by", UUID(as_uuid=True)),
        sa.Column("puid", sa.Text, unique=True),
        sa.Column("statement", JSONB),
    )
    # However the requests interleave, a case stage has at most one decision in force.
    op.create_index("decisions_one_per_case_stage", "decisions", ["case_id", "stage"],
                    unique=True,
                    postgresql_where=sa.text("status IN ('pending_approval', 'final', "
                                             "'reversed')"))
    op.create_index("decisions_pending_expiry", "decisions", ["expires_at"],
                    postgresql_where=sa.text("status = 'pending_approval'"))
    op.create_table(
        "appeals",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("decision_id", UUID(as_uuid=True), nullable=False),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("appellant_id", sa.Text, nullable=False),
        sa.Column("appellant_kind", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("filed_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outcome_decision_id", UUID(as_uuid=True)),
        sa.Column("decided_at", TS),
        sa.UniqueConstraint("decision_id", "appellant_id"),
    )
    op.create_table(
        "strikes",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Text, nullable=False, index=True),
        sa.Column("decision_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("policy_id", sa.Text, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("removed_at", TS),
        sa.Column("removed_reason", sa.Text),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("actor", sa.Text),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
    )
    create_api_clients_table(op)  # upstream systems that file appeals
    # Append-only: the service never updates or deletes audit rows; the database refuses
    # it too (a superuser can still, which is what verification is for).
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""")
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""")


def downgrade() -> None:
    drop_api_clients_table(op)
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    for table in ("audit_log", "strikes", "appeals", "decisions", "routed_cases"):
        op.drop_table(table)
    op.create_table(
        "routed_cases",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject", JSONB, nullable=False),
        sa.Column("policy_area", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("queue", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("report_ids", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("routed_at", TS, nullable=False),
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
        sa.Column("decided_at", TS, nullable=False),
    )
