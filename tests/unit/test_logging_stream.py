"""Log lines go to sys.stdout as it is when they are written: a command run inside another
program (a test's CliRunner) swaps stdout and closes its copy afterwards."""

from __future__ import annotations

import io
import logging
import sys

from warden.shared.observability import configure_logging


def test_a_line_after_stdout_was_swapped_and_closed_goes_to_the_current_stdout(monkeypatch):
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", captured)
    configure_logging("test-service")
    captured.close()  # what CliRunner does with its capture when a command ends
    current = io.StringIO()
    monkeypatch.setattr(sys, "stdout", current)
    errors = io.StringIO()
    monkeypatch.setattr(sys, "stderr", errors)
    logging.getLogger("warden.test").warning("after_the_swap")
    assert "after_the_swap" in current.getvalue()
    assert "Logging error" not in errors.getvalue()
