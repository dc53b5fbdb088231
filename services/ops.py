"""`xiaobao ops`: the operator's tools for the platform's plumbing (the dead-letter queue)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from services.common import settings as settings_mod
from services.common.console import console, fail

app = typer.Typer(help="Operate the platform's plumbing.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="The dead-letter queue: events a handler could not apply.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")


def _letters():
    from services.common.dlq import DeadLetters

    return DeadLetters(settings_mod.get().amqp_uri)


def _broker(action):
    import kombu.exceptions

    try:
        return action()
    except (OSError, kombu.exceptions.KombuError) as exc:
        fail(f"broker unreachable: {type(exc).__name__}: {exc}")


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(0, min=0, help="Show at most this many (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """What is parked, oldest first: id, original queue, event, case and the error.
    Nothing is removed; bodies are never shown (they carry personal data)."""
    letters = _broker(lambda: _letters().list(limit))
    if as_json:
        for letter in letters:
            print(json.dumps(letter.to_dict(), ensure_ascii=False))
        return
    if not letters:
        console.print("the dead-letter queue is empty")
        return
    table = Table("id", "parked at", "queue", "event", "case", "error")
    for letter in letters:
        table.add_row(
            letter.id,
            letter.parked_at,
            letter.queue or "(unknown)",
            letter.event_type or "(malformed)",
            letter.case_no,
            letter.error,
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    ids: list[str] = typer.Argument(None, help="Ids from `xiaobao ops dlq list`."),
    everything: bool = typer.Option(False, "--all", help="Replay every parked message."),
) -> None:
    """Sends parked messages back to the queue each came from, once their cause is mended.
    A handler that still fails parks the message again under a new id."""
    if not ids and not everything:
        fail("name the ids to replay, or --all", 2)
    if ids and everything:
        fail("give ids or --all, not both", 2)
    replayed = _broker(lambda: _letters().replay(ids or (), everything))
    for letter in replayed:
        console.print(f"replayed {letter.id} to {letter.queue}")
    missing = set(ids or ()) - {letter.id for letter in replayed}
    if missing:
        fail(f"not replayed (unknown id, or its queue is gone): {', '.join(sorted(missing))}")
    console.print(f"{len(replayed)} replayed")


@dlq_app.command("drop")
def dlq_drop(
    ids: list[str] = typer.Argument(..., help="Ids from `xiaobao ops dlq list`."),
) -> None:
    """Removes parked messages that can never be applied (after recording why elsewhere)."""
    dropped = _broker(lambda: _letters().drop(ids))
    for letter in dropped:
        console.print(f"dropped {letter.id} ({letter.event_type or 'malformed'})")
    missing = set(ids) - {letter.id for letter in dropped}
    if missing:
        fail(f"unknown ids: {', '.join(sorted(missing))}")
