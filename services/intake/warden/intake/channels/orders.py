"""Orders from authorities: removal orders (Regulation (EU) 2021/784), court and other
removal orders (DSA Art. 9)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from warden.intake.channels.fields import (
    CategoryCode,
    CountryCode,
    Evidence,
    Explanation,
    ExternalId,
    Name,
    ReportedItem,
    ShortText,
    Strict,
    Timestamp,
)


# --- regulator ----------------------------------------------------------------------------

class OrderType(StrEnum):
    REMOVAL_ORDER = "removal_order"
    TERRORIST_CONTENT_REMOVAL_ORDER = "terrorist_content_removal_order"
    COURT_ORDER = "court_order"


class Authority(Strict):
    name: Name
    country: CountryCode
    contact_email: EmailStr | None = None


class RegulatorOrder(Strict):
    """An order of an authority or court (DSA Art. 9, Regulation (EU) 2021/784, court orders)."""

    channel: Literal["regulator"]
    order_reference: ExternalId
    order_type: OrderType
    authority: Authority
    legal_basis: ShortText
    territorial_scope: Annotated[list[CountryCode], Field(
        min_length=1, max_length=30, description="EU member states where the order applies")]
    content: ReportedItem
    category: CategoryCode | None = Field(None, description="defaults from the order type")
    explanation: Explanation | None = Field(None, description="the order's statement of reasons")
    issued_at: Timestamp | None = None
    deadline: Timestamp | None = Field(
        None, description="when absent, a terrorist-content removal order is due one hour "
                          "after receipt")
    evidence: Evidence = []
