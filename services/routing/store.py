"""Routing's storage operations: the directory, assigning cases, institution actions, the sweep."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.common import notify
from services.common import settings as settings_mod
from services.common.calendar import WorkingCalendar
from services.common.clock import (
    ClockEvent,
    ClockSpec,
    ClockStatus,
    Policy,
    check_extension,
    evaluate,
    in_force,
    open_pause,
)
from services.common.errors import (
    CaseNotFound,
    FailedPrecondition,
    InvalidArgument,
)
from services.common.messaging import emit
from services.routing import domain, tiers
from services.routing.models import (
    Assignment,
    ClockNotice,
    DirectoryVersion,
    FeedCounter,
    Node,
    OutboxMessage,
)

SERVICE = "routing"
# Announced by every transaction that moves an assignment in the portal's feed.
FEED_CHANNEL = "xiaobao_feed_routing"
DEMO_DIRECTORY = Path(__file__).parent / "data" / "demo_directory.yaml"
ROUTED_KINDS = ("complaint", "petition")
OPEN = ("assigned", "acknowledged")
log = logging.getLogger(__name__)


# --- the directory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    deactivated: tuple[str, ...]
    unchanged: int
    version: int


def read_directory_file(path: Path) -> list[domain.DirectoryNode]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise domain.DirectoryError(f"{path}:{line}: not UTF-8 text") from None
    return domain.load_directory_text(text, str(path))


def _node_values(item: domain.DirectoryNode) -> dict:
    return {
        "parent_id": item.parent_id,
        "name": item.name,
        "aliases": list(item.aliases),
        "short_names": list(item.short_names),
        "former_names": list(item.former_names),
        "kind": item.kind,
        "region_code": item.region_code,
        "product_lines": list(item.product_lines),
        "portal_contact": item.portal_contact,
        "active": item.active,
        "level": item.level,
    }


def import_directory(
    session: Session, nodes: list[domain.DirectoryNode], source: str = ""
) -> ImportReport:
    """Loads or updates the directory: idempotent; nodes missing from the file are deactivated.

    Nothing is deleted: assignments and scorecards keep pointing at deactivated offices.
    """
    existing = {n.id: n for n in session.scalars(select(Node))}
    added: list[str] = []
    changed: list[str] = []
    unchanged = 0
    for item in nodes:
        values = _node_values(item)
        row = existing.pop(item.id, None)
        if row is None:
            session.add(Node(id=item.id, **values))
            added.append(item.id)
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            changed.append(item.id)
        else:
            unchanged += 1
    deactivated: list[str] = []
    for row in existing.values():
        if row.active:
            row.active = False
            deactivated.append(row.id)
    meta = _directory_row(session)
    if added or changed or deactivated:
        meta.version += 1
        meta.source = source[:200]
        meta.imported_at = datetime.now(UTC)
    return ImportReport(
        tuple(sorted(added)),
        tuple(sorted(changed)),
        tuple(sorted(deactivated)),
        unchanged,
        meta.version,
    )


def _directory_row(session: Session) -> DirectoryVersion:
    row = session.get(DirectoryVersion, 1)
    if row is None:
        row = DirectoryVersion(id=1, version=1, source="")
        session.add(row)
        session.flush()
    return row


def directory(session: Session) -> list[domain.DirectoryNode]:
    return [
        domain.DirectoryNode(
            id=n.id,
            parent_id=n.parent_id,
            name=n.name,
            aliases=tuple(n.aliases or ()),
            kind=n.kind,
            region_code=n.region_code,
            product_lines=tuple(n.product_lines or ()),
            portal_contact=n.portal_contact,
            active=n.active,
            level=n.level,
            short_names=tuple(n.short_names or ()),
            former_names=tuple(n.former_names or ()),
        )
        for n in session.scalars(select(Node).order_by(Node.id))
    ]


@dataclass
class Directory:
    """One version of the directory with what every request needs of it, built once."""

    version: int
    nodes: list[domain.DirectoryNode]
    by_id: dict[str, domain.DirectoryNode] = field(init=False)
    _subtrees: dict[str, frozenset[str]] = field(init=False, default_factory=dict)
    _resolver: domain.Resolver | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.by_id = {n.id: n for n in self.nodes}

    def subtree(self, root_id: str) -> frozenset[str]:
        found = self._subtrees.get(root_id)
        if found is None:
            found = frozenset(domain.subtree_ids(self.nodes, root_id))
            self._subtrees[root_id] = found
        return found

    def name(self, node_id: str | None) -> str:
        node = self.by_id.get(node_id or "")
        return node.name if node else ""

    def resolver(self, excluding: frozenset[str] = frozenset()) -> domain.Resolver:
        minimum = settings_mod.get().routing_min_confidence
        if excluding:
            nodes = [replace(n, active=False) if n.id in excluding else n for n in self.nodes]
            return domain.Resolver(nodes, minimum)
        if self._resolver is None:
            self._resolver = domain.Resolver(self.nodes, minimum)
        return self._resolver

    def active_parent(self, node_id: str) -> domain.DirectoryNode | None:
        node = self.by_id.get(node_id)
        while node is not None and node.parent_id:
            node = self.by_id.get(node.parent_id)
            if node is not None and node.active:
                return node
        return None


class _DirectoryCache:
    """The directory as of its version row; the version is re-read at most every `ttl` seconds.

    An import therefore reaches every api process within `ttl` seconds without each portal call
    reading 60+ nodes.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._current: Directory | None = None
        self._checked = 0.0

    def get(self, session: Session) -> Directory:
        current = self._current
        if current is not None and time.monotonic() - self._checked < self.ttl:
            return current
        version = session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1))
        with self._lock:
            if self._current is None or self._current.version != (version or 0):
                self._current = Directory(version or 0, directory(session))
            self._checked = time.monotonic()
            return self._current

    def clear(self) -> None:
        with self._lock:
            self._current = None


