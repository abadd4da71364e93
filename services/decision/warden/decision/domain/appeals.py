"""Appeals (DSA Art. 20): the window, who may appeal what, and who may not decide it."""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime
from typing import Literal

from warden.decision.domain.cases import APPEAL, FINAL, REVERSED
from warden.shared.contracts.events import Subject
from warden.shared.errors import Conflict, Forbidden, NotFound

APPEAL_WINDOW_MONTHS = 6  # DSA Art. 20(1): at least six months


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it has no such day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def appeal_deadline(decided_at: datetime, notified_at: datetime | None) -> datetime:
    """Six months from notification; until notify reports one, from the decision."""
    return add_months(notified_at or decided_at, APPEAL_WINDOW_MONTHS)


AppellantKind = Literal["affected_user", "reporter"]


def check_appeal(*, decision_id: uuid.UUID, status: str | None, stage: str | None,
                 subject: Subject | None, restricts_anything: bool, appellant_id: str,
                 appellant_kind: AppellantKind, deadline: datetime | None,
                 now: datetime) -> None:
    """Eligibility, answered at once: 404 unknown, 403 not entitled, 409 too late."""
    if status is None or status not in (FINAL, REVERSED) or subject is None:
        raise NotFound(f"no final decision {decision_id}")
    if stage == APPEAL:
        raise Conflict(f"decision {decision_id} already decided an appeal; it cannot be "
                       "appealed again here")
    if status == REVERSED:
        raise Conflict(f"decision {decision_id} was already reversed on appeal")
    if appellant_kind == "affected_user":
        if appellant_id not in {subject.id if subject.type == "account" else None,
                                subject.owner_id} - {None}:
            raise Forbidden(f"{appellant_id!r} is not the user affected by decision "
                            f"{decision_id}")
    elif restricts_anything:
        raise Forbidden("a reporter may appeal only a decision to take no action")
    if deadline is not None and now > deadline:
        raise Conflict(f"the appeal window closed at {deadline.isoformat()}",
                       errors=[{"field": "body.decision_id", "type": "appeal_window_closed",
                                "message": f"appeals were open until {deadline.isoformat()}"}])


def excluded_from_appeal(decided_by: str | None, approved_by: str | None) -> list[str]:
    return [r for r in (decided_by, approved_by) if r]
