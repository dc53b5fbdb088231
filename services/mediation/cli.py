"""`xiaobao mediation …`: the mediation desk's commands (so far: the batch scheduler)."""

from __future__ import annotations

import typer

from services.mediation.batch import schedule_batch

app = typer.Typer(help="Mediation: schedule sessions.", no_args_is_help=True)
app.command("schedule-batch")(schedule_batch)