DIRECTORY = _DirectoryCache()


def current_directory(session: Session) -> Directory:
    return DIRECTORY.get(session)


def resolver(session: Session) -> domain.Resolver:
    return current_directory(session).resolver()


# --- policy in force -------------------------------------------------------------------------

_last_routing_policy: dict[str, tiers.RoutingPolicy] = {}


def routing_policy() -> tiers.RoutingPolicy:
    """The routing policy file; a broken edit is logged and the last good copy stays in force."""
    path = settings_mod.get().routing_policy_file or None
    try:
        policy = tiers.load_routing_policy(path)
    except (OSError, ValueError) as exc:
        if "policy" not in _last_routing_policy:
            raise
        log.error("routing policy rejected, the previous one stays in force: %s", exc)
        return _last_routing_policy["policy"]
    _last_routing_policy["policy"] = policy
    return policy


def institution_clock(policy: Policy, case_kind: str) -> ClockSpec | None:
    """The clock the institution answers against: it stops when the institution answers."""
    for spec in policy.clocks_for(case_kind):
        if spec.stop_event == "routing.case_answered" and spec.start_event in (
            "routing.case_assigned",
            "routing.case_acknowledged",
        ):
            return spec
    return None


# --- the institution's clock on an assignment ------------------------------------------------


def _clock_event(a: Assignment, kind: str, at: datetime, **extra) -> None:
    a.clock_events = [*(a.clock_events or []), {"kind": kind, "at": at.isoformat(), **extra}]


def clock_events(a: Assignment) -> list[ClockEvent]:
    return [
        ClockEvent(
            kind=e["kind"],
            at=datetime.fromisoformat(e["at"]),
            limit=e.get("limit"),
            reason=e.get("reason", ""),
            approver=e.get("approver", ""),
        )
        for e in a.clock_events or []
    ]


