"""Every command of the on-call CLI explains itself with an example."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from warden.cli.app import app


def _commands(group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of sub-commands
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def test_every_command_has_help_with_an_example():
    root = typer.main.get_command(app)
    paths = list(_commands(root))
    assert {("doctor",), ("reprocess",), ("kpi", "archive"), ("kpi", "report"),
            ("dlq", "replay"), ("lag",)} <= set(paths)
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, (path, result.output)
        assert "Example" in result.output and "bin/warden" in result.output, path


def test_bad_arguments_exit_non_zero():
    runner = CliRunner()
    assert runner.invoke(app, ["migrate", "nosuchservice"]).exit_code == 1
    assert runner.invoke(app, ["kpi", "report", "--format", "pdf"]).exit_code == 1
    assert runner.invoke(app, ["kpi", "report", "--since", "yesterday"]).exit_code == 2
