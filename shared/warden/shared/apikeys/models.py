"""The ``api_clients`` table, one per service database that serves upstream systems."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from warden.shared.db import jsonb_column, utc_column


class ApiClient(SQLModel, table=True):
    """An upstream system allowed to call the service; its API key is stored only hashed."""

    __tablename__ = "api_clients"

    id: uuid.UUID = Field(default_factory=uuid.uuid4,
                          sa_column=sa.Column(PG_UUID(as_uuid=True), primary_key=True))
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    key_hash: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    key_hint: str = Field(description="first characters of the key, to recognise it")
    scopes: list = Field(default_factory=list, sa_column=jsonb_column())
    rate_per_s: float | None = None
    burst: int | None = None
    created_at: datetime = Field(sa_column=utc_column(server_default=sa.func.now()))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
