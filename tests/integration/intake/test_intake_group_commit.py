"""Group commit of ``POST /v1/reports``: concurrent submissions share one statement, with the
single statement's guarantees. Each report is stored once with its one event; a report
PostgreSQL refuses costs the others of its statement nothing; an intake process killed
(SIGKILL) while a shared statement is half written loses nothing and doubles nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.e2e.harness import free_port, service_env, start_service, stop_service, wait_ready
from tests.integration.intake.conftest import intake_settings
from tests.support.apps import eventually, running
from tests.support.kafka import create_all_topics, read_events
from warden.intake.access import ALL_SCOPES
from warden.intake.app import MIGRATIONS, create_app
from warden.intake.examples import example
from warden.shared.apikeys.store import create_client
from warden.shared.bus.outbox import KEY_LOCK_SPACE
from warden.shared.contracts import topics
from warden.shared.contracts.events import REPORT_NORMALIZED_V1
from warden.shared.db import asyncpg_dsn, create_engine, session_factory

pytestmark = pytest.mark.asyncio(loop_scope="module")


def report_on(subject_id: str) -> dict:
    body = example("user")
    body["content"]["id"] = subject_id
    return body


async def _true(value: bool) -> bool:
    return value


def statements_so_far() -> tuple[float, float]:
    """(statements, reports they stored) of the group commit in this process so far."""
    return (REGISTRY.get_sample_value("warden_intake_reports_per_statement_count") or 0.0,
            REGISTRY.get_sample_value("warden_intake_reports_per_statement_sum") or 0.0)


async def stored(engine, subject_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per subject: (reports, outbox events)."""
    async with engine.connect() as conn:
        reports = dict((await conn.execute(sa.text(
            "SELECT subject_id, count(*) FROM reports WHERE subject_id = ANY(:s) "
            "GROUP BY subject_id"), {"s": subject_ids})).all())
        events = dict((await conn.execute(sa.text(
            "SELECT key, count(*) FROM outbox WHERE key = ANY(:s) GROUP BY key"),
            {"s": subject_ids})).all())
    return {s: (reports.get(s, 0), events.get(s, 0)) for s in subject_ids}


async def test_concurrent_submissions_share_statements_and_each_is_stored_once(intake):
    _, auth = await intake.new_client()
    run = uuid.uuid4().hex[:8]
    shared = f"post-shared-{run}"  # several reports on one subject, in one statement or more
    subjects = [shared if n % 6 == 0 else f"post-gc-{run}-{n}" for n in range(48)]
    before = statements_so_far()
    answers = await asyncio.gather(*(intake.http.post(
        "/v1/reports", json=report_on(s), headers={**auth, "Idempotency-Key": f"{run}-{n}"})
        for n, s in enumerate(subjects)))
    statements, reports = (after - b for after, b in zip(statements_so_far(), before))

    assert [a.status_code for a in answers] == [201] * len(subjects), \
        [a.text for a in answers if a.status_code != 201]
    assert reports == len(subjects) and statements < len(subjects) / 2, (statements, reports)
    counts = await stored(intake.runtime.engine, sorted(set(subjects)))
    assert counts[shared] == (subjects.count(shared),) * 2
    assert all(c == (1, 1) for s, c in counts.items() if s != shared), counts
    published = await read_events(intake.kafka, intake.topic(topics.REPORTS_NORMALIZED),
                                  expect=len(subjects), event_type=REPORT_NORMALIZED_V1,
                                  settle=1.0)
    ids = [str(e.payload().report_id) for e in published
           if e.payload().subject.id in set(subjects)]
    assert sorted(ids) == sorted(a.json()["id"] for a in answers)


