from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from warden.decision.catalogue import DEFAULT_ACTIONS_PATH, DEFAULT_POLICIES_PATH
from warden.shared.apikeys.settings import ApiKeySettings
from warden.shared.lease_tokens import DEV_VERIFY_KEY
from warden.shared.settings import LOCAL_PG


class DecisionSettings(ApiKeySettings):
    """Upstream systems file appeals with API keys (``X-API-Key``, scope ``appeals:file``)."""

    model_config = SettingsConfigDict(env_prefix="WARDEN_DECISION_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "decision"

    database_url: str = f"{LOCAL_PG}/warden_decision"
    port: int = 8003
    # The copies of routed cases are upserted a run at a time (one statement per run).
    consumer_batch_size: int = Field(500, ge=1)

    actions_path: Path = Field(DEFAULT_ACTIONS_PATH, description="the action catalogue YAML")
    policies_path: Path = Field(DEFAULT_POLICIES_PATH, description="the policy catalogue YAML")
    lease_verify_key: str = Field(
        DEV_VERIFY_KEY, description="Ed25519 public key (PEM) of routing's lease tokens")
    approval_ttl_s: float = Field(
        24 * 3600, gt=0, description="a decision awaiting four-eyes approval expires after "
                                     "this, and its case goes back to its queue")
    approval_sweep_interval_s: float = Field(5.0, gt=0)
    appeal_instructions: str = Field(
        "Ask for a review of this decision in the app or on the website (Help > Appeal a "
        "decision) within six months.", max_length=500,
        description="how an affected user appeals (carried by every decision event)")
