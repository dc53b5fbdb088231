"""Mediation's storage and service operations: what the api and the worker call in a transaction."""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common import db, metrics
from services.common.clock import in_force
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.messaging import emit
from services.mediation import domain, scheduler
from services.mediation.models import (
    Consent,
    MediationRequest,
    MediationSession,
    Mediator,
    MediatorLeave,
    OutboxMessage,
    SentReminder,
    Venue,
)

SERVICE = "mediation"
BUFFER = timedelta(minutes=scheduler.BUFFER_MINUTES)
NOTICE = timedelta(hours=scheduler.MIN_NOTICE_HOURS)

# SQLite has no exclusion constraints: there the overlap check and the insert run under this
# lock, held by the caller until its transaction commits (booking()); SQLite itself serialises
# writers across processes, and only the api process books. PostgreSQL needs no lock: the
# exclusion constraints of migration 0002 refuse the second of two overlapping sessions.
_BOOKING_LOCK = threading.Lock()


@contextlib.contextmanager
def booking(factory):
    """A transaction that may book sessions: under the booking lock on SQLite."""
    sqlite = factory.kw["bind"].dialect.name == "sqlite"
    with _BOOKING_LOCK if sqlite else contextlib.nullcontext(), db.session_scope(factory) as s:
        yield s


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime) -> str:
    return value.isoformat()


# --- requests ----------------------------------------------------------------------------------


