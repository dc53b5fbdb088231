"""`xiaobao blacklist ...` for investigators: query, expand, clues, clue, audit, import-agents.

Every command calls the blacklist api as the investigator named by `--user` (role `--role`,
investigator or supervisor), with a token from XIAOBAO_BLACKLIST_TOKEN if set, else one signed
here with XIAOBAO_AUTH_SECRET (development). The api writes every call to its audit log.

Known-agents file (import-agents), YAML:

    source: 天津市公安局 2026-11 通报        # who shared the list (or --source)
    agents:
      - name: 张德帅                          # at least one of name, phone, id_number
        phone: "13600002222"
        id_number: "120101198001011234"
        org: 某某维权工作室                    # optional
        source: 某保险公司 2026-10            # optional, per entry

or CSV with a header line naming some of: name, phone, id_number, org, source (--source then
required). A malformed file is refused as a whole with its line number; the list in force stays.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import typer
from rich.table import Table

from services.common.console import console
from services.common.console import fail as _fail

_who = {"user": os.environ.get("USER") or "investigator", "role": "investigator"}

clues_app = typer.Typer(help="Clues: list and show.", no_args_is_help=True)
clue_app = typer.Typer(help="One clue: move, assign, note.", no_args_is_help=True)

AGENT_FIELDS = ("name", "phone", "id_number", "org", "source")
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{9,11})$")
_ID = re.compile(r"^\d{17}[\dX]$")
AGENT_FIELD_MAX = 200


def set_caller(user: str, role: str) -> None:
    if role not in ("investigator", "supervisor"):
        _fail(f"--role must be investigator or supervisor, got {role!r}", 2)
    _who["user"], _who["role"] = user, role


def _call(method: str, request):
    from services.common.clients import call_or_fail

    token = os.environ.get("XIAOBAO_BLACKLIST_TOKEN", "")
    return call_or_fail("blacklist", method, request, _who["role"], _who["user"], 30, token)


def _pb():
    from xiaobao.blacklist.v1 import blacklist_pb2 as pb

    return pb


def _one(options: dict[str, str]) -> tuple[str, str]:
    given = [(k, v) for k, v in options.items() if v]
    if len(given) != 1:
        _fail("give exactly one of " + ", ".join("--" + k.replace("_", "-") for k in options), 2)
    return given[0]


def _cases_table(cases, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in (
        "case",
        "received",
        "institution",
        "score",
        "flag",
        "ring",
        "complainant",
        "phone",
        "agent",
        "clues",
    ):
        table.add_column(col)
    for c in cases:
        table.add_row(
            c.case_no,
            c.received_at.ToDatetime().strftime("%Y-%m-%d %H:%M"),
            c.institution,
            f"{c.score:.2f}",
            "FLAG" if c.flagged else "",
            c.ring_id,
            c.complainant_name,
            c.complainant_phone,
            c.agent_name,
            ", ".join(c.clue_ids),
        )
    return table


def _reasons(cases) -> None:
    for c in cases:
        for r in c.reasons:
            console.print(f"  {c.case_no} [{r.signal}] {r.detail}", highlight=False, markup=False)


def query(
    phone: str = typer.Option("", help="A phone number (matched by keyed hash)."),
    id_number: str = typer.Option("", "--id-number", help="A resident ID number."),
    name: str = typer.Option("", help="A complainant's or agent's name."),
    case: str = typer.Option("", "--case", help="A case number."),
    ring: str = typer.Option("", "--ring", help="A ring id (R-...)."),
    limit: int = typer.Option(100, help="At most this many cases."),
) -> None:
    """Screened cases by phone, ID number, name, case or ring (audited)."""
    field, value = _one(
        {"phone": phone, "id_number": id_number, "name": name, "case": case, "ring": ring}
    )
    key = {"case": "case_no", "ring": "ring_id"}.get(field, field)
    pb = _pb()
    resp = _call("Query", pb.QueryRequest(limit=limit, **{key: value}))
    if not resp.cases:
        console.print("no screened case matches")
        return
    console.print(_cases_table(resp.cases, f"{len(resp.cases)} cases"))
    _reasons(resp.cases)


def expand(
    ring: str = typer.Option("", "--ring", help="A ring id."),
    case: str = typer.Option("", "--case", help="A case number."),
    phone: str = typer.Option("", help="A phone number."),
    id_number: str = typer.Option("", "--id-number", help="A resident ID number."),
    limit: int = typer.Option(200, help="At most this many cases."),
) -> None:
    """A ring's or an entity's neighbours: cases, shared contact points, complainants."""
    field, value = _one({"ring": ring, "case": case, "phone": phone, "id_number": id_number})
    key = {"case": "case_no", "ring": "ring_id"}.get(field, field)
    pb = _pb()
    resp = _call("Expand", pb.ExpandRequest(limit=limit, **{key: value}))
    console.print(_cases_table(resp.cases, f"{len(resp.cases)} cases"))
    points = Table(title="shared contact points (keyed hashes)", title_justify="left")
    for col in ("point", "kind", "cases", "complainants"):
        points.add_column(col)
    for p in resp.points:
        points.add_row(p.point, p.kind, str(p.cases), str(p.complainants))
    console.print(points)
    people = Table(title="complainants", title_justify="left")
    for col in ("complainant", "name", "cases"):
        people.add_column(col)
    for c in resp.complainants:
        people.add_row(c.complainant_key, c.name, ", ".join(c.case_nos))
    console.print(people)


@clues_app.command("list")
def clues_list(
    status: str = typer.Option("", help="new, triaged, investigating, confirmed, ... or all."),
    assignee: str = typer.Option("", help="Only clues assigned to this investigator."),
    limit: int = typer.Option(50, help="At most this many clues."),
) -> None:
    """Clues, newest first."""
    pb = _pb()
    resp = _call("ListClues", pb.ListCluesRequest(status=status, assignee=assignee, limit=limit))
    table = Table(title=f"{len(resp.clues)} clues", title_justify="left")
    for col in ("clue", "status", "score", "ring", "cases", "assignee", "updated"):
        table.add_column(col)
    for c in resp.clues:
        table.add_row(
            c.clue_id,
            c.status,
            f"{c.score:.2f}",
            c.ring_id,
            str(len(c.case_nos)),
            c.assignee,
            c.updated_at.ToDatetime().strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def _show(clue) -> None:
    console.print(
        f"{clue.clue_id}  {clue.status}  score {clue.score:.2f}  ring {clue.ring_id or '-'}  "
        f"assignee {clue.assignee or '-'}",
        highlight=False,
    )
    if clue.dismissal_reason:
        console.print(f"dismissed: {clue.dismissal_reason}", highlight=False, markup=False)
    if clue.cases:
        console.print(_cases_table(clue.cases, f"{len(clue.cases)} cases"))
        _reasons(clue.cases)
    for n in clue.notes:
        console.print(
            f"  {n.at.ToDatetime().strftime('%Y-%m-%d %H:%M')} {n.author} {n.kind}: {n.text}",
            highlight=False,
            markup=False,
        )


@clues_app.command("show")
def clues_show(clue_id: str = typer.Argument(..., help="CL000123")) -> None:
    """One clue with its cases, reasons and notes."""
    _show(_call("GetClue", _pb().GetClueRequest(clue_id=clue_id)))


@clue_app.command("move")
def clue_move(
    clue_id: str = typer.Argument(..., help="CL000123"),
    to: str = typer.Argument(..., help="The next status, or dismissed."),
    reason: str = typer.Option("", help="Why (required to dismiss)."),
) -> None:
    """new -> triaged -> investigating -> confirmed -> referred_to_police -> closed, or dismissed."""
    _show(
        _call("TransitionClue", _pb().TransitionClueRequest(clue_id=clue_id, to=to, reason=reason))
    )


@clue_app.command("assign")
def clue_assign(
    clue_id: str = typer.Argument(..., help="CL000123"),
    assignee: str = typer.Argument(..., help="The investigator's user name."),
) -> None:
    """Assigns a clue: its assignee sees its personal data unmasked."""
    _show(_call("AssignClue", _pb().AssignClueRequest(clue_id=clue_id, assignee=assignee)))


@clue_app.command("note")
def clue_note(
    clue_id: str = typer.Argument(..., help="CL000123"),
    text: str = typer.Argument(..., help="The note (append-only)."),
) -> None:
    """Adds a note to a clue."""
    _show(_call("AddClueNote", _pb().AddClueNoteRequest(clue_id=clue_id, text=text)))


def audit(
    subject: str = typer.Option("", help="Only this user's calls."),
    limit: int = typer.Option(100, help="At most this many entries."),
    before: int = typer.Option(0, help="Entries before this id (paging)."),
) -> None:
    """The audit log of investigator calls (supervisors only: --role supervisor)."""
    pb = _pb()
    resp = _call(
        "ReadAuditLog", pb.ReadAuditLogRequest(subject=subject, limit=limit, before_id=before)
    )
    table = Table(title=f"{len(resp.entries)} audit entries", title_justify="left")
    for col in ("id", "at", "who", "role", "method", "asked", "returned"):
        table.add_column(col)
    for e in resp.entries:
        table.add_row(
            str(e.id),
            e.at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S"),
            e.subject,
            e.role,
            e.method,
            e.query_json,
            e.result_json,
        )
    console.print(table)


# --- known agents ------------------------------------------------------------------------------


class AgentFileError(ValueError):
    pass


def _check_agent(entry: dict, line: int) -> dict:
    unknown = set(entry) - set(AGENT_FIELDS)
    if unknown:
        raise AgentFileError(
            f"line {line}: unknown field(s) {', '.join(sorted(map(str, unknown)))}"
        )
    for key in AGENT_FIELDS:
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, str | int | type(None)):
            kind = {dict: "a mapping", list: "a list"}.get(
                type(value).__mro__[-2], f"{type(value).__name__} {value!r}"
            )
            raise AgentFileError(f"line {line}: {key} must be text, not {kind}")
        text = str(value or "")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            raise AgentFileError(f"line {line}: {key} contains control characters")
        if len(text) > AGENT_FIELD_MAX:
            raise AgentFileError(f"line {line}: {key} is longer than {AGENT_FIELD_MAX} characters")
    clean = {k: str(entry.get(k) or "").strip() for k in AGENT_FIELDS}
    if not (clean["name"] or clean["phone"] or clean["id_number"]):
        raise AgentFileError(f"line {line}: needs a name, a phone or an id_number")
    if clean["phone"]:
        digits = re.sub(r"[\s()\-]", "", clean["phone"]).removeprefix("+86")
        if not _PHONE.match(digits):
            raise AgentFileError(f"line {line}: phone is not a mobile or landline number")
        clean["phone"] = digits
    if clean["id_number"]:
        value = clean["id_number"].upper()
        if not _ID.match(value):
            raise AgentFileError(
                f"line {line}: id_number is not an 18-character resident ID number"
            )
        clean["id_number"] = value
    return clean


def parse_agents_file(path: Path) -> tuple[str, list[dict]]:
    """(source, entries) of a known-agents file; AgentFileError names the line."""
    data = path.read_bytes()
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise AgentFileError(f"line {line}: not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        read = [0]  # lines handed to the reader: where a csv.Error happened

        def counted(text: str):
            for physical in io.StringIO(text, newline=""):
                read[0] += 1
                yield physical

        reader = csv.DictReader(counted(content))
        entries, lines = [], []
        try:
            if not reader.fieldnames:
                raise AgentFileError("line 1: no header line")
            missing = [f for f in reader.fieldnames if f.strip() not in AGENT_FIELDS]
            if missing:
                raise AgentFileError(f"line 1: unknown column(s) {', '.join(missing)}")
            names = [f.strip() for f in reader.fieldnames]
            twice = sorted({f for f in names if names.count(f) > 1})
            if twice:
                raise AgentFileError(f"line 1: column(s) {', '.join(twice)} given twice")
            for row in reader:
                if None in row:
                    raise AgentFileError(f"line {reader.line_num}: more values than columns")
                if not any((v or "").strip() for v in row.values()):
                    continue
                clean = {k.strip(): v for k, v in row.items()}
                entries.append(_check_agent(clean, reader.line_num))
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise AgentFileError(f"line {read[0]}: not readable CSV: {exc}") from None
        if not entries:
            raise AgentFileError("line 2: no agents in the file")
        _refuse_repeats(entries, lines)
        return "", entries
    from services.common.datafiles import line_of, parse_yaml

    try:
        raw = parse_yaml(content)
    except ValueError as exc:
        found = re.search(r"\(line (\d+)\)$", str(exc))
        problem = re.sub(r" \(line \d+\)$", "", str(exc))
        raise AgentFileError(f"line {found[1] if found else 1}: {problem}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("agents"), list):
        raise AgentFileError(
            f"line {line_of(raw) or 1}: expected a mapping with an agents list (and a source)"
        )
    source = raw.get("source")
    if source is not None and not isinstance(source, str | int):
        raise AgentFileError(f"line {line_of(raw, 'source')}: source must be text")
    entries, lines = [], []
    for i, item in enumerate(raw["agents"]):
        line = line_of(raw["agents"], i)
        if not isinstance(item, dict):
            raise AgentFileError(f"line {line}: an agent must be a mapping of fields")
        entries.append(_check_agent(item, line))
        lines.append(line)
    if not entries:
        raise AgentFileError(f"line {line_of(raw, 'agents')}: no agents in the file")
    _refuse_repeats(entries, lines)
    return str(source or ""), entries


def _refuse_repeats(entries: list[dict], lines: list[int]) -> None:
    """The same agent (name, phone and ID number) listed twice is a copying slip."""
    first: dict[tuple[str, str, str], int] = {}
    for entry, line in zip(entries, lines, strict=True):
        key = (entry["name"], entry["phone"], entry["id_number"])
        if key in first:
            raise AgentFileError(f"line {line}: the same agent as line {first[key]}")
        first[key] = line


def import_agents(
    file: Path = typer.Argument(..., help="Known agents, YAML or CSV (format below)."),
    source: str = typer.Option("", help="Who shared the list (required for CSV)."),
) -> None:
    """Imports a known-agents list from police or industry sharing; it replaces the list in force.

    YAML: `source: <who shared it>` and `agents:`, a list of mappings with name, phone,
    id_number, org, source (at least one of name, phone, id_number). CSV: a header line naming
    some of those columns, one agent a line, and --source. Phones and ID numbers are stored as
    keyed hashes (originals encrypted); names are matched fuzzily. A malformed file is refused
    whole, naming its line: the list in force stays."""
    if not file.is_file():
        _fail(f"{file}: no such file", 2)
    try:
        file_source, entries = parse_agents_file(file)
    except AgentFileError as exc:
        _fail(f"{file}: {exc}; nothing imported, the previous list stays in force", 2)
    source = source or file_source
    if not source:
        _fail(f"{file}: say who shared the list (--source, or source: in the YAML)", 2)
    pb = _pb()
    resp = _call(
        "ImportKnownAgents",
        pb.ImportKnownAgentsRequest(source=source, agents=[pb.KnownAgent(**e) for e in entries]),
    )
    console.print(
        f"imported {resp.entries} known agents from {source} (list {resp.list_id}); "
        "stored as keyed hashes, originals encrypted",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("expand")(expand)
    app.command("audit")(audit)
    app.command("import-agents")(import_agents)
    app.add_typer(clues_app, name="clues")
    app.add_typer(clue_app, name="clue")