def clock_status(
    a: Assignment, now: datetime, calendar: WorkingCalendar, policy: Policy
) -> ClockStatus | None:
    if not a.clock_name or a.clock_name not in policy.clocks:
        return None
    return evaluate(policy.clock(a.clock_name), clock_events(a), calendar, now, policy)


def _stage_instants(status: ClockStatus, notices: tuple[float, ...]) -> list[tuple[str, datetime]]:
    """When each notice falls due: a fraction of the time from start to deadline, then breach."""
    assert status.started_at is not None and status.deadline is not None
    span = status.deadline - status.started_at
    stages = [(f"{round(f * 100)}%", status.started_at + f * span) for f in notices]
    return [*stages, ("breach", status.deadline)]


def _refresh(
    a: Assignment, now: datetime, calendar=None, policy=None, *, swept: bool = False
) -> ClockStatus | None:
    """Re-derives the stored copies of the clock (limit, deadline, next sweep check).

    When every stage has passed, the sweep takes one more look (next_check_at = now) unless it
    is the sweep itself refreshing, which has just sent what was due.
    """
    if calendar is None or policy is None:
        calendar, policy = in_force()
    status = clock_status(a, now, calendar, policy)
    if status is None:
        a.next_check_at = None
        return None
    a.limit_days = status.limit
    a.clock_started_at = status.started_at
    a.last_day = status.last_day
    a.deadline = status.deadline
    a.provisional = status.provisional
    paused = _open_pause(a) is not None
    a.paused = paused
    if status.state in ("not_started", "stopped") or paused or a.status not in OPEN:
        a.next_check_at = None
    else:
        upcoming = [at for _, at in _stage_instants(status, routing_policy().notices) if at > now]
        a.next_check_at = min(upcoming) if upcoming else (None if swept else now)
    return status


def _open_pause(a: Assignment) -> dict | None:
    return open_pause(a.clock_events or [])


def _next_feed(session: Session) -> int:
    value = session.execute(
        update(FeedCounter)
        .where(FeedCounter.id == 1)
        .values(value=FeedCounter.value + 1)
        .returning(FeedCounter.value)
    ).scalar()
    if value is None:  # a database created without the migration's seed row
        session.add(FeedCounter(id=1, value=1))
        session.flush()
        value = 1
    return int(value)


def _touch(session: Session, a: Assignment, now: datetime) -> None:
    """Every change to an assignment: a new place in the portal's stream."""
    a.updated_at = now
    a.feed_seq = _next_feed(session)
    # The following streams of the node's subtree wake at commit (the desk's go to nobody's).
    notify.announce(session, FEED_CHANNEL, a.node_id or "")


# --- assigning -------------------------------------------------------------------------------


def _facts(session: Session, payload: dict, node_id: str, policy: tiers.RoutingPolicy, now):
    window = now - timedelta(days=policy.breach_window_days)
    # No autoflush: nothing pending changes this count, and a new assignment is then inserted
    # once, complete, instead of inserted here and updated right after.
    with session.no_autoflush:
        breaches = session.scalar(
            select(func.count())
            .select_from(ClockNotice)
            .where(
                ClockNotice.node_id == node_id,
                ClockNotice.stage == "breach",
                ClockNotice.at >= window,
            )
        )
    return tiers.CaseFacts(
        amount_fen=int(payload.get("amount_in_dispute_fen", 0) or 0),
        major=bool(payload.get("major")),
        elderly=_elderly(payload, policy),
        repeat=bool(payload.get("repeat_of")),
        node_breaches=int(breaches or 0),
    )


def _elderly(payload: dict, policy: tiers.RoutingPolicy) -> bool:
    age = payload.get("complainant_age")
    return bool(payload.get("complainant_elderly")) or (
        isinstance(age, int) and age >= policy.elderly_age
    )


