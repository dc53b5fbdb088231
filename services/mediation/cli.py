"""`xiaobao mediation …`: the mediation desk's commands (via mediation's api), and the batch
scheduler (offline)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from services.common.console import console, time_option
from services.common.console import fail as _fail
from services.mediation.batch import schedule_batch

app = typer.Typer(
    help="Mediation: requests and consent, court referrals, the roster, planning, sessions, "
    "outcomes (talks to the mediation api); schedule-batch works on files.",
    no_args_is_help=True,
)
requests_app = typer.Typer(help="Mediation requests: list and show.", no_args_is_help=True)
app.add_typer(requests_app, name="requests")
app.command("schedule-batch")(schedule_batch)


def _call(method: str, request):
    from services.common.clients import call_or_fail

    return call_or_fail("mediation", method, request, "supervisor", timeout=60)


def _pb():
    from xiaobao.mediation.v1 import mediation_pb2

    return mediation_pb2


def _utc_local(ts) -> str:
    from datetime import UTC

    from services.common.clock import SHANGHAI

    if ts is None or (ts.seconds == 0 and ts.nanos == 0):
        return ""
    return ts.ToDatetime(tzinfo=UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def _print_sessions(sessions) -> None:
    table = Table("session", "request", "case", "start", "end", "mediator", "venue", "state")
    for s in sessions:
        table.add_row(
            str(s.id),
            str(s.request_id),
            s.case_no,
            _utc_local(s.start),
            _utc_local(s.end)[-5:],
            s.mediator_id,
            s.venue_name or s.venue_id,
            s.state,
        )
    console.print(table)


def _print_request(r) -> None:
    console.print(
        f"request {r.id}  case {r.case_no or '-'}  source {r.source}  state {r.state}"
        + (f"  outcome {r.outcome}" if r.outcome else ""),
        highlight=False,
    )
    console.print(
        f"  institution {r.institution_name or r.institution_node_id}  product {r.product or '-'}"
        f"  amount {_yuan(r.amount_in_dispute_fen)}  form {r.preferred_form}"
        + ("  fast track" if r.fast_track else ""),
        highlight=False,
    )
    console.print(
        f"  complainant {r.complainant_name} {r.complainant_phone}"
        + (f" age {r.complainant_age}" if r.complainant_age else ""),
        highlight=False,
    )
    if r.court_name:
        console.print(
            f"  court {r.court_name} ref {r.court_reference} deadline {r.court_deadline or '-'}",
            highlight=False,
        )
    for c in r.consents:
        verb = "consented" if c.consented else f"refused ({c.reason})"
        console.print(f"  {c.party} {verb}, recorded by {c.by} {_utc_local(c.at)}")
    k = r.clock
    console.print(
        f"  clock {k.name}: {k.limit_days} {k.unit}, state {k.state}"
        + (f", deadline {_utc_local(k.deadline)}" if k.deadline.seconds else ""),
        highlight=False,
    )
    if r.outcome == "agreement":
        console.print(f"  agreement {_yuan(r.agreement_amount_fen)}: {r.agreement_terms}")
        if r.judicial_confirmation:
            console.print(
                f"  judicial confirmation: {r.judicial_court or 'requested'} "
                f"{r.judicial_reference} {r.judicial_confirmed_on}",
                highlight=False,
            )
    elif r.outcome_reason:
        console.print(f"  {r.outcome_reason}")
    if r.sessions:
        _print_sessions(r.sessions)


def _print_plan(result) -> None:
    console.print(
        f"booked {len(result.sessions)}, unscheduled {len(result.unscheduled)}"
        + (f", kept {result.kept}, moved {result.moved}" if result.kept or result.moved else "")
        + (f" (solver {result.solver}, {result.seconds:.2f} s)" if result.solver else ""),
        highlight=False,
    )
    if result.sessions:
        _print_sessions(result.sessions)
    for u in result.unscheduled:
        console.print(f"  request {u.request_id}: {u.reason}", highlight=False)


@requests_app.command("list")
def list_requests(
    state: str = typer.Option("", help="awaiting_consent, accepted or closed; empty: all."),
    case_no: str = typer.Option("", "--case", help="Only this case's requests."),
    limit: int = typer.Option(50, help="At most this many."),
) -> None:
    """Lists mediation requests (personal data masked)."""
    pb = _pb()
    page = _call(
        "ListRequests", pb.ListRequestsRequest(state=state, case_no=case_no, page_size=limit)
    )
    table = Table("id", "case", "source", "state", "outcome", "institution", "amount", "deadline")
    for r in page.requests:
        table.add_row(
            str(r.id),
            r.case_no,
            r.source,
            r.state,
            r.outcome,
            r.institution_name[:24],
            _yuan(r.amount_in_dispute_fen),
            _utc_local(r.clock.deadline),
        )
    console.print(table)


@requests_app.command("show")
def show_request(request_id: int = typer.Argument(..., help="The request's id.")) -> None:
    """Shows one request: parties' consent, its clock, sessions and outcome."""
    _print_request(_call("GetRequest", _pb().GetRequestRequest(request_id=request_id)))


