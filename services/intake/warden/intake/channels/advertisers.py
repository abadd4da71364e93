"""A business partner's escalation about an ad or a page."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from warden.intake.channels.fields import (
    CategoryCode,
    ExternalId,
    FreeText,
    Identifier,
    Name,
    ReportedItem,
    ShortText,
    Strict,
)


# --- advertiser ---------------------------------------------------------------------------

class Concern(StrEnum):
    MISAPPLIED = "misapplied"
    VIOLATED = "violated"


class ImpactLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Advertiser(Strict):
    account_id: Identifier
    name: Name | None = None
    contact_email: EmailStr | None = None


class BusinessImpact(Strict):
    level: ImpactLevel
    description: ShortText | None = None
    daily_spend_at_risk: Annotated[float, Field(ge=0, le=1e12, strict=True)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None


class AdvertiserEscalation(Strict):
    """A business partner's escalation about an ad or page."""

    channel: Literal["advertiser"]
    escalation_id: ExternalId | None = None
    advertiser: Advertiser
    content: ReportedItem
    policy: ShortText = Field(description="the policy believed misapplied or violated")
    concern: Concern
    category: CategoryCode | None = Field(
        None, description="required when concern is 'violated'")
    business_impact: BusinessImpact
    text: FreeText | None = None