async def test_a_report_postgresql_refuses_costs_the_others_of_its_statement_nothing(
        infra, make_database, topic_prefix):
    """One statement at a time (``submit_in_flight=1``): the first report goes alone (held on
    its subject's key lock until the others queued), the fifteen others share the next one, and one of them is refused (a
    CHECK on its subject's event). That statement is rolled back and its reports are tried
    one by one: the refused one alone fails, the others are stored once each."""
    await create_all_topics(infra.kafka, topic_prefix)
    settings = intake_settings(infra, await make_database("intake", MIGRATIONS), topic_prefix,
                               submit_in_flight=1)
    app = create_app(settings)
    run = uuid.uuid4().hex[:8]
    poison = f"post-refused-{run}"
    subjects = [f"post-ok-{run}-{n}" for n in range(15)] + [poison]
    async with running(app) as http:
        runtime = app.state.runtime
        _, key = await create_client(runtime.sessions, f"client-{run}", list(ALL_SCOPES),
                                     known_scopes=ALL_SCOPES)
        async with runtime.engine.begin() as conn:
            await conn.execute(sa.text(
                f"ALTER TABLE outbox ADD CONSTRAINT refuse_poison CHECK (key <> '{poison}')"))
        def post(n: int):
            return asyncio.create_task(http.post("/v1/reports", json=report_on(subjects[n]),
                                                 headers={"X-API-Key": key,
                                                          "Idempotency-Key": f"{run}-{n}"}))

        # The first report's statement waits on its subject's key lock, held here, until the
        # fifteen others have queued behind it: they then share the next statement.
        holder = await asyncpg.connect(asyncpg_dsn(settings.database_url))
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                             KEY_LOCK_SPACE, subjects[0])
        before = statements_so_far()
        first = post(0)
        await eventually(lambda: _true(statements_so_far()[0] > before[0]),
                         what="the first statement to start")
        others = [post(n) for n in range(1, len(subjects))]
        await eventually(lambda: _true(REGISTRY.get_sample_value(
            "warden_intake_submissions_waiting") == len(others)), what="the others to queue")
        await held.rollback()
        await holder.close()
        answers = [await first, *await asyncio.gather(*others)]
        statements, reports = (after - b for after, b in zip(statements_so_far(), before))
        counts = await stored(runtime.engine, subjects)

    codes = [a.status_code for a in answers]
    assert codes[:-1] == [201] * 15, [a.text for a in answers[:-1] if a.status_code != 201]
    assert codes[-1] >= 400, answers[-1].text
    assert counts == {**{s: (1, 1) for s in subjects[:-1]}, poison: (0, 0)}
    # The first alone, the fifteen others together (rolled back), then each of them alone.
    assert (statements, reports) == (1 + 1 + 15, 1 + 15 + 15)


