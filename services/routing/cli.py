"""`xiaobao routing …`: the directory, the resolver, the routing desk and the scorecard."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
import yaml
from rich.table import Table

from services.common.console import console
from services.common.console import fail as _fail

app = typer.Typer(
    help="The institution directory, the resolver, the routing desk and the scorecard.",
    no_args_is_help=True,
)


def _session():
    from services.common import db
    from services.routing import store

    return db.session_scope(db.session_factory(store.SERVICE))


@app.command("import-directory")
def import_directory(
    file: Path = typer.Argument(None, help="Directory YAML; default: the demo Tianjin directory."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would change; store nothing."
    ),
) -> None:
    """Loads or updates the institution directory (idempotent) and reports what changed.

    Offices missing from the file are deactivated, never deleted. A file with a duplicate id, an
    unknown parent or a cycle is refused whole, naming the line.
    """
    from services.routing import domain, store

    path = file or store.DEMO_DIRECTORY
    if not path.is_file():
        _fail(f"{path}: no such file", 2)
    try:
        nodes = store.read_directory_file(path)
    except domain.DirectoryError as exc:
        _fail(str(exc), 2)
    with _session() as session:
        report = store.import_directory(session, nodes, source=path.name)
        if dry_run:
            session.rollback()
    verb = "would change" if dry_run else "changed"
    console.print(
        f"directory {path.name}: {len(nodes)} nodes; added {len(report.added)}, "
        f"{verb} {len(report.changed)}, deactivated {len(report.deactivated)}, "
        f"unchanged {report.unchanged}" + ("" if dry_run else f"; version {report.version}")
    )
    for label, ids in (
        ("added", report.added),
        ("changed", report.changed),
        ("deactivated", report.deactivated),
    ):
        if ids:
            console.print(f"  {label}: {', '.join(ids)}", highlight=False)


@app.command("export-directory")
def export_directory(
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
) -> None:
    """Writes the directory as stored, in the import format (inactive offices included)."""
    from services.routing import domain, store

    with _session() as session:
        nodes = store.directory(session)
        version = store.current_directory(session).version
    if not nodes:
        _fail("the directory is empty; import one first (xiaobao routing import-directory)")
    text = yaml.safe_dump(
        domain.export_directory(nodes, version=str(version)),
        allow_unicode=True,
        sort_keys=False,
        width=100,
    )
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(nodes)} nodes to {output}")
    else:
        sys.stdout.write(text)


@app.command("resolve")
def resolve(
    text: str = typer.Option(..., "--text", help="The institution as the consumer wrote it."),
    region: str = typer.Option("", "--region", help="GB/T 2260 region code of the consumer."),
    product: str = typer.Option("", "--product", help="Product line, e.g. life, credit_cards."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object, for scripts."),
) -> None:
    """Prints which office the directory resolves the text to, and why (reads the database)."""
    from services.routing import domain, store

    if region and not domain.REGION_PATTERN.match(region):
        _fail("--region must be a 6-digit GB/T 2260 code, e.g. 120103", 2)
    with _session() as session:
        decision = store.resolver(session).resolve(text, region, product)
    out = {
        "node": decision.node.id if decision.node else None,
        "name": decision.node.name if decision.node else None,
        "confidence": decision.confidence,
        "runner_up": decision.runner_up.id if decision.runner_up else None,
        "runner_up_confidence": decision.runner_up_confidence,
        "needs_human": decision.needs_human,
        "matched": decision.matched,
        "reason": decision.reason,
    }
    if as_json:
        print(json.dumps(out, ensure_ascii=False))
        return
    verdict = "[yellow]needs a person[/yellow]" if decision.needs_human else "[green]assign[/green]"
    console.print(
        f"{verdict}: {out['name'] or '-'} ({out['node'] or '-'}), confidence "
        f"{out['confidence']:.2f}; runner-up {out['runner_up'] or '-'} "
        f"{out['runner_up_confidence']:.2f}"
    )
    if decision.reason:
        console.print(f"  {decision.reason}", highlight=False)


def _desk(method: str, request):
    from services.common.clients import call_or_fail

    return call_or_fail("desk", method, request, "operator", timeout=10)


@app.command("queue")
def queue(limit: int = typer.Option(50, help="At most this many cases.")) -> None:
    """Cases waiting for a person to route them, with the resolver's suggestion."""
    from xiaobao.routing.v1 import routing_pb2 as pb

    resp = _desk("ListRoutingQueue", pb.ListRoutingQueueRequest(page_size=limit))
    table = Table("case", "institution (as written)", "region", "why", "suggestion", "returned by")
    for c in resp.cases:
        suggestion = f"{c.suggestion.id} ({c.confidence:.2f})" if c.HasField("suggestion") else "-"
        table.add_row(
            c.case_no,
            c.institution_text,
            c.region_code,
            c.why,
            suggestion,
            ", ".join(c.returned_by),
        )
    console.print(table)
    if not resp.cases:
        console.print("the routing queue is empty")


@app.command("route")
def route(
    case_no: str = typer.Argument(..., help="Case number."),
    node: str = typer.Argument(..., help="Directory node id to hand the case to."),
    note: str = typer.Option("", help="Why this office (kept on the case)."),
) -> None:
    """Hands a case to an office by hand (the routing desk)."""
    from xiaobao.routing.v1 import routing_pb2 as pb

    a = _desk("RouteCase", pb.RouteCaseRequest(case_no=case_no, node_id=node, note=note))
    console.print(f"{a.case_no} → {a.node_name} ({a.node_id}); last day {a.last_day}")


@app.command("scorecard")
def scorecard(
    quarter: str = typer.Option(..., "--quarter", help="e.g. 2026Q3"),
    root: str = typer.Option("", "--root", help="Only this institution or office and below."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table."),
) -> None:
    """The quarterly institution scorecard (正负面清单), per office and rolled up."""
    from services.routing import reports
    from services.routing import scorecard as sc

    try:
        with _session() as session:
            q, lines = reports.scorecard(session, quarter, root)
    except ValueError as exc:
        _fail(str(exc), 2)
    if as_csv:
        sc.write_csv(lines, sys.stdout)
        return
    if not lines:
        console.print(f"no cases were assigned in {q.label}")
        return
    console.print(sc.render(lines, title=f"Institution scorecard {q.label}"))
