"""A sample of every notice's context, to validate templates at start-up."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from warden.notify.notices.common import NoticeKind, ReportFacts
from warden.notify.notices.decisions import (
    TERRORIST_CONTENT_ORDER,
    DecisionFacts,
    _authority_outcome,
    _decision_context,
    _reporter_outcome,
)
from warden.notify.notices.receipts import authority_receipt, reporter_receipt
from warden.shared.contracts.events import Channel


def sample_contexts() -> dict[NoticeKind, dict[str, Any]]:
    """One context per templated notice with every key it can carry (values filled in)."""
    from datetime import UTC

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    report = ReportFacts(report_id="r-1", channel=Channel.REGULATOR, reporter_id="u-1",
                         contact_email="a@example.org", authority="Authority",
                         authority_country="DE", order_reference="ORD-1",
                         order_type=TERRORIST_CONTENT_ORDER, deadline=now + timedelta(hours=1),
                         subject_id="post-1", received_at=now, case_id="c-1", routed_at=now,
                         queue="terrorism")
    decision = DecisionFacts(decision_id="d-1", case_id="c-1", subject_id="post-1",
                             subject_url="https://example.org/p/1", owner_id="acct-1",
                             decided_at=now, actions=("remove",), restricts=True,
                             territorial_scope=("DE",), end_date="2026-02-01",
                             ground="illegal_content", ground_reference="§ 130 StGB",
                             facts="facts", automated_detection=True,
                             automated_decision="not_automated", category="cat",
                             reverses_decision_id="d-0", appeal_id="a-1",
                             appeal_outcome="reversed", puid="p-1")
    user_report = ReportFacts(**{**report.__dict__, "channel": Channel.USER})
    receipt = reporter_receipt(user_report, subject_url="https://example.org/p/1")
    authority = authority_receipt(report)
    assert receipt and authority
    outcome = _reporter_outcome(decision, user_report)
    assert outcome
    context = _decision_context(decision)
    return {
        NoticeKind.REPORTER_RECEIPT: receipt.context,
        NoticeKind.AUTHORITY_RECEIPT: authority.context,
        NoticeKind.REPORTER_OUTCOME: outcome.context,
        NoticeKind.AUTHORITY_OUTCOME: _authority_outcome(decision, report).context,
        NoticeKind.STATEMENT_OF_REASONS: context,
        NoticeKind.APPEAL_OUTCOME: context,
        NoticeKind.RESTORATION: context,
        NoticeKind.REFERRAL: context,
    }


TEMPLATED = tuple(k for k in NoticeKind if k is not NoticeKind.TRANSPARENCY_STATEMENT)
