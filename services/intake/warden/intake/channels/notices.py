"""Notices: a user's report, a trusted flagger's notice (DSA Art. 22), a rights holder's
notice of infringement."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import EmailStr, Field, StrictBool

from warden.intake.channels.fields import (
    CategoryCode,
    CountryCode,
    Evidence,
    Explanation,
    ExternalId,
    FreeText,
    HttpUrl,
    Identifier,
    Jurisdictions,
    Locale,
    Name,
    ReportedItem,
    ShortText,
    Strict,
)


# --- user ---------------------------------------------------------------------------------

class UserReporter(Strict):
    account_id: Identifier
    name: Name | None = Field(None, description="required only for an illegal-content notice")
    email: EmailStr | None = Field(None, description="required only for an illegal-content "
                                                     "notice (except child sexual abuse)")


class UserReport(Strict):
    """An in-app report by a user of the platform."""

    channel: Literal["user"]
    client_report_id: ExternalId | None = Field(
        None, description="the reporting app's own id; a resend with it returns the first report")
    reporter: UserReporter
    content: ReportedItem
    reason: CategoryCode
    text: FreeText | None = Field(None, description="the reporter's own words")
    locale: Locale | None = None
    illegal_content: StrictBool = Field(
        False, description="the user states the content is illegal: a DSA Art. 16 notice, "
                           "which needs text, content.url, reporter name and email, and "
                           "good_faith_statement")
    legal_basis: ShortText | None = Field(None, description="the law the user believes broken")
    good_faith_statement: StrictBool | None = None
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []


# --- trusted flagger ----------------------------------------------------------------------

class TrustedFlagger(Strict):
    organisation: Name
    designation: Identifier | None = Field(
        None, description="the Digital Services Coordinator's designation reference")
    designating_country: CountryCode | None = None
    contact_name: Name | None = None
    contact_email: EmailStr | None = None


class TrustedFlaggerNotice(Strict):
    """A DSA Art. 22 notice: handled with priority, must carry the Art. 16 elements."""

    channel: Literal["trusted_flagger"]
    notice_id: ExternalId
    flagger: TrustedFlagger
    content: ReportedItem
    category: CategoryCode
    explanation: Explanation | None = Field(None, description="why the content is illegal")
    legal_basis: ShortText | None = None
    good_faith_statement: StrictBool | None = None
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []


# --- rights holder ------------------------------------------------------------------------

class RightType(StrEnum):
    COPYRIGHT = "copyright"
    TRADEMARK = "trademark"
    COUNTERFEIT = "counterfeit"


class RightsHolder(Strict):
    name: Name
    email: EmailStr | None = None
    representative: Name | None = Field(None, description="agent filing for the holder")


class Right(Strict):
    type: RightType
    work: ShortText = Field(description="the protected work or mark")
    registration_number: Identifier | None = None
    original_url: HttpUrl | None = None


class RightsHolderNotice(Strict):
    """A copyright, trademark or counterfeit notice (a DSA Art. 16 notice)."""

    channel: Literal["rights_holder"]
    notice_id: ExternalId
    rights_holder: RightsHolder
    right: Right
    content: ReportedItem
    explanation: Explanation | None = None
    sworn_statement: StrictBool | None = Field(
        None, description="the notice is accurate and made in good faith")
    jurisdictions: Jurisdictions = []
    evidence: Evidence = []
