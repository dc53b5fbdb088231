"""Every Xiaobao process's memory with 1,000,000 cases stored (issue 9: none above 300 MB).

    .venv/bin/python bench/million.py                          # 1,000,000 cases (~25 min)
    .venv/bin/python bench/million.py --cases 20000            # a quick end-to-end check
    .venv/bin/python bench/million.py --cases 200000 --json /tmp/million.json

The run gets a PostgreSQL database and a RabbitMQ vhost of its own (as bench/platform_flow.py
does; both dropped at the end, also on an error), migrates (`xiaobao db upgrade all`) and imports
the demo directory (`xiaobao routing import-directory`). Then:

1. **fill**: `--cases` cases stored in every service's schema as the services would have stored
   them, written with COPY in chunks (the bench holds one chunk at a time). A centre receiving
   cases evenly over 500 days up to now, over the directory's offices (a few institutions get
   most cases): 95% complaints, 3% consultations, 2% petitions. A complaint is received, assigned
   within a minute, acknowledged, answered within its limit (some after an extension to 30 or 60
   days, 5% late) and closed on the answer; what is not answered by now is open (about 3%:
   assigned or acknowledged, clocks running). Intake: the case, its timeline and its clock rows,
   derived by intake's own `domain.clock_effects` / `derive_clocks`. Routing: the assignment with
   its clock events and stored deadline (`store._refresh`, as routing computes it), its place in
   the portal's feed (in the order of the assignments' last changes) and the 60%/80%/breach
   notices the sweep would have sent. Mediation: the received case. Education: the case seen and
   the topic counts. Blacklist: the screening item, the screened case and its contact points, as
   bench/screening_service.py writes them (its `payload`, bench/screening_data.py's letters and
   people), every letter applied to one screener over the whole fill, so that its template is the
   one the worker would have named (that screener is most of the bench's ~650 MB at 1M). Personal
   data is encrypted once for a small pool of values (services/common/pii.py) and reused; the
   keyed hashes come from the generated people. Not written: sent outbox rows and processed-event
   markers (the services only look them up by key), mediation requests, clues, campaigns.
2. **start**: the ten processes (`services.platform.Platform`); each worker's seconds until its
   queues have consumers, and until the work it does at start is logged as done (intake recomputes
   every running clock, routing re-derives open deadlines and sweeps, blacklist restores its
   screener).
3. **exercise**: what staff and institutions do that reads many rows: intake ListCases pages and
   GetCase; the biggest institution's ListAssignedCases pages and a StreamAssignedCases catch-up
   from the beginning; routing's scorecard and desk queue; education's topics, hot spots and
   report; mediation's summary and requests; blacklist's backlog and clues; and a few new cases
   through the whole flow (SubmitCase, assigned, AnswerCase, closed).
4. **memory**: each process's VmRSS read from /proc every second; a table of RSS after start,
   peak (VmHWM) and RSS at the end against 300 MB, and for each call whose peak it raised. The
   machine is shared: a process above `--ceiling-mib` (3,000) is killed and the table says so.
   `--json FILE` writes the figures.

Prints figures; asserts nothing. See docs/performance.md.
"""

from __future__ import annotations

import os
import sys

# `python bench/million.py` works without PYTHONPATH: the repo root and the generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse
import contextlib
import functools
import json
import random
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.intake import own_database, own_vhost, platform_env, xiaobao
from bench.run import DEFAULT_AMQP_URI, _terminate, run_guarded

SERVICES = ("intake", "routing", "mediation", "education", "blacklist")
LIMIT_MB = 300
DAYS = 500  # the cases are spread evenly over this many days up to now
CHUNK = 10_000  # cases generated and written at a time
# What each worker logs when the work it does at start is done.
STARTUP_DONE = {
    "intake": "recomputed",
    "routing": "deadlines moved",
    "blacklist": "screener restored",
}
OUTCOMES = (
    ("closed_with_explanation", 0.55),
    ("non_monetary_relief", 0.25),
    ("monetary_relief", 0.15),
    ("referred_to_mediation", 0.0),  # would open a mediation request: not generated
    ("closed_with_explanation", 0.05),
)


@dataclass
class Options:
    cases: int = 1_000_000
    json_path: str = ""
    start_timeout: float = 3600.0
    flow_cases: int = 10
    seed: int = 20261121
    ceiling_mib: float = 3000.0  # a process above this is killed: the machine is shared


def mib(kb: int) -> float:
    return kb / 1024


# --- the stored cases ------------------------------------------------------------------------------


class Table:
    """One table's COPY: its columns in order, and the value a column gets when a row omits it
    (the model's Python-side default: COPY bypasses the ORM)."""

    def __init__(self, model) -> None:
        from sqlalchemy import JSON

        self.name = model.__tablename__
        self.columns: list[tuple[str, object]] = []
        for column in model.__table__.columns:
            value = None
            default = column.default
            if default is not None:
                value = default.arg(None) if default.is_callable else default.arg
            if isinstance(column.type, JSON) and value is not None:
                value = json.dumps(value)
            self.columns.append((column.name, value))
        self.rows: list[tuple] = []

    def add(self, values: dict) -> None:
        self.rows.append(tuple(values.get(name, d) for name, d in self.columns))

    def copy(self, conn, schema: str) -> int:
        names = ", ".join(f'"{name}"' for name, _ in self.columns)
        with (
            conn.cursor() as cur,
            cur.copy(f'COPY "{schema}"."{self.name}" ({names}) FROM STDIN') as cp,
        ):
            for row in self.rows:
                cp.write_row(row)
        n = len(self.rows)
        self.rows = []
        return n


@contextlib.contextmanager
def cached_deadlines():
    """compute_deadline depends on the start's local day only: within the fill (millions of
    clocks over 500 days) each answer is computed once."""
    from services.common import clock

    original = clock.compute_deadline

    @functools.lru_cache(maxsize=200_000)
    def by_day(day, limit, unit, pauses, roll, tz):
        start = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
        return original(start, limit, unit, clock_calendar[0], pauses, roll, tz=tz)

    clock_calendar = [None]

    def cached(
        start, limit, unit, calendar, pauses=(), roll_to_working_day=False, *, tz=clock.SHANGHAI
    ):
        clock_calendar[0] = calendar
        return by_day(
            start.astimezone(tz).date(), limit, unit, tuple(pauses), roll_to_working_day, tz
        )

    clock.compute_deadline = cached
    try:
        yield
    finally:
        clock.compute_deadline = original


