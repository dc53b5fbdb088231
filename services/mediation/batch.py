"""`xiaobao mediation schedule-batch`: plan mediation sessions from a JSON file into another."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from services.common.console import console, err
from services.mediation.scheduler import parse_problem, solve


def schedule_batch(
    input: Path = typer.Option(..., "--input", help="problem.json: requests, mediators, venues"),
    output: Path = typer.Option(..., "--output", help="plan.json to write"),
    time_limit: float = typer.Option(10.0, "--time-limit", help="seconds for the solver"),
) -> None:
    """Choose a mediator, a venue and a slot for as many requests as possible."""
    try:
        problem = parse_problem(json.loads(input.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValueError) as exc:
        err.print(f"[red]error:[/red] {input}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    plan = solve(problem, time_limit=time_limit)
    output.write_text(json.dumps(plan.to_json(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    console.print(
        f"scheduled {len(plan.assignments)}/{len(problem.requests)} "
        f"solver={plan.solver} {plan.seconds:.2f} s -> {output}",
        highlight=False,
    )
