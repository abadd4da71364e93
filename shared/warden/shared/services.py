"""Where each service's app factory, settings and migrations live (for the CLI and tools)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from warden.shared.settings import ServiceSettings

SERVICE_NAMES = ("intake", "routing", "decision", "notify")


@dataclass(frozen=True)
class ServiceInfo:
    name: str

    @property
    def settings_class(self) -> type[ServiceSettings]:
        module = importlib.import_module(f"warden.{self.name}.settings")
        return getattr(module, f"{self.name.capitalize()}Settings")

    def settings(self) -> ServiceSettings:
        return self.settings_class()

    @property
    def migrations(self) -> Path:
        return importlib.import_module(f"warden.{self.name}.app").MIGRATIONS


def service(name: str) -> ServiceInfo:
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    return ServiceInfo(name)


def all_services() -> list[ServiceInfo]:
    return [ServiceInfo(name) for name in SERVICE_NAMES]
