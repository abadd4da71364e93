"""The on-call command line against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from typer.testing import CliRunner

from tests.support.kafka import delete_prefixed_topics, produce, read_records
from warden.cli.app import app
from warden.shared.contracts import topics
from warden.cli.services import service

runner = CliRunner()


@pytest.fixture
def cli_env(infra, topic_prefix, monkeypatch):
    monkeypatch.setenv("WARDEN_KAFKA_BOOTSTRAP", infra.kafka)
    monkeypatch.setenv("WARDEN_TOPIC_PREFIX", topic_prefix)
    return topic_prefix


@pytest.fixture(autouse=True)
def logging_as_in_a_cli_process(monkeypatch):
    """A ``warden`` process configures no log handler: a warning goes to stderr (logging's
    last resort). Services started in this test process configured one on stdout, which would
    mix their lines into the command's output."""
    import logging

    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def invoke(*args: str) -> str:
    """What the command wrote to stdout (what a pipe such as ``| jq`` gets)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_dlq_inspect_shows_the_reason_and_replay_sends_the_original_back_once(cli_env, infra):
    source = f"{cli_env}{topics.CASES_SLA}"
    headers = [("ce_type", b"warden.case.sla.v1"),
               ("dlq.reason", b"record value is not JSON"),
               ("dlq.error.type", b"InvalidMessage"),
               ("dlq.original.topic", source.encode()),
               ("dlq.original.partition", b"0"), ("dlq.original.offset", b"7")]
    asyncio.run(produce(infra.kafka, topics.dlq(source), b"{broken", b"subject-1", headers))

    letters = [json.loads(line) for line in invoke("dlq", "inspect", topics.CASES_SLA).splitlines()]
    assert len(letters) == 1
    assert letters[0]["reason"] == "record value is not JSON"
    assert letters[0]["original"] == f"{source}[0]@7"
    assert letters[0]["value_preview"] == "{broken"

    assert "replayed 1 record" in invoke("dlq", "replay", topics.CASES_SLA)
    replayed = asyncio.run(read_records(infra.kafka, source, expect=1, timeout=10))
    assert replayed[0].value == b"{broken" and replayed[0].key == b"subject-1"
    assert [k for k, _ in replayed[0].headers] == ["ce_type"]
    # Progress is remembered: a second replay sends nothing again.
    assert "replayed 0 record" in invoke("dlq", "replay", topics.CASES_SLA)


def test_topics_command_is_idempotent(cli_env):
    assert "0 created" in invoke("topics")


def test_migrate_and_outbox_backlog_for_a_service(infra, make_database, monkeypatch):
    url = asyncio.run(_fresh_db(make_database))
    monkeypatch.setenv("WARDEN_DECISION_DATABASE_URL", url)
    assert "decision: migrated to head" in invoke("migrate", "decision")
    # The other services' databases are not there (named so: a local run may have made the
    # default ones on this server): the table says so and the exit is 1.
    absent = url.rsplit("/", 1)[0] + "/warden_absent_database"
    for other in ("INTAKE", "ROUTING", "NOTIFY"):
        monkeypatch.setenv(f"WARDEN_{other}_DATABASE_URL", absent)
    result = runner.invoke(app, ["outbox"], env={"COLUMNS": "200"})
    line = next(x for x in result.output.splitlines() if "decision" in x)
    assert "unpublished=0" in line
    assert result.exit_code == 1 and "unavailable" in result.output


async def _fresh_db(make_database) -> str:
    return await make_database("decision", service("decision").migrations)


def test_reviewer_token_is_accepted_by_the_services_decoder(monkeypatch):
    from warden.shared.auth import decode_reviewer_token

    secret = "a-test-secret-that-is-32-bytes-long!"
    monkeypatch.setenv("WARDEN_REVIEWER_TOKEN_SECRET", secret)
    monkeypatch.setenv("WARDEN_REVIEWER_TOKEN_KID", "2026-12")
    token = invoke("token", "--reviewer", "alice", "--skill", "child_safety").strip()
    reviewer = decode_reviewer_token({"2026-12": secret}, "2026-12", token, "decision")
    assert reviewer.id == "alice" and reviewer.skills == {"child_safety"}


def test_a_token_for_one_service_is_refused_by_another(monkeypatch):
    from warden.shared.auth import decode_reviewer_token
    from warden.shared.errors import Unauthorized

    secret = "a-test-secret-that-is-32-bytes-long!"
    monkeypatch.setenv("WARDEN_REVIEWER_TOKEN_SECRET", secret)
    token = invoke("token", "--reviewer", "alice", "--audience", "routing").strip()
    keys = {"local-dev": secret}
    assert decode_reviewer_token(keys, "local-dev", token, "routing").id == "alice"
    with pytest.raises(Unauthorized, match="warden-notify"):
        decode_reviewer_token(keys, "local-dev", token, "notify")
    with pytest.raises(Unauthorized, match="unknown key id 'local-dev'"):
        decode_reviewer_token({"old": secret}, "old", token, "routing")


# --- doctor -------------------------------------------------------------------------------

async def _all_databases(make_database, monkeypatch) -> None:
    from warden.cli.services import all_services

    for info in all_services():
        url = await make_database(info.name, info.migrations)
        monkeypatch.setenv(f"WARDEN_{info.name.upper()}_DATABASE_URL", url)


def test_doctor_passes_on_a_healthy_system_and_names_what_is_wrong(
        cli_env, infra, make_database, monkeypatch):
    asyncio.run(_all_databases(make_database, monkeypatch))
    monkeypatch.setenv("COLUMNS", "200")
    healthy = runner.invoke(app, ["doctor", "--no-http"])
    assert healthy.exit_code == 0, healthy.output
    from warden.shared.contracts.topics import all_topics_with_dlq
    # Kafka, each topic, each service's database (HTTP checks are off).
    expected = 1 + len(all_topics_with_dlq()) + 4
    assert f"all {expected} checks passed" in healthy.output

    # A topic with the wrong partition count, a database behind its migrations, a service
    # that does not answer: each is named and the exit status is 1.
    monkeypatch.setenv("WARDEN_TOPIC_PARTITIONS", "5")
    asyncio.run(_empty_database(make_database, monkeypatch))
    monkeypatch.setenv("WARDEN_DECISION_PORT", "1")
    broken = runner.invoke(app, ["doctor", "--timeout", "2"])
    assert broken.exit_code == 1
    lines = broken.output.splitlines()
    assert any(f"topic {cli_env}reports.normalized " in x and "3 partitions, configured 5" in x
               for x in lines), broken.output
    assert any("routing database" in x and "FAIL" in x and "migrations at none" in x
               for x in lines), broken.output
    assert any("decision service" in x and "FAIL" in x for x in lines), broken.output


async def _empty_database(make_database, monkeypatch) -> None:
    """A routing database whose schema is behind: no migration recorded as applied."""
    import sqlalchemy as sa

    from warden.shared.db import create_engine

    url = await make_database("routing", service("routing").migrations)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM alembic_version"))
    finally:
        await engine.dispose()
    monkeypatch.setenv("WARDEN_ROUTING_DATABASE_URL", url)


# --- reprocess ----------------------------------------------------------------------------

async def _seed_reports(make_database, monkeypatch) -> dict[str, object]:
    """Three reports in a fresh intake database: one routed into a case, two never routed."""
    import uuid
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from warden.intake import persistence
    from warden.intake.access import ALL_SCOPES
    from warden.shared.apikeys.store import create_client
    from warden.intake.settings import IntakeSettings
    from warden.shared.bus.outbox import Outbox
    from warden.shared.contracts.events import REPORT_NORMALIZED_V1, ReportNormalizedV1
    from warden.shared.db import create_engine, session_factory

    url = await make_database("intake", service("intake").migrations)
    monkeypatch.setenv("WARDEN_INTAKE_DATABASE_URL", url)
    engine = create_engine(url, pool_size=1)
    sessions = session_factory(engine)
    outbox = Outbox(IntakeSettings())
    client_id, _ = await create_client(sessions, "reprocess-test", ["submit:user"],
                                       known_scopes=ALL_SCOPES)
    case_id = uuid.uuid4()
    seeded = {}
    try:
        for name, received in (("routed", "2026-03-01T08:00:00Z"),
                               ("stuck-early", "2026-03-01T09:00:00Z"),
                               ("stuck-late", "2026-03-02T09:00:00Z")):
            report = ReportNormalizedV1.model_validate({
                "report_id": str(uuid.uuid4()), "client_id": str(client_id), "channel": "user",
                "received_at": received, "reporter": {"kind": "user", "id": "u-1"},
                "subject": {"type": "content", "id": f"post-{name}"},
                "policy_area": "hate_harassment", "category": "hate_speech",
                "dsa_category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH"})
            event = outbox.event(type=REPORT_NORMALIZED_V1, key=report.subject.id, payload=report)
            async with sessions.begin() as session:
                await persistence.insert_report(session, persistence.new_report_row(
                    report, idempotency_key=None, fingerprint=name),
                    outbox.row(event, key=report.subject.id))
            seeded[name] = report
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE reports SET case_id = :c, routed_at = :t "
                                       "WHERE id = :r"),
                               {"c": case_id, "t": datetime.now(UTC),
                                "r": seeded["routed"].report_id})
    finally:
        await engine.dispose()
    seeded["case_id"] = case_id
    return seeded


def test_reprocess_republishes_unrouted_reports_of_a_window_and_every_report_of_a_case(
        cli_env, infra, make_database, monkeypatch):
    from tests.support.kafka import read_events
    from warden.shared.contracts.events import REPORT_NORMALIZED_V1

    seeded = asyncio.run(_seed_reports(make_database, monkeypatch))
    topic = f"{cli_env}{topics.REPORTS_NORMALIZED}"

    dry = invoke("reprocess", "--since", "2026-03-01", "--until", "2026-03-02", "--dry-run")
    assert "would send 1 report(s)" in dry
    assert "sent 1 report(s)" in invoke("reprocess", "--since", "2026-03-01",
                                        "--until", "2026-03-02")
    assert "sent 1 report(s)" in invoke("reprocess", "--case", str(seeded["case_id"]))
    events = asyncio.run(read_events(infra.kafka, topic, expect=2, timeout=15, settle=1.0))
    assert [e.type for e in events] == [REPORT_NORMALIZED_V1] * 2
    assert sorted(e.data["report_id"] for e in events) == sorted(
        str(seeded[name].report_id) for name in ("stuck-early", "routed"))
    assert {e.subject for e in events} == {"post-stuck-early", "post-routed"}
    assert len({e.id for e in events}) == 2 and all(e.correlationid for e in events)

    unknown = runner.invoke(app, ["reprocess", "--case", "00000000-0000-0000-0000-000000000000"])
    assert unknown.exit_code == 1
    assert runner.invoke(app, ["reprocess"]).exit_code == 1


def test_topics_are_created_with_min_insync_replicas_and_described(infra, monkeypatch):
    prefix = f"t{uuid.uuid4().hex[:10]}."
    monkeypatch.setenv("WARDEN_KAFKA_BOOTSTRAP", infra.kafka)
    monkeypatch.setenv("WARDEN_TOPIC_PREFIX", prefix)
    # More than the single test broker can hold in sync: proves the topic's own setting is
    # used, not the broker's default of 1.
    monkeypatch.setenv("WARDEN_TOPIC_MIN_INSYNC_REPLICAS", "2")
    try:
        assert f"{len(topics.all_topics_with_dlq())} created" in invoke("topics")
        described = invoke("topics", "describe").splitlines()
    finally:
        asyncio.run(delete_prefixed_topics(infra.kafka, prefix))
    assert len(described) == len(topics.all_topics_with_dlq())
    line = next(line for line in described if line.startswith(f"{prefix}{topics.CASES_SLA} "))
    assert line.split()[1:] == ["partitions=3", "replication=1", "min.insync.replicas=2"]
