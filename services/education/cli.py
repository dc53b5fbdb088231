"""`xiaobao education …`: reports and charts of education reach, hot spots, and the importer."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import typer

from services.common.console import console, err
from services.common.console import fail as _fail
from services.education import importer

app = typer.Typer(
    help="Financial education: activity reports and charts, complaint hot spots, imports.",
    no_args_is_help=True,
)
app.command("import")(importer.import_command)


def _session():
    from services.common import db
    from services.education import store

    return db.session_scope(db.session_factory(store.SERVICE))


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", 2)
        raise  # unreachable: _fail exits


def _period(start: str, end: str) -> tuple[date, date]:
    first, last = _date(start, "--from"), _date(end, "--to")
    if first > last:
        _fail(f"--from: {first} is after --to {last}", 2)
    return first, last


@app.command("report")
def report(
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (included)."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (included)."),
    by: str = typer.Option(
        "",
        "--by",
        help="Comma-separated: region, place_type, target_group, organiser, campaign, month, week.",
    ),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table."),
    plot_dir: Path = typer.Option(
        None, "--plot", help="Also write reach-by-region and weekly-trend charts here."
    ),
    fmt: str = typer.Option("png", "--format", help="Chart format: png or svg."),
) -> None:
    """Activities (场次), people reached (人次), materials and online reads over a period."""
    from services.education import reports

    first, last = _period(start, end)
    if fmt not in reports.FORMATS:
        _fail(f"--format: must be png or svg, not {fmt!r}", 2)
    try:
        dims = reports.parse_by(by)
    except ValueError as exc:
        _fail(f"--{exc}", 2)
    with _session() as session:
        result = reports.report(session, first, last, dims)
        charts = None
        if plot_dir is not None:
            charts = (
                reports.report(session, first, last, ("region",)),
                reports.report(session, first, last, ("week",)),
            )
    if as_csv:
        reports.write_csv(result, sys.stdout)
    else:
        console.print(reports.render(result))
    if charts is not None:
        for path in reports.plot(*charts, plot_dir, fmt):
            err.print(f"wrote {path}", highlight=False)


@app.command("hotspots")
def hotspots(
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (included)."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD (included)."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout instead of a table."),
) -> None:
    """Districts and topics where complaints rose and education reached few people: suggested
    campaign topics. Compared with the equally long period just before."""
    from services.education import hotspots as hotspots_mod

    first, last = _period(start, end)
    with _session() as session:
        spots = hotspots_mod.find(session, first, last)
    if as_csv:
        hotspots_mod.write_csv(spots, sys.stdout)
        return
    if not spots:
        console.print(f"no hot spots {first} – {last}")
        return
    console.print(hotspots_mod.render(spots, first, last))


@app.command("campaign")
def campaign(
    code: str = typer.Argument(..., help="Stable code, e.g. 2026-315."),
    theme: str = typer.Option(
        ..., help="consumer_rights_day, education_month, illegal_fundraising, risk_warning, other"
    ),
    title: str = typer.Option(..., help="The campaign's title."),
    start: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last day, YYYY-MM-DD."),
    organiser: str = typer.Option(..., help="Who organises it."),
    co_organisers: str = typer.Option("", help="Comma-separated co-organisers."),
    groups: str = typer.Option("", help="Comma-separated target groups (elderly, young …)."),
    regions: str = typer.Option("", help="Comma-separated GB/T 2260 region codes."),
) -> None:
    """Creates or updates a campaign, so activities (and imports) can be reported under it."""
    from services.common.errors import InvalidArgument
    from services.education import domain, store

    def split(value: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in value.split(",") if v.strip())

    first, last = _period(start, end)
    try:
        with _session() as session:
            row, created = store.upsert_campaign(
                session,
                domain.Campaign(
                    code=code,
                    theme=theme,
                    title=title,
                    starts_on=first,
                    ends_on=last,
                    organiser=organiser,
                    co_organisers=split(co_organisers),
                    target_groups=split(groups),
                    regions=split(regions),
                ),
                store.now_utc(),
            )
            console.print(f"campaign {row.code} {'created' if created else 'updated'}")
    except InvalidArgument as exc:
        _fail(str(exc), 2)