def get_request(session: Session, request_id: int, lock: bool = False) -> MediationRequest:
    query = select(MediationRequest).where(MediationRequest.id == request_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    req = session.scalar(query)
    if req is None:
        raise NotFound(f"mediation request {request_id} not found")
    return req


def open_requests_of_case(session: Session, case_no: str) -> list[MediationRequest]:
    return list(
        session.scalars(
            select(MediationRequest).where(
                MediationRequest.case_no == case_no,
                MediationRequest.state.in_(domain.OPEN_REQUEST_STATES),
            )
        )
    )


def open_request(session: Session, at: datetime, **fields: Any) -> tuple[MediationRequest, bool]:
    """The open request of a dispute, created if there is none.

    Returns (request, created). One complaint has one mediation at a time: a second request for
    the same case while the first is open (a redelivered event, a retried call, or the institution
    referring a dispute the complainant has already brought) is the same request. A court
    referral without an intake case is keyed by the court's reference.
    """
    _calendar, policy = in_force()
    mp = domain.load_mediation_policy()
    source = fields["source"]
    if source not in domain.SOURCES:
        raise InvalidArgument("source", f"must be one of {', '.join(domain.SOURCES)}")
    case_no, court_reference = fields.get("case_no") or "", fields.get("court_reference") or ""
    if not case_no and not court_reference:
        raise InvalidArgument("case_no", "a request needs a case number or a court reference")
    key = case_no or f"{court_reference}|court"
    existing = session.scalar(select(MediationRequest).where(MediationRequest.open_key == key))
    if existing is not None:
        return existing, False
    fast = domain.is_fast_track(int(fields.get("amount_in_dispute_fen") or 0), source, mp)
    form = domain.initial_form(fields.get("preferred_form") or "any", fast, mp)
    spec = domain.clock_spec(policy, source, fast, mp)
    req = MediationRequest(
        **{**fields, "preferred_form": form},
        open_key=key,
        state="awaiting_consent",
        fast_track=fast,
        requested_at=at,
        updated_at=at,
        clock_name=spec.name,
        clock_limit=spec.limit,
        clock_events=[],
    )
    try:
        with session.begin_nested():
            session.add(req)
    except IntegrityError:
        # Another delivery or call created it a moment ago.
        existing = session.scalar(select(MediationRequest).where(MediationRequest.open_key == key))
        if existing is None:
            raise
        return existing, False
    if source == "court":
        # The court's clock runs from the referral (policy: mediation.court_referral_received).
        _clock_event(session, req, "start", at)
    return req, True


def record_consent(
    session: Session,
    request_id: int,
    party: str,
    consented: bool,
    by: str,
    reason: str,
    at: datetime,
    availability: list[tuple[datetime, datetime]] = (),
) -> MediationRequest:
    """One party's answer; with it, when the party can attend (the planner keeps to it)."""
    req = get_request(session, request_id, lock=True)
    already = {c.party: c.consented for c in req.consents}
    domain.check_can_consent(req.state, party, already)
    if not consented and not reason.strip():
        raise InvalidArgument("reason", "a refusal needs its reason")
    for i, (start, end) in enumerate(availability):
        if end <= start:
            raise InvalidArgument(f"availability[{i}]", "ends before it starts")
    req.consents.append(
        Consent(
            party=party,
            consented=consented,
            by=by,
            at=at,
            reason=reason,
            availability=[[a.isoformat(), b.isoformat()] for a, b in availability],
        )
    )
    already[party] = consented
    decision = domain.consent_decision(already)
    if decision == "refused":
        close_request(session, req, "refused", at, reason=f"{party} refused: {reason}")
    elif decision == "accepted":
        _accept(session, req, at)
    req.updated_at = at
    return req


def _accept(session: Session, req: MediationRequest, at: datetime) -> None:
    """Both parties consented: the mediation starts (Art 23 pause for the complaint)."""
    req.state = "accepted"
    req.accepted_at = at
    if req.source != "court":
        _clock_event(session, req, "start", at)
    req.started_sent = True
    emit(
        session,
        OutboxMessage,
        "mediation.started",
        {"case_no": req.case_no, "request_id": str(req.id), "at": _iso(at)},
    )


def close_request(
    session: Session,
    req: MediationRequest,
    outcome: str,
    at: datetime,
    reason: str = "",
    amount_fen: int = 0,
    terms: str = "",
    judicial_confirmation: bool = False,
) -> None:
    """Ends the request with its outcome, cancels its upcoming sessions, stops its clock and
    tells intake and routing (mediation.closed)."""
    if req.state == "closed":
        raise FailedPrecondition(f"mediation request {req.id} is already closed ({req.outcome})")
    if outcome not in domain.OUTCOMES:
        raise InvalidArgument("outcome", f"must be one of {', '.join(domain.OUTCOMES)}")
    req.state = "closed"
    req.open_key = None
    req.outcome = outcome
    req.outcome_reason = reason
    req.closed_at = at
    req.updated_at = at
    req.agreement_amount_fen = amount_fen
    req.agreement_terms = terms
    req.judicial_confirmation = judicial_confirmation
    for s in req.sessions:
        if s.state in domain.UPCOMING_SESSION_STATES:
            s.state, s.note, s.updated_at = "cancelled", f"request {outcome}", at
    if req.clock_started_at is not None:
        _clock_event(session, req, "stop", at)
    emit(
        session,
        OutboxMessage,
        "mediation.closed",
        {
            "case_no": req.case_no,
            "request_id": str(req.id),
            "at": _iso(at),
            "outcome": outcome,
            "amount_fen": amount_fen if outcome == "agreement" else 0,
            "terms": terms,
            "judicial_confirmation": judicial_confirmation,
            "started": req.started_sent,
        },
    )


def withdraw_for_case(session: Session, case_no: str, at: datetime, status: str) -> int:
    """intake.case_closed: a complaint closed or withdrawn elsewhere withdraws its open requests."""
    closed = 0
    for req in open_requests_of_case(session, case_no):
        close_request(session, req, "withdrawn", at, reason=f"the complaint was {status}")
        closed += 1
    return closed


def record_judicial_confirmation(
    session: Session, request_id: int, court: str, reference: str, confirmed_on: date
) -> MediationRequest:
    """司法确认: a court confirmed the agreement."""
    req = get_request(session, request_id, lock=True)
    if req.outcome != "agreement":
        raise FailedPrecondition("only an agreement can be judicially confirmed")
    req.judicial_confirmation = True
    req.judicial_court = court
    req.judicial_reference = reference
    req.judicial_confirmed_on = confirmed_on
    req.updated_at = _now()
    return req


# --- the clock ---------------------------------------------------------------------------------


def _clock_event(session: Session, req: MediationRequest, kind: str, at: datetime) -> None:
    req.clock_events = [*(req.clock_events or []), {"kind": kind, "at": _iso(at)}]
    refresh_clock(session, req, count_stop=kind == "stop")


def clock_status(req: MediationRequest, now: datetime | None = None):
    """Where the request's clock stands: its events replayed by the one clock engine."""
    calendar, policy = in_force()
    mp = domain.load_mediation_policy()
    spec = domain.clock_spec(policy, req.source, req.fast_track, mp)
    return domain.clock_status(
        spec, req.clock_events or [], calendar, now or _now(), policy, req.court_deadline
    )


def refresh_clock(
    session: Session, req: MediationRequest, now: datetime | None = None, count_stop: bool = False
) -> None:
    """The stored projection (deadline for the planner and the gauges) from the clock events."""
    status = clock_status(req, now)
    req.clock_name = status.name
    req.clock_limit = status.limit
    req.clock_started_at = status.started_at
    req.deadline = status.deadline
    req.last_day = status.last_day
    if count_stop and status.stopped_at is not None:
        within = bool(status.within_limit)
        days = max(status.elapsed_days or 0.0, 0.0)

        # Counted under the policy's clock (the fast track under mediation), as the gauges are.
        label = domain.CENTRE_CLOCK if status.name == domain.FAST_TRACK_CLOCK else status.name

        def count() -> None:
            metrics.CLOCK_CLOSED.labels(label, "true" if within else "false").inc()
            metrics.CLOCK_DURATION_DAYS.labels(label).observe(days)

        db.on_commit(session, count)


# --- the roster --------------------------------------------------------------------------------


@dataclass
class RosterReport:
    mediators_added: list[str] = field(default_factory=list)
    mediators_changed: list[str] = field(default_factory=list)
    mediators_deactivated: list[str] = field(default_factory=list)
    venues_added: list[str] = field(default_factory=list)
    venues_changed: list[str] = field(default_factory=list)
    venues_deactivated: list[str] = field(default_factory=list)


def import_roster(session: Session, roster: domain.Roster) -> RosterReport:
    """Adds or updates every mediator and venue of the file; those missing are deactivated."""
    report = RosterReport()
    known = {m.id: m for m in session.scalars(select(Mediator))}
    for e in roster.mediators:
        row = known.get(e.id)
        values = {
            "name": e.name,
            "specialities": list(e.specialities),
            "languages": list(e.languages),
            "elderly_suitable": e.elderly_suitable,
            "max_per_day": e.max_per_day,
            "max_per_week": e.max_per_week,
            "conflicts": list(e.conflicts),
            "works_from": e.works_from,
            "works_until": e.works_until,
            "weekdays": list(e.weekdays),
            "active": True,
        }
        leave = sorted(e.leave)
        if row is None:
            row = Mediator(id=e.id, **values)
            session.add(row)
            report.mediators_added.append(e.id)
        else:
            old_leave = sorted((lv.first_day, lv.last_day, lv.reason) for lv in row.leaves)
            changed = any(getattr(row, k) != v for k, v in values.items()) or old_leave != leave
            for k, v in values.items():
                setattr(row, k, v)
            if changed:
                report.mediators_changed.append(e.id)
        if sorted((lv.first_day, lv.last_day, lv.reason) for lv in row.leaves) != leave:
            row.leaves.clear()
            for first, last, reason in leave:
                row.leaves.append(MediatorLeave(first_day=first, last_day=last, reason=reason))
    listed = {e.id for e in roster.mediators}
    for mid, row in known.items():
        if mid not in listed and row.active:
            row.active = False
            report.mediators_deactivated.append(mid)
    venues = {v.id: v for v in session.scalars(select(Venue))}
    for e in roster.venues:
        row = venues.get(e.id)
        values = {
            "name": e.name,
            "kind": e.kind,
            "capacity": e.capacity,
            "opens": e.opens,
            "closes": e.closes,
            "court_name": e.court_name,
            "active": True,
        }
        if row is None:
            session.add(Venue(id=e.id, **values))
            report.venues_added.append(e.id)
        else:
            if any(getattr(row, k) != v for k, v in values.items()):
                report.venues_changed.append(e.id)
            for k, v in values.items():
                setattr(row, k, v)
    listed = {e.id for e in roster.venues}
    for vid, row in venues.items():
        if vid not in listed and row.active:
            row.active = False
            report.venues_deactivated.append(vid)
    session.flush()
    return report


def get_mediator(session: Session, mediator_id: str) -> Mediator:
    m = session.get(Mediator, mediator_id)
    if m is None:
        raise NotFound(f"mediator {mediator_id} not found")
    return m


def get_venue(session: Session, venue_id: str) -> Venue:
    v = session.get(Venue, venue_id)
    if v is None:
        raise NotFound(f"venue {venue_id} not found")
    return v


# --- booking -----------------------------------------------------------------------------------


def get_session(session: Session, session_id: int, lock: bool = False) -> MediationSession:
    query = select(MediationSession).where(MediationSession.id == session_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    s = session.scalar(query)
    if s is None:
        raise NotFound(f"session {session_id} not found")
    return s


def conflicted(conflicts: list[str], node_id: str, name: str) -> bool:
    """Whether a mediator's conflicts cover the institution: its directory id or an ancestor's
    (directory ids extend their parent's: ccb -> ccb-tj -> ccb-tj-nankai), or a name that the
    institution's name contains (中国建设银行 in 中国建设银行股份有限公司天津市分行)."""
    for c in conflicts:
        if node_id and (node_id == c or node_id.startswith(f"{c}-")):
            return True
        if name and len(c) >= 4 and c in name:
            return True
    return False


def unsuitable(m: Mediator, req: MediationRequest, mp: domain.MediationPolicy) -> str:
    """Why a mediator may not take a request ("" if they may)."""
    if conflicted(m.conflicts or [], req.institution_node_id, req.institution_name):
        return f"mediator {m.id} has a conflict of interest with the institution"
    needed = domain.skills_needed(req.product, req.business_type, req.source, mp)
    if not needed <= set(m.specialities or []):
        return f"mediator {m.id} lacks {sorted(needed - set(m.specialities or []))}"
    if req.complainant_age >= mp.elderly_age and not m.elderly_suitable:
        return f"mediator {m.id} is not suited to elderly complainants"
    if req.language and req.language not in (m.languages or []):
        return f"mediator {m.id} does not speak {req.language}"
    return ""


def _overlapping(
    session: Session, column, value: str, start: datetime, until: datetime, except_id=None
):
    query = select(MediationSession).where(
        column == value,
        MediationSession.state.in_(domain.BUSY_SESSION_STATES),
        MediationSession.start < until,
        MediationSession.busy_until > start,
    )
    if except_id is not None:
        query = query.where(MediationSession.id != except_id)
    return session.scalar(query.limit(1))


def _check_working_time(m: Mediator, v: Venue, start: datetime, end: datetime) -> None:
    """The mediator works and the venue is open for the whole session, on a working day."""
    calendar, policy = in_force()
    day = start.astimezone(policy.tz).date()
    if end.astimezone(policy.tz).date() != day:
        raise FailedPrecondition("a session starts and ends on the same day")
    leave = [(lv.first_day, lv.last_day) for lv in m.leaves]
    for who, windows in (
        (
            f"mediator {m.id}",
            domain.working_windows(
                day, day, m.works_from, m.works_until, calendar, policy.tz, m.weekdays, leave
            ),
        ),
        (f"venue {v.id}", domain.working_windows(day, day, v.opens, v.closes, calendar, policy.tz)),
    ):
        if not any(a <= start and end <= b for a, b in windows):
            raise FailedPrecondition(
                f"{who} is not available {start.isoformat()} to {end.isoformat()}"
            )


def _sessions_between(session: Session, mediator_id: str, start: datetime, end: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(MediationSession)
            .where(
                MediationSession.mediator_id == mediator_id,
                MediationSession.state.in_(domain.BUSY_SESSION_STATES),
                MediationSession.start >= start,
                MediationSession.start < end,
            )
        )
        or 0
    )


def _check_caps(session: Session, m: Mediator, start: datetime) -> None:
    """A mediator's daily and weekly caps (Monday to Sunday, in the policy's time zone)."""
    _calendar, policy = in_force()
    day = start.astimezone(policy.tz).date()
    midnight = datetime.combine(day, datetime.min.time(), policy.tz)
    if _sessions_between(session, m.id, midnight, midnight + timedelta(days=1)) >= m.max_per_day:
        raise FailedPrecondition(f"mediator {m.id} has {m.max_per_day} sessions on {day}, the cap")
    monday = midnight - timedelta(days=day.weekday())
    if _sessions_between(session, m.id, monday, monday + timedelta(days=7)) >= m.max_per_week:
        raise FailedPrecondition(
            f"mediator {m.id} has {m.max_per_week} sessions that week, the cap"
        )


def _check_free(
    session: Session,
    mediator_id: str,
    venue_id: str,
    start: datetime,
    busy_until: datetime,
    except_id: int | None = None,
) -> None:
    for column, value, what in (
        (MediationSession.mediator_id, mediator_id, "mediator"),
        (MediationSession.venue_id, venue_id, "venue"),
    ):
        clash = _overlapping(session, column, value, start, busy_until, except_id)
        if clash is not None:
            raise FailedPrecondition(
                f"{what} {value} is booked from {clash.start.isoformat()} (session {clash.id})"
            )


def book_session(
    session: Session,
    req: MediationRequest,
    mediator_id: str,
    venue_id: str,
    start: datetime,
    end: datetime,
    state: str = "proposed",
    now: datetime | None = None,
    check_notice: bool = True,
) -> MediationSession:
    """A session for an accepted request; FailedPrecondition (nothing written) if the mediator
    or the venue is taken for any part of [start, end + buffer), or the booking breaks a rule."""
    now = now or _now()
    if end <= start:
        raise InvalidArgument("end", "must be after start")
    if req.state != "accepted":
        raise FailedPrecondition(f"request {req.id} is {req.state}; only accepted ones are booked")
    if any(s.state in domain.UPCOMING_SESSION_STATES for s in req.sessions):
        raise FailedPrecondition(f"request {req.id} already has an upcoming session")
    if check_notice and start < now + NOTICE:
        raise FailedPrecondition(f"a session needs {scheduler.MIN_NOTICE_HOURS} h notice")
    mp = domain.load_mediation_policy()
    m = get_mediator(session, mediator_id)
    v = get_venue(session, venue_id)
    if not m.active or not v.active:
        raise FailedPrecondition("the mediator or the venue is not active")
    why = unsuitable(m, req, mp)
    if why:
        raise FailedPrecondition(why)
    if not venue_allowed(v, venue_group(req)):
        raise FailedPrecondition(f"{v.id} is a court room: only that court's referrals use it")
    if req.preferred_form not in ("any", v.form):
        raise FailedPrecondition(f"the request wants {req.preferred_form}, {v.id} is {v.form}")
    _check_working_time(m, v, start, end)
    if not any(a <= start and end <= b for a, b in parties_availability(req, start, end)):
        raise FailedPrecondition("the parties said they cannot attend then")
    _check_caps(session, m, start)
    busy_until = end + BUFFER
    _check_free(session, mediator_id, venue_id, start, busy_until)
    row = MediationSession(
        request_id=req.id,
        mediator_id=mediator_id,
        venue_id=venue_id,
        start=start,
        end=end,
        busy_until=busy_until,
        state=state,
        form=v.form,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # PostgreSQL's exclusion constraint: a concurrent booking took the slot first.
        raise FailedPrecondition(
            f"mediator {mediator_id} or venue {venue_id} was booked for that time meanwhile"
        ) from None
    req.sessions.append(row)
    if state == "confirmed":
        _announce_scheduled(session, row, v)
    return row


def _announce_scheduled(session: Session, s: MediationSession, venue: Venue | None = None) -> None:
    venue = venue or session.get(Venue, s.venue_id)
    emit(
        session,
        OutboxMessage,
        "mediation.session_scheduled",
        {
            "case_no": s.request.case_no,
            "request_id": str(s.request_id),
            "session_id": str(s.id),
            "start": _iso(s.start),
            "end": _iso(s.end),
            "form": s.form,
            "venue_name": venue.name if venue else "",
            "mediator_id": s.mediator_id,
        },
    )


def transition_session(
    session: Session,
    session_id: int,
    target: str,
    at: datetime,
    note: str = "",
    bring_forward: bool = False,
) -> MediationSession:
    """confirm, hold or cancel a session (outcomes go through record_outcome).

    `bring_forward`: both parties are at the centre before the planned time (当场调解) and agree
    to mediate now; the session moves to start now if its mediator and venue are free.
    """
    if target in domain.SESSION_OUTCOMES:
        raise InvalidArgument("state", "record an outcome with its own call")
    s = get_session(session, session_id, lock=True)
    domain.check_session_transition(s.state, target)
    if target == "held" and s.start > at:
        if not bring_forward:
            raise FailedPrecondition(
                "a session cannot be held before it starts (bring it forward if both parties "
                "are present)"
            )
        _move(session, s, at)
    s.state, s.updated_at = target, at
    if note:
        s.note = note
    if target == "confirmed":
        _announce_scheduled(session, s)
    return s


def _move(session: Session, s: MediationSession, start: datetime) -> None:
    """Moves a session to start now. Only double booking is checked: the mediator is there,
    holding it, whatever their planned hours say."""
    end = start + (s.end - s.start)
    _check_free(session, s.mediator_id, s.venue_id, start, end + BUFFER, except_id=s.id)
    try:
        with session.begin_nested():
            s.start, s.end, s.busy_until = start, end, end + BUFFER
            s.note = (s.note + "; " if s.note else "") + "brought forward, parties present"
    except IntegrityError:
        raise FailedPrecondition("the mediator or the venue was booked meanwhile") from None


def record_outcome(
    session: Session,
    session_id: int,
    outcome: str,
    at: datetime,
    amount_fen: int = 0,
    terms: str = "",
    judicial_confirmation: bool = False,
) -> MediationSession:
    """The session's outcome, which ends the mediation request."""
    domain.check_outcome(outcome, amount_fen, terms)
    s = get_session(session, session_id, lock=True)
    domain.check_session_transition(s.state, outcome)
    if judicial_confirmation and outcome != "agreement":
        raise InvalidArgument("judicial_confirmation", "only an agreement is sent to a court")
    s.state, s.updated_at = outcome, at
    req = get_request(session, s.request_id, lock=True)
    close_request(
        session,
        req,
        outcome,
        at,
        amount_fen=amount_fen,
        terms=terms,
        judicial_confirmation=judicial_confirmation,
    )
    return s


# --- planning ----------------------------------------------------------------------------------


@dataclass
class PlanResult:
    booked: list[MediationSession] = field(default_factory=list)
    unscheduled: list[tuple[int, str]] = field(default_factory=list)
    kept: int = 0
    moved: int = 0
    solver: str = ""
    seconds: float = 0.0


def _horizon(now: datetime, days: int, calendar, tz) -> tuple[datetime, datetime, date, date]:
    first = now.astimezone(tz).date()
    last, counted = first, 0
    while counted < days:
        last += timedelta(days=1)
        if calendar.is_working_day(last):
            counted += 1
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
    return start, end, first, last


def _windows(pairs) -> tuple[scheduler.Window, ...]:
    return tuple(scheduler.Window(a, b) for a, b in pairs if b > a)


def venue_group(req: MediationRequest) -> str:
    """A court's referrals may use that court's mediation room; every other request uses the
    centre's rooms and online rooms only."""
    return req.court_name if req.source == "court" else ""


def venue_allowed(v: Venue, group: str) -> bool:
    return v.kind != "court" or (bool(group) and v.court_name == group)


def _by_venue_group(reqs: list[MediationRequest]) -> list[tuple[str, list[MediationRequest]]]:
    """Requests by the venues open to them; court referrals first (they have the fewest)."""
    groups: dict[str, list[MediationRequest]] = defaultdict(list)
    for r in reqs:
        groups[venue_group(r)].append(r)
    return sorted(groups.items(), key=lambda kv: kv[0] == "")


def build_problem(
    session: Session,
    now: datetime,
    requests: list[MediationRequest],
    horizon_days: int,
    movable_session_ids: set[int] = frozenset(),
    group: str = "",
) -> scheduler.Problem:
    """The scheduler's problem over the horizon: sessions already booked (except the movable
    ones) are taken out of their mediator's and venue's availability."""
    calendar, policy = in_force()
    mp = domain.load_mediation_policy()
    tz = policy.tz
    h_start, h_end, first, last = _horizon(now, horizon_days, calendar, tz)
    busy = [
        s
        for s in session.scalars(
            select(MediationSession).where(
                MediationSession.state.in_(domain.BUSY_SESSION_STATES),
                MediationSession.busy_until > h_start,
                MediationSession.start < h_end,
            )
        )
        if s.id not in movable_session_ids
    ]
    by_med: defaultdict[str, list] = defaultdict(list)
    by_ven: defaultdict[str, list] = defaultdict(list)
    per_day: defaultdict[tuple[str, date], int] = defaultdict(int)
    for s in busy:
        by_med[s.mediator_id].append((s.start, s.busy_until))
        by_ven[s.venue_id].append((s.start, s.busy_until))
        per_day[(s.mediator_id, s.start.astimezone(tz).date())] += 1
    mediators = list(session.scalars(select(Mediator).where(Mediator.active.is_(True))))
    venues = [
        v
        for v in session.scalars(select(Venue).where(Venue.active.is_(True)))
        if venue_allowed(v, group)
    ]
    sched_reqs = []
    for req in requests:
        minutes = mp.fast_track_session_minutes if req.fast_track else mp.session_minutes
        deadline = min(req.deadline or h_end, h_end)
        windows = parties_availability(req, h_start, h_end)
        sched_reqs.append(
            scheduler.Request(
                id=str(req.id),
                deadline=deadline,
                skills=frozenset(),  # suitability is folded into conflicts below
                institution=f"r{req.id}",
                form=req.preferred_form,
                # The buffer is part of the planned length, so the venue gets it too, as the
                # database's exclusion constraint requires.
                duration_minutes=minutes + scheduler.BUFFER_MINUTES,
                availability=_windows(windows),
            )
        )
    sched_meds = []
    for m in mediators:
        off = [(lv.first_day, lv.last_day) for lv in m.leaves]
        off += [(d, d) for (mid, d), k in per_day.items() if mid == m.id and k >= m.max_per_day]
        free = domain.working_windows(
            first, last, m.works_from, m.works_until, calendar, tz, m.weekdays, off
        )
        sched_meds.append(
            scheduler.Mediator(
                id=m.id,
                skills=frozenset(),
                conflicts=frozenset(f"r{r.id}" for r in requests if unsuitable(m, r, mp)),
                max_per_day=m.max_per_day,
                availability=_windows(domain.subtract(free, by_med[m.id])),
            )
        )
    sched_vens = []
    for v in venues:
        free = domain.working_windows(first, last, v.opens, v.closes, calendar, tz)
        sched_vens.append(
            scheduler.Venue(v.id, v.form, _windows(domain.subtract(free, by_ven[v.id])))
        )
    return scheduler.Problem(
        horizon=scheduler.Window(h_start, h_end),
        slot_minutes=mp.slot_minutes,
        requests=tuple(sched_reqs),
        mediators=tuple(sched_meds),
        venues=tuple(sched_vens),
        now=now,
    )


def parties_availability(
    req: MediationRequest, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """When both parties can attend within [start, end): the intersection of what each stated
    (a party that stated nothing can attend any time)."""
    windows = [(start, end)]
    for c in req.consents:
        if not c.availability:
            continue
        stated = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in c.availability]
        windows = [
            (max(a, x), min(b, y)) for a, b in windows for x, y in stated if max(a, x) < min(b, y)
        ]
    return windows


def _book_assignments(
    session: Session,
    plan: scheduler.Plan,
    reqs: dict[str, MediationRequest],
    state: str,
    now: datetime,
    result: PlanResult,
) -> None:
    for a in sorted(plan.assignments, key=lambda a: a.start):
        req = reqs[a.request]
        end = a.end - BUFFER  # the planned length carried the buffer
        try:
            result.booked.append(
                book_session(session, req, a.mediator, a.venue, a.start, end, state, now)
            )
        except FailedPrecondition as exc:
            result.unscheduled.append((req.id, str(exc)))
    for rid, why in plan.unscheduled:
        if rid in reqs:
            result.unscheduled.append((reqs[rid].id, why))


def unplanned_requests(session: Session) -> list[MediationRequest]:
    """Accepted requests with no upcoming or held session."""
    reqs = session.scalars(
        select(MediationRequest)
        .where(MediationRequest.state == "accepted")
        .order_by(MediationRequest.id)
    )
    return [
        r
        for r in reqs
        if not any(s.state in (*domain.UPCOMING_SESSION_STATES, "held") for s in r.sessions)
    ]


def plan_sessions(
    session: Session,
    now: datetime,
    confirm: bool,
    horizon_days: int = 0,
    time_limit: float = 0.0,
    request_ids: list[int] | None = None,
) -> PlanResult:
    """Plans the accepted requests that have no session, with the solver, and books them
    (proposed, or confirmed at once)."""
    mp = domain.load_mediation_policy()
    reqs = unplanned_requests(session)
    if request_ids:
        reqs = [r for r in reqs if r.id in set(request_ids)]
    result = PlanResult()
    if not reqs:
        return result
    groups = _by_venue_group(reqs)
    limit = (time_limit or mp.time_limit_seconds) / len(groups)  # the budget is for the call
    for group, members in groups:
        problem = build_problem(
            session, now, members, horizon_days or mp.horizon_working_days, group=group
        )
        plan = scheduler.solve(problem, time_limit=limit)
        result.solver, result.seconds = plan.solver, result.seconds + plan.seconds
        _book_assignments(
            session,
            plan,
            {str(r.id): r for r in members},
            "confirmed" if confirm else "proposed",
            now,
            result,
        )
        session.flush()  # the next group sees these sessions as busy
    return result


def replan(
    session: Session, now: datetime, reason: str, horizon_days: int = 0, time_limit: float = 0.0
) -> PlanResult:
    """After a cancellation or a mediator's leave: plans the unplanned requests again and moves
    as few upcoming sessions as it can (scheduler.replan keeps what still fits). A moved session
    keeps its state (a confirmed one is announced again); a newly planned one is proposed.

    Sessions within the minimum notice stay as they are unless their mediator is now on leave.
    """
    _calendar, policy = in_force()
    mp = domain.load_mediation_policy()
    tz = policy.tz
    result = PlanResult()
    upcoming = list(
        session.scalars(
            select(MediationSession).where(
                MediationSession.state.in_(domain.UPCOMING_SESSION_STATES),
                MediationSession.start >= now,
            )
        )
    )
    leave: defaultdict[str, list[tuple[date, date]]] = defaultdict(list)
    for lv in session.scalars(select(MediatorLeave)):
        leave[lv.mediator_id].append((lv.first_day, lv.last_day))
    inactive = {m.id for m in session.scalars(select(Mediator).where(Mediator.active.is_(False)))}

    def unavailable(s: MediationSession) -> bool:
        day = s.start.astimezone(tz).date()
        return s.mediator_id in inactive or any(a <= day <= b for a, b in leave[s.mediator_id])

    movable = [s for s in upcoming if s.start >= now + NOTICE or unavailable(s)]
    for s in movable:
        if s.start < now + NOTICE:  # too late to keep and too late to move: cancel
            s.state, s.note, s.updated_at = "cancelled", f"re-planned: {reason}", now
    session.flush()
    movable = [s for s in movable if s.state != "cancelled"]
    reqs = {str(r.id): r for r in unplanned_requests(session)}
    for s in movable:
        reqs[str(s.request_id)] = s.request
    groups = _by_venue_group(list(reqs.values()))
    limit = (time_limit or mp.time_limit_seconds) / max(len(groups), 1)
    for group, members in groups:
        ids = {str(r.id) for r in members}
        mine = [s for s in movable if str(s.request_id) in ids]
        # Movable sessions of the other groups stay busy where they are while this one plans.
        problem = build_problem(
            session,
            now,
            members,
            horizon_days or mp.horizon_working_days,
            movable_session_ids={s.id for s in mine},
            group=group,
        )
        previous = scheduler.Plan(
            assignments=[
                scheduler.Assignment(
                    str(s.request_id), s.mediator_id, s.venue_id, s.start, s.busy_until
                )
                for s in mine
            ]
        )
        plan = scheduler.replan(problem, previous, time_limit=limit)
        result.solver, result.seconds = plan.solver, result.seconds + plan.seconds
        new = {a.request: a for a in plan.assignments}
        states: dict[str, str] = {}
        for s in mine:
            a = new.get(str(s.request_id))
            if a is not None and (a.mediator, a.venue, a.start) == (
                s.mediator_id,
                s.venue_id,
                s.start,
            ):
                result.kept += 1
                del new[str(s.request_id)]
                continue
            states[str(s.request_id)] = s.state
            s.state, s.note, s.updated_at = "cancelled", f"re-planned: {reason}", now
            result.moved += 1
        session.flush()
        for rid, a in sorted(new.items(), key=lambda kv: kv[1].start):
            plan_one = scheduler.Plan(assignments=[a])
            _book_assignments(session, plan_one, reqs, states.get(rid, "proposed"), now, result)
        for rid, why in plan.unscheduled:
            if rid in reqs and why != scheduler.REASON_CANCELLED:
                result.unscheduled.append((reqs[rid].id, why))
        session.flush()
    return result


def add_leave(
    session: Session, mediator_id: str, first: date, last: date, reason: str, now: datetime
) -> PlanResult:
    """A mediator's leave (sick leave included) from `first` to `last`; their sessions in it are
    re-planned, moving as few others as possible."""
    if last < first:
        raise InvalidArgument("last_day", "ends before first_day")
    if reason not in ("leave", "sick"):
        raise InvalidArgument("reason", "must be leave or sick")
    m = get_mediator(session, mediator_id)
    m.leaves.append(MediatorLeave(first_day=first, last_day=last, reason=reason))
    session.flush()
    return replan(session, now, f"mediator {mediator_id} on {reason}")


# --- reminders and expiry (the worker's timer) -------------------------------------------------


def send_due_reminders(session: Session, now: datetime) -> int:
    """mediation.reminder_due once per confirmed session and lead time (the unique key of
    sent_reminder makes a second pass, or a second worker, send nothing)."""
    mp = domain.load_mediation_policy()
    leads = mp.reminder_lead_hours
    longest = max(leads) if leads else 0
    sent = 0
    for s in session.scalars(
        select(MediationSession).where(
            MediationSession.state == "confirmed",
            MediationSession.start > now,
            MediationSession.start <= now + timedelta(hours=longest),
        )
    ):
        due = [h for h in leads if now >= s.start - timedelta(hours=h)]
        if not due:
            continue
        # Booked late: only the nearest lead time is sent, not every one already passed.
        hours = min(due)
        try:
            with session.begin_nested():
                session.add(SentReminder(session_id=s.id, hours_before=hours, sent_at=now))
        except IntegrityError:
            continue
        emit(
            session,
            OutboxMessage,
            "mediation.reminder_due",
            {
                "case_no": s.request.case_no,
                "request_id": str(s.request_id),
                "session_id": str(s.id),
                "start": _iso(s.start),
                "hours_before": hours,
            },
        )
        sent += 1
    return sent


def expire_overdue(session: Session, now: datetime) -> int:
    """Accepted requests past their deadline with nothing upcoming or held, and requests still
    awaiting a party's consent after the policy's consent_days, end as expired."""
    expired = 0
    for req in unplanned_requests(session):
        if req.deadline is not None and req.deadline <= now:
            close_request(session, req, "expired", now, reason="the mediation limit ran out")
            expired += 1
    days = domain.load_mediation_policy().consent_days
    unanswered = session.scalars(
        select(MediationRequest)
        .where(
            MediationRequest.state == "awaiting_consent",
            MediationRequest.requested_at <= now - timedelta(days=days),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for req in unanswered:
        close_request(
            session, req, "expired", now, reason=f"both parties had not consented in {days} days"
        )
        expired += 1
    return expired