@dataclass
class Office:
    id: str
    name: str
    root: str
    text: str  # what complainants write
    region: str
    products: tuple[str, ...]
    parent: str


def offices(conn) -> list[Office]:
    """The offices cases go to (branches and sub-branches), from routing's imported directory."""
    rows = conn.execute(
        "SELECT id, parent_id, name, aliases, region_code, product_lines, level, active "
        'FROM routing."node"'
    ).fetchall()
    by_id = {r[0]: r for r in rows}

    def root(node_id: str) -> str:
        while by_id[node_id][1]:
            node_id = by_id[node_id][1]
        return node_id

    out = []
    for node_id, parent, name, aliases, region, products, level, active in rows:
        if not active or level < 1:
            continue
        aliases = aliases if isinstance(aliases, list) else json.loads(aliases or "[]")
        products = products if isinstance(products, list) else json.loads(products or "[]")
        out.append(
            Office(
                id=node_id,
                name=name,
                root=root(node_id),
                text=aliases[0] if aliases else name,
                region=region,
                products=tuple(products) or ("",),
                parent=parent or "",
            )
        )
    out.sort(key=lambda o: o.id)
    return out


TIANJIN_DISTRICTS = (
    "120101",
    "120102",
    "120103",
    "120104",
    "120105",
    "120106",
    "120110",
    "120111",
    "120112",
    "120113",
)


