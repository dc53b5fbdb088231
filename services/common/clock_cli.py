"""`xiaobao clock`: compute a deadline, show the clock policy, seed the holiday table."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from services.common.calendar import WorkingCalendar, seed_table, write_table
from services.common.clock import (
    SHANGHAI,
    UNITS,
    compute_deadline,
    load_policy,
    uncovered_years,
)
from services.common.console import console
from services.common.errors import InvalidArgument

app = typer.Typer(
    help="Regulatory clocks: deadlines in working or calendar days, the policy, the holidays.",
    no_args_is_help=True,
)

# InvalidArgument names the engine's field; the user typed an option.
_OPTION_OF_FIELD = {"start": "--start", "limit": "--limit", "unit": "--unit", "pauses": "--pause"}


def _fail(option: str, message: str) -> NoReturn:
    typer.echo(f"error: {option}: {message}", err=True)
    raise typer.Exit(2)


def _parse_start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        _fail("--start", f"{text!r} is not an ISO 8601 date-time, e.g. 2026-09-28T10:00+08:00")
    if start.tzinfo is None:
        _fail("--start", f"{text!r} has no UTC offset; write e.g. 2026-09-28T10:00+08:00")
    return start


def _parse_pause(text: str) -> tuple[date, date]:
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        p_from, p_to = date.fromisoformat(parts[0].strip()), date.fromisoformat(parts[1].strip())
    except ValueError:
        _fail("--pause", f"{text!r} is not FROM:TO, e.g. 2026-10-12:2026-10-16")
    if p_from > p_to:
        _fail("--pause", f"{text!r} ends before it begins")
    return p_from, p_to


@app.command()
def deadline(
    start: Annotated[str, typer.Option(help="When the clock starts, ISO 8601 with offset.")],
    limit: Annotated[int, typer.Option(help="The limit in days (0: the same day).")],
    unit: Annotated[str, typer.Option(help="calendar_days or working_days.")],
    pause: Annotated[
        list[str] | None,
        typer.Option(help="Days not counted, FROM:TO inclusive (YYYY-MM-DD:YYYY-MM-DD); repeat."),
    ] = None,
    holidays: Annotated[
        Path | None, typer.Option(help="Holiday table to use instead of the default.")
    ] = None,
    roll_to_working_day: Annotated[
        bool,
        typer.Option(
            help="Move a calendar-day deadline that ends on a day off to the next working day."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the last permitted day of a limit counted from START (its day is not counted)."""
    start_at = _parse_start(start)
    if unit not in UNITS:
        _fail("--unit", f"{unit!r} is not one of {', '.join(UNITS)}")
    pauses = [_parse_pause(p) for p in pause or []]
    try:
        calendar = WorkingCalendar.load(holidays)
    except (OSError, ValueError) as exc:
        _fail("--holidays", str(exc))
    try:
        result = compute_deadline(
            start_at,
            limit,
            unit,
            calendar,
            pauses,
            roll_to_working_day,  # type: ignore[arg-type]
        )
    except InvalidArgument as exc:
        _fail(_OPTION_OF_FIELD.get(exc.field, exc.field), str(exc).split(": ", 1)[-1])
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "last_day": result.last_day.isoformat(),
                    "deadline": result.deadline.isoformat(),
                    "provisional": result.provisional,
                }
            )
        )
        return
    line = (
        f"last permitted day {result.last_day.isoformat()} ({result.last_day:%A}); "
        f"the limit runs out at {result.deadline.isoformat()}"
    )
    if result.provisional:
        first = start_at.astimezone(SHANGHAI).date()
        missing = uncovered_years(first, result.last_day, calendar)
        years = ", ".join(str(y) for y in missing)
        line += f" (provisional: year {years} not in the holiday table)"
    typer.echo(line)


@app.command()
def policy(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    file: Annotated[
        Path | None, typer.Option("--file", help="Policy file to read instead of the default.")
    ] = None,
) -> None:
    """Show the clocks of the policy: limit, unit, extensions, article."""
    try:
        pol = load_policy(file)
    except (OSError, ValueError) as exc:
        _fail("--file", str(exc))
    if as_json:
        clocks = [
            {
                "name": c.name,
                "title": c.title,
                "limit": c.limit,
                "unit": c.unit,
                "extensions": [
                    {"to": e.to, "article": e.article, "requires_approver": e.requires_approver}
                    for e in c.extensions
                ],
                "pausable": c.pausable,
                "applies_to": list(c.applies_to),
                "start_event": c.start_event,
                "stop_event": c.stop_event,
                "source": c.source,
                "article": c.article,
            }
            for c in pol.clocks.values()
        ]
        typer.echo(json.dumps({"version": pol.version, "clocks": clocks}, ensure_ascii=False))
        return
    table = Table(title=f"Clock policy {pol.version} ({pol.timezone})")
    table.add_column("clock", no_wrap=True)
    for column in ("limit", "unit", "extensions", "article"):
        table.add_column(column)
    for c in pol.clocks.values():
        steps = " → ".join(
            f"{e.to}{' (approver)' if e.requires_approver else ''}" for e in c.extensions
        )
        table.add_row(c.name, str(c.limit), c.unit, steps or "-", f"{c.source} {c.article}")
    console.print(table)


@app.command("seed-holidays")
def seed_holidays(
    from_year: Annotated[int, typer.Option(help="First year.")],
    to_year: Annotated[int, typer.Option(help="Last year.")],
    output: Annotated[Path, typer.Option(help="Holiday table file to write.")],
) -> None:
    """Write the holiday table for the years chinesecalendar knows; name the ones it does not."""
    if from_year > to_year:
        _fail("--from-year", f"{from_year} is after --to-year {to_year}")
    table = seed_table(from_year, to_year)
    write_table(output, table)
    got = sorted(table["years"])
    missing = [y for y in range(from_year, to_year + 1) if y not in table["years"]]
    typer.echo(f"wrote {output}: {len(got)} years ({', '.join(map(str, got)) or 'none'})")
    if missing:
        typer.echo(
            f"not available from chinesecalendar: {', '.join(map(str, missing))} "
            "(add them by hand when the State Council notice is out)"
        )
