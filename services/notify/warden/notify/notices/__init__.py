"""Who must be told what, and when: pure rules from events to notices. No I/O here.

A *notice* is one message for one audience about one fact: the reporter's receipt, the
outcome told to the reporter, the statement of reasons told to the affected user, the
authority's receipt and outcome, the statement sent to the Transparency Database, a referral.
Each carries a ``dedupe_key`` built from business identifiers (report, decision), not from
event ids, so a replayed or duplicated event — even one re-published under a new event id —
sends nothing new.

Where a notice goes (which endpoints) is decided from its audience and its contact: an email
address goes to email endpoints, an account or authority without one to webhook endpoints
(the platform's messaging endpoint) subscribed to that audience.

One module per use case: ``receipts`` (a reporter's or an authority's receipt of a report),
``decisions`` (everyone a final decision concerns) and ``samples`` (a context of every
templated notice, to check the templates against at start-up). What they share (audiences,
kinds, locales, priorities, the notice and what notify keeps of a report) is in ``common``.
"""

from __future__ import annotations

from warden.notify.notices.common import (
    DEFAULT_LOCALE,
    LOCALES,
    PERSON_AUDIENCES,
    Audience,
    Notice,
    NoticeKind,
    ReportFacts,
    locale_for,
    locale_for_country,
)
from warden.notify.notices.decisions import DecisionFacts, decision_notices
from warden.notify.notices.receipts import (
    authority_receipt,
    may_owe_an_authority_receipt,
    reporter_receipt,
)
from warden.notify.notices.samples import TEMPLATED, sample_contexts

__all__ = ["DEFAULT_LOCALE", "LOCALES", "PERSON_AUDIENCES", "TEMPLATED", "Audience",
           "DecisionFacts", "Notice", "NoticeKind", "ReportFacts", "authority_receipt",
           "decision_notices", "locale_for", "locale_for_country",
           "may_owe_an_authority_receipt", "reporter_receipt", "sample_contexts"]