class Filler:
    """Generates the cases chunk by chunk and writes every service's rows for them."""

    def __init__(self, database_url: str, cfg, n: int, seed: int, say) -> None:
        import psycopg

        from services.blacklist import models as bl
        from services.common import pii
        from services.common.clock import in_force
        from services.education import models as ed
        from services.intake import models as ik
        from services.intake import taxonomy
        from services.mediation import models as md
        from services.routing import models as rt

        self.say = say
        self.n = n
        self.cfg = cfg
        self.key = cfg.pii_key
        self.rng = random.Random(seed)
        self.seed = seed
        self.conn = psycopg.connect(database_url)
        self.calendar, self.policy = in_force()
        self.tax = taxonomy.taxonomy_in_force()
        self.offices = offices(self.conn)
        # A few institutions get most cases (as in any centre): weights by head office.
        roots = sorted({o.root for o in self.offices})
        self.rng.shuffle(roots)
        root_weight = {r: 1 / (i + 1) ** 1.1 for i, r in enumerate(roots)}
        self.office_weights = [root_weight[o.root] for o in self.offices]
        # Encrypted once, reused: the ciphertext's size is what matters here, not its value.
        self.sealed = {
            "names": [pii.encrypt(v, self.key) for v in ("张伟", "王芳", "李娜", "刘强", "陈静")],
            "phones": [pii.encrypt(f"1380000{i:04d}", self.key) for i in range(20)],
            "ids": [pii.encrypt(f"12010119600101{i:03d}X", self.key) for i in range(10)],
        }
        self.classified: dict[tuple[str, str], object] = {}
        self.t = {
            "intake": [Table(ik.Case), Table(ik.CaseEvent), Table(ik.ClockRecord)],
            "routing": [Table(rt.Assignment), Table(rt.ClockNotice)],
            "mediation": [Table(md.ReceivedCase)],
            "education": [Table(ed.CaseSeen)],
            "blacklist": [Table(bl.ScreeningItem), Table(bl.ScreenedCase), Table(bl.CasePoint)],
        }
        self.topics: dict[tuple[str, str], list[int]] = {}
        self.ids = {"event": 0, "assignment": 0, "notice": 0, "screened": 0, "point": 0}
        self.counts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.screener = None
        self.notices = self._notice_fractions()
        self.now = datetime.now(UTC)
        self.first = self.now - timedelta(days=DAYS)

    def _notice_fractions(self) -> tuple[float, ...]:
        from services.routing import store

        return store.routing_policy().notices

    # -- one case ----------------------------------------------------------------------------------

    def classification(self, office: Office, product: str):
        from services.intake import taxonomy

        key = (office.text, product)
        if key not in self.classified:
            self.classified[key] = taxonomy.suggest(self.tax, office.text, product)
        return self.classified[key]

    def timeline(self, kind: str, steps: list[tuple]) -> tuple[list[tuple], list]:
        """The timeline entries with the clock effects intake's `record` gives them, and the
        clocks derived from them (intake.domain), for the steps that have happened by now."""
        from services.intake import domain

        open_clocks: set[str] = set()
        entries, history = [], []
        for at, event_type, actor, detail, extra in sorted(steps, key=lambda s: s[0]):
            effects = [
                *domain.clock_effects(self.policy, kind, event_type, open_clocks),
                *(e for e in extra if e.get("clock") in self.policy.clocks),
            ]
            for e in effects:
                if e["kind"] in ("start", "restart"):
                    open_clocks.add(e["clock"])
                elif e["kind"] == "stop":
                    open_clocks.discard(e["clock"])
            entries.append((at, event_type, actor, detail, {"clock_effects": effects}))
            history.append(domain.HistoryItem(event_type, at, effects))
        clocks = domain.derive_clocks(self.policy, history, self.calendar, self.now)
        return entries, clocks

    def case(self, case_id: int, received: datetime, letter: dict, tables: dict) -> None:
        from bench.screening_service import payload
        from services.intake import domain

        rng = self.rng
        office = rng.choices(self.offices, self.office_weights)[0]
        product = rng.choice(office.products)
        roll = rng.random()
        kind = "complaint" if roll < 0.95 else "consultation" if roll < 0.98 else "petition"
        channel = rng.choice(("hotline", "hotline", "hotline", "web", "mini_program", "letter"))
        region = (
            office.region if not office.region.endswith("00") else rng.choice(TIANJIN_DISTRICTS)
        )
        cls = self.classification(office, product)
        case_no = domain.case_number(received, case_id)
        letter["case_no"] = case_no
        letter["institution"] = office.text
        letter["received_at"] = received.isoformat()
        p = payload(letter, self.key)
        agent = letter.get("agent") or {}
        amount = rng.randrange(0, 5_000_000, 100)
        summary = letter["text"]
        n = self.now
        steps = [(received, "intake.case_received", channel, "", [])]
        if rng.random() < 0.8:
            steps.append(
                (
                    received + timedelta(hours=rng.uniform(0.2, 6)),
                    "intake.first_contact_recorded",
                    "operator",
                    "",
                    [],
                )
            )
        status, closed_at, resolution = "received", None, ""
        node = None
        assignment = None
        if kind == "consultation":
            done = received + timedelta(days=rng.uniform(0.1, 3))
            if done <= n:
                status, closed_at, resolution = "closed", done, "已答复咨询。"
                steps.append((done, "intake.case_closed", "operator", resolution, []))
        else:
            node = office
            assignment = self.assignment(
                case_id, case_no, kind, received, office, p, product, region, summary, amount, steps
            )
            status, closed_at, resolution = assignment.pop("_intake")
        steps = [s for s in steps if s[0] <= n]
        entries, clocks = self.timeline(kind, steps)
        self.statuses[f"{kind} {status}"] = self.statuses.get(f"{kind} {status}", 0) + 1
        sealed = self.sealed
        tables["intake"][0].add(
            {
                "id": case_id,
                "case_no": case_no,
                "request_id": f"fill-{case_id}",
                "kind": kind,
                "channel": channel,
                "status": status,
                "complainant_name": sealed["names"][case_id % 5],
                "complainant_phone": sealed["phones"][case_id % 20],
                "complainant_id_number": sealed["ids"][case_id % 10] if p["id_hash"] else "",
                "complainant_region": region,
                "phone_hash": p["phone_hash"],
                "id_hash": p["id_hash"],
                "institution_text": office.text,
                "product": cls.product or product,
                "business_type": cls.business_type,
                "issue": cls.issue,
                "taxonomy_version": cls.taxonomy_version,
                "classified_by": cls.source,
                "agent_name": sealed["names"][(case_id + 1) % 5] if agent else "",
                "agent_phone": sealed["phones"][(case_id + 3) % 20] if agent.get("phone") else "",
                "agent_phone_hash": p["agent_phone_hash"],
                "agent_id_hash": p["agent_id_hash"],
                "agent_authorization_ref": f"授权-{case_id}" if agent else "",
                "summary": summary,
                "amount_in_dispute_fen": amount,
                "received_at": received,
                "assigned_node_id": node.id if node and status != "received" else "",
                "assigned_node_name": node.name if node and status != "received" else "",
                "closed_at": closed_at,
                "resolution": resolution,
                "created_at": received,
            }
        )
        for at, event_type, actor, detail, data in entries:
            self.ids["event"] += 1
            tables["intake"][1].add(
                {
                    "id": self.ids["event"],
                    "case_id": case_id,
                    "at": at,
                    "type": event_type,
                    "actor": actor,
                    "detail": detail,
                    "data": json.dumps(data),
                }
            )
        for c in clocks:
            tables["intake"][2].add(
                {
                    "case_id": case_id,
                    "name": c.name,
                    "started_at": c.started_at,
                    "stopped_at": c.stopped_at,
                    "limit": c.limit,
                    "unit": c.unit,
                    "last_day": c.last_day,
                    "deadline": c.deadline,
                    "provisional": c.provisional,
                    "within_limit": c.within_limit,
                    "elapsed_days": c.elapsed_days or 0.0,
                }
            )
        if assignment is not None:
            tables["routing"][0].add(assignment)
        tables["mediation"][0].add(
            {"id": case_id, "case_no": case_no, "kind": kind, "received_at": received}
        )
        if kind == "complaint":
            topic = self.topics.setdefault(
                (cls.product or product or "unspecified", region), [0, 0]
            )
            topic[0] += 1
            topic[1] += status == "closed"
            tables["education"][0].add(
                {
                    "case_no": case_no,
                    "received_on": received.astimezone(domain.SHANGHAI).date(),
                    "region_code": region,
                    "business_type": cls.business_type,
                    "product": cls.product or product,
                    "issue": cls.issue,
                    "proxy": bool(p["agent_phone_hash"]),
                }
            )
        self.screened(case_id, kind, channel, received, p, tables)

    def assignment(
        self, case_id, case_no, kind, received, office, p, product, region, summary, amount, steps
    ) -> dict:
        """The routing row of a routed case, and the timeline steps routing's events give intake."""
        from services.routing import store
        from services.routing.models import Assignment

        rng = self.rng
        n = self.now
        assigned = received + timedelta(seconds=rng.uniform(2, 60))
        acked = assigned + timedelta(days=rng.uniform(0.05, 3))
        late = rng.random()
        spec = store.institution_clock(self.policy, kind)
        extensions: list[tuple[datetime, int, str]] = []
        if kind == "petition":
            answered = assigned + timedelta(days=rng.uniform(5, 55))
        elif late < 0.70:
            answered = assigned + timedelta(days=rng.uniform(1, 14.5))
        elif late < 0.90:
            extensions.append((assigned + timedelta(days=rng.uniform(8, 13)), 30, ""))
            answered = assigned + timedelta(days=rng.uniform(15, 29.5))
        elif late < 0.95:
            extensions.append((assigned + timedelta(days=rng.uniform(8, 12)), 30, ""))
            extensions.append((assigned + timedelta(days=rng.uniform(25, 28)), 60, "分行负责人"))
            answered = assigned + timedelta(days=rng.uniform(31, 59))
        else:
            answered = assigned + timedelta(days=rng.uniform(16, 21))  # late
        acked = min(acked, answered)
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        a = Assignment(
            case_no=case_no,
            status="assigned",
            case_kind=kind,
            product=product,
            summary=summary,
            region_code=region,
            institution_text=office.text,
            complainant_name=p["complainant_name"],
            complainant_phone=p["complainant_phone"],
            amount_in_dispute_fen=amount,
            received_at=received,
            node_id=office.id,
            confidence=round(rng.uniform(0.86, 1.0), 2),
            runner_up_id="",
            major=False,
            elderly=False,
            repeat=False,
            tier_reason="",
            returns=0,
            queue_reason="",
            escalated_to_node_id="",
            clock_name=spec.name if spec else "",
            clock_events=[],
            route_history=[{"node_id": office.id, "at": assigned.isoformat()}],
            contact={},
            assigned_at=assigned,
            acknowledged_at=None,
            answered_at=None,
            outcome="",
            answer="",
            relief_amount_fen=0,
            paused=False,
        )
        last_change = assigned
        steps.append(
            (
                assigned,
                "routing.case_assigned",
                "routing",
                f"assigned to {office.name} (confidence {a.confidence:.2f})",
                [],
            )
        )
        if spec:
            store._clock_event(a, "start", assigned)
        if acked <= n:
            a.status, a.acknowledged_at, last_change = "acknowledged", acked, acked
            steps.append(
                (
                    acked,
                    "routing.case_acknowledged",
                    office.id,
                    "institution acknowledged receipt",
                    [],
                )
            )
        for at, to_days, approver in extensions:
            if at > n:
                break
            reason = "案情复杂，需调取录音核实"
            store._clock_event(
                a, "extend", at, limit=to_days, reason=reason, approver=approver, by=office.id
            )
            last_change = at
            detail = f"deadline extended to {to_days} days"
            steps.append(
                (
                    at,
                    "routing.case_extended",
                    office.id,
                    detail,
                    [
                        {
                            "clock": spec.name,
                            "kind": "extend",
                            "limit": to_days,
                            "reason": reason,
                            "approver": approver,
                        }
                    ],
                )
            )
        intake = ("assigned" if a.status in ("assigned", "acknowledged") else "received", None, "")
        if answered <= n:
            text = "经核实，已电话告知处理结果。"
            store._clock_event(a, "stop", answered)
            a.status, a.answered_at, a.outcome, a.answer = "answered", answered, outcome, text
            a.relief_amount_fen = (
                rng.randrange(100, 500_000, 100) if outcome == "monetary_relief" else 0
            )
            a.contact = {
                "method": "phone",
                "contacted_at": answered.isoformat(),
                "staff_name": "客服专员",
                "note": "",
            }
            last_change = answered
            steps.append(
                (
                    answered,
                    "routing.case_answered",
                    office.id,
                    f"institution decided: {outcome}",
                    [],
                )
            )
            steps.append((answered, "intake.case_closed", office.id, text, []))
            intake = ("closed", answered, text)
        status = store._refresh(a, n, self.calendar, self.policy)
        notices = []
        if status is not None and status.started_at is not None and status.deadline is not None:
            until = min(answered, n)
            span = status.deadline - status.started_at
            stages = [(f"{round(f * 100)}%", status.started_at + f * span) for f in self.notices]
            for stage, at in [*stages, ("breach", status.deadline)]:
                if at > until:
                    break
                notices.append((stage, at))
        for stage, at in notices:
            self.ids["notice"] += 1
            escalated = office.parent if stage == "breach" else ""
            self.t["routing"][1].add(
                {
                    "id": self.ids["notice"],
                    "case_no": case_no,
                    "node_id": office.id,
                    "period_started_at": status.started_at,
                    "limit_days": status.limit,
                    "stage": stage,
                    "clock_name": status.name,
                    "escalated_to": escalated,
                    "at": at,
                }
            )
            if stage == "breach":
                a.escalated_to_node_id = escalated
                steps.append(
                    (
                        at,
                        "routing.deadline_breached",
                        "routing",
                        f"{office.id} missed the {status.name} deadline {status.last_day}; escalated to {escalated or 'no parent office'}",
                        [],
                    )
                )
            else:
                steps.append(
                    (
                        at,
                        "routing.deadline_approaching",
                        "routing",
                        f"{stage} of the {status.name} time used; last day {status.last_day}",
                        [],
                    )
                )
            last_change = max(last_change, at) if stage == "breach" else last_change
        self.ids["assignment"] += 1
        row = {c.name: getattr(a, c.key) for c in Assignment.__table__.columns if c.name != "id"}
        for name in ("clock_events", "route_history", "contact"):
            row[name] = json.dumps(row[name])
        row.update(id=self.ids["assignment"], updated_at=last_change, feed_seq=0)
        row["_intake"] = intake
        return row

    def screened(self, case_id, kind, channel, received, p, tables) -> None:
        """What blacklist's worker stores for a case (bench/screening_service.py's rows)."""
        from services.blacklist import screening, store

        if self.screener is None:
            # One screener for the whole fill: a letter joins the template of any earlier letter,
            # as in the worker. A screener per 100,000 cases named twice the templates at 1M
            # (425,000 against 203,000) and so overstated the worker's restore (385 MiB, not 264).
            self.screener = screening.Screener(pii_key=self.key)
        screener = self.screener
        prepared = screener.prepare(store.case_input(p, self.key))
        features = screener.apply(prepared)
        self.ids["screened"] += 1
        sid = self.ids["screened"]
        sealed = self.sealed
        tables["blacklist"][0].add(
            {
                "id": case_id,
                "case_no": p["case_no"],
                "case_kind": kind,
                "channel": channel,
                "received_at": received,
                "institution_text": p["institution_text"],
                "summary": p["summary"],
                "phone_hash": p["phone_hash"],
                "status": "screened",
            }
        )
        tables["blacklist"][1].add(
            {
                "id": sid,
                "case_no": p["case_no"],
                "received_at": received,
                "institution": p["institution_text"],
                "complainant_key": prepared.complainant[1:],
                "complainant_name_hash": store.name_hash(p["complainant_name"], self.key),
                "agent_name_hash": store.name_hash(p["agent_name"], self.key),
                "complainant_name": sealed["names"][case_id % 5],
                "complainant_phone": sealed["phones"][case_id % 20],
                "agent_name": sealed["names"][(case_id + 1) % 5] if p["agent_name"] else "",
                "points": json.dumps([list(x) for x in prepared.points]),
                "signature": screening.signature_bytes(prepared.signature),
                "lexicon": json.dumps(store._lexicon_json(prepared.lexicon)),
                "template_key": screener.template_key(features.template),
                "similarity": features.similarity,
                "score": 0.0,
                "flagged": False,
                "ring_id": "",
                "reasons": "[]",
                "lexicon_version": screener.lexicon.version,
                "screened_at": received + timedelta(seconds=2),
            }
        )
        for h, k, r in prepared.points:
            self.ids["point"] += 1
            tables["blacklist"][2].add(
                {"id": self.ids["point"], "point_hash": h, "kind": k, "role": r, "case_id": sid}
            )

    # -- the whole fill ----------------------------------------------------------------------------

    def run(self) -> dict:
        from bench.screening_data import generate
        from services.education import models as ed

        started = time.monotonic()
        step = (self.now - self.first) / self.n
        done = 0
        with cached_deadlines():
            while done < self.n:
                size = min(CHUNK, self.n - done)
                letters, _truth = generate(max(size, 1000), seed=self.seed + done)
                for i in range(size):
                    case_id = done + i + 1
                    received = (
                        self.first
                        + step * (case_id - 1)
                        + timedelta(seconds=self.rng.uniform(0, 30))
                    )
                    self.case(case_id, min(received, self.now), letters[i], self.t)
                del letters
                for service, tables in self.t.items():
                    for table in tables:
                        self.counts[f"{service}.{table.name}"] = self.counts.get(
                            f"{service}.{table.name}", 0
                        ) + table.copy(self.conn, service)
                self.conn.commit()
                done += size
                if done % 100_000 == 0 or done == self.n:
                    rate = done / (time.monotonic() - started)
                    self.say(f"  {done:,} of {self.n:,} cases written ({rate:,.0f} cases/s)")
        topics = Table(ed.ComplaintTopic)
        for i, ((product, region), (cases, closed)) in enumerate(sorted(self.topics.items())):
            topics.add(
                {
                    "id": i + 1,
                    "product": product,
                    "region_code": region,
                    "cases": cases,
                    "closed": closed,
                }
            )
        self.counts["education.complaint_topic"] = topics.copy(self.conn, "education")
        self.conn.commit()
        self.say("  feed order, sequences, ANALYZE")
        self.finish()
        return {
            "seconds": time.monotonic() - started,
            "rows": self.counts,
            "statuses": dict(sorted(self.statuses.items())),
            "sizes_mib": self.sizes(),
        }

    def finish(self) -> None:
        c = self.conn
        # The portal's stream: every assignment's place in the order of its last change.
        c.execute(
            'UPDATE routing."assignment" a SET feed_seq = s.rn FROM (SELECT id, row_number() '
            'OVER (ORDER BY updated_at, id) AS rn FROM routing."assignment") s WHERE a.id = s.id'
        )
        c.execute(
            'UPDATE routing."feed_counter" SET value = (SELECT coalesce(max(feed_seq), 0) '
            'FROM routing."assignment") WHERE id = 1'
        )
        for schema, table in c.execute(
            "SELECT table_schema, table_name FROM information_schema.columns "
            "WHERE column_name = 'id' AND table_schema = ANY(%s) "
            "AND column_default LIKE 'nextval%%'",
            (list(SERVICES),),
        ).fetchall():
            seq = f"pg_get_serial_sequence('\"{schema}\".\"{table}\"', 'id')"
            top = f'SELECT coalesce(max(id), 0) + 1 FROM "{schema}"."{table}"'  # noqa: S608
            c.execute(f"SELECT setval({seq}, ({top}), false)")
        c.commit()
        c.autocommit = True
        c.execute("VACUUM ANALYZE")
        c.autocommit = False

    def sizes(self) -> dict[str, float]:
        rows = self.conn.execute(
            "SELECT n.nspname, sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'm') GROUP BY n.nspname",
            (list(SERVICES),),
        ).fetchall()
        found = {schema: int(size) / 2**20 for schema, size in rows}
        return {s: round(found.get(s, 0.0), 1) for s in SERVICES}

    def close(self) -> None:
        self.conn.close()