def assign_case(session: Session, payload: dict, now: datetime) -> Assignment | None:
    """Resolves the responsible node for a received case and hands the case to it."""
    if payload.get("kind") not in ROUTED_KINDS or payload.get("linked_to"):
        return None  # a repeat without new facts is linked to a case already with an office
    case_no = payload["case_no"]
    if session.scalar(select(Assignment).where(Assignment.case_no == case_no)) is not None:
        return None
    current = current_directory(session)
    decision = current.resolver().resolve(
        payload.get("institution_text", ""),
        payload.get("region_code", ""),
        payload.get("product", ""),
    )
    assignment = Assignment(
        case_no=case_no,
        status="needs_routing",  # until handed to an office below
        case_kind=payload["kind"],
        product=payload.get("product", ""),
        summary=payload.get("summary", ""),
        region_code=payload.get("region_code", ""),
        institution_text=payload.get("institution_text", ""),
        complainant_name=payload.get("complainant_name", ""),
        complainant_phone=payload.get("complainant_phone", ""),
        amount_in_dispute_fen=int(payload.get("amount_in_dispute_fen", 0)),
        received_at=datetime.fromisoformat(payload["received_at"]),
        confidence=decision.confidence,
        runner_up_id=decision.runner_up.id if decision.runner_up else "",
        major=bool(payload.get("major")),
        elderly=_elderly(payload, routing_policy()),
        repeat=bool(payload.get("repeat_of")),
        clock_events=[],
        route_history=[],
        contact={},
    )
    session.add(assignment)
    if decision.node is None or decision.needs_human:
        why = decision.reason or f"no confident match (confidence {decision.confidence:.2f})"
        _to_desk(session, assignment, why, now)
        return assignment
    _assign_tiered(session, assignment, current, decision.node, payload, now, reassigned=False)
    return assignment


def _assign_tiered(
    session: Session,
    a: Assignment,
    current: Directory,
    node: domain.DirectoryNode,
    payload: dict,
    now: datetime,
    *,
    reassigned: bool,
    note: str = "",
    tried: frozenset[str] = frozenset(),
) -> None:
    policy = routing_policy()
    tier = tiers.apply_tiers(
        policy, _facts(session, payload, node.id, policy, now), node, current.by_id
    )
    if tier.node.id in tried:
        # The policy would hand it back to an office that already said it is not theirs.
        _to_desk(
            session, a, f"{note}; the routing policy would send it back to {tier.node.id}", now
        )
        return
    reason = (note + "; " if note else "") + tier.reason if tier.reason else note
    a.tier_reason = reason[:400]  # the column's width: PostgreSQL refuses longer
    hand_to(session, a, tier.node, now, reassigned=reassigned)
    log.info(
        "case %s assigned to %s (resolved %s, confidence %.2f)",
        a.case_no,
        tier.node.id,
        node.id,
        a.confidence,
    )


def _to_desk(session: Session, a: Assignment, why: str, now: datetime) -> None:
    a.status = "needs_routing"
    a.node_id = None
    a.queue_reason = why[:200]
    a.next_check_at = None
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.case_needs_routing",
        {"case_no": a.case_no, "confidence": a.confidence, "why": a.queue_reason},
    )
    log.info("case %s needs a person to route it: %s", a.case_no, a.queue_reason)


def hand_to(
    session: Session,
    a: Assignment,
    node: domain.DirectoryNode,
    now: datetime,
    *,
    reassigned: bool = False,
) -> None:
    """The institution receives the case now: its clock (re)starts if the policy says so."""
    calendar, policy = in_force()
    spec = institution_clock(policy, a.case_kind)
    a.node_id = node.id
    a.status = "assigned"
    a.assigned_at = now
    a.acknowledged_at = None
    a.escalated_to_node_id = ""
    a.queue_reason = ""
    a.route_history = [*(a.route_history or []), {"node_id": node.id, "at": now.isoformat()}]
    if spec is not None:
        a.clock_name = spec.name
        if reassigned and a.clock_events:
            # The new institution receives the complaint today: its own limit runs from here.
            _clock_event(a, "restart", now)
        elif spec.start_event == "routing.case_assigned":
            _clock_event(a, "start", now)
    _refresh(a, now, calendar, policy)
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.case_assigned",
        {
            "case_no": a.case_no,
            "node_id": node.id,
            "node_name": node.name,
            "assigned_at": now.isoformat(),
            "confidence": a.confidence,
            "clock": a.clock_name,
            "last_day": a.last_day.isoformat() if a.last_day else "",
            "reassigned": reassigned,
            "tier_reason": a.tier_reason,
        },
    )


