"""The root ``warden`` command: every sub-command mounted in one place.

Every command reads the same environment variables as the services, prints with Rich,
ends its ``--help`` with an example, and exits non-zero when it fails.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from warden.cli import audit, doctor, dlq, ops, reprocess
from warden.cli.console import console

app = typer.Typer(
    help="Operate Warden: topics, migrations, lag, DLQs, outbox, doctor, reprocess, KPIs.",
    no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_show_locals=False,
    epilog="Example:\n\n  bin/warden doctor\n\n  bin/warden lag")


def _mount() -> None:
    for module in (ops, doctor, reprocess):
        for command in module.app.registered_commands:
            app.registered_commands.append(command)
    app.add_typer(dlq.app, name="dlq")
    from warden.cli.kpi.commands import app as kpi_app
    from warden.intake.cli import app as intake_app
    from warden.decision.cli import app as decision_app
    from warden.routing.cli import app as routing_app

    app.add_typer(kpi_app, name="kpi")
    app.add_typer(intake_app, name="intake")
    app.add_typer(routing_app, name="routing")
    app.add_typer(decision_app, name="decision")
    app.add_typer(audit.app, name="audit")


_mount()


def main() -> None:
    """Run the CLI; an unexpected error is one red line on stderr and exit status 1."""
    command = typer.main.get_command(app)
    try:
        status = command.main(prog_name="warden", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, bad value
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:  # noqa: BLE001 - the on-call engineer wants the cause, not a trace
        name, detail = type(exc).__name__, str(exc)
        cause = detail if detail.startswith(name) else f"{name}: {detail}"
        console(stderr=True).print(f"[bold red]error:[/] {escape(cause)}")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