# --- memory and readiness --------------------------------------------------------------------------


def proc_status(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in kB, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    got = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            got[key] = int(value.split()[0])
    if "VmRSS" not in got:
        return None
    return got["VmRSS"], got.get("VmHWM", got["VmRSS"])


@dataclass
class Watched:
    name: str
    pid: int
    spawned: float
    rss: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, kB)
    hwm: int = 0
    after_start: int = 0
    at_end: int = 0
    ready: float | None = None  # seconds from spawn until its queues have consumers
    startup_done: float | None = None  # seconds from spawn until its start-up work is logged
    log_path: Path | None = None
    killed: str = ""  # why the bench killed it (above the ceiling)


class Sampler:
    """Every second: VmRSS and VmHWM of each platform process (read from /proc)."""

    def __init__(self, plat, ceiling_mib: float, say) -> None:
        self.plat = plat
        self.ceiling_kb = int(ceiling_mib * 1024)
        self.say = say
        self.watched: dict[int, Watched] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(1.0)

    def sample(self) -> None:
        now = time.monotonic()
        for p in list(self.plat.processes):
            w = self.watched.get(p.popen.pid)
            if w is None:
                w = Watched(f"{p.service} {p.role}", p.popen.pid, now, log_path=p.log_path)
                self.watched[p.popen.pid] = w
            got = proc_status(p.popen.pid)
            if got is None:
                continue
            w.rss.append((now, got[0]))
            w.hwm = max(w.hwm, got[1])
            w.at_end = got[0]
            if got[0] > self.ceiling_kb and not w.killed:
                # The machine is shared: a process heading for gigabytes is stopped, and says so.
                w.killed = f"killed by the bench at {mib(got[0]):,.0f} MiB (ceiling)"
                self.say(f"[red]{w.name}: {w.killed}[/red]")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)

    def peaks(self) -> dict[str, int]:
        """Each process's VmHWM now, in kB."""
        out = {}
        for w in list(self.watched.values()):
            got = proc_status(w.pid)
            out[w.name] = got[1] if got else w.hwm
        return out

    def check_alive(self) -> None:
        """As Platform._check_alive, but a process the bench killed is no surprise."""
        killed = {w.pid for w in self.watched.values() if w.killed}
        for p in self.plat.processes:
            if p.popen.pid not in killed and p.popen.poll() is not None:
                tail = p.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{p.service} {p.role} exited: {tail}")

    def mark_started(self) -> None:
        self.sample()
        for w in self.watched.values():
            w.after_start = w.at_end

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(3)
        self.sample()


