"""The scorecard from the routing database: one row per office a case was assigned to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.routing import scorecard as sc
from services.routing import store
from services.routing.models import Assignment, ClockNotice
from xiaobao.routing.v1 import routing_pb2 as pb


def score_rows(session: Session, quarter: sc.Quarter) -> Iterator[sc.ScoreRow]:
    """Every office's part in the cases that may have a hop in the quarter (returned hops
    included), streamed: a centre's whole history does not fit in an api's memory.

    A hop within the quarter touched its assignment then (`updated_at`, moved by every change),
    so assignments untouched since the quarter began are not read at all; `compute` keeps the
    hops that fall in the quarter.
    """
    candidates = (
        Assignment.assigned_at.is_not(None),
        # A case reassigned after the quarter may have had its first hop within it.
        Assignment.received_at < quarter.end,
        or_(Assignment.updated_at >= quarter.start, Assignment.updated_at.is_(None)),
    )
    breached = {
        (case_no, node_id)
        for case_no, node_id in session.execute(
            select(ClockNotice.case_no, ClockNotice.node_id).where(
                ClockNotice.stage == "breach",
                ClockNotice.case_no.in_(select(Assignment.case_no).where(*candidates)),
            )
        )
    }
    assignments = session.execute(
        select(*_SCORED).where(*candidates).execution_options(yield_per=2000)
    )
    for a in assignments:
        yield from _hops(a, breached)


# What a scorecard reads of an assignment (not its texts, contact or answer).
_SCORED = (
    Assignment.case_no,
    Assignment.node_id,
    Assignment.status,
    Assignment.route_history,
    Assignment.answered_at,
    Assignment.deadline,
    Assignment.clock_events,
    Assignment.paused,
    Assignment.outcome,
    Assignment.relief_amount_fen,
    Assignment.repeat,
)


def _hops(a, breached: set[tuple[str, str]]) -> Iterator[sc.ScoreRow]:
    history = list(a.route_history or [])
    for i, hop in enumerate(history):
        if "moved_at" in hop:
            continue  # the desk moved it on: nothing to hold that office to
        assigned_at = datetime.fromisoformat(hop["at"])
        returned = "returned_at" in hop
        current = i == len(history) - 1 and not returned
        if not current:
            yield sc.ScoreRow(
                case_no=a.case_no,
                node_id=hop["node_id"],
                assigned_at=assigned_at,
                answered_at=None,
                deadline=None,
                returned=returned,
                breached=(a.case_no, hop["node_id"]) in breached,
                repeat=a.repeat,
            )
            continue
        yield sc.ScoreRow(
            case_no=a.case_no,
            node_id=a.node_id or hop["node_id"],
            assigned_at=assigned_at,
            answered_at=a.answered_at if a.status == "answered" else None,
            deadline=a.deadline,
            extended=_extended_since_last_hop(a),
            paused=a.paused,
            outcome=a.outcome if a.status == "answered" else "",
            relief_fen=a.relief_amount_fen,
            repeat=a.repeat,
            breached=(a.case_no, a.node_id) in breached,
            returned=False,
        )


def _extended_since_last_hop(a: Assignment) -> bool:
    extended = False
    for e in a.clock_events or []:
        if e["kind"] == "restart":
            extended = False
        elif e["kind"] == "extend":
            extended = True
    return extended


def scorecard(
    session: Session, quarter_text: str, root: str = "", now: datetime | None = None
) -> tuple[sc.Quarter, list[sc.ScoreLine]]:
    """ValueError for a bad quarter or an unknown root (the CLI and the api say which)."""
    quarter = sc.Quarter.parse(quarter_text)
    nodes = store.directory(session)
    if root and root not in {n.id for n in nodes}:
        raise ValueError(f"root: unknown node {root}")
    lines = sc.compute(
        score_rows(session, quarter),
        nodes,
        quarter,
        now or datetime.now(UTC),
        store.routing_policy().scorecard,
        root=root or None,
    )
    return quarter, lines


def _rate(value: float | None) -> float:
    return -1.0 if value is None else round(value, 4)


def line_message(line: sc.ScoreLine) -> list[pb.ScorecardLine]:
    """Two messages per office: its subtree rolled up, then its own figures."""
    out = []
    for rolled_up, f in ((True, line.subtree), (False, line.own)):
        out.append(
            pb.ScorecardLine(
                node_id=line.node_id,
                node_name=line.name,
                level=line.level,
                rolled_up=rolled_up,
                cases=f.cases,
                answered=f.answered,
                answered_within_limit=f.answered_within_limit,
                overdue_open=f.overdue_open,
                timely_rate=_rate(f.timely_rate),
                extension_rate=_rate(f.extension_rate),
                outcomes=dict(f.outcomes),
                relief_fen=f.relief_fen,
                repeat_rate=_rate(f.repeat_rate),
                breaches=f.breaches,
                returned=f.returned,
                list=line.list if rolled_up else "",
            )
        )
    return out