def route_by_desk(
    session: Session, case_no: str, node_id: str, note: str, actor: str, now: datetime
) -> Assignment:
    """A person of the routing desk places a case no rule could (or moves one still open)."""
    a = session.scalar(select(Assignment).where(Assignment.case_no == case_no))
    if a is None:
        raise CaseNotFound(case_no)
    current = current_directory(session)
    node = current.by_id.get(node_id)
    if node is None:
        raise InvalidArgument("node_id", f"unknown node {node_id}")
    if not node.active:
        raise InvalidArgument("node_id", f"node {node_id} is no longer active")
    if a.status not in ("needs_routing", *OPEN):
        raise FailedPrecondition(f"case {case_no} is {a.status}; it can no longer be routed")
    if a.node_id == node_id:
        raise FailedPrecondition(f"case {case_no} is already with {node_id}")
    reassigned = a.assigned_at is not None
    history = list(a.route_history or [])
    if a.status in OPEN and history:
        # Moved by the centre, not returned by the office: the office answers for nothing more.
        history[-1] = {**history[-1], "moved_at": now.isoformat(), "reason": note or "moved"}
        a.route_history = history
    a.tier_reason = (f"routed by the desk ({actor})" + (f": {note}" if note else ""))[:400]
    hand_to(session, a, node, now, reassigned=reassigned)
    return a


# --- what institutions do --------------------------------------------------------------------


def visible_assignment(
    session: Session, case_no: str, allowed: frozenset[str] | set[str] | None
) -> Assignment:
    """The assignment, if the caller's subtree holds it; otherwise as if it did not exist."""
    a = session.scalar(select(Assignment).where(Assignment.case_no == case_no))
    if a is None or (allowed is not None and a.node_id not in allowed):
        raise CaseNotFound(case_no)
    if a.status == "needs_routing":
        raise CaseNotFound(case_no)
    return a


def _require_open(a: Assignment, doing: str) -> None:
    if a.status not in OPEN:
        raise FailedPrecondition(f"case {a.case_no} is {a.status}; cannot {doing}")


def acknowledge(session: Session, a: Assignment, actor: str, now: datetime) -> None:
    if a.status == "acknowledged":
        return  # acknowledging twice is harmless
    _require_open(a, "acknowledge it")
    a.acknowledged_at = now
    a.status = "acknowledged"
    calendar, policy = in_force()
    spec = institution_clock(policy, a.case_kind)
    if spec is not None and not any(
        e["kind"] in ("start", "restart") for e in a.clock_events or []
    ):
        a.clock_name = spec.name
        _clock_event(a, "start", now)
    _refresh(a, now, calendar, policy)
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.case_acknowledged",
        {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "by": actor,
            "acknowledged_at": now.isoformat(),
        },
    )


