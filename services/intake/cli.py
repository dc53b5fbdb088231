"""`xiaobao intake …`: staff record, show, list, withdraw and classify cases (via intake's api)."""

from __future__ import annotations

import typer
from rich.table import Table

from services.common.console import console, time_option
from services.common.console import fail as _fail

app = typer.Typer(
    help="Cases: submit, show, list, withdraw, classify (talks to the intake api).",
    no_args_is_help=True,
)

KINDS = ("complaint", "consultation", "mediation_request", "report", "petition")
CHANNELS = ("hotline", "web", "mini_program", "letter", "visit", "email", "transfer")


def _call(method: str, request):
    from services.common.clients import call_or_fail

    return call_or_fail("intake", method, request, "operator", timeout=10)


def _name(enum_type, value: int, prefix: str) -> str:
    return enum_type.Name(value).removeprefix(prefix).lower()


@app.command("submit")
def submit(
    kind: str = typer.Option("complaint", help=", ".join(KINDS)),
    channel: str = typer.Option("hotline", help=", ".join(CHANNELS)),
    name: str = typer.Option(..., help="The complainant's name."),
    phone: str = typer.Option(..., help="Mainland mobile or landline with area code."),
    id_number: str = typer.Option("", help="Resident ID number (optional)."),
    region: str = typer.Option("", help="GB/T 2260 code of where the complainant lives."),
    institution: str = typer.Option("", help="The institution in the complainant's words."),
    product: str = typer.Option("", help="Product code, e.g. credit_cards, life, auto."),
    summary: str = typer.Option(..., help="What happened and what the complainant wants."),
    amount: float = typer.Option(0.0, help="Amount in dispute, in yuan."),
    received_at: str = typer.Option("", help="When the centre received it (letters): ISO time."),
    people: int = typer.Option(1, help="How many people complain together (20+: major)."),
    new_facts: bool = typer.Option(False, "--new-facts", help="A repeat with new facts."),
    agent_name: str = typer.Option("", help="A proxy case: the agent's name."),
    agent_id_number: str = typer.Option("", help="The agent's resident ID number."),
    agent_phone: str = typer.Option("", help="The agent's phone."),
    agent_authorization: str = typer.Option("", help="The authorisation letter's reference."),
    regulator: str = typer.Option("", help="Transfer channel: the regulator."),
    regulator_reference: str = typer.Option("", help="Transfer channel: its reference."),
    regulator_received_at: str = typer.Option("", help="Transfer channel: its receipt, ISO."),
    request_id: str = typer.Option("", help="Retry key: the same key never makes two cases."),
) -> None:
    """Records a case as a staff member would at the desk, and prints its number and clocks."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    if kind not in KINDS:
        _fail(f"--kind must be one of {', '.join(KINDS)}", 2)
    if channel not in CHANNELS:
        _fail(f"--channel must be one of {', '.join(CHANNELS)}", 2)
    request = pb.SubmitCaseRequest(
        kind=pb.CaseKind.Value(f"CASE_KIND_{kind.upper()}"),
        channel=pb.Channel.Value(f"CHANNEL_{channel.upper()}"),
        complainant=pb.Complainant(name=name, phone=phone, id_number=id_number, region_code=region),
        institution_text=institution,
        product=product,
        summary=summary,
        amount_in_dispute_fen=round(amount * 100),
        people_count=people,
        new_facts=new_facts,
        request_id=request_id,
    )
    if received_at:
        request.received_at.CopyFrom(time_option(received_at, "--received-at"))
    if agent_name or agent_phone or agent_id_number or agent_authorization:
        request.agent.CopyFrom(
            pb.Agent(
                name=agent_name,
                id_number=agent_id_number,
                phone=agent_phone,
                authorization_reference=agent_authorization,
            )
        )
    if regulator or regulator_reference or regulator_received_at:
        transfer = pb.Transfer(regulator=regulator, reference=regulator_reference)
        if regulator_received_at:
            transfer.received_by_regulator_at.CopyFrom(
                time_option(regulator_received_at, "--regulator-received-at")
            )
        request.transfer.CopyFrom(transfer)
    resp = _call("SubmitCase", request)
    case = resp.case
    if resp.linked_to:
        console.print(
            f"[yellow]{case.case_no}[/yellow]: a repeat of {resp.linked_to} without new facts; "
            "linked to it, no new clock (Art 15)"
        )
    else:
        console.print(f"[bold]{case.case_no}[/bold] recorded" + (" (major)" if case.major else ""))
    for clock in case.clocks:
        if clock.state != "stopped":
            console.print(f"  {clock.name}: last day {clock.last_day} ({clock.article})")


@app.command("show")
def show(
    case_no: str = typer.Argument(..., help="Case number, e.g. XB20261121000001."),
) -> None:
    """Prints a case, its clocks and its timeline."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    case = _call("GetCase", pb.GetCaseRequest(case_no=case_no))
    c = case.classification
    console.print(
        f"[bold]{case.case_no}[/bold] {_name(pb.CaseKind, case.kind, 'CASE_KIND_')} via "
        f"{_name(pb.Channel, case.channel, 'CHANNEL_')} — "
        f"{_name(pb.CaseStatus, case.status, 'CASE_STATUS_')}; "
        f"{case.complainant.name} {case.complainant.phone}; "
        f"institution: {case.institution_text} → {case.assigned_node_name or '-'}",
        highlight=False,
    )
    extra = [
        f"classified {c.business_type or '-'}/{c.product or '-'}/{c.issue or '-'} ({c.source})"
    ]
    if case.HasField("agent"):
        extra.append(
            f"proxy: {case.agent.name} {case.agent.phone}, letter {case.agent.authorization_reference}"
        )
    if case.HasField("transfer"):
        extra.append(f"transferred by {case.transfer.regulator} ({case.transfer.reference})")
    if case.major:
        extra.append(f"major: {case.people_count} people")
    if case.repeat_of:
        extra.append(f"repeat of {case.repeat_of}" + (" with new facts" if case.new_facts else ""))
    console.print("  " + "; ".join(extra), highlight=False)
    if case.screening_flagged:
        console.print(
            "  [bold red]screening flag[/bold red]: possibly an agent's filing; verify directly "
            f"with the consumer ({case.screening_note or 'no reasons given'})",
            highlight=False,
        )
    clocks = Table(
        "clock", "limit", "started", "last day", "state", "elapsed (days)", title="Clocks"
    )
    for clk in case.clocks:
        clocks.add_row(
            clk.name,
            f"{clk.limit} {clk.unit}",
            clk.started_at.ToDatetime().strftime("%Y-%m-%d %H:%M")
            if clk.HasField("started_at")
            else "-",
            clk.last_day + (" (provisional)" if clk.provisional else ""),
            clk.state
            + ("" if clk.state != "stopped" else (" within" if clk.within_limit else " LATE")),
            f"{clk.elapsed_days:.2f}",
        )
    console.print(clocks)
    timeline = Table("at (UTC)", "event", "by", "detail", title="Timeline")
    for e in case.timeline:
        timeline.add_row(e.at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"), e.type, e.actor, e.detail)
    console.print(timeline)


@app.command("list")
def list_cases(limit: int = typer.Option(50, help="At most this many cases.")) -> None:
    """Lists cases with masked personal data."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    resp = _call("ListCases", pb.ListCasesRequest(page_size=limit))
    table = Table("case", "kind", "channel", "status", "complainant", "institution")
    for c in resp.cases:
        table.add_row(
            c.case_no,
            _name(pb.CaseKind, c.kind, "CASE_KIND_"),
            _name(pb.Channel, c.channel, "CHANNEL_"),
            _name(pb.CaseStatus, c.status, "CASE_STATUS_"),
            f"{c.complainant.name} {c.complainant.phone}",
            c.assigned_node_name or c.institution_text,
        )
    console.print(table)


@app.command("withdraw")
def withdraw(
    case_no: str = typer.Argument(..., help="Case number."),
    reason: str = typer.Option(..., help="What the complainant said."),
    at: str = typer.Option("", help="When the withdrawal came in (ISO time); default now."),
) -> None:
    """The complainant withdrew: the case ends and every clock stops that day."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    request = pb.WithdrawCaseRequest(case_no=case_no, reason=reason)
    if at:
        request.withdrawn_at.CopyFrom(time_option(at, "--at"))
    case = _call("WithdrawCase", request)
    console.print(f"{case.case_no} withdrawn; every clock stopped")


@app.command("request-mediation")
def request_mediation(
    case_no: str = typer.Argument(..., help="Case number."),
    reason: str = typer.Option(..., help="What the complainant said."),
    form: str = typer.Option("any", help="onsite, online or any."),
) -> None:
    """The complainant asks for mediation; the mediation service asks both parties to consent."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    forms = {"any": 0, "onsite": pb.MEDIATION_FORM_ONSITE, "online": pb.MEDIATION_FORM_ONLINE}
    if form not in forms:
        _fail(f"--form must be one of {', '.join(forms)}", 2)
    request = pb.RequestMediationRequest(case_no=case_no, reason=reason, preferred_form=forms[form])
    case = _call("RequestMediation", request)
    console.print(f"{case.case_no}: mediation requested; the mediation desk asks both parties")


@app.command("classify")
def classify(
    case_no: str = typer.Argument(..., help="Case number."),
    business: str = typer.Option(..., help="bank, insurance or other."),
    product: str = typer.Option(..., help="Product code of the taxonomy."),
    issue: str = typer.Option(..., help="Issue code of the taxonomy."),
    note: str = typer.Option("", help="Why it changed."),
) -> None:
    """Corrects a case's classification (codes of services/intake/data/taxonomy.yaml)."""
    from xiaobao.intake.v1 import intake_pb2 as pb

    case = _call(
        "ClassifyCase",
        pb.ClassifyCaseRequest(
            case_no=case_no,
            classification=pb.Classification(business_type=business, product=product, issue=issue),
            note=note,
        ),
    )
    c = case.classification
    console.print(
        f"{case.case_no}: {c.business_type}/{c.product}/{c.issue} (taxonomy {c.taxonomy_version})"
    )
