"""App factory of the intake service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.middleware import Middleware

from warden.intake import consumers
from warden.intake.access import ALL_SCOPES
from warden.intake.fast_submit import FastSubmit
from warden.intake.middleware import BodyGuard
from warden.intake.routes import invalid_input, router
from warden.intake.settings import IntakeSettings
from warden.intake.submissions import SUBMISSIONS, Submissions
from warden.shared.apikeys.gate import install_api_keys
from warden.shared.app import Runtime, create_service_app
from warden.shared.db import RawPool
from warden.shared.problems import document_response

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    app = create_service_app(
        settings,
        title="Warden intake",
        description=(
            "The front door for every reporting channel: users, trusted flaggers, regulators, "
            "rights holders, advertisers and automated detectors. Reports are validated "
            "(including the DSA Art. 16 notice elements), normalised into one canonical "
            "report, deduplicated and published on `reports.normalized`. Authenticate with "
            "`X-API-Key`."),
        routers=[router],
        wire=wire,
    )
    # Inside the shared request-context middleware, so refusals carry the correlation id
    # and show up in the request metrics.
    app.user_middleware.append(Middleware(BodyGuard, max_bytes=settings.max_body_bytes))
    if settings.fast_submit:
        app.user_middleware.append(Middleware(FastSubmit))  # innermost: sees guarded bodies
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


async def wire(runtime: Runtime) -> None:
    await install_api_keys(runtime, ALL_SCOPES)
    # POST /v1/reports inserts through plain asyncpg, concurrent submissions in one statement
    # (see submissions.py).
    settings: IntakeSettings = runtime.settings  # type: ignore[assignment]
    submissions = Submissions(RawPool(settings.database_url, settings.db_pool_size),
                              batch_size=settings.submit_batch_size,
                              in_flight=settings.submit_in_flight)
    runtime.extras[SUBMISSIONS] = submissions
    runtime.workers.append(submissions)
    consumers.wire(runtime)


async def _validation_error(request: Request, exc: RequestValidationError):
    return document_response(invalid_input(exc.errors(), request.url.path))