def request_extension(
    session: Session,
    a: Assignment,
    to_days: int,
    reason: str,
    approver: str,
    actor: str,
    now: datetime,
) -> None:
    """15 → 30 (complex) → 60 days (especially complex, approved); beyond: FAILED_PRECONDITION."""

    _require_open(a, "extend its deadline")
    calendar, policy = in_force()
    if not a.clock_name:
        raise FailedPrecondition(f"case {a.case_no} has no institution clock to extend")
    spec = policy.clock(a.clock_name)
    status = clock_status(a, now, calendar, policy)
    if status is None or status.state == "not_started":
        raise FailedPrecondition(f"case {a.case_no}: the clock has not started")
    if status.state == "overdue":
        raise FailedPrecondition(
            f"case {a.case_no}: the deadline {status.last_day} has passed; an extension must be "
            "decided before it"
        )
    step = check_extension(spec, status.limit, to_days, reason, approver)
    _clock_event(a, "extend", now, limit=step.to, reason=reason, approver=approver, by=actor)
    _refresh(a, now, calendar, policy)
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.case_extended",
        {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "clock": a.clock_name,
            "to_days": step.to,
            "article": step.article,
            "reason": reason,
            "approver": approver,
            "at": now.isoformat(),
            "last_day": a.last_day.isoformat() if a.last_day else "",
        },
    )


def pause_clock(
    session: Session, a: Assignment, reason: str, note: str, actor: str, now: datetime
) -> None:
    """Appraisal, testing or evaluation time is not counted (Art 18)."""
    _require_open(a, "pause its clock")
    calendar, policy = in_force()
    if not a.clock_name or not policy.clock(a.clock_name).pausable:
        raise FailedPrecondition(
            f"case {a.case_no}: the {a.clock_name or 'institution'} clock cannot be paused"
        )
    if not any(e["kind"] in ("start", "restart") for e in a.clock_events or []):
        raise FailedPrecondition(f"case {a.case_no}: the clock has not started")
    paused = _open_pause(a)
    if paused is not None:
        raise FailedPrecondition(f"case {a.case_no}: the clock is paused since {paused['at']}")
    _clock_event(a, "pause", now, reason=reason, note=note, by=actor)
    _refresh(a, now, calendar, policy)
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.clock_paused",
        {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "clock": a.clock_name,
            "reason": reason,
            "at": now.isoformat(),
        },
    )


def resume_clock(session: Session, a: Assignment, note: str, actor: str, now: datetime) -> None:
    _require_open(a, "resume its clock")
    paused = _open_pause(a)
    if paused is None:
        raise FailedPrecondition(f"case {a.case_no}: the clock is not paused")
    if paused.get("reason") == MEDIATION:
        raise FailedPrecondition(
            f"case {a.case_no}: the clock is paused for mediation until the mediation ends"
        )
    _clock_event(a, "resume", now, note=note, by=actor)
    _refresh(a, now)
    _touch(session, a, now)
    emit(
        session,
        OutboxMessage,
        "routing.clock_resumed",
        {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "clock": a.clock_name,
            "at": now.isoformat(),
            "last_day": a.last_day.isoformat() if a.last_day else "",
        },
    )


def answer(
    session: Session,
    a: Assignment,
    outcome: str,
    text: str,
    relief_fen: int,
    contact: dict,
    actor: str,
    now: datetime,
) -> None:
    _require_open(a, "answer it")
    calendar, policy = in_force()
    if _open_pause(a) is not None:
        _clock_event(a, "resume", now, note="answered")
    _clock_event(a, "stop", now)
    status = _refresh(a, now, calendar, policy)
    within = bool(status and status.within_limit)
    a.status = "answered"
    a.answered_at = now
    a.outcome = outcome
    a.answer = text
    a.relief_amount_fen = relief_fen
    a.contact = contact
    if a.acknowledged_at is None:
        a.acknowledged_at = now
    _touch(session, a, now)
    log.info("case %s answered by %s: %s", a.case_no, a.node_id, outcome)
    emit(
        session,
        OutboxMessage,
        "routing.case_answered",
        {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "outcome": outcome,
            "answer": text,
            "relief_amount_fen": relief_fen,
            "contact_method": contact.get("method", ""),
            "answered_at": now.isoformat(),
            "within_limit": within,
            "limit_days": a.limit_days,
        },
    )


