from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from warden.shared.settings import LOCAL_PG, ServiceSettings


class DecisionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_DECISION_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "decision"

    database_url: str = f"{LOCAL_PG}/warden_decision"
    port: int = 8003
