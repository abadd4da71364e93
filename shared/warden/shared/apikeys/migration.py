"""Alembic helpers: the ``api_clients`` table in a service's own database.

Call :func:`create_api_clients_table` from ``upgrade`` of one of the service's revisions
(and :func:`drop_api_clients_table` from its ``downgrade``); the columns match
:class:`warden.shared.apikeys.models.ApiClient`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID


def create_api_clients_table(op) -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("key_hint", sa.Text, nullable=False),
        sa.Column("scopes", JSONB, nullable=False),
        sa.Column("rate_per_s", sa.Float, nullable=True),
        sa.Column("burst", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def drop_api_clients_table(op) -> None:
    op.drop_table("api_clients")
