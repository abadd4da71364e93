"""The app factory every service uses: lifespan, ops endpoints, error mapping, middleware.

A service supplies its settings, routers and a ``wire`` function that builds its
consumers and background workers from the runtime; nothing is wired at import time.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from warden.shared.bus.consumer import ConsumerRunner
from warden.shared.bus.kafka import Publisher, ensure_topics
from warden.shared.bus.outbox import Outbox, OutboxRelay
from warden.shared.contracts.topics import all_topics_with_dlq
from warden.shared.db import create_engine, session_factory
from warden.shared.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    configure_logging,
    correlation_id_var,
    get_logger,
)
from warden.shared.openapi import document_problems
from warden.shared.problems import exception_response, install_problem_handlers
from warden.shared.settings import InsecureConfiguration, ServiceSettings
from warden.shared.tracing import configure_tracing, shutdown_tracing, tracer_provider

log = get_logger(__name__)


class Worker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """Everything a running service holds; reachable from routes as ``request.app.state.runtime``."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: Publisher  # dead letters; the outbox relay has a publisher of its own
    outbox: Outbox
    relay: OutboxRelay | None = None
    consumers: list[ConsumerRunner] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def consumer(self, name: str, topics: list[str], handlers: dict, **kwargs) -> ConsumerRunner:
        """Build a consumer runner bound to this runtime (used by services' ``wire``)."""
        return ConsumerRunner(name=name, topics=topics, handlers=handlers, settings=self.settings,
                              sessions=self.sessions, producer=self.producer, **kwargs)


Wire = Callable[[Runtime], Awaitable[None] | None]


def create_service_app(settings: ServiceSettings, *, title: str, description: str,
                       routers: Iterable[APIRouter], wire: Wire | None = None,
                       version: str = "1.0.0") -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        try:
            settings.require_secure()
        except InsecureConfiguration as exc:
            log.error("insecure_configuration", detail=str(exc))
            raise
        configure_tracing(settings.service_name, settings.otlp_endpoint)
        runtime = await _start_runtime(settings, wire)
        app.state.runtime = runtime
        # Everything loaded at start-up (modules, models, compiled statements) stays for the
        # life of the process: moved out of the collector's reach, the full collections that
        # requests and events trigger no longer walk it again each time.
        gc.collect()
        gc.freeze()
        log.info("service_started", host=settings.host, port=settings.port,
                 consumers=[c.consumer_id for c in runtime.consumers])
        try:
            yield
        finally:
            gc.unfreeze()  # what start-up held may be garbage now (a test starts many apps)
            await _stop_runtime(runtime)
            shutdown_tracing(settings.service_name)
            log.info("service_stopped")

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    # Server spans continue an incoming traceparent; probes and scrapes are not traced, nor
    # each ASGI send/receive inside a request (two child spans per request, for no insight).
    FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider(settings.service_name),
                                       excluded_urls="healthz,readyz,metrics",
                                       exclude_spans=["receive", "send"])
    app.include_router(ops_router())
    for router in routers:
        app.include_router(router)
    return app


async def _start_runtime(settings: ServiceSettings, wire: Wire | None) -> Runtime:
    engine = create_engine(settings.database_url, settings.db_pool_size)
    producer = Publisher(settings.kafka_bootstrap, f"warden-{settings.service_name}")
    runtime = Runtime(settings=settings, engine=engine, sessions=session_factory(engine),
                      producer=producer, outbox=Outbox(settings))
    try:
        await producer.start()
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap,
                                [settings.topic(t) for t in all_topics_with_dlq()],
                                settings.topic_partitions, settings.topic_replication,
                                settings.min_insync_replicas)
        relay_publisher = Publisher(settings.kafka_bootstrap,
                                    f"warden-{settings.service_name}-outbox")
        runtime.relay = OutboxRelay(engine, relay_publisher, settings)  # stops the publisher
        runtime.outbox.wake.in_process(runtime.relay.wake)
        await relay_publisher.start()
        await runtime.relay.start()
        if wire is not None:
            result = wire(runtime)
            if result is not None:
                await result
        if settings.consumers_enabled:
            for consumer in runtime.consumers:
                await consumer.start()
        for worker in runtime.workers:
            await worker.start()
    except BaseException:
        await _stop_runtime(runtime)
        raise
    return runtime


