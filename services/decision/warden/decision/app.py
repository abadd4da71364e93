"""App factory of the decision service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from warden.decision.consumers import wire
from warden.decision.routes import router
from warden.decision.settings import DecisionSettings
from warden.shared.app import create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: DecisionSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or DecisionSettings(),
        title="Warden decision",
        description="The enforcement record: decisions by the lease holder, four-eyes "
                    "approval, strikes, appeals, statements of reasons and a hash-chained "
                    "audit log.",
        routers=[router],
        wire=wire,
    )
