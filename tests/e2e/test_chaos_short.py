"""The fault suite's short form: the four services as processes under the local supervisor,
on a Kafka broker and a PostgreSQL server of the suite's own (ports 19292 and 19432, data in
``.local-chaos``), under a steady load of reports and reviewer decisions, through a kill -9
of routing, poison records on every topic and a broker restart.

The full form is ``make chaos``. This test runs in ``make test`` (and ``make chaos-short``
runs it alone). It brings up and stops its own infrastructure whatever happens; the shared
broker and database of the rest of the suite are not touched. Infrastructure that cannot
start fails the test (never a skip). The table and the JSON of the run are written to
``chaos-results/`` and the services' logs beside them, to read after a failure.
"""

from __future__ import annotations

import json

import pytest

from chaos.infra import KafkaNode, Postgres, Scripts
from chaos.config import short_config
from chaos.report import render_table
from chaos.run import run_suite

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_short_fault_suite_loses_and_doubles_nothing():
    config = short_config()
    try:
        runner, out = await run_suite(config)
    finally:
        # Whatever happened, nothing the suite started keeps running.
        scripts = Scripts(log=config.out_dir / "cleanup.log")
        for stop in (KafkaNode(scripts).stop, Postgres(scripts).stop):
            try:
                await stop()
            except Exception as exc:  # noqa: BLE001 - the other one is stopped regardless
                print(f"cleanup: {exc}")
    table = render_table(runner.results, runner.tallies)
    print(table)
    document = json.loads(out.read_text())
    assert [p["fault"]["name"] for p in document["phases"]] == \
        [f.name for s in config.scenarios for f in s.faults]
    failed = {p["fault"]["name"]: {k: p[k] for k in ("lost", "doubled", "fault_checks_missing",
                                                     "recovered_after_s", "error",
                                                     "server_error_samples")}
              for p in document["phases"] if not p["passed"]}
    assert not failed, f"\n{table}\n{json.dumps(failed, indent=2)}"
    for phase in document["phases"]:
        assert phase["accepted_reports"] > 0, phase["fault"]["name"]
        # A 503 while a dependency is away is an answer; any other 5xx is a defect.
        assert phase["http_5xx"] == phase["http_503"], phase["server_error_samples"]
    kill = document["phases"][0]
    assert any(e["program"] == "routing" and e["event"] == "restarting"
               for e in kill["supervisor_events"]), "the supervisor did not restart routing"
