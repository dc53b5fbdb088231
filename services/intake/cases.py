"""Intake's storage operations, shared by its api and its worker: one transaction each."""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta

from rapidfuzz import fuzz
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from services.common import db, metrics, pii
from services.common.clock import in_force
from services.common.errors import CaseNotFound, FailedPrecondition
from services.common.messaging import emit
from services.intake import domain, taxonomy
from services.intake import policy as intake_policy
from services.intake.models import Case, CaseEvent, ClockRecord, OutboxMessage

SERVICE = "intake"
log = logging.getLogger(__name__)


def get_case(session: Session, case_no: str, lock: bool = False) -> Case:
    """`lock`: hold the case's row until commit (PostgreSQL), for a writer that must not
    interleave with another writer of the same case's timeline and clocks."""
    query = select(Case).where(Case.case_no == case_no)
    if lock:
        # A writer records on the timeline, which reads the events and clocks: loaded here, before
        # any change, so no autoflush writes the case row twice. Each in its own SELECT after the
        # lock is held: joined into the locking statement, PostgreSQL would give the clocks as
        # they were when that statement began, before the writer it waited for committed, and a
        # clock that writer added would be inserted a second time.
        query = (
            query.with_for_update()
            .options(selectinload(Case.clocks), selectinload(Case.events))
            .execution_options(populate_existing=True)
        )
    case = session.scalar(query)
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
    exclude_clocks: frozenset[str] = frozenset(),
) -> CaseEvent:
    """Appends a timeline entry, applies its clock effects and refreshes the clock projection.

    The policy says which clocks the event starts and stops; `effects` adds what only the
    event itself knows (an extension's new limit, a pause, a restart on reassignment).
    """
    _calendar, policy = in_force()
    open_clocks = [c.name for c in case.clocks if c.stopped_at is None]
    effects = [
        *(
            e
            for e in domain.clock_effects(policy, case.kind, event_type, open_clocks)
            if e["clock"] not in exclude_clocks
        ),
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


ROUTING_DECISIONS = ("routing.case_assigned", "routing.case_needs_routing")


def overtaken(case: Case, at: datetime) -> bool:
    """Whether the timeline already holds a routing decision taken after `at` (routing's events
    travel on separate queues, so an older decision can arrive after a newer one)."""
    return any(e.type in ROUTING_DECISIONS and e.at > at for e in case.events)


def refresh_clocks(session: Session, case: Case, now: datetime | None = None) -> None:
    calendar, policy = in_force()
    now = now or datetime.now(UTC)
    history = [
        domain.HistoryItem(e.type, e.at, e.data.get("clock_effects", []))
        for e in sorted(case.events, key=lambda e: (e.at, e.id or 0))
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


def _institution_key(text: str) -> str:
    """An institution text as compared for repeat complaints: width, case, punctuation and the
    legal-form suffix do not make two institutions different."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\s·・,，.。()（）\-_/]+", "", text)
    for suffix in ("股份有限公司", "有限责任公司", "有限公司"):
        text = text.replace(suffix, "")
    return text


def find_repeat(
    session: Session, new: domain.NewCase, classification, phone_hash: str, id_hash: str
):
    """The earlier case this one repeats: the same complainant (phone or ID number) against the
    same institution on the same matter (product, and issue where both have one), received
    within the policy window. A linked repeat points at its original, never at another link."""
    if new.kind not in domain.ROUTED_KINDS or not classification.product:
        return None
    rules = intake_policy.load()
    since = new.received_at - timedelta(days=rules.repeat_window_days)
    who = Case.phone_hash == phone_hash
    if id_hash:
        who = or_(who, Case.id_hash == id_hash)
    candidates = session.scalars(
        select(Case)
        .where(
            who,
            Case.kind == new.kind,
            Case.received_at >= since,
            Case.received_at <= new.received_at,
            Case.product == classification.product,
            Case.status.not_in(("linked", "withdrawn")),
        )
        .order_by(Case.received_at.desc())
    ).all()
    mine = _institution_key(new.institution_text)
    for earlier in candidates:
        if classification.issue and earlier.issue and classification.issue != earlier.issue:
            continue
        same = fuzz.ratio(mine, _institution_key(earlier.institution_text))
        if same >= rules.institution_similarity:
            return earlier
    return None


def submit(
    session: Session,
    new: domain.NewCase,
    request_id: str,
    now: datetime,
    classification: taxonomy.Classification | None = None,
) -> tuple[Case, bool]:
    """Stores a validated case, starts its clocks and announces intake.case_received.

    Returns (case, duplicate_request): a retried request_id returns the case it created. A
    repeat complaint without new facts is stored with status "linked" and no clocks; the
    earlier case's timeline records it (Art 15). With new facts it is a new case whose
    repeat_of names the earlier one, and routing hands it one level up.
    """
    if request_id:
        existing = session.scalar(select(Case).where(Case.request_id == request_id))
        if existing is not None:
            return existing, True
    _calendar, policy = in_force()
    tax = taxonomy.taxonomy_in_force()
    if classification is None:
        classification = taxonomy.suggest(tax, f"{new.institution_text} {new.summary}", new.product)
    phone_hash = pii.keyed_hash(new.phone)
    id_hash = pii.keyed_hash(new.id_number) if new.id_number else ""
    earlier = find_repeat(session, new, classification, phone_hash, id_hash)
    linked = earlier is not None and not new.new_facts
    if linked:
        # Its timeline and clocks are written below; intake's worker may be writing them too.
        earlier = get_case(session, earlier.case_no, lock=True)
    agent, transfer = new.agent, new.transfer
    case = Case(
        request_id=request_id or None,
        kind=new.kind,
        channel=new.channel,
        status="linked" if linked else "received",
        complainant_name=new.name,
        complainant_phone=new.phone,
        complainant_id_number=new.id_number,
        complainant_region=new.region_code,
        phone_hash=phone_hash,
        id_hash=id_hash,
        institution_text=new.institution_text,
        product=classification.product or new.product,
        business_type=classification.business_type,
        issue=classification.issue,
        taxonomy_version=classification.taxonomy_version,
        classified_by=classification.source,
        summary=new.summary,
        amount_in_dispute_fen=new.amount_in_dispute_fen,
        received_at=new.received_at,
        created_at=now,
        people_count=new.people_count,
        major=new.people_count >= policy.major_complaint_min_people,
        repeat_of=earlier.case_no if earlier is not None else "",
        new_facts=new.new_facts,
        agent_name=agent.name if agent else "",
        agent_id_number=agent.id_number if agent else "",
        agent_phone=agent.phone if agent else "",
        agent_phone_hash=pii.keyed_hash(agent.phone) if agent else "",
        agent_id_hash=pii.keyed_hash(agent.id_number) if agent else "",
        agent_authorization_ref=agent.authorization_reference if agent else "",
        agent_relationship=agent.relationship if agent else "",
        regulator=transfer.regulator if transfer else "",
        regulator_reference=transfer.reference if transfer else "",
        regulator_received_at=transfer.received_by_regulator_at if transfer else None,
        # A new case has no timeline and no clocks yet: said here, reading them below needs no
        # query (they would otherwise be lazy-loaded, empty, after the flush).
        events=[],
        clocks=[],
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
    _record_receipt(session, case, new, earlier, linked, policy)
    emit(session, OutboxMessage, "intake.case_received", _received_payload(case, new, linked))
    if case.kind == "mediation_request" and not linked:
        # A 调解申请 on its own: the mediation service asks both parties for consent.
        announce_mediation_request(
            session, case, new.received_at, new.channel, case.summary[:500], "any", "consumer"
        )
    log.info(
        "case %s received: %s via %s%s",
        case.case_no,
        case.kind,
        case.channel,
        f", linked to {earlier.case_no}" if linked and earlier else "",
    )
    return case, False


def _record_receipt(session, case: Case, new: domain.NewCase, earlier, linked: bool, policy):
    """The receipt on the timeline, with the clocks it starts from the legally right moment."""
    if linked:
        # No new facts: no new clock. The earlier case goes on and records the repeat.
        record(
            session,
            case,
            "intake.case_received",
            new.received_at,
            new.channel,
            f"a repeat of {earlier.case_no} without new facts: linked to it (Art 15)",
            exclude_clocks=frozenset(policy.clocks),
        )
        record(
            session,
            earlier,
            "intake.repeat_received",
            new.received_at,
            new.channel,
            f"the complainant complained again without new facts ({case.case_no})",
        )
        return
    detail = ""
    if case.repeat_of:
        detail = f"a repeat of {case.repeat_of} with new facts: a new case and clock (Art 15)"
    if case.major:
        detail = (detail + "; " if detail else "") + (
            f"a major complaint: {case.people_count} people (Art 29)"
        )
    if new.transfer is not None:
        # The regulator's forwarding clock runs from its own receipt (Art 33); the centre's
        # clocks from the centre's.
        forwarding = {
            n
            for n in ("regulator_forwarding",)
            if n in policy.clocks and case.kind in policy.clocks[n].applies_to
        }
        record(
            session,
            case,
            "intake.case_received",
            new.received_at,
            new.channel,
            detail or f"transferred by {new.transfer.regulator} ({new.transfer.reference})",
            exclude_clocks=frozenset(forwarding),
        )
        record(
            session,
            case,
            "intake.regulator_received",
            new.transfer.received_by_regulator_at,
            new.transfer.regulator,
            f"received by {new.transfer.regulator} ({new.transfer.reference})",
            effects=[{"clock": n, "kind": "start"} for n in forwarding],
        )
        return
    record(session, case, "intake.case_received", new.received_at, new.channel, detail)


def _received_payload(case: Case, new: domain.NewCase, linked: bool) -> dict:
    return {
        "case_no": case.case_no,
        "kind": case.kind,
        "channel": case.channel,
        "institution_text": case.institution_text,
        "product": case.product,
        "business_type": case.business_type,
        "issue": case.issue,
        "region_code": case.complainant_region,
        "amount_in_dispute_fen": case.amount_in_dispute_fen,
        "received_at": new.received_at.isoformat(),
        "summary": case.summary,
        # The institution calls the complainant back; routing shows it to that institution only.
        "complainant_name": case.complainant_name,
        "complainant_phone": case.complainant_phone,
        "phone_hash": case.phone_hash,
        "id_hash": case.id_hash,
        # Routing's tier policy sends elderly complainants' cases up; it needs the age only.
        "complainant_age": domain.age_from_id_number(
            new.id_number, new.received_at.astimezone(domain.SHANGHAI).date()
        ),
        "people_count": case.people_count,
        "major": case.major,
        "repeat_of": case.repeat_of,
        "new_facts": case.new_facts,
        "linked_to": case.repeat_of if linked else "",
        # A proxy case: screening matches the agent by keyed hashes, never by the numbers.
        "proxy": bool(case.agent_phone_hash),
        "agent_phone_hash": case.agent_phone_hash,
        "agent_id_hash": case.agent_id_hash,
        # Screening matches known agents' names fuzzily (blacklist stores it encrypted).
        "agent_name": case.agent_name,
        "agent_authorization_ref": case.agent_authorization_ref,
        "regulator_reference": case.regulator_reference,
    }


MEDIATION_FORMS = ("onsite", "online", "any")


def announce_mediation_request(
    session: Session,
    case: Case,
    at: datetime,
    actor: str,
    reason: str,
    form: str,
    source: str,
) -> None:
    """The timeline entry and intake.mediation_requested: the consumer asked (source consumer) or
    the institution's answer referred the dispute (source institution)."""
    if form not in MEDIATION_FORMS:
        raise ValueError(f"unknown mediation form {form!r}")
    by = "the institution referred" if source == "institution" else "the complainant asked for"
    record(session, case, "intake.mediation_requested", at, actor, f"{by} mediation")
    emit(
        session,
        OutboxMessage,
        "intake.mediation_requested",
        {
            "case_no": case.case_no,
            "requested_at": at.isoformat(),
            "source": source,
            "reason": reason,
            "preferred_form": form,
            "institution_node_id": case.assigned_node_id,
            "institution_name": case.assigned_node_name,
            "institution_text": case.institution_text,
            "product": case.product,
            "business_type": case.business_type,
            "issue": case.issue,
            "amount_in_dispute_fen": case.amount_in_dispute_fen,
            # The mediator calls the complainant; the mediation service stores these encrypted.
            "complainant_name": case.complainant_name,
            "complainant_phone": case.complainant_phone,
            "complainant_age": domain.age_from_id_number(
                case.complainant_id_number, case.received_at.astimezone(domain.SHANGHAI).date()
            ),
            "region_code": case.complainant_region,
        },
    )
    log.info("case %s: mediation requested (%s)", case.case_no, source)


def withdraw(session: Session, case: Case, at: datetime, actor: str, reason: str) -> None:
    """The complainant withdrew: the case ends, and every clock stops, the day it came in."""
    if case.status in ("closed", "withdrawn"):
        raise FailedPrecondition(f"case {case.case_no} is already {case.status}")
    case.status = "withdrawn"
    case.closed_at = at
    case.resolution = f"withdrawn: {reason}"
    open_clocks = [c.name for c in case.clocks if c.stopped_at is None]
    record(
        session,
        case,
        "intake.case_withdrawn",
        at,
        actor,
        reason[:200],
        effects=[{"clock": name, "kind": "stop"} for name in open_clocks],
    )
    _announce_closed(session, case, at, withdrawn=True)
    log.info("case %s withdrawn", case.case_no)


def classify(
    session: Session, case: Case, fixed: taxonomy.Classification, actor: str, note: str
) -> None:
    """Staff correct the classification; the timeline keeps what it was."""
    before = f"{case.business_type}/{case.product}/{case.issue}"
    case.business_type, case.product, case.issue = fixed.business_type, fixed.product, fixed.issue
    case.taxonomy_version, case.classified_by = fixed.taxonomy_version, "staff"
    after = f"{case.business_type}/{case.product}/{case.issue}"
    record(
        session,
        case,
        "intake.case_classified",
        datetime.now(UTC),
        actor,
        f"{before} → {after}" + (f": {note}" if note else ""),
    )
    emit(
        session,
        OutboxMessage,
        "intake.case_classified",
        {
            "case_no": case.case_no,
            "business_type": case.business_type,
            "product": case.product,
            "issue": case.issue,
            "taxonomy_version": case.taxonomy_version,
        },
    )


def close(session: Session, case: Case, at: datetime, actor: str, resolution: str) -> None:
    if case.status in ("closed", "withdrawn"):
        raise FailedPrecondition(f"case {case.case_no} is already {case.status}")
    case.status = "closed"
    case.closed_at = at
    case.resolution = resolution
    record(session, case, "intake.case_closed", at, actor, resolution[:200])
    log.info("case %s closed", case.case_no)
    _announce_closed(session, case, at, withdrawn=False)


def _announce_closed(session: Session, case: Case, at: datetime, withdrawn: bool) -> None:
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
            "withdrawn": withdrawn,
        },
    )


