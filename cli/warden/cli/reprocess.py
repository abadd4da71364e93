"""``warden reprocess``: send reports from intake's store through the pipeline again.

Intake's ``reports`` table keeps every accepted report in canonical form, so it is the
place to recover from: a ``reports.normalized`` event lost to a purged DLQ, a topic past its
retention, or a downstream database restored from an older backup. Each report is published
again as a fresh ``warden.report.normalized.v1`` event (new event id, same report id, keyed
by the subject). Downstream stays idempotent per report: routing skips a report it already
placed in a case, so re-sending is safe, and by default only reports that never reached a
case are sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
import typer

from warden.cli.console import console, example, fail, moment, progress, run
from warden.cli.services import service

app = typer.Typer()


def _selection(case: uuid.UUID | None, since: datetime | None, until: datetime | None,
               include_routed: bool) -> sa.TextClause:
    clauses = []
    if case is not None:
        clauses.append("case_id = :case_id")
    if since is not None:
        clauses.append("received_at >= :since")
    if until is not None:
        clauses.append("received_at < :until")
    if not include_routed and case is None:
        clauses.append("routed_at IS NULL")
    return sa.text("SELECT id, subject_id, normalized FROM reports WHERE "
                   + " AND ".join(clauses) + " ORDER BY received_at, id")


async def reprocess_reports(*, case: uuid.UUID | None, since: datetime | None,
                            until: datetime | None, include_routed: bool,
                            dry_run: bool) -> int:
    from warden.shared.bus.kafka import create_producer, start_with_retry
    from warden.shared.bus.outbox import kafka_headers
    from warden.shared.contracts.envelope import new_event
    from warden.shared.contracts.events import (
        REPORT_NORMALIZED_V1,
        ReportNormalizedV1,
        topic_for,
    )
    from warden.shared.db import create_engine

    settings = service("intake").settings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(
                _selection(case, since, until, include_routed),
                {"case_id": case, "since": since, "until": until})).all()
    finally:
        await engine.dispose()
    if dry_run or not rows:
        return len(rows)
    producer = create_producer(settings.kafka_bootstrap, "warden-reprocess")
    await start_with_retry(producer, "reprocess producer", attempts=3)
    topic = settings.topic(topic_for(REPORT_NORMALIZED_V1))
    try:
        with progress() as bar:
            task = bar.add_task(f"reprocess → {topic}", total=len(rows))
            for row in rows:
                event = new_event(type=REPORT_NORMALIZED_V1, source=settings.source,
                                  subject=row.subject_id,
                                  payload=ReportNormalizedV1.model_validate(row.normalized),
                                  correlation_id=f"reprocess-{uuid.uuid4()}")
                await producer.send_and_wait(
                    topic, value=event.to_bytes(), key=row.subject_id.encode(),
                    headers=[(k, v.encode()) for k, v in kafka_headers(event).items()])
                bar.advance(task)
    finally:
        await producer.stop()
    return len(rows)


@app.command(epilog=example(
    "bin/warden reprocess --since 2026-03-01T00:00Z --until 2026-03-01T06:00Z",
    "bin/warden reprocess --case 6f1c...   # every report of one case",
    "bin/warden reprocess --since 2026-03-01 --include-routed --dry-run"))
def reprocess(
    case: Annotated[uuid.UUID | None, typer.Option(help="every report of this case")] = None,
    since: Annotated[datetime | None, typer.Option(
        parser=moment, metavar="ISO-TIME", help="reports received at or after (UTC default)")]
    = None,
    until: Annotated[datetime | None, typer.Option(
        parser=moment, metavar="ISO-TIME", help="reports received before")] = None,
    include_routed: Annotated[bool, typer.Option(
        help="also reports already placed in a case (after restoring a downstream database)")]
    = False,
    dry_run: Annotated[bool, typer.Option(help="only count what would be sent")] = False,
) -> None:
    """Publish the reports of a case or a time range from intake's store again as fresh reports.normalized events (routing skips reports it already placed)."""  # noqa: E501
    if case is None and since is None and until is None:
        fail("say what to reprocess: --case, or --since/--until")
    if since and until and until <= since:
        fail("--until must be after --since")
    count = run(reprocess_reports(case=case, since=since, until=until,
                                  include_routed=include_routed, dry_run=dry_run))
    verb = "would send" if dry_run else "sent"
    console().print(f"reprocess: {verb} {count} report(s)")
    if case is not None and count == 0:
        fail(f"intake knows no report of case {case}")

