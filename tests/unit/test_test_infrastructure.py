"""The tests' way to Kafka and PostgreSQL through testcontainers (tests/support/infra.py):
without a Docker engine it fails loudly instead of skipping, and what it calls exists in the
installed testcontainers (the path cannot run here, so its API is checked, not faked)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

from tests.support import infra


def resolve_in_a_fresh_process(what: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in (infra.KAFKA_ENV, infra.POSTGRES_ENV, infra.INFRA_ENV)}
    return subprocess.run([sys.executable, "-c", f"from tests.support import infra; "
                                                 f"print(infra.{what}())"],
                          env={**clean, **env}, cwd=infra.REPO_ROOT, capture_output=True,
                          text=True, timeout=60)


def test_docker_mode_without_an_engine_fails_and_says_how_to_fix_it():
    for what in ("kafka_bootstrap", "postgres_admin_dsn"):
        # No docker command on PATH: the probe answers at once, nothing is started.
        done = resolve_in_a_fresh_process(what, WARDEN_TEST_INFRA="docker", PATH="/nonexistent")
        assert done.returncode != 0
        assert "no Docker engine for testcontainers" in done.stderr, done.stderr
        assert "local scripts not tried (WARDEN_TEST_INFRA=docker)" in done.stderr
        assert "Fix one of these" in done.stderr


def test_an_address_in_the_environment_wins_over_docker():
    done = resolve_in_a_fresh_process("kafka_bootstrap", WARDEN_TEST_INFRA="docker",
                                      PATH="/nonexistent",
                                      WARDEN_TEST_KAFKA_BOOTSTRAP="broker.test:9092")
    assert done.returncode == 0 and done.stdout.strip() == "broker.test:9092", done.stderr


def test_the_testcontainers_api_the_fixtures_use_exists():
    kafka = infra._import_testcontainers("kafka")
    postgres = infra._import_testcontainers("postgres")
    for method in ("with_kraft", "with_env", "start", "get_bootstrap_server", "stop"):
        assert callable(getattr(kafka, method, None)), method
    assert "timeout" in inspect.signature(kafka.start).parameters
    assert {"username", "password", "dbname"} <= set(
        inspect.signature(postgres.__init__).parameters)
    for method in ("with_command", "start", "get_container_host_ip", "get_exposed_port"):
        assert callable(getattr(postgres, method, None)), method
    # with_kraft refuses Confluent images older than its minimum: the default image passes.
    image_tag = infra.KAFKA_IMAGE.split(":")[-1]
    from testcontainers.core.version import ComparableVersion
    assert ComparableVersion(image_tag) >= kafka.MIN_KRAFT_TAG