def watch_readiness(sampler: Sampler, amqp_uri: str, stop: threading.Event) -> None:
    """(A thread.) When each worker's queues first have a consumer, and when its start-up work is
    logged as done."""
    import kombu

    from services.common import messaging

    wanted = {s: messaging.consumer_queue_names(s) for s in SERVICES}
    with kombu.Connection(amqp_uri) as conn:
        while not stop.is_set():
            for w in list(sampler.watched.values()):
                service, role = w.name.split()
                if role != "worker":
                    continue
                now = time.monotonic()
                if w.ready is None:
                    have = 0
                    for q in wanted[service]:
                        try:
                            _, _, consumers = conn.default_channel.queue_declare(q, passive=True)
                        except Exception:
                            conn.close()
                            conn.connect()
                            consumers = 0
                        have += consumers >= 1
                    if have == len(wanted[service]):
                        w.ready = now - w.spawned
                marker = STARTUP_DONE.get(service)
                if (
                    marker
                    and w.startup_done is None
                    and w.log_path
                    and w.log_path.exists()
                    and marker in w.log_path.read_text(errors="replace")
                ):
                    w.startup_done = now - w.spawned
            stop.wait(0.5)


# --- what staff and institutions do ------------------------------------------------------------------


class Calls:
    """Each call's seconds and outcome, for the report."""

    def __init__(self, say, sampler: Sampler) -> None:
        self.say = say
        self.sampler = sampler
        self.done: list[dict] = []

    def __call__(self, what: str, fn, *args, **kw):
        import grpc

        before = self.sampler.peaks()
        t = time.perf_counter()
        try:
            result = fn(*args, **kw)
            error = ""
        except grpc.RpcError as exc:
            result, error = None, f"{exc.code().name}: {(exc.details() or '')[:200]}"
        except Exception as exc:
            result, error = None, f"{type(exc).__name__}: {str(exc)[:200]}"
        seconds = time.perf_counter() - t
        after = self.sampler.peaks()
        # Whose peak this call raised (by more than 5 MiB): which process paid for it.
        rose = {
            k: round(mib(v), 1)
            for k, v in after.items()
            if k in before and v - before[k] > 5 * 1024
        }
        self.done.append(
            {"what": what, "seconds": round(seconds, 3), "error": error, "peak_rose_to_mib": rose}
        )
        note = "; peak " + ", ".join(f"{k} {v:,.0f} MiB" for k, v in rose.items()) if rose else ""
        self.say(f"  {what}: {seconds:,.2f} s{note}" + (f" [red]{error}[/red]" if error else ""))
        return result


