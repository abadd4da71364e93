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


def test_unreachable_dependencies_exit_non_zero_with_the_cause():
    """As bin/warden runs them (the entry point turns an error into one line and status 1):
    Kafka and every database on a closed port."""
    import os
    import subprocess
    import sys
    import tempfile

    closed = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env.update({"WARDEN_KAFKA_BOOTSTRAP": closed, "WARDEN_DEV_MODE": "true",
                "WARDEN_KPI_ARCHIVE": os.path.join(tempfile.mkdtemp(prefix="warden-kpi-"),
                                                          "archive.duckdb"), "COLUMNS": "200"})
    for name in ("intake", "routing", "decision", "notify"):
        env[f"WARDEN_{name.upper()}_DATABASE_URL"] = \
            f"postgresql+asyncpg://warden:warden@{closed}/warden_{name}"
        env[f"WARDEN_{name.upper()}_PORT"] = "1"
    commands = {
        ("doctor", "--timeout", "2"): "checks failed",
        ("kpi", "archive"): "KafkaConnectionError",
        ("audit", "verify"): "Connect call failed",
        ("dlq", "inspect", "reports.raw"): "KafkaConnectionError",
        ("dlq", "replay", "reports.raw", "--dry-run"): "KafkaConnectionError",
        ("lag",): "KafkaConnectionError",
    }
    running = {command: subprocess.Popen([sys.executable, "-m", "warden.cli", *command],
                                         env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
               for command in commands}
    for command, process in running.items():
        output, _ = process.communicate(timeout=600)  # a loaded box is slow
        assert process.returncode == 1, (command, output)
        assert commands[command] in output, (command, output)
        assert "Traceback" not in output, (command, output)
        assert "Unclosed" not in output, (command, output)  # every Kafka client was closed
