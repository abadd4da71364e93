"""Where the tests find Kafka and PostgreSQL.

Pure Python (no pytest import); the fixtures in ``conftest.py`` call:

* :func:`kafka_bootstrap` -> ``"host:port[,host:port...]"`` of a Kafka broker,
* :func:`postgres_admin_dsn` -> ``"postgresql://user:password@host:port/postgres"`` of a role that
  may ``CREATE DATABASE`` (asyncpg accepts it as is),
* :func:`wait_for_kafka` -> a cheap TCP check of a bootstrap string.

Each resource is resolved once per process, in this order:

1. an environment variable: ``WARDEN_TEST_KAFKA_BOOTSTRAP`` / ``WARDEN_TEST_POSTGRES_DSN``;
2. testcontainers, when a Docker engine answers ``docker info`` within 5 s (containers are started
   once per process and stopped at exit);
3. the project's local scripts ``deploy/local/kafka.sh start`` / ``deploy/local/postgres.sh start``
   (idempotent; they start nothing when the service already runs), then the local addresses
   ``127.0.0.1:${KAFKA_PORT:-9092}`` and ``127.0.0.1:${PGPORT_WARDEN:-54320}`` (role warden/warden).

``WARDEN_TEST_INFRA`` narrows step 2 and 3: ``auto`` (default), ``docker`` (only testcontainers)
or ``local`` (only the scripts; no Docker probe). When nothing works a :class:`RuntimeError` says
what is missing and how to fix it; nothing is ever skipped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = [
    "KAFKA_ENV",
    "POSTGRES_ENV",
    "INFRA_ENV",
    "REPO_ROOT",
    "kafka_bootstrap",
    "postgres_admin_dsn",
    "wait_for_kafka",
    "docker_available",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"

KAFKA_ENV = "WARDEN_TEST_KAFKA_BOOTSTRAP"
POSTGRES_ENV = "WARDEN_TEST_POSTGRES_DSN"
INFRA_ENV = "WARDEN_TEST_INFRA"

KAFKA_IMAGE = os.environ.get("WARDEN_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
POSTGRES_IMAGE = os.environ.get("WARDEN_TEST_POSTGRES_IMAGE", "postgres:16-alpine")

DOCKER_PROBE_TIMEOUT_S = 5.0
# The first Kafka start downloads the jars with Maven; later starts take a few seconds.
SCRIPT_TIMEOUT_S = float(os.environ.get("WARDEN_TEST_INFRA_SCRIPT_TIMEOUT", "600"))

_lock = threading.RLock()
_resolved: dict[str, str] = {}
_containers: list[Any] = []
_docker_state: tuple[bool, str] | None = None


# --------------------------------------------------------------------------- public API


def kafka_bootstrap() -> str:
    """Bootstrap servers of a Kafka broker usable by the tests (resolved once per process)."""
    return _resolve("kafka", KAFKA_ENV, _kafka_from_docker, _kafka_from_local_script)


def postgres_admin_dsn() -> str:
    """DSN of a PostgreSQL role allowed to CREATE DATABASE (resolved once per process)."""
    return _resolve("postgres", POSTGRES_ENV, _postgres_from_docker, _postgres_from_local_script)


def wait_for_kafka(bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until one of the ``host:port`` entries of *bootstrap* accepts a TCP connection.

    A cheap liveness check (no Kafka protocol). Raises :class:`TimeoutError` after *timeout* s.
    """
    addresses = _parse_bootstrap(bootstrap)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        for host, port in addresses:
            try:
                with socket.create_connection((host, port), timeout=min(2.0, max(timeout, 0.1))):
                    return
            except OSError as exc:
                last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"Kafka at {bootstrap!r} did not accept a TCP connection within {timeout:g}s "
                f"(last error: {last_error})"
            )
        time.sleep(0.2)


def docker_available() -> bool:
    """True when ``docker info`` succeeds within 5 s (checked once per process)."""
    return _docker_probe()[0]


# --------------------------------------------------------------------------- resolution


def _mode() -> str:
    mode = os.environ.get(INFRA_ENV, "auto").strip().lower() or "auto"
    if mode not in {"auto", "docker", "local"}:
        raise RuntimeError(f"{INFRA_ENV}={mode!r} is not one of: auto, docker, local")
    return mode


def _resolve(
    name: str,
    env_var: str,
    from_docker: Callable[[], str],
    from_local: Callable[[], str],
) -> str:
    with _lock:
        if name in _resolved:
            return _resolved[name]
        value = os.environ.get(env_var, "").strip()
        if value:
            _resolved[name] = value
            return value

        mode = _mode()
        problems: list[str] = [f"{env_var} is not set"]
        if mode in {"auto", "docker"}:
            ok, why = _docker_probe()
            if ok:
                try:
                    value = from_docker()
                except Exception as exc:  # noqa: BLE001 - reported below, then the next way is tried
                    problems.append(f"testcontainers failed: {type(exc).__name__}: {exc}")
                else:
                    _resolved[name] = value
                    return value
            else:
                problems.append(f"no Docker engine for testcontainers ({why})")
        else:
            problems.append(f"Docker not tried ({INFRA_ENV}=local)")

        if mode in {"auto", "local"}:
            try:
                value = from_local()
            except _LocalScriptError as exc:
                problems.append(str(exc))
            else:
                _resolved[name] = value
                return value
        else:
            problems.append(f"local scripts not tried ({INFRA_ENV}=docker)")

        raise RuntimeError(_failure_message(name, env_var, problems))