def exercise(cfg, calls: Calls, opts: Options, say) -> dict:
    import grpc

    from bench.intake import complaint
    from bench.platform_flow import answer_request
    from services.common import auth
    from xiaobao.blacklist.v1 import blacklist_pb2 as bpb
    from xiaobao.blacklist.v1 import blacklist_pb2_grpc
    from xiaobao.education.v1 import education_pb2 as epb
    from xiaobao.education.v1 import education_pb2_grpc
    from xiaobao.intake.v1 import intake_pb2 as ipb
    from xiaobao.intake.v1 import intake_pb2_grpc
    from xiaobao.mediation.v1 import mediation_pb2 as mpb
    from xiaobao.mediation.v1 import mediation_pb2_grpc
    from xiaobao.routing.v1 import routing_pb2 as rpb
    from xiaobao.routing.v1 import routing_pb2_grpc

    secret = cfg.auth_secret
    staff = auth.bearer(auth.issue_token("bench-million", "supervisor", secret=secret))
    ch = {s: grpc.insecure_channel(cfg.service(s).address) for s in SERVICES}
    out: dict = {}
    try:
        intake = intake_pb2_grpc.IntakeServiceStub(ch["intake"])
        portal = routing_pb2_grpc.InstitutionPortalStub(ch["routing"])
        directory = routing_pb2_grpc.DirectoryServiceStub(ch["routing"])
        desk = routing_pb2_grpc.RoutingDeskStub(ch["routing"])
        education = education_pb2_grpc.EducationServiceStub(ch["education"])
        mediation = mediation_pb2_grpc.MediationServiceStub(ch["mediation"])
        blacklist = blacklist_pb2_grpc.BlacklistServiceStub(ch["blacklist"])
        long = 600

        say("intake: ListCases, GetCase")

        def pages(status: int, count: int, size: int = 500) -> list[str]:
            token, numbers = "", []
            for _ in range(count):
                page = intake.ListCases(
                    ipb.ListCasesRequest(status=status, page_size=size, page_token=token),
                    metadata=staff,
                    timeout=long,
                )
                numbers += [c.case_no for c in page.cases]
                token = page.next_page_token
                if not token:
                    break
            return numbers

        numbers = calls("intake ListCases, 20 pages of 500", pages, 0, 20) or []
        calls("intake ListCases ASSIGNED, 10 pages of 500", pages, ipb.CASE_STATUS_ASSIGNED, 10)
        calls("intake ListCases CLOSED, 10 pages of 500", pages, ipb.CASE_STATUS_CLOSED, 10)
        sample = random.Random(1).sample(numbers, min(50, len(numbers)))

        def get_cases() -> None:
            for case_no in sample:
                intake.GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff, timeout=long)

        calls(f"intake GetCase x{len(sample)}", get_cases)

        say("routing: the biggest institution's portal, the desk")
        nodes = directory.ListNodes(rpb.ListNodesRequest(), metadata=staff, timeout=long).nodes
        by_id = {n.id: n for n in nodes}
        biggest = out["biggest_institution"] = _biggest_root(cfg, by_id)
        inst = auth.bearer(auth.issue_token("bench-million", "institution", biggest, secret=secret))

        def portal_pages(status: int, count: int) -> int:
            token, seen = "", 0
            for _ in range(count):
                page = portal.ListAssignedCases(
                    rpb.ListAssignedCasesRequest(status=status, page_size=500, page_token=token),
                    metadata=inst,
                    timeout=long,
                )
                seen += len(page.assignments)
                token = page.next_page_token
                if not token:
                    break
            return seen

        calls(f"routing ListAssignedCases {biggest}, 20 pages of 500", portal_pages, 0, 20)
        calls(
            f"routing ListAssignedCases {biggest} ACKNOWLEDGED, every page",
            portal_pages,
            rpb.ASSIGNMENT_STATUS_ACKNOWLEDGED,
            10_000,
        )

        def catch_up(limit: int) -> int:
            call = portal.StreamAssignedCases(
                rpb.StreamAssignedCasesRequest(cursor="", follow=False), metadata=inst, timeout=long
            )
            seen = 0
            try:
                for _update in call:
                    seen += 1
                    if seen >= limit:
                        break
            finally:
                call.cancel()
            return seen

        out["stream_updates"] = calls(
            f"routing StreamAssignedCases {biggest} from the start, 5,000 updates", catch_up, 5000
        )
        calls(
            "routing ListRoutingQueue",
            lambda: desk.ListRoutingQueue(
                rpb.ListRoutingQueueRequest(page_size=500), metadata=staff, timeout=long
            ),
        )

        say("mediation and blacklist listings")
        calls(
            "mediation GetIntakeSummary",
            lambda: mediation.GetIntakeSummary(
                mpb.GetIntakeSummaryRequest(), metadata=staff, timeout=long
            ),
        )
        calls(
            "mediation ListRequests",
            lambda: mediation.ListRequests(
                mpb.ListRequestsRequest(page_size=500), metadata=staff, timeout=long
            ),
        )
        calls(
            "blacklist GetScreeningBacklog 500",
            lambda: blacklist.GetScreeningBacklog(
                bpb.GetScreeningBacklogRequest(limit=500), metadata=staff, timeout=long
            ),
        )
        calls(
            "blacklist ListClues 500",
            lambda: blacklist.ListClues(
                bpb.ListCluesRequest(limit=500), metadata=staff, timeout=long
            ),
        )

        say(f"the flow: {opts.flow_cases} new cases submitted, assigned, answered, closed")
        out["flow"] = calls(
            f"{opts.flow_cases} cases SubmitCase → assigned → AnswerCase → closed",
            flow,
            intake,
            portal,
            by_id,
            staff,
            secret,
            opts.flow_cases,
            complaint,
            answer_request,
        )
        # What reads a whole period goes last: a process killed at the ceiling stops nothing else.
        say("education: topics, hot spots, report")
        today = datetime.now(UTC).date()
        month, year = (
            (today - timedelta(days=30)).isoformat(),
            (today - timedelta(days=365)).isoformat(),
        )
        calls(
            "education GetComplaintTopics",
            lambda: education.GetComplaintTopics(
                epb.GetComplaintTopicsRequest(), metadata=staff, timeout=long
            ),
        )
        calls(
            "education GetHotspots, last 30 days",
            lambda: education.GetHotspots(
                epb.HotspotsRequest(**{"from": month, "to": today.isoformat()}),
                metadata=staff,
                timeout=long,
            ),
        )
        calls(
            "education GetHotspots, last 365 days",
            lambda: education.GetHotspots(
                epb.HotspotsRequest(**{"from": year, "to": today.isoformat()}),
                metadata=staff,
                timeout=long,
            ),
        )
        calls(
            "education GetReport, last 365 days by region, month",
            lambda: education.GetReport(
                epb.ReportRequest(
                    **{"from": year, "to": today.isoformat()}, by=["region", "month"]
                ),
                metadata=staff,
                timeout=long,
            ),
        )

        say("routing: the scorecards")
        quarter = f"{datetime.now(UTC).year}Q{(datetime.now(UTC).month - 1) // 3 + 1}"
        calls(
            f"routing GetScorecard {quarter}, every institution",
            lambda: desk.GetScorecard(
                rpb.ScorecardRequest(quarter=quarter), metadata=staff, timeout=long
            ),
        )
        calls(
            f"routing GetScorecard {quarter}, {biggest}",
            lambda: desk.GetScorecard(
                rpb.ScorecardRequest(quarter=quarter, root_id=biggest), metadata=staff, timeout=long
            ),
        )
    finally:
        for c in ch.values():
            c.close()
    return out