@app.command("consent")
def consent(
    request_id: int = typer.Argument(..., help="The request's id."),
    party: str = typer.Option(..., help="consumer or institution."),
    refuse: bool = typer.Option(False, "--refuse", help="The party refuses (needs --reason)."),
    by: str = typer.Option("", help="Who answered or recorded it; default: cli."),
    reason: str = typer.Option("", help="Why the party refuses."),
    available: list[str] = typer.Option(
        [],
        "--available",
        help="When the party can attend, START/END (ISO with offset); repeat for more windows.",
    ),
) -> None:
    """Records one party's consent (or refusal); both consenting starts the mediation."""
    if refuse and not reason.strip():
        _fail("--reason is required with --refuse", 2)
    windows = []
    for text in available:
        start, sep, end = text.partition("/")
        if not sep:
            _fail(f"--available {text!r}: expected START/END", 2)
        windows.append(
            _pb().TimeWindow(
                start=time_option(start, "--available"), end=time_option(end, "--available")
            )
        )
    _print_request(
        _call(
            "RecordConsent",
            _pb().RecordConsentRequest(
                request_id=request_id,
                party=party,
                consented=not refuse,
                by=by,
                reason=reason,
                availability=windows,
            ),
        )
    )


@app.command("court-referral")
def court_referral(
    court: str = typer.Option(..., help="The referring court."),
    reference: str = typer.Option(..., help="The court's reference (案号)."),
    institution: str = typer.Option(..., help="The institution, as named by the court."),
    name: str = typer.Option(..., help="The consumer's name."),
    phone: str = typer.Option("", help="The consumer's phone."),
    deadline: str = typer.Option("", help="The court's deadline, YYYY-MM-DD."),
    case_no: str = typer.Option("", "--case", help="The centre's case number, if any."),
    product: str = typer.Option("", help="Product code, e.g. credit_cards, life."),
    business_type: str = typer.Option("", help="bank, insurance or other."),
    amount: float = typer.Option(0.0, help="Amount in dispute, in yuan."),
    age: int = typer.Option(0, help="The consumer's age, if known."),
    form: str = typer.Option("any", help="onsite, online or any."),
    language: str = typer.Option("", help="A dialect or language the parties need."),
    reason: str = typer.Option("", help="What the dispute is about."),
) -> None:
    """Records a court's pre-filing referral (诉前委派调解)."""
    if amount < 0:
        _fail("--amount must not be negative", 2)
    _print_request(
        _call(
            "RecordCourtReferral",
            _pb().RecordCourtReferralRequest(
                court_name=court,
                court_reference=reference,
                court_deadline=deadline,
                case_no=case_no,
                institution_name=institution,
                product=product,
                business_type=business_type,
                amount_in_dispute_fen=round(amount * 100),
                complainant_name=name,
                complainant_phone=phone,
                complainant_age=age,
                reason=reason,
                preferred_form=form,
                language=language,
            ),
        )
    )


