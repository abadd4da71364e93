"""HTTP API for upstream systems: submit reports (one or a batch), read their status.

A new report answers 201 with ``Location``; a resend (same ``Idempotency-Key``, or the
same channel external id such as an order reference or notice id) answers 200 with the
first report, ``"duplicate": true`` and the header ``Idempotent-Replayed: true``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from warden.intake import persistence
from warden.intake.access import may_submit_anything, require_read
from warden.intake.channels import ReportRequest
from warden.intake.domain import ReportStatus, problems_of, report_status
from warden.intake.examples import openapi_examples
from warden.intake.models import Report
from warden.intake.persistence import NewReport
from warden.intake.service import accept_batch, accept_one
from warden.intake.submissions import SUBMISSIONS
from warden.shared.clock import utcnow
from warden.shared.apikeys.gate import CurrentClient
from warden.shared.contracts.events import Channel, ReportNormalizedV1
from warden.shared.contracts.taxonomy import CATEGORIES
from warden.shared.dependencies import RuntimeDep
from warden.shared.errors import Forbidden, NotFound
from warden.shared.openapi import problem_responses
from warden.shared.problems import validation_problem

router = APIRouter(prefix="/v1", tags=["reports"])
BATCH_MAX = 500
REPLAYED_HEADER = "Idempotent-Replayed"
EXAMPLES = openapi_examples()


IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=200,
    description="a resend with the same key (per client) returns the first report")]


class RoutingState(BaseModel):
    case_id: uuid.UUID
    queue: str
    routed_at: datetime


class DecisionState(BaseModel):
    decision_id: uuid.UUID
    action: str
    decided_at: datetime


class ReportOut(BaseModel):
    id: uuid.UUID
    channel: Channel
    status: ReportStatus = Field(description="received → routed → decided → notified")
    duplicate: bool = Field(False, description="true when this answers a resend")
    received_at: datetime
    external_id: str | None
    routing: RoutingState | None
    decision: DecisionState | None
    notified_at: datetime | None
    report: ReportNormalizedV1 = Field(description="the canonical report")

    @classmethod
    def of(cls, row: Report | NewReport, *, duplicate: bool = False,
           report: ReportNormalizedV1 | None = None) -> ReportOut:
        """``report``: the canonical report when at hand (else read from ``row.normalized``)."""
        routing = (RoutingState(case_id=row.case_id, queue=row.queue, routed_at=row.routed_at)
                   if row.routed_at and row.case_id and row.queue else None)
        decision = (DecisionState(decision_id=row.decision_id, action=row.action,
                                  decided_at=row.decided_at)
                    if row.decided_at and row.decision_id and row.action else None)
        return cls(id=row.id, channel=Channel(row.channel), duplicate=duplicate,
                   status=report_status(routed_at=row.routed_at, decided_at=row.decided_at,
                                        notified_at=row.notified_at),
                   received_at=row.received_at, external_id=row.external_id, routing=routing,
                   decision=decision, notified_at=row.notified_at,
                   report=report or ReportNormalizedV1.model_validate(row.normalized))


class BatchRequest(BaseModel):
    reports: list[dict[str, Any]] = Field(
        min_length=1, max_length=BATCH_MAX,
        description="each item is a report exactly as POST /v1/reports takes it")


class FieldError(BaseModel):
    field: str
    message: str
    type: str = ""


class BatchItemResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    report_id: uuid.UUID | None = Field(None, description="the new or the first report")
    code: int = Field(description="the HTTP status this item alone would have got")
    detail: str | None = None
    errors: list[FieldError] = []


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[BatchItemResult]


class CategoryOut(BaseModel):
    code: str
    label: str
    policy_area: str
    dsa_category: str
    severity: int


def invalid_input(errors: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """The 422 naming each field by its path in the report (without pydantic's channel tag)."""
    return validation_problem([{"field": p.field, "message": p.message, "type": p.type}
                               for p in problems_of(errors)], path)


_SUBMIT_ERRORS = problem_responses(401, 403, 413, 415, 422, 429, 503)


@router.post(
    "/reports", status_code=201, response_model=ReportOut, summary="Submit one report",
    responses={
        201: {"description": "A new report", "headers": {
            "Location": {"schema": {"type": "string"}, "description": "the report's URL"}}},
        200: {"model": ReportOut, "description": "A resend: the first report, unchanged",
              "headers": {REPLAYED_HEADER: {"schema": {"type": "string", "enum": ["true"]}}}},
        **_SUBMIT_ERRORS,
    },
)
async def submit_report(report: Annotated[ReportRequest, Body(openapi_examples=EXAMPLES)],
                        client: CurrentClient, rt: RuntimeDep,
                        idempotency_key: IdempotencyKey = None) -> Response:
    outcome = await accept_one(rt.extras[SUBMISSIONS], rt.sessions, rt.outbox, client, report,
                               idempotency_key=idempotency_key, received_at=utcnow())
    # Encoded once, by pydantic, from the canonical report at hand (not re-read or re-validated).
    body = ReportOut.of(outcome.report, duplicate=outcome.duplicate,
                        report=outcome.normalized).model_dump_json()
    if outcome.duplicate:
        return Response(body, status_code=200, media_type="application/json",
                        headers={REPLAYED_HEADER: "true"})
    return Response(body, status_code=201, media_type="application/json",
                    headers={"Location": f"/v1/reports/{outcome.report.id}"})


@router.post("/reports/batch", response_model=BatchOut, summary="Submit up to 500 reports",
             responses=_SUBMIT_ERRORS)
async def submit_batch(batch: BatchRequest, client: CurrentClient, rt: RuntimeDep,
                       idempotency_key: IdempotencyKey = None) -> BatchOut:
    """Each item is accepted, a duplicate (with the first report's id) or rejected with its
    reasons; one bad item never sinks the others. With an ``Idempotency-Key``, item *i*
    uses the key ``<key>:<i>``, so resending the same batch returns the same reports."""
    if not may_submit_anything(client):
        raise Forbidden(f"client {client.name!r} may not submit reports")
    items = await accept_batch(rt.sessions, rt.outbox, client, batch.reports,
                               idempotency_key=idempotency_key, received_at=utcnow())
    results = [BatchItemResult(index=i.index, status=i.status, code=i.code,
                               report_id=i.report_id, detail=i.detail,
                               errors=[FieldError(**e) for e in i.errors]) for i in items]
    return BatchOut(accepted=sum(r.status == "accepted" for r in results),
                    duplicates=sum(r.status == "duplicate" for r in results),
                    rejected=sum(r.status == "rejected" for r in results), results=results)


@router.get("/reports/{report_id}", response_model=ReportOut, summary="Read a report's status",
            responses=problem_responses(401, 403, 404, 422, 429))
async def read_report(report_id: uuid.UUID, client: CurrentClient, rt: RuntimeDep) -> ReportOut:
    require_read(client)
    async with rt.sessions() as session:
        row = await persistence.get_report(session, report_id, client.id)
    if row is None:
        # Another client's report is "not found" too: its existence is not ours to reveal.
        raise NotFound(f"no report {report_id}")
    return ReportOut.of(row)


@router.get("/taxonomy", response_model=list[CategoryOut], summary="Categories and DSA mapping")
async def taxonomy() -> list[CategoryOut]:
    return [CategoryOut(code=c.code, label=c.label, policy_area=c.area.value,
                        dsa_category=c.dsa.value, severity=c.severity)
            for c in CATEGORIES.values()]