def _biggest_root(cfg, by_id) -> str:
    """The head office with the most assignments in its subtree."""
    import psycopg

    with psycopg.connect(cfg.database_url) as conn:
        counts = conn.execute(
            'SELECT node_id, count(*) FROM routing."assignment" GROUP BY node_id'
        ).fetchall()
    per_root: dict[str, int] = {}
    for node_id, n in counts:
        node = node_id
        while node in by_id and by_id[node].parent_id:
            node = by_id[node].parent_id
        per_root[node] = per_root.get(node, 0) + n
    return max(per_root, key=per_root.get)


def flow(intake, portal, by_id, staff, secret, n, complaint, answer_request) -> dict:
    """New cases through the platform at 1M: each submitted, assigned, answered and closed."""
    from services.common import auth
    from xiaobao.intake.v1 import intake_pb2 as ipb

    rng = random.Random(7)
    tag = secrets.token_hex(3)
    got = {"submitted": 0, "assigned": 0, "closed": 0, "seconds_to_closed": []}
    for i in range(n):
        t = time.monotonic()
        reply = intake.SubmitCase(complaint(rng, f"million-{tag}-{i}"), metadata=staff, timeout=60)
        case_no = reply.case.case_no
        got["submitted"] += 1
        deadline = t + 120
        case = reply.case
        while case.status not in (ipb.CASE_STATUS_ASSIGNED, ipb.CASE_STATUS_NEEDS_ROUTING):
            if time.monotonic() > deadline:
                raise TimeoutError(f"case {i} not assigned within 120 s")
            time.sleep(0.2)
            case = intake.GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff, timeout=60)
        if case.status != ipb.CASE_STATUS_ASSIGNED:
            continue
        got["assigned"] += 1
        root = case.assigned_node_id
        while by_id.get(root) is not None and by_id[root].parent_id:
            root = by_id[root].parent_id
        token = auth.bearer(auth.issue_token("bench-million", "institution", root, secret=secret))
        portal.AnswerCase(answer_request(case_no), metadata=token, timeout=60)
        while case.status != ipb.CASE_STATUS_CLOSED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"case {i} not closed within 120 s")
            time.sleep(0.2)
            case = intake.GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff, timeout=60)
        got["closed"] += 1
        got["seconds_to_closed"].append(round(time.monotonic() - t, 2))
    return got


# --- the run -----------------------------------------------------------------------------------------


def bench_million(opts: Options, tmp: Path, say) -> dict:
    from services.common import settings as settings_mod
    from services.platform import Platform, check_broker

    report: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cases": opts.cases,
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": list(os.getloadavg())},
    }
    base_uri = os.environ.get("XIAOBAO_AMQP_URI") or DEFAULT_AMQP_URI
    check_broker(base_uri)
    log_dir = tmp / "logs"
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(own_database(_Console(say)))
        amqp_uri = stack.enter_context(own_vhost(base_uri, _Console(say)))
        check_broker(amqp_uri)
        env = platform_env(database_url, amqp_uri, tmp / "data", _PlatformOptions())
        os.environ.update(env)  # this process reads the same settings (the PII key, policies)
        settings_mod.get.cache_clear()
        cfg = settings_mod.load(dict(os.environ))

        say("xiaobao db upgrade all; xiaobao routing import-directory")
        xiaobao(env, "db", "upgrade", "all")
        xiaobao(env, "routing", "import-directory")

        say(f"filling {opts.cases:,} cases")
        filler = Filler(database_url, cfg, opts.cases, opts.seed, say)
        try:
            report["fill"] = filler.run()
        finally:
            filler.close()
        fill = report["fill"]
        say(
            f"filled in {fill['seconds']:,.0f} s; sizes (MiB): "
            + ", ".join(f"{s} {v:,.0f}" for s, v in fill["sizes_mib"].items())
        )

        plat = Platform(env=env, log_dir=log_dir)
        stack.callback(plat.stop)
        sampler = Sampler(plat, opts.ceiling_mib, say)
        stack.callback(sampler.stop)
        stop_watch = threading.Event()
        watcher = threading.Thread(
            target=watch_readiness, args=(sampler, amqp_uri, stop_watch), daemon=True
        )
        watcher.start()
        stack.callback(watcher.join, 5)
        stack.callback(stop_watch.set)
        say("starting the ten processes")
        started = time.monotonic()
        plat.start(timeout=opts.start_timeout)
        say(f"  all ten up ({time.monotonic() - started:,.1f} s); waiting for the start-up work")
        end = time.monotonic() + opts.start_timeout
        while time.monotonic() < end:
            sampler.check_alive()
            workers = [w for w in sampler.watched.values() if w.name.endswith("worker")]
            if all(
                w.startup_done is not None for w in workers if w.name.split()[0] in STARTUP_DONE
            ):
                break
            time.sleep(1)
        time.sleep(3)
        sampler.mark_started()
        report["start_seconds"] = time.monotonic() - started

        say("exercising the platform")
        calls = Calls(say, sampler)
        report["exercise"] = exercise(cfg, calls, opts, say)
        report["calls"] = calls.done
        time.sleep(3)  # a last tick of every timer
        sampler.stop()
        sampler.check_alive()
        report["processes"] = [
            {
                "process": w.name,
                "pid": w.pid,
                "rss_after_start_mib": round(mib(w.after_start), 1),
                "peak_hwm_mib": round(mib(w.hwm), 1),
                "rss_at_end_mib": round(mib(w.at_end), 1),
                "within_300_mb": mib(w.hwm) * 1.048576 <= LIMIT_MB,
                "ready_seconds": None if w.ready is None else round(w.ready, 1),
                "startup_work_seconds": None
                if w.startup_done is None
                else round(w.startup_done, 1),
                "killed": w.killed,
            }
            for w in sorted(sampler.watched.values(), key=lambda w: (w.name.split()[1], w.name))
        ]
        report["machine"]["load_average_at_end"] = list(os.getloadavg())
        report["startup_log_lines"] = _startup_lines(log_dir)
    return report


