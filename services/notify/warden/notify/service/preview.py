"""What the notices of an event would say, rendered, without queueing anything."""

from __future__ import annotations

from typing import Any

from warden.notify.notices import (
    NoticeKind,
    ReportFacts,
    authority_receipt,
    decision_notices,
    reporter_receipt,
)
from warden.notify.service.facts import decision_facts, report_values
from warden.notify.templates import TemplateCatalogue
from warden.shared.clock import utcnow
from warden.shared.contracts.envelope import CloudEvent
from warden.shared.contracts.events import CaseRoutedV1, ReportNormalizedV1


def preview(templates: TemplateCatalogue, event: CloudEvent, payload: Any, *,
            locale: str | None, report: ReportFacts | None = None) -> list[dict[str, Any]]:
    if isinstance(payload, ReportNormalizedV1):
        values = report_values(event, payload)
        values["report_id"] = str(values["report_id"])
        values.pop("normalized_event_id")
        facts = ReportFacts(**values)
        notices = [n for n in (reporter_receipt(facts, subject_url=payload.subject.url),
                               authority_receipt(ReportFacts(**{**facts.__dict__,
                                                                "routed_at": utcnow()})))
                   if n]
    elif isinstance(payload, CaseRoutedV1):
        notices = []
    else:
        decision = decision_facts(payload)
        reports = [report] if report else [
            ReportFacts(report_id=r, channel="user", reporter_id="preview")
            for r in decision.report_ids]
        notices = decision_notices(decision, reports)
    out = []
    for notice in notices:
        if notice.kind is NoticeKind.TRANSPARENCY_STATEMENT:
            out.append({"notice": notice.kind.value, "audience": notice.audience.value,
                        "document": notice.document})
            continue
        rendered = templates.render(notice.kind, locale or notice.locale, notice.context)
        out.append({"notice": notice.kind.value, "audience": notice.audience.value,
                    **rendered.as_dict()})
    return out