def _failure_message(name: str, env_var: str, problems: list[str]) -> str:
    if name == "kafka":
        what = "a Kafka broker"
        fixes = [
            f"point the tests at a running broker: export {env_var}=host:port",
            "or start the local one and read its error: deploy/local/kafka.sh start "
            "(needs Java 17+ and Maven, and Maven Central reachable on first use)",
            "or run the tests where a Docker engine answers `docker info` (testcontainers)",
        ]
    else:
        what = "a PostgreSQL server"
        fixes = [
            f"point the tests at a server: export {env_var}=postgresql://user:pass@host:port/postgres "
            "(a role with CREATEDB)",
            "or start the local one and read its error: deploy/local/postgres.sh start "
            "(needs Debian's postgresql package: sudo apt-get install -y postgresql)",
            "or run the tests where a Docker engine answers `docker info` (testcontainers)",
        ]
    lines = [f"The tests need {what} and found none:"]
    lines += [f"  - {p}" for p in problems]
    lines.append("Fix one of these:")
    lines += [f"  * {f}" for f in fixes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- docker / testcontainers


def _docker_probe() -> tuple[bool, str]:
    global _docker_state
    with _lock:
        if _docker_state is not None:
            return _docker_state
        docker = shutil.which("docker")
        if docker is None:
            _docker_state = (False, "the docker command is not installed")
            return _docker_state
        try:
            proc = subprocess.run(
                [docker, "info", "--format", "{{.ServerVersion}}"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=DOCKER_PROBE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            _docker_state = (False, f"`docker info` did not answer within {DOCKER_PROBE_TIMEOUT_S:g}s")
        except OSError as exc:
            _docker_state = (False, f"`docker info` could not run: {exc}")
        else:
            if proc.returncode == 0 and proc.stdout.strip():
                _docker_state = (True, f"Docker engine {proc.stdout.strip()}")
            else:
                detail = (proc.stderr or proc.stdout).strip().splitlines()
                _docker_state = (False, f"`docker info` failed: {detail[-1] if detail else proc.returncode}")
        return _docker_state


def _import_testcontainers(kind: str) -> Any:
    try:
        if kind == "kafka":
            try:
                from testcontainers.community.kafka import KafkaContainer  # testcontainers >= 4.14
            except ImportError:
                from testcontainers.kafka import KafkaContainer
            return KafkaContainer
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer
        return PostgresContainer
    except ImportError as exc:
        raise RuntimeError(
            f"the testcontainers package is not installed ({exc}); pip install 'testcontainers[kafka,postgres]'"
        ) from exc


def _register(container: Any) -> None:
    if not _containers:
        atexit.register(_stop_containers)
    _containers.append(container)


def _stop_containers() -> None:
    while _containers:
        container = _containers.pop()
        try:
            container.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


def _kafka_from_docker() -> str:
    KafkaContainer = _import_testcontainers("kafka")
    container = (
        KafkaContainer(KAFKA_IMAGE)
        .with_kraft()
        # Same behaviour as deploy/local/kafka.sh.
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .with_env("KAFKA_NUM_PARTITIONS", "3")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
    )
    _register(container)  # before start: a container that fails to get ready is stopped too
    container.start(timeout=120)
    bootstrap = container.get_bootstrap_server()
    wait_for_kafka(bootstrap, timeout=30)
    return bootstrap


def _postgres_from_docker() -> str:
    PostgresContainer = _import_testcontainers("postgres")
    container = PostgresContainer(POSTGRES_IMAGE, username="warden", password="warden", dbname="postgres")
    container.with_command("postgres -c max_connections=300")
    _register(container)
    container.start()
    host = container.get_container_host_ip()
    port = container.get_exposed_port(container.port)
    return f"postgresql://warden:warden@{host}:{port}/postgres"


# --------------------------------------------------------------------------- local scripts


class _LocalScriptError(Exception):
    pass


def _run_script(script: str) -> None:
    path = DEPLOY_LOCAL / script
    if not path.is_file():
        raise _LocalScriptError(f"{path} is missing")
    cmd = ["bash", str(path), "start"]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise _LocalScriptError(f"`deploy/local/{script} start` did not finish within {SCRIPT_TIMEOUT_S:g}s") from None
    except OSError as exc:
        raise _LocalScriptError(f"`deploy/local/{script} start` could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = "\n".join("      " + line for line in proc.stdout.strip().splitlines()[-15:])
        raise _LocalScriptError(f"`deploy/local/{script} start` exited with {proc.returncode}:\n{tail}")


def _kafka_from_local_script() -> str:
    _run_script("kafka.sh")
    bootstrap = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    try:
        wait_for_kafka(bootstrap, timeout=30)
    except TimeoutError as exc:
        raise _LocalScriptError(f"deploy/local/kafka.sh start succeeded but {exc}") from exc
    return bootstrap


def _postgres_from_local_script() -> str:
    _run_script("postgres.sh")
    port = os.environ.get("PGPORT_WARDEN", "54320")
    return f"postgresql://{quote('warden')}:{quote('warden')}@127.0.0.1:{port}/postgres"


def _parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    addresses: list[tuple[str, int]] = []
    for entry in bootstrap.split(","):
        entry = entry.strip()
        if not entry:
            continue
        if "://" in entry:  # e.g. PLAINTEXT://host:port
            entry = entry.split("://", 1)[1]
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"bad Kafka bootstrap entry {entry!r} in {bootstrap!r} (want host:port)")
        addresses.append((host.strip("[]") or "127.0.0.1", int(port)))
    if not addresses:
        raise ValueError(f"empty Kafka bootstrap string {bootstrap!r}")
    return addresses
