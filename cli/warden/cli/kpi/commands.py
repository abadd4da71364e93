"""``warden kpi``: keep the event archive up to date and write KPI reports from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from warden.cli.console import console, example, fail, moment, progress, run
from warden.shared.clock import utcnow
from warden.shared.settings import ServiceSettings

app = typer.Typer(help="KPIs from the event archive: archive the topics, write reports.",
                  no_args_is_help=True)

ArchiveOption = Annotated[Path | None, typer.Option(
    "--archive", help="DuckDB archive file (default: WARDEN_KPI_ARCHIVE or "
                      ".local/kpi/warden-kpi.duckdb)")]


@app.command("archive", epilog=example("bin/warden kpi archive",
                                       "bin/warden kpi archive --from-beginning  # re-read all"))
def archive(archive: ArchiveOption = None,
            from_beginning: Annotated[bool, typer.Option(
                help="re-read every topic from its first retained offset (still no duplicates)")]
            = False) -> None:
    """Append every new event of the business topics to the archive (idempotent: an event already archived is never counted twice)."""  # noqa: E501
    from warden.cli.kpi.archive import archive_path, archive_topics, open_archive

    path = archive_path(archive)
    connection = open_archive(path)
    try:
        with progress() as bar:
            task = bar.add_task("archiving events", total=None)
            outcome = run(archive_topics(
                connection, ServiceSettings(), from_beginning=from_beginning,
                on_start=lambda total: bar.update(task, total=total),
                on_progress=lambda n: bar.advance(task, n)))
        total = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        connection.close()
    console().print(f"archive {path}: read {outcome.read}, added {outcome.added}, "
                    f"unreadable {outcome.unreadable}, total {total} events")
    for topic, added in sorted(outcome.per_topic.items()):
        console().print(f"  {topic}: +{added}")


def _default_output(fmt: str) -> Path:
    return Path(f"warden-kpi-report.{fmt}")


@app.command("report", epilog=example(
    "bin/warden kpi report --since 2026-03-01 --until 2026-04-01 --format html",
    "bin/warden kpi report --since 2026-03-01 --format png --output march.png",
    "bin/warden kpi report --format json   # the last 7 days"))
def report(
    since: Annotated[datetime | None, typer.Option(
        parser=moment, metavar="ISO-TIME", help="window start (default: 7 days before --until)")]
    = None,
    until: Annotated[datetime | None, typer.Option(
        parser=moment, metavar="ISO-TIME", help="window end, exclusive (default: now)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, md, png or json")] = "html",
    output: Annotated[Path | None, typer.Option(
        help="file to write (default: warden-kpi-report.<format>)")] = None,
    archive: ArchiveOption = None,
) -> None:
    """Compute every KPI for the window from the archive and write a report with charts."""
    from warden.cli.kpi.archive import archive_path, open_archive
    from warden.cli.kpi.queries import compute
    from warden.cli.kpi.report import FORMATS, write_report

    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    until = until or utcnow()
    since = since or until - timedelta(days=7)
    if until <= since:
        fail("--until must be after --since")
    try:
        connection = open_archive(archive_path(archive), read_only=True)
    except FileNotFoundError as exc:
        fail(str(exc))
    target = output or _default_output(fmt)
    with progress() as bar:
        from warden.cli.kpi.charts import CHARTS

        querying = bar.add_task("computing the KPIs", total=1)
        try:
            figures = compute(connection, since, until)
        finally:
            connection.close()
        bar.advance(querying)
        steps = len(CHARTS) if fmt in ("html", "md") else 1
        task = bar.add_task(f"rendering {fmt}", total=steps)
        written = write_report(figures, since=since, until=until, fmt=fmt, output=target,
                               step=lambda what: bar.advance(task))
        bar.update(task, completed=steps)  # json and png write in one go, without steps
    for path in written:
        console().print(f"wrote {path}")