def return_case(
    session: Session, a: Assignment, reason: str, hint: str, actor: str, now: datetime
) -> None:
    """A misrouted case goes back: re-resolved without the offices that returned it, or to a
    person once it has bounced more than the policy allows."""
    _require_open(a, "return it")
    returned_by = a.node_id or ""
    history = list(a.route_history or [])
    if history:
        history[-1] = {**history[-1], "returned_at": now.isoformat(), "reason": reason}
    a.route_history = history
    a.returns += 1
    _clock_event(a, "stop", now)
    emit(
        session,
        OutboxMessage,
        "routing.case_returned",
        {
            "case_no": a.case_no,
            "node_id": returned_by,
            "clock": a.clock_name,
            "reason": reason,
            "returns": a.returns,
            "at": now.isoformat(),
        },
    )
    policy = routing_policy()
    if a.returns > policy.bounce_limit:
        _to_desk(session, a, f"returned {a.returns} times (limit {policy.bounce_limit})", now)
        return
    current = current_directory(session)
    tried = frozenset(h["node_id"] for h in history)
    decision = current.resolver(excluding=tried).resolve(
        hint or a.institution_text, a.region_code, a.product
    )
    if decision.node is None or decision.needs_human or decision.node.id in tried:
        _to_desk(session, a, f"returned by {returned_by}; no other confident match", now)
        return
    a.confidence = decision.confidence
    a.runner_up_id = decision.runner_up.id if decision.runner_up else ""
    payload = {
        "amount_in_dispute_fen": a.amount_in_dispute_fen,
        "major": a.major,
        "complainant_elderly": a.elderly,
        "repeat_of": "yes" if a.repeat else "",
    }
    _assign_tiered(
        session,
        a,
        current,
        decision.node,
        payload,
        now,
        reassigned=True,
        note=f"returned by {returned_by}",
        tried=tried,
    )


MEDIATION = "mediation"


def mediation_started(session: Session, case_no: str, at: datetime, now: datetime) -> bool:
    """Both parties accepted mediation: its time does not count against the institution (Art 23).

    Intake learns it from mediation.started itself, so nothing is announced here. A clock that is
    not running, cannot pause, or is already paused (an appraisal) is left as it is.
    """
    a = session.scalar(select(Assignment).where(Assignment.case_no == case_no).with_for_update())
    if a is None or a.status not in OPEN or not a.clock_name:
        return False
    calendar, policy = in_force()
    if a.clock_name not in policy.clocks or not policy.clock(a.clock_name).pausable:
        return False
    events = a.clock_events or []
    if not any(e["kind"] in ("start", "restart") for e in events) or _open_pause(a) is not None:
        return False
    _clock_event(a, "pause", at, reason=MEDIATION, note="", by=MEDIATION)
    _refresh(a, now, calendar, policy)
    _touch(session, a, now)
    return True


def mediation_closed(session: Session, case_no: str, at: datetime, now: datetime) -> bool:
    """The mediation ended: a clock paused for it runs again from `at`."""
    a = session.scalar(select(Assignment).where(Assignment.case_no == case_no).with_for_update())
    if a is None or a.status not in OPEN:
        return False
    paused = _open_pause(a)
    if paused is None or paused.get("reason") != MEDIATION:
        return False
    _clock_event(a, "resume", at, note="", by=MEDIATION)
    _refresh(a, now)
    _touch(session, a, now)
    return True


def close_by_centre(session: Session, case_no: str, now: datetime) -> None:
    """Closed by the centre (withdrawn, answered at the desk): nothing left for the institution."""
    a = session.scalar(select(Assignment).where(Assignment.case_no == case_no))
    if a is None or a.status not in ("needs_routing", *OPEN):
        return
    a.status = "closed"
    if a.clock_events:
        _clock_event(a, "stop", now)
    a.next_check_at = None
    _touch(session, a, now)


