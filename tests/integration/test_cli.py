"""The on-call command line against real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from typer.testing import CliRunner

from tests.support.kafka import delete_prefixed_topics, produce, read_records
from warden.shared.cli import app
from warden.shared.contracts import topics
from warden.shared.services import service

runner = CliRunner()


@pytest.fixture
def cli_env(infra, topic_prefix, monkeypatch):
    monkeypatch.setenv("WARDEN_KAFKA_BOOTSTRAP", infra.kafka)
    monkeypatch.setenv("WARDEN_TOPIC_PREFIX", topic_prefix)
    return topic_prefix


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


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
    output = invoke("outbox")
    line = next(x for x in output.splitlines() if x.startswith("decision"))
    assert "unpublished=0" in line


async def _fresh_db(make_database) -> str:
    return await make_database("decision", service("decision").migrations)


def test_reviewer_token_is_accepted_by_the_services_decoder(monkeypatch):
    from warden.shared.auth import decode_reviewer_token

    monkeypatch.setenv("WARDEN_REVIEWER_TOKEN_SECRET", "a-test-secret-that-is-32-bytes-long!")
    token = invoke("token", "--reviewer", "alice", "--skill", "child_safety").strip()
    reviewer = decode_reviewer_token("a-test-secret-that-is-32-bytes-long!", token)
    assert reviewer.id == "alice" and reviewer.skills == {"child_safety"}


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
