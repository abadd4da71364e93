"""What the notices share: audiences, kinds, locales and priorities, the notice itself and
what notify keeps of a report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from warden.shared.contracts.events import Channel


class Audience(StrEnum):
    REPORTER = "reporter"
    AFFECTED = "affected"
    AUTHORITY = "authority"
    TRANSPARENCY_DB = "transparency_db"
    LAW_ENFORCEMENT = "law_enforcement"
    CHILD_SAFETY_HOTLINE = "child_safety_hotline"
    SUBSCRIBER = "subscriber"  # raw events for downstream tools, by event type


PERSON_AUDIENCES = frozenset(Audience) - {Audience.SUBSCRIBER}


class NoticeKind(StrEnum):
    REPORTER_RECEIPT = "reporter_receipt"
    REPORTER_OUTCOME = "reporter_outcome"
    STATEMENT_OF_REASONS = "statement_of_reasons"
    APPEAL_OUTCOME = "appeal_outcome"
    RESTORATION = "restoration"
    AUTHORITY_RECEIPT = "authority_receipt"
    AUTHORITY_OUTCOME = "authority_outcome"
    REFERRAL = "referral"
    TRANSPARENCY_STATEMENT = "transparency_statement"  # JSON for the database, no template


# Authority notices carry a legal deadline: they are claimed before anything else.
PRIORITY = {Audience.AUTHORITY: 100, Audience.LAW_ENFORCEMENT: 90,
            Audience.CHILD_SAFETY_HOTLINE: 90}

LOCALES = ("en", "de", "fr", "es", "it", "pl", "nl")
DEFAULT_LOCALE = "en"
# The language an authority is written to in, from its country.
COUNTRY_LOCALES = {"DE": "de", "AT": "de", "LI": "de", "FR": "fr", "BE": "fr", "LU": "fr",
                   "ES": "es", "IT": "it", "MT": "en", "PL": "pl", "NL": "nl"}
# Channels whose reporters are written to by email, at the contact their notice carried.
EMAIL_CHANNELS = frozenset({Channel.TRUSTED_FLAGGER, Channel.RIGHTS_HOLDER, Channel.ADVERTISER})
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def locale_for(tag: str | None) -> str:
    """The supported locale of a BCP 47 tag (``de-AT`` -> ``de``); English otherwise."""
    match = _LANGUAGE.match(tag or "")
    language = match.group(1).lower() if match else ""
    return language if language in LOCALES else DEFAULT_LOCALE


def locale_for_country(country: str | None) -> str:
    return COUNTRY_LOCALES.get((country or "").upper(), DEFAULT_LOCALE)


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    audience: Audience
    dedupe_key: str
    locale: str
    context: dict[str, Any]
    recipient: str | None = None  # an account id, an authority's name
    email: str | None = None      # when set, email endpoints carry it
    report_ids: tuple[str, ...] = ()
    puid: str | None = None
    document: dict[str, Any] | None = None  # sent as is (the Transparency Database statement)

    @property
    def priority(self) -> int:
        return PRIORITY.get(self.audience, 0)


@dataclass(frozen=True)
class ReportFacts:
    """What notify keeps of a report (``known_reports``)."""

    report_id: str
    channel: str | None
    reporter_id: str | None = None
    contact_email: str | None = None
    locale: str | None = None
    authority: str | None = None
    authority_country: str | None = None
    order_reference: str | None = None
    order_type: str | None = None
    deadline: datetime | None = None
    subject_id: str | None = None
    received_at: datetime | None = None
    case_id: str | None = None
    routed_at: datetime | None = None
    queue: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