@app.command("import-roster")
def import_roster(
    file: Path = typer.Argument(None, help="Roster YAML; default: the demo roster."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would change only."),
) -> None:
    """Loads or updates mediators and venues (idempotent); missing ones are deactivated.

    A file with an error is refused whole, naming the line and the field.
    """
    from services.mediation import domain

    path = file or Path(domain.__file__).parent / "data" / "demo_roster.yaml"
    if not path.is_file():
        _fail(f"{path}: no such file", 2)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(f"{path}: line {line}: not UTF-8 text; nothing imported", 2)
    try:
        roster = domain.parse_roster(text)
    except domain.RosterError as exc:
        _fail(f"{path}: {exc}", 2)
    report = _call("ImportRoster", _pb().ImportRosterRequest(yaml=text, dry_run=dry_run))
    verb = "would change" if dry_run else "changed"
    console.print(
        f"roster {path.name}: {len(roster.mediators)} mediators, {len(roster.venues)} venues; "
        f"mediators added {len(report.mediators_added)}, {verb} {len(report.mediators_changed)},"
        f" deactivated {len(report.mediators_deactivated)}; venues added "
        f"{len(report.venues_added)}, {verb} {len(report.venues_changed)}, deactivated "
        f"{len(report.venues_deactivated)}",
        highlight=False,
    )


@app.command("roster")
def roster() -> None:
    """Lists mediators and venues."""
    got = _call("ListRoster", _pb().ListRosterRequest())
    table = Table("mediator", "name", "specialities", "languages", "elderly", "caps", "leave")
    for m in got.mediators:
        table.add_row(
            m.id + ("" if m.active else " (inactive)"),
            m.name,
            ",".join(m.specialities),
            ",".join(m.languages),
            "yes" if m.elderly_suitable else "",
            f"{m.max_per_day}/day {m.max_per_week}/week",
            "; ".join(m.leave),
        )
    console.print(table)
    table = Table("venue", "name", "kind", "capacity", "hours")
    for v in got.venues:
        table.add_row(
            v.id + ("" if v.active else " (inactive)"),
            v.name,
            v.kind,
            str(v.capacity),
            f"{v.opens}-{v.closes}",
        )
    console.print(table)


@app.command("leave")
def leave(
    mediator_id: str = typer.Argument(..., help="The mediator's id."),
    first_day: str = typer.Option(..., "--from", help="First day off, YYYY-MM-DD."),
    last_day: str = typer.Option("", "--to", help="Last day off (default: --from)."),
    reason: str = typer.Option("leave", help="leave or sick."),
) -> None:
    """Records a mediator's leave and re-plans their sessions in it."""
    _print_plan(
        _call(
            "RecordLeave",
            _pb().RecordLeaveRequest(
                mediator_id=mediator_id, first_day=first_day, last_day=last_day, reason=reason
            ),
        )
    )


@app.command("plan")
def plan(
    confirm: bool = typer.Option(False, "--confirm", help="Book confirmed sessions at once."),
    horizon: int = typer.Option(0, help="Working days ahead (0: the desk policy's)."),
    time_limit: float = typer.Option(0.0, help="Solver seconds (0: the desk policy's)."),
) -> None:
    """Plans every accepted request without a session over the horizon."""
    _print_plan(
        _call(
            "PlanSessions",
            _pb().PlanSessionsRequest(
                horizon_working_days=horizon, time_limit_seconds=time_limit, confirm=confirm
            ),
        )
    )


@app.command("sessions")
def sessions(
    request_id: int = typer.Option(0, "--request", help="Only this request's sessions."),
    mediator_id: str = typer.Option("", "--mediator", help="Only this mediator's."),
    state: str = typer.Option("", help="Only sessions in this state."),
) -> None:
    """Lists sessions by start time."""
    got = _call(
        "ListSessions",
        _pb().ListSessionsRequest(request_id=request_id, mediator_id=mediator_id, state=state),
    )
    _print_sessions(got.sessions)


@app.command("book")
def book(
    request_id: int = typer.Argument(..., help="The request's id."),
    mediator_id: str = typer.Option(..., "--mediator", help="The mediator's id."),
    venue_id: str = typer.Option(..., "--venue", help="The venue's id."),
    start: str = typer.Option(..., help="ISO time with offset, e.g. 2026-12-01T09:30+08:00."),
    end: str = typer.Option(..., help="ISO time with offset."),
    confirm: bool = typer.Option(False, "--confirm", help="Book it confirmed."),
) -> None:
    """Books one session by hand (refused if the mediator or venue is taken)."""
    got = _call(
        "BookSession",
        _pb().BookSessionRequest(
            request_id=request_id,
            mediator_id=mediator_id,
            venue_id=venue_id,
            start=time_option(start, "--start"),
            end=time_option(end, "--end"),
            confirm=confirm,
        ),
    )
    _print_sessions([got])


def _change(method: str, session_id: int, note: str, bring_forward: bool = False) -> None:
    got = _call(
        method,
        _pb().ChangeSessionRequest(session_id=session_id, note=note, bring_forward=bring_forward),
    )
    if method == "CancelSession":
        _print_sessions([got.session])
        _print_plan(got.replanned)
    else:
        _print_sessions([got])


@app.command("confirm")
def confirm_session(
    session_id: int = typer.Argument(...), note: str = typer.Option("", help="A note.")
) -> None:
    """Confirms a proposed session (announced to intake, reminders follow)."""
    _change("ConfirmSession", session_id, note)


@app.command("hold")
def hold_session(
    session_id: int = typer.Argument(...),
    note: str = typer.Option("", help="A note."),
    now: bool = typer.Option(
        False, "--now", help="Both parties are here early: hold it now (当场调解)."
    ),
) -> None:
    """Marks a confirmed session as held."""
    _change("HoldSession", session_id, note, bring_forward=now)


@app.command("cancel")
def cancel_session(
    session_id: int = typer.Argument(...), note: str = typer.Option("", help="Why.")
) -> None:
    """Cancels a session before it is held, and re-plans."""
    _change("CancelSession", session_id, note)


@app.command("outcome")
def outcome(
    session_id: int = typer.Argument(..., help="The session's id."),
    result: str = typer.Option(
        ..., "--outcome", help="agreement, no_agreement, party_absent or withdrawn."
    ),
    amount: float = typer.Option(0.0, help="Agreement: the amount, in yuan."),
    terms: str = typer.Option("", help="Agreement: its terms."),
    judicial: bool = typer.Option(False, "--judicial", help="Send for judicial confirmation."),
) -> None:
    """Records a session's outcome, which ends the mediation (intake closes or resumes)."""
    if amount < 0:
        _fail("--amount must not be negative", 2)
    _print_request(
        _call(
            "RecordOutcome",
            _pb().RecordOutcomeRequest(
                session_id=session_id,
                outcome=result,
                amount_fen=round(amount * 100),
                terms=terms,
                judicial_confirmation=judicial,
            ),
        )
    )


@app.command("judicial-confirmation")
def judicial_confirmation(
    request_id: int = typer.Argument(..., help="The request's id."),
    court: str = typer.Option(..., help="The confirming court."),
    reference: str = typer.Option(..., help="The court's reference."),
    confirmed_on: str = typer.Option(..., "--date", help="YYYY-MM-DD."),
) -> None:
    """Records a court's judicial confirmation (司法确认) of an agreement."""
    _print_request(
        _call(
            "RecordJudicialConfirmation",
            _pb().RecordJudicialConfirmationRequest(
                request_id=request_id, court=court, reference=reference, confirmed_on=confirmed_on
            ),
        )
    )
