"""Accepting a report: the one path shared by ``POST /v1/reports``, the batch endpoint and
the ``reports.raw`` consumer.

Within the caller's transaction: check the client's scope, normalise, insert (or find the
first report on a resend) and stage ``warden.report.normalized.v1`` in the outbox, so a
report is stored if and only if its event will be published.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.intake import persistence
from warden.intake.access import ClientIdentity, require_submit
from warden.intake.channels import REPORT_ADAPTER, ChannelReport
from warden.intake.domain import fingerprint, normalize, problems_of
from warden.intake.models import Report
from warden.intake.submissions import Submissions
from warden.shared.bus.outbox import Outbox
from warden.shared.contracts.events import REPORT_NORMALIZED_V1, ReportNormalizedV1
from warden.shared.db import RETRYABLE_SQLSTATES, sqlstate_of
from warden.shared.errors import Forbidden, InvalidInput, TransientError

T = TypeVar("T")
# Deadlock and serialization failure: two batches inserting overlapping reports in
# different orders. Retrying the whole transaction is safe (nothing was committed).


class IdempotencyKeyReused(InvalidInput):
    """The key was used before for a different request (draft-ietf-httpapi-idempotency-key)."""

    title, type_slug = "Idempotency key reused", "idempotency-key-reused"


@dataclass(frozen=True)
class Outcome:
    report: Report | persistence.NewReport
    duplicate: bool
    normalized: ReportNormalizedV1 | None = None  # the canonical report, when new


def _prepare(outbox: Outbox, client: ClientIdentity, request: ChannelReport, *,
             idempotency_key: str | None, received_at: datetime, location: str,
             encoded: bool = False) -> tuple[ReportNormalizedV1, persistence.NewReport,
                                             dict[str, Any]]:
    """Scope checked, the canonical report, its row and its outbox row (no I/O)."""
    require_submit(client, request.channel)
    normalized = normalize(request, report_id=uuid.uuid4(), client_id=str(client.id),
                           received_at=received_at, location=location)
    row = persistence.new_report_row(normalized, idempotency_key=idempotency_key,
                                     fingerprint=fingerprint(request), encoded=encoded)
    event = outbox.event(type=REPORT_NORMALIZED_V1, key=normalized.subject.id,
                         payload=normalized)
    return normalized, row, outbox.row(event, key=normalized.subject.id)


async def accept(session: AsyncSession, outbox: Outbox, client: ClientIdentity,
                 request: ChannelReport, *, idempotency_key: str | None,
                 received_at: datetime, location: str = "body") -> Outcome:
    """Store a new report and stage its event, or return the first report of a resend."""
    normalized, row, event = _prepare(outbox, client, request, idempotency_key=idempotency_key,
                                      received_at=received_at, location=location)
    if await persistence.insert_report(session, row, event):
        await outbox.wake.after_commit(session)
        return Outcome(row, duplicate=False, normalized=normalized)
    return Outcome(await _first_report(session, client, row), duplicate=True)


async def accept_one(submissions: Submissions, sessions: async_sessionmaker[AsyncSession],
                     outbox: Outbox, client: ClientIdentity, request: ChannelReport, *,
                     idempotency_key: str | None, received_at: datetime) -> Outcome:
    """``accept`` for ``POST /v1/reports``: the same statement, on a plain asyncpg connection
    and shared with the submissions arriving at the same time (``submissions``: committed
    when it returns); a resend reads its first report through a session as before."""
    normalized, row, event = _prepare(outbox, client, request, idempotency_key=idempotency_key,
                                      received_at=received_at, location="body", encoded=True)
    if await submissions.insert(row, event):
        outbox.wake.committed()
        return Outcome(row, duplicate=False, normalized=normalized)
    async with sessions() as session:
        return Outcome(await _first_report(session, client, row), duplicate=True)


@dataclass(frozen=True)
class ItemResult:
    """What became of one item of a batch."""

    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    code: int
    report_id: uuid.UUID | None = None
    detail: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def _rejected(index: int, exc: InvalidInput | Forbidden) -> ItemResult:
    return ItemResult(index=index, status="rejected", code=exc.status, detail=exc.detail,
                      errors=exc.errors)


async def accept_batch(sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                       client: ClientIdentity, items: list[dict[str, Any]], *,
                       idempotency_key: str | None, received_at: datetime) -> list[ItemResult]:
    """Every item accepted, found to be a resend, or rejected with its reasons, in one
    transaction (a conflict is not an error under ON CONFLICT DO NOTHING, so one item's
    problem never aborts the others). Item *i* uses the key ``<key>:<i>``."""
    parsed: list[tuple[int, ChannelReport]] = []
    results: list[ItemResult] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, REPORT_ADAPTER.validate_python(item)))
        except ValidationError as exc:
            problems = problems_of(exc.errors())
            results.append(ItemResult(
                index=index, status="rejected", code=422, detail="the report is invalid",
                errors=[{"field": p.field, "message": p.message, "type": p.type}
                        for p in problems]))

    async def submit_all(session: AsyncSession) -> list[ItemResult]:
        submitted = []
        for index, report in parsed:
            key = f"{idempotency_key}:{index}" if idempotency_key else None
            try:
                outcome = await accept(session, outbox, client, report, idempotency_key=key,
                                       received_at=received_at, location="")
            except (InvalidInput, Forbidden) as exc:
                submitted.append(_rejected(index, exc))
                continue
            submitted.append(ItemResult(
                index=index, status="duplicate" if outcome.duplicate else "accepted",
                code=200 if outcome.duplicate else 201, report_id=outcome.report.id))
        return submitted

    results += await in_transaction(sessions, submit_all)
    return sorted(results, key=lambda r: r.index)


async def _first_report(session: AsyncSession, client: ClientIdentity,
                        row: persistence.NewReport) -> Report:
    if row.idempotency_key is not None:
        first = await persistence.find_by_idempotency_key(session, client.id, row.idempotency_key)
        if first is not None:
            if first.request_fingerprint != row.request_fingerprint:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for a different report; "
                    "use a new key for a new report",
                    errors=[{"field": "header.Idempotency-Key", "type": "reused",
                             "message": f"already used for report {first.id}"}])
            return first
    if row.external_id is not None:
        first = await persistence.find_by_external_id(session, client.id, row.channel,
                                                      row.external_id)
        if first is not None:
            return first
    # The conflicting row belonged to a transaction that has since rolled back.
    raise TransientError("a concurrent submission of this report did not complete; retry")


async def in_transaction(sessions: async_sessionmaker[AsyncSession],
                         work: Callable[[AsyncSession], Awaitable[T]], *,
                         attempts: int = 3) -> T:
    """Run ``work`` in one transaction, retried when PostgreSQL broke a deadlock."""
    for attempt in range(1, attempts + 1):
        try:
            async with sessions() as session, session.begin():
                return await work(session)
        except DBAPIError as exc:
            if sqlstate_of(exc) not in RETRYABLE_SQLSTATES or attempt == attempts:
                raise
    raise AssertionError("unreachable")
