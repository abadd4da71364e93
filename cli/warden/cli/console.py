"""Rich output for every command: one console per invocation, failures that exit non-zero."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from collections.abc import Coroutine
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def console(stderr: bool = False) -> Console:
    """A console bound to the current stdout/stderr (so test runners capture it)."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on stderr and exit non-zero."""
    console(stderr=True).print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def progress() -> Progress:
    """The progress bar of anything that may take more than a second (to stderr)."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console(stderr=True),
                    transient=False)


def example(*lines: str) -> str:
    """The ``Example`` epilog every command's ``--help`` ends with."""
    body = "\n\n".join(f"  {line}" for line in lines)
    return f"Example:\n\n{body}"


def moment(text: str | None) -> datetime | None:
    """An ISO 8601 date or time from the command line (``2026-03-01``, ``...T06:00Z``); UTC
    when no offset is given."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