def recompute_open_clocks(factory: sessionmaker[Session], batch: int = 200) -> int:
    """Re-derives every running clock from its case's history, e.g. after the holiday table or
    the policy changed (and at every worker start); returns how many cases were recomputed.

    A batch at a time, each in a transaction of its own with its cases locked: one transaction
    over every open case held its clocks' rows until the end (a minute at a large centre) while
    handlers waited on them, and read each case without its lock, so a handler's change
    committed meanwhile was overwritten. A case another writer holds is passed over and taken
    again, waiting for it, once the others are done.
    """
    with db.session_scope(factory) as session:
        case_ids = session.scalars(
            select(ClockRecord.case_id).where(ClockRecord.stopped_at.is_(None)).distinct()
        ).all()
    busy: list[int] = []
    for start in range(0, len(case_ids), batch):
        chunk = case_ids[start : start + batch]
        done = _recompute(factory, chunk, skip_locked=True)
        busy.extend(sorted(set(chunk) - done))
    for start in range(0, len(busy), batch):
        _recompute(factory, busy[start : start + batch], skip_locked=False)
    return len(case_ids)


def _recompute(factory: sessionmaker[Session], case_ids: list[int], skip_locked: bool) -> set[int]:
    with db.session_scope(factory) as session:
        now = datetime.now(UTC)
        done = set()
        for case in session.scalars(
            select(Case)
            .where(Case.id.in_(case_ids))
            .order_by(Case.id)
            .with_for_update(skip_locked=skip_locked)
            .options(selectinload(Case.events), selectinload(Case.clocks))
        ):
            refresh_clocks(session, case, now)
            done.add(case.id)
        return done