async def _stop_runtime(runtime: Runtime) -> None:
    """Stop in reverse order of start; every step runs even if an earlier one fails."""
    steps = [*reversed(runtime.workers), *reversed(runtime.consumers)]
    if runtime.relay:
        steps.append(runtime.relay)
    for step in steps:
        try:
            await step.stop()
        except Exception as exc:  # noqa: BLE001
            log.warning("stop_failed", component=type(step).__name__, error=repr(exc))
    try:
        await runtime.producer.stop()
    except Exception as exc:  # noqa: BLE001
        log.warning("stop_failed", component="producer", error=repr(exc))
    await runtime.engine.dispose()


def ops_router() -> APIRouter:
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = await readiness(request.app.state.runtime)
        ready = all(ok for ok, _ in checks.values())
        body = {"status": "ready" if ready else "not ready",
                "checks": {name: {"ok": ok, "detail": detail}
                           for name, (ok, detail) in checks.items()},
                "slow": [name for name, (_, detail) in checks.items()
                         if detail.startswith("slow:")]}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def readiness(runtime: Runtime) -> dict[str, tuple[bool, str]]:
    """Each dependency checked at once, each under its own deadline, so one slow dependency
    is named as such instead of holding up the whole answer."""
    settings = runtime.settings
    probes = {"database": lambda: _database_answers(runtime), "kafka": runtime.producer.check}
    timeout = settings.readiness_timeout_s
    results = await asyncio.gather(*(_within(probe, timeout) for probe in probes.values()))
    checks: dict[str, tuple[bool, str]] = dict(zip(probes, results, strict=True))
    if runtime.relay is not None:
        checks["outbox_relay"] = (runtime.relay.healthy, runtime.relay.status)
    for consumer in runtime.consumers:
        if not settings.consumers_enabled:
            checks[f"consumer:{consumer.name}"] = (True, "disabled by configuration")
        elif consumer.running:
            checks[f"consumer:{consumer.name}"] = (
                True, "assigned" if consumer.assigned else "running, awaiting partitions")
        else:
            checks[f"consumer:{consumer.name}"] = (False, "stopped")
    return checks


async def _database_answers(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))


# Probes given up on, still unwinding (kept referenced until they end).
_UNWINDING: set[asyncio.Task] = set()


def _unwound(task: asyncio.Task) -> None:
    _UNWINDING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a late failure of a probe already reported as slow


async def _within(probe: Callable[[], Awaitable[object]], timeout: float) -> tuple[bool, str]:
    """The probe's answer, or "slow" once ``timeout`` has passed. A probe given up on is
    cancelled but not waited for: unwinding it (a pooled connection on a stalled socket) can
    take longer than the deadline, and the answer must not."""
    task = asyncio.ensure_future(probe())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        _UNWINDING.add(task)
        task.add_done_callback(_unwound)
        return False, f"slow: no answer within {timeout:g} s"
    if task.cancelled():
        return False, "cancelled"
    if (exc := task.exception()) is not None:
        return False, repr(exc)
    return True, "ok"


class RequestContextMiddleware:
    """Pure ASGI middleware: correlation id in and out, request metrics by route template."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cid = (headers.get(b"x-correlation-id") or b"").decode("latin-1")[:128] or str(uuid.uuid4())
        token = correlation_id_var.set(cid)
        status_holder = {"status": 500, "started": False}
        started = time.perf_counter()

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"], status_holder["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", cid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status_holder["started"]:
                raise
            # Answered here, still inside the request's correlation id (Starlette would answer
            # outside every middleware): the log line and the 500 both carry it.
            await exception_response(Request(scope), exc)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(self.service, method, template, str(status_holder["status"])).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started)
            correlation_id_var.reset(token)
