"""App factory of the routing service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from warden.routing.consumers import wire
from warden.routing.routes import router
from warden.routing.settings import RoutingSettings
from warden.shared.app import create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or RoutingSettings(),
        title="Warden routing",
        description="Turns reports into cases in specialist queues, ordered by priority and "
                    "due time, and leases them to reviewers with the right skills.",
        routers=[router],
        wire=wire,
    )