def _startup_lines(log_dir: Path) -> dict[str, list[str]]:
    """The workers' own words about their start-up work (counts and seconds, no personal data)."""
    found: dict[str, list[str]] = {}
    for service, marker in STARTUP_DONE.items():
        path = log_dir / f"{service}-worker.log"
        if path.exists():
            found[service] = [
                line[-300:]
                for line in path.read_text(errors="replace").splitlines()
                if marker in line
            ][:3]
    return found


@dataclass
class _PlatformOptions:
    """What bench.intake.platform_env reads of its options."""

    poll_seconds: float = 0.05


class _Console:
    """What bench/intake.py's helpers print through."""

    def __init__(self, say) -> None:
        self.say = say

    def print(self, text: str, **_kw) -> None:
        self.say(text)


def render(report: dict, console) -> None:
    from rich.table import Table as RichTable

    fill = report.get("fill", {})
    console.print(
        f"[bold]Xiaobao at {report['cases']:,} stored cases[/bold] {report['when']}; "
        f"fill {fill.get('seconds', 0):,.0f} s; start-up {report.get('start_seconds', 0):,.0f} s; "
        f"load average at start {report['machine']['load_average_at_start'][0]:.2f}, "
        f"at end {report['machine'].get('load_average_at_end', [0])[0]:.2f}",
        soft_wrap=True,
    )
    sizes = fill.get("sizes_mib", {})
    if sizes:
        console.print(
            "database size per schema (MiB): "
            + ", ".join(f"{s} {v:,.0f}" for s, v in sizes.items())
            + f"; total {sum(sizes.values()):,.0f}",
            soft_wrap=True,
        )
        console.print(
            "rows: " + ", ".join(f"{k} {v:,}" for k, v in fill["rows"].items()), soft_wrap=True
        )
        console.print(
            "cases: " + ", ".join(f"{k} {v:,}" for k, v in fill["statuses"].items()), soft_wrap=True
        )
    table = RichTable(title="resident memory of each process (MiB)", title_justify="left")
    for col in (
        "process",
        "RSS after start",
        "peak (VmHWM)",
        "RSS at end",
        f"≤ {LIMIT_MB} MB?",
        "ready s",
        "start-up work s",
    ):
        table.add_column(col, justify="left" if col == "process" else "right")
    for p in report.get("processes", []):
        table.add_row(
            p["process"],
            f"{p['rss_after_start_mib']:,.0f}",
            f"{p['peak_hwm_mib']:,.0f}",
            f"{p['rss_at_end_mib']:,.0f}",
            ("yes" if p["within_300_mb"] else "[red]NO[/red]")
            + (f" [red]({p['killed']})[/red]" if p.get("killed") else ""),
            "" if p["ready_seconds"] is None else f"{p['ready_seconds']:,.1f}",
            "" if p["startup_work_seconds"] is None else f"{p['startup_work_seconds']:,.1f}",
        )
    console.print(table)
    calls = RichTable(title="calls", title_justify="left")
    for col in ("what", "seconds", "peak raised (MiB)", "error"):
        calls.add_column(col, justify="right" if col == "seconds" else "left")
    for c in report.get("calls", []):
        rose = ", ".join(f"{k} {v:,.0f}" for k, v in c.get("peak_rose_to_mib", {}).items())
        calls.add_row(c["what"], f"{c['seconds']:,.2f}", rose, c["error"])
    console.print(calls)
    ex = report.get("exercise", {})
    console.print(
        f"flow: {ex.get('flow')}; stream updates read: {ex.get('stream_updates')}", soft_wrap=True
    )
    for service, lines in report.get("startup_log_lines", {}).items():
        for line in lines:
            console.print(f"  [dim]{service} worker: {line}[/dim]", soft_wrap=True)


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="stored cases (1,000,000)")
    parser.add_argument("--json", metavar="FILE", default="", help="write the figures as JSON")
    parser.add_argument("--flow-cases", type=int, default=10, help="new cases through the flow")
    parser.add_argument(
        "--start-timeout", type=float, default=3600.0, help="seconds the workers may take to start"
    )
    parser.add_argument(
        "--ceiling-mib",
        type=float,
        default=3000.0,
        help="kill a process whose RSS passes this (3000): the machine is shared",
    )
    args = parser.parse_args(argv)
    if args.cases < 1000:
        parser.error("--cases must be at least 1000")
    return Options(
        cases=args.cases,
        json_path=args.json,
        start_timeout=args.start_timeout,
        flow_cases=args.flow_cases,
        ceiling_mib=args.ceiling_mib,
    )


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    opts = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the finally blocks too
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def say(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}", soft_wrap=True)

    report, code = run_guarded(
        console, "million", lambda _children, tmp: bench_million(opts, tmp, say)
    )
    if code is not None:
        return code
    render(report, console)
    if opts.json_path:
        Path(opts.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(opts.json_path).write_text(
            json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
        )
        console.print(f"figures written to {opts.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
