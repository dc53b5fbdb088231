"""Intake's storage operations, shared by its api and its worker: one transaction each."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from services.common import db, metrics
from services.common import settings as settings_mod
from services.common.clock import in_force
from services.common.errors import CaseNotFound, FailedPrecondition
from services.common.messaging import emit
from services.intake import domain
from services.intake.models import Case, CaseEvent, ClockRecord, OutboxMessage

SERVICE = "intake"
log = logging.getLogger(__name__)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def get_case(session: Session, case_no: str) -> Case:
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None:
        raise CaseNotFound(case_no)
    return case


def record(
    session: Session,
    case: Case,
    event_type: str,
    at: datetime,
    actor: str,
    detail: str = "",
    data: dict | None = None,
    effects: list[dict] | None = None,
) -> CaseEvent:
    """Appends a timeline entry, applies its clock effects and refreshes the clock projection.

    The policy says which clocks the event starts and stops; `effects` adds what only the
    event itself knows (an extension's new limit, a pause, a restart on reassignment).
    """
    _calendar, policy = in_force()
    open_clocks = [c.name for c in case.clocks if c.stopped_at is None]
    effects = [
        *domain.clock_effects(policy, case.kind, event_type, open_clocks),
        *(e for e in effects or [] if e.get("clock") in policy.clocks),
    ]
    entry = CaseEvent(
        at=at,
        type=event_type,
        actor=actor,
        detail=detail,
        data={**(data or {}), "clock_effects": effects},
    )
    case.events.append(entry)
    refresh_clocks(session, case)
    return entry


def refresh_clocks(session: Session, case: Case, now: datetime | None = None) -> None:
    calendar, policy = in_force()
    now = now or datetime.now(UTC)
    history = [
        domain.HistoryItem(e.type, _aware(e.at), e.data.get("clock_effects", []))
        for e in sorted(case.events, key=lambda e: (_aware(e.at), e.id or 0))
    ]
    by_name = {c.name: c for c in case.clocks}
    for status in domain.derive_clocks(policy, history, calendar, now):
        row = by_name.get(status.name)
        was_running = row is None or row.stopped_at is None
        if row is None:
            row = ClockRecord(name=status.name, limit=status.limit, unit=status.unit)
            case.clocks.append(row)
            if status.provisional:
                metrics.CLOCK_PROVISIONAL_COMPUTED.labels(status.name).inc()
        row.started_at = status.started_at
        row.stopped_at = status.stopped_at
        row.limit = status.limit
        row.unit = status.unit
        row.last_day = status.last_day
        row.deadline = status.deadline
        row.provisional = status.provisional
        row.within_limit = status.within_limit
        row.elapsed_days = status.elapsed_days
        if status.stopped_at is not None and was_running:
            _count_stop(session, status.name, bool(status.within_limit), status.elapsed_days)


def _count_stop(session: Session, clock: str, within: bool, days: float) -> None:
    def count() -> None:
        metrics.CLOCK_CLOSED.labels(clock, "true" if within else "false").inc()
        metrics.CLOCK_DURATION_DAYS.labels(clock).observe(max(days, 0.0))

    db.on_commit(session, count)


def submit(
    session: Session, new: domain.NewCase, request_id: str, now: datetime
) -> tuple[Case, bool]:
    """Stores a validated case, starts its clocks and announces intake.case_received.

    Returns (case, duplicate_request): a retried request_id returns the case it created.
    """
    if request_id:
        existing = session.scalar(select(Case).where(Case.request_id == request_id))
        if existing is not None:
            return existing, True
    cfg = settings_mod.get()
    case = Case(
        request_id=request_id or None,
        kind=new.kind,
        channel=new.channel,
        status="received",
        complainant_name=new.name,
        complainant_phone=new.phone,
        complainant_id_number=new.id_number,
        complainant_region=new.region_code,
        phone_hash=domain.keyed_hash(new.phone, cfg.pii_key),
        institution_text=new.institution_text,
        product=new.product,
        summary=new.summary,
        amount_in_dispute_fen=new.amount_in_dispute_fen,
        received_at=new.received_at,
        created_at=now,
    )
    session.add(case)
    try:
        session.flush()
    except IntegrityError:
        # Two concurrent submissions with one request_id: the other one won.
        session.rollback()
        existing = session.scalar(select(Case).where(Case.request_id == request_id))
        if existing is None:
            raise
        return existing, True
    case.case_no = domain.case_number(new.received_at, case.id)
    record(session, case, "intake.case_received", new.received_at, new.channel)
    emit(
        session,
        OutboxMessage,
        "intake.case_received",
        {
            "case_no": case.case_no,
            "kind": case.kind,
            "channel": case.channel,
            "institution_text": case.institution_text,
            "product": case.product,
            "region_code": case.complainant_region,
            "amount_in_dispute_fen": case.amount_in_dispute_fen,
            "received_at": new.received_at.isoformat(),
            "summary": case.summary,
            "complainant_name": case.complainant_name,
            "complainant_phone": case.complainant_phone,
            "phone_hash": case.phone_hash,
            # Routing's tier policy sends elderly complainants' cases up; it needs the age only.
            "complainant_age": domain.age_from_id_number(
                new.id_number, new.received_at.astimezone(domain.SHANGHAI).date()
            ),
        },
    )
    log.info("case %s received: %s via %s", case.case_no, case.kind, case.channel)
    return case, False


def close(session: Session, case: Case, at: datetime, actor: str, resolution: str) -> None:
    if case.status == "closed":
        raise FailedPrecondition(f"case {case.case_no} is already closed")
    case.status = "closed"
    case.closed_at = at
    case.resolution = resolution
    record(session, case, "intake.case_closed", at, actor, resolution[:200])
    log.info("case %s closed", case.case_no)
    emit(
        session,
        OutboxMessage,
        "intake.case_closed",
        {
            "case_no": case.case_no,
            "kind": case.kind,
            "product": case.product,
            "region_code": case.complainant_region,
            "closed_at": at.isoformat(),
            "node_id": case.assigned_node_id,
        },
    )


def recompute_open_clocks(session: Session, batch: int = 500) -> int:
    """Re-derives every running clock from its case's history, e.g. after the holiday table or
    the policy changed; returns how many cases were recomputed."""
    case_ids = session.scalars(
        select(ClockRecord.case_id).where(ClockRecord.stopped_at.is_(None)).distinct()
    ).all()
    now = datetime.now(UTC)
    for start in range(0, len(case_ids), batch):
        chunk = case_ids[start : start + batch]
        for case in session.scalars(
            select(Case)
            .options(selectinload(Case.events), selectinload(Case.clocks))
            .where(Case.id.in_(chunk))
        ):
            refresh_clocks(session, case, now)
        session.flush()
    return len(case_ids)
