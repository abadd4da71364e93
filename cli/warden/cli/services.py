"""The four services as the CLI sees them: settings, migrations and where they listen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warden.shared.settings import ServiceSettings

SERVICE_NAMES = ("intake", "routing", "decision", "notify")


def _settings_class(name: str) -> type[ServiceSettings]:
    # Imported on use: a command about one service should not pay for loading all four.
    if name == "intake":
        from warden.intake.settings import IntakeSettings
        return IntakeSettings
    if name == "routing":
        from warden.routing.settings import RoutingSettings
        return RoutingSettings
    if name == "decision":
        from warden.decision.settings import DecisionSettings
        return DecisionSettings
    from warden.notify.settings import NotifySettings
    return NotifySettings


def _migrations(name: str) -> Path:
    if name == "intake":
        from warden.intake.app import MIGRATIONS
    elif name == "routing":
        from warden.routing.app import MIGRATIONS
    elif name == "decision":
        from warden.decision.app import MIGRATIONS
    else:
        from warden.notify.app import MIGRATIONS
    return MIGRATIONS


@dataclass(frozen=True)
class ServiceInfo:
    name: str

    @property
    def settings_class(self) -> type[ServiceSettings]:
        return _settings_class(self.name)

    def settings(self) -> ServiceSettings:
        return self.settings_class()

    @property
    def migrations(self) -> Path:
        return _migrations(self.name)

    def base_url(self) -> str:
        """Where the service answers HTTP, from its own settings (a wildcard bind is local)."""
        settings = self.settings()
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        return f"http://{host}:{settings.port}"


def service(name: str) -> ServiceInfo:
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    return ServiceInfo(name)


def all_services() -> list[ServiceInfo]:
    return [ServiceInfo(name) for name in SERVICE_NAMES]


def selected(name: str) -> list[ServiceInfo]:
    """``all`` or one service's name."""
    return all_services() if name == "all" else [service(name)]