async def test_intake_killed_in_the_middle_of_a_shared_statement_loses_and_doubles_nothing(
        infra, make_database, topic_prefix, tmp_path):
    """One statement at a time (``submit_in_flight=1``). A first report waits on a row an
    open transaction holds (the same Idempotency-Key) while nine more queue up; once it is
    let through, the nine share the next statement, which writes some of them and waits on
    another held row when intake is killed. Nothing of that statement was committed, so
    none of the nine was answered or stored; the client's retries (same keys) after the
    restart store each report exactly once, with one event each on ``reports.normalized``,
    and the first report stays as it was answered."""
    await create_all_topics(infra.kafka, topic_prefix)
    url = await make_database("intake", MIGRATIONS)
    engine = create_engine(url)
    run = uuid.uuid4().hex[:8]
    client_id, key = await create_client(session_factory(engine), f"client-{run}",
                                         list(ALL_SCOPES), known_scopes=ALL_SCOPES)
    port = free_port()
    env = service_env("intake", database_url=url, port=port, kafka=infra.kafka,
                      topic_prefix=topic_prefix, receiver_url="")
    env["WARDEN_INTAKE_SUBMIT_IN_FLIGHT"] = "1"
    gate = (f"post-gate-{run}", f"{run}-gate")
    batch = [(f"post-batch-{run}-{n}", f"{run}-batch-{n}") for n in range(9)]

    async def post(http: httpx.AsyncClient, subject: str, idempotency_key: str):
        try:
            return await http.post("/v1/reports", json=report_on(subject), timeout=60,
                                   headers={"X-API-Key": key, "Idempotency-Key": idempotency_key})
        except httpx.HTTPError as exc:
            return exc

    async def hold(idempotency_key: str) -> tuple[asyncpg.Connection, object]:
        """An open transaction holding a report row with this key (not committed)."""
        conn = await asyncpg.connect(asyncpg_dsn(url))
        held = conn.transaction()
        await held.start()
        await conn.execute(
            "INSERT INTO reports (id, client_id, channel, idempotency_key, request_fingerprint,"
            " subject_id, received_at, normalized) VALUES (gen_random_uuid(), $1, 'user', $2,"
            " 'other', 'elsewhere', now(), '{}')", client_id, idempotency_key)
        return conn, held

    async def waiting_statements(like: str) -> int:
        # Not on a holder's connection: inside a transaction pg_stat_activity stays as it
        # was when the transaction first read it.
        return await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE $1", like)

    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    holders = [await hold(gate[1]), await hold(batch[-1][1])]
    watcher = await asyncpg.connect(asyncpg_dsn(url))
    first = start_service("intake", env, port, tmp_path / "first")
    try:
        await wait_ready(first)
        async with httpx.AsyncClient(base_url=first.url) as http:
            gated = asyncio.create_task(post(http, *gate))
            async def gate_waits() -> bool:
                assert not gated.done(), gated.result()
                return bool(await waiting_statements("%new_report%"))

            await eventually(gate_waits, what="the first report's statement to wait")
            pending = [asyncio.create_task(post(http, s, k)) for s, k in batch]

            async def all_queued() -> bool:
                metrics = (await http.get("/metrics")).text
                return f"warden_intake_submissions_waiting {len(batch)}.0" in metrics

            await eventually(all_queued, what="the nine reports to queue")
            await holders[0][1].rollback()  # the first report goes through
            answered = await gated
            await eventually(lambda: waiting_statements("%WITH ORDINALITY%"),
                             what="the shared statement to wait on the held row")
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait(10)
            outcomes = await asyncio.gather(*pending)
        # PostgreSQL would notice the dead client only when it next writes to it; end the
        # statement now, as a failover or client_connection_check_interval would, so that
        # what it had written is rolled back (were it let through, it would commit all nine,
        # which the retries below would find: all or nothing either way).
        assert await watcher.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE '%WITH ORDINALITY%' "
            "AND pid <> pg_backend_pid()") == 1
        await holders[1][1].rollback()
    finally:
        stop_service(first)
        for conn in [watcher, *(conn for conn, _ in holders)]:
            await conn.close()
    assert isinstance(answered, httpx.Response) and answered.status_code == 201, answered
    assert not any(isinstance(o, httpx.Response) for o in outcomes), outcomes
    assert await stored(engine, [s for s, _ in batch]) == {s: (0, 0) for s, _ in batch}

    second = start_service("intake", env, port, tmp_path / "second")
    try:
        await wait_ready(second)
        async with httpx.AsyncClient(base_url=second.url) as http:
            retried = await asyncio.gather(*(post(http, s, k) for s, k in [gate, *batch]))
    finally:
        stop_service(second)
    assert [r.status_code for r in retried] == [200] + [201] * len(batch), retried
    assert retried[0].json()["id"] == answered.json()["id"]
    subjects = [s for s, _ in [gate, *batch]]
    assert await stored(engine, subjects) == {s: (1, 1) for s in subjects}
    published = await read_events(infra.kafka, f"{topic_prefix}{topics.REPORTS_NORMALIZED}",
                                  expect=len(subjects), event_type=REPORT_NORMALIZED_V1,
                                  settle=2.0)
    assert sorted(str(e.payload().report_id) for e in published) == \
        sorted(r.json()["id"] for r in retried)
    await engine.dispose()
