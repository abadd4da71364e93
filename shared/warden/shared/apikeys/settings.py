"""Settings of a service that authenticates upstream systems by API key."""

from __future__ import annotations

from pydantic import Field

from warden.shared.settings import ServiceSettings


class ApiKeySettings(ServiceSettings):
    """``ServiceSettings`` plus API-key verification and per-client rate limits.

    The fields are read with the service's own prefix (``WARDEN_INTAKE_RATE_LIMIT_PER_S``).
    """

    # Per-client token bucket (requests; a batch is one request). A client's own row may
    # override both. The buckets live in the worker's memory: N workers allow N times this.
    rate_limit_per_s: float = Field(50.0, gt=0)
    rate_limit_burst: int = Field(100, ge=1)
    # How long a verified API key is remembered in memory: a revoked key keeps working at
    # most this long on a worker that had already seen it.
    auth_cache_ttl_s: float = Field(30.0, ge=0)
    # Failed authentications (a key that matches no active client) per source address:
    # a token bucket of this rate and burst; past it the source gets 429 with Retry-After
    # and no lookup, until the bucket refills. Keys this worker already verified still pass.
    auth_failure_rate_per_s: float = Field(0.5, gt=0)
    auth_failure_burst: int = Field(20, ge=1)
    # A key found to be bad is remembered this long, so repeating it costs no database
    # lookup (keys are random: a bad key does not become valid later).
    auth_negative_cache_ttl_s: float = Field(300.0, ge=0)
    # Bound of each in-memory table (verified keys, bad keys, failing sources), oldest first out.
    auth_cache_max_entries: int = Field(10_000, ge=1)
    # When set, start-up makes sure a client "local-dev" exists with every scope and this key.
    dev_api_key: str | None = None