def recompute_open(session: Session, now: datetime, batch_size: int = 500) -> int:
    """After a holiday-table or policy edit: every open clock's stored deadline, afresh.

    A case whose deadline moved takes a new place in the stream, so institutions see it.
    """
    calendar, policy = in_force()
    moved = 0
    last = 0
    while True:
        # A batch at a time, in id order: a large centre's open cases, loaded whole with their
        # clocks and histories, took a worker past its memory budget at every start.
        batch = session.scalars(
            select(Assignment)
            .where(Assignment.status.in_(OPEN), Assignment.id > last)
            .order_by(Assignment.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return moved
        for a in batch:
            before = (a.deadline, a.limit_days)
            _refresh(a, now, calendar, policy)
            if (a.deadline, a.limit_days) != (before[0], before[1]):
                _touch(session, a, now)
                moved += 1
        last = batch[-1].id
        session.flush()
        for a in batch:
            session.expunge(a)


# --- the sweep: notices at 60% and 80%, escalation at breach ----------------------------------


@dataclass(frozen=True)
class Notice:
    case_no: str
    node_id: str
    clock: str
    stage: str
    escalated_to: str = ""


SWEEP_BATCH = 200


def _claim_notice(session: Session, **values) -> bool:
    """Inserts the notice unless its key exists; True if this transaction inserted it.

    INSERT … ON CONFLICT DO NOTHING rather than a savepoint: on PostgreSQL a second worker's
    insert waits for the first and then does nothing, and on SQLite no savepoint is opened
    outside the driver's implicit transaction (which would commit the notice on release).
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    inserted = session.execute(
        insert(ClockNotice)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["case_no", "node_id", "period_started_at", "limit_days", "stage"]
        )
        .returning(ClockNotice.id)
    ).scalar()
    return inserted is not None


def sweep(session: Session, now: datetime, batch: int = SWEEP_BATCH) -> list[Notice]:
    """Notifies and escalates what is due; safe with several workers sweeping at once.

    Rows are claimed with SKIP LOCKED where the database has it, and every notice is a unique
    row inserted in the same transaction as its event: a second worker's insert fails and that
    worker sends nothing.
    """
    calendar, policy = in_force()
    rpolicy = routing_policy()
    query = (
        select(Assignment)
        .where(Assignment.status.in_(OPEN), Assignment.next_check_at <= now)
        .order_by(Assignment.next_check_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    sent: list[Notice] = []
    current = current_directory(session)
    for a in session.scalars(query).all():
        status = _refresh(a, now, calendar, policy, swept=True)
        if status is None or status.state in ("not_started", "stopped") or a.paused:
            continue
        reached = [stage for stage, at in _stage_instants(status, rpolicy.notices) if at <= now]
        if not reached:
            continue
        stage = reached[-1]  # only the furthest: a late sweep does not send stale notices
        parent = current.active_parent(a.node_id or "") if stage == "breach" else None
        claimed = _claim_notice(
            session,
            case_no=a.case_no,
            node_id=a.node_id or "",
            period_started_at=status.started_at,
            limit_days=status.limit,
            stage=stage,
            clock_name=status.name,
            escalated_to=parent.id if parent else "",
            at=now,
        )
        if not claimed:
            continue  # another worker sent it
        payload = {
            "case_no": a.case_no,
            "node_id": a.node_id,
            "clock": status.name,
            "limit_days": status.limit,
            "last_day": status.last_day.isoformat() if status.last_day else "",
            "at": now.isoformat(),
        }
        if stage == "breach":
            a.escalated_to_node_id = parent.id if parent else ""
            _touch(session, a, now)
            emit(
                session,
                OutboxMessage,
                "routing.deadline_breached",
                {**payload, "escalated_to": a.escalated_to_node_id},
            )
            log.warning(
                "case %s breached its %s deadline at %s; escalated to %s",
                a.case_no,
                status.name,
                a.node_id,
                a.escalated_to_node_id or "(no parent)",
            )
        else:
            emit(
                session,
                OutboxMessage,
                "routing.deadline_approaching",
                {**payload, "threshold": stage},
            )
        sent.append(Notice(a.case_no, a.node_id or "", status.name, stage, a.escalated_to_node_id))
    return sent
