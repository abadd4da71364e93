"""``warden intake ...``: manage the upstream clients allowed to submit reports."""

from __future__ import annotations

import typer

from warden.intake.access import ALL_SCOPES
from warden.intake.settings import IntakeSettings
from warden.shared.apikeys.cli import clients_cli

app = typer.Typer(help="Intake service: upstream clients and their API keys.",
                  no_args_is_help=True)
app.add_typer(clients_cli(IntakeSettings, ALL_SCOPES), name="clients")
