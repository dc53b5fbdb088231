"""The terminal output of the command line and the demo: never wrapped mid-line in a pipe or a log."""

from __future__ import annotations

from rich.console import Console


def _make(stderr: bool) -> Console:
    probe = Console(stderr=stderr)
    # A pipe or a CI log gets long lines whole and tables wide enough to read.
    return Console(stderr=stderr, soft_wrap=True, width=None if probe.is_terminal else 160)


console = _make(stderr=False)
err = _make(stderr=True)
