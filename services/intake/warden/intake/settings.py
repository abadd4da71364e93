from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from warden.shared.settings import LOCAL_PG, ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_INTAKE_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "intake"

    database_url: str = f"{LOCAL_PG}/warden_intake"
    port: int = 8001

    # A full batch of 500 ordinary reports is well under 1 MiB; 4 MiB leaves room for long
    # explanations while still bounding what one request can make the worker buffer.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024,
                                description="larger request bodies are refused with 413")
    # Per-client token bucket (requests; a batch is one request). A client's own row may
    # override both. The buckets live in the worker's memory: N workers allow N times this.
    rate_limit_per_s: float = Field(50.0, gt=0)
    rate_limit_burst: int = Field(100, ge=1)
    # How long a verified API key is remembered in memory: a revoked key keeps working at
    # most this long on a worker that had already seen it.
    auth_cache_ttl_s: float = Field(30.0, ge=0)
    # When set, start-up makes sure a client "local-dev" exists with every scope and this key.
    dev_api_key: str | None = None
