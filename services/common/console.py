"""The terminal output of the command line and the demo (never wrapped mid-line in a pipe or a
log), and the refusal of a command's bad option."""

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


def time_option(value: str, option: str):
    """An option's ISO time with its offset (2026-11-20T09:30+08:00) as a protobuf Timestamp, or
    the command's refusal naming the option."""
    from datetime import datetime

    from services.common.protoconv import to_timestamp

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a time like 2026-11-20T09:30+08:00", 2)
    if moment.tzinfo is None:
        fail(f"{option}: needs a UTC offset, e.g. 2026-11-20T09:30+08:00", 2)
    return to_timestamp(moment)
