"""The terminal output of the command line and the demo: never wrapped mid-line in a pipe or a log."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console


def _make(stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    # A pipe or a CI log gets long lines whole and tables wide enough to read.
    return Console(stderr=stderr, soft_wrap=True, width=None if probe.is_terminal else 160)


console = _make(stderr=False)
err = _make(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """A command's refusal: one line on stderr, no traceback, the exit code (2: bad input)."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)
