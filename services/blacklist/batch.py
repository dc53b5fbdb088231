"""`xiaobao blacklist screen-batch`: screen a JSON-lines file of cases into a JSON-lines file of results.

Two passes over the input (see `screening.Screener.screen_all`): every case is indexed first, so
the first letter of a ring is scored against the whole ring. A malformed line is reported on
stderr with its number and skipped; the run goes on. Incidents (bursts that flag nobody) are
listed on stderr at the end for staff.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.blacklist import cli as _cli
from services.common.console import err

app = typer.Typer(help="Screening for black/grey-industry agents.", no_args_is_help=True)


@app.callback()
def blacklist(
    user: str = typer.Option(
        "", "--user", envvar="XIAOBAO_BLACKLIST_USER", help="Who calls the api (default: $USER)."
    ),
    role: str = typer.Option(
        "investigator",
        "--role",
        envvar="XIAOBAO_BLACKLIST_ROLE",
        help="investigator or supervisor.",
    ),
) -> None:
    """Screening for black/grey-industry agents (黑灰产代理), and the investigators' commands.

    Known-agents files for import-agents: see services/blacklist/cli.py (YAML or CSV)."""
    from services.blacklist import cli

    cli.set_caller(user or cli._who["user"], role)


PROGRESS_FROM = 10_000  # lines; shorter inputs finish before a bar is worth drawing


@app.command("screen-batch")
def screen_batch(
    input: Path = typer.Option(..., "--input", help="Cases, one JSON object a line."),
    output: Path = typer.Option(..., "--output", help="Results, one JSON object a line."),
) -> None:
    """Screens cases for black/grey-industry agents: score, flag, ring and reasons per case."""
    # Imported here: numpy and datasketch would slow every other `xiaobao` command's start.
    from services.blacklist.screening import CaseInput, Screener

    if not input.is_file():
        err.print(f"[red]error:[/red] {input}: no such file", highlight=False)
        raise typer.Exit(2)
    with input.open("rb") as fh:
        total = sum(1 for _ in fh)
    screener = Screener()
    features = []
    skipped = 0
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=total < PROGRESS_FROM,
            transient=True,
        ) as progress,
        input.open(encoding="utf-8", errors="replace") as lines,
    ):
        task = progress.add_task("indexing", total=total)
        for number, line in enumerate(lines, start=1):
            progress.advance(task)
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                skipped += 1
                err.print(f"line {number}: skipped: not JSON: {exc}", highlight=False, markup=False)
                continue
            try:
                case = CaseInput.from_dict(raw)
            except ValueError as exc:
                skipped += 1
                err.print(f"line {number}: skipped: {exc}", highlight=False, markup=False)
                continue
            features.append(screener.index(case))
        task = progress.add_task("scoring", total=len(features))
        flagged = 0
        with output.open("w", encoding="utf-8") as out:
            for f in features:
                result = screener.score(f)
                flagged += result.flagged
                out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                progress.advance(task)
    for incident in screener.incidents():
        err.print(
            f"incident: {incident.complaints} complaints against {incident.institution} on "
            f"{incident.day.isoformat()} (usually {incident.usual_per_day:.0f} a day); "
            "nobody flagged for it",
            highlight=False,
            markup=False,
        )
    err.print(
        f"screened {len(features)} cases: {flagged} flagged, {skipped} lines skipped "
        f"(lexicon {screener.lexicon.version})",
        highlight=False,
    )


_cli.register(app)
