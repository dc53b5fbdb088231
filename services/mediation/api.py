"""Mediation's public gRPC API (python -m services.mediation.api): the mediation desk, mediators
and supervisors."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy import func, select

from services.common import auth, db, grpc_server, validation
from services.common.errors import InvalidArgument
from services.common.logs import mask_name, mask_phone
from services.common.protoconv import MAX_ID, from_timestamp, page, to_timestamp
from services.common.validation import text as _text
from services.mediation import domain, store
from services.mediation.metrics import register_collector
from services.mediation.models import (
    MediationRequest,
    MediationSession,
    Mediator,
    ReceivedCase,
    Venue,
)
from xiaobao.mediation.v1 import mediation_pb2 as pb
from xiaobao.mediation.v1 import mediation_pb2_grpc

SERVICE = store.SERVICE
DESK = ("operator", "supervisor")
ANYONE = ("operator", "supervisor", "mediator")
MEDIATORS = ("mediator", "supervisor")
MAX_TEXT = 2000
MAX_AMOUNT_FEN = 10**13


def _now() -> datetime:
    return datetime.now(UTC)


def _amount(value: int, field: str) -> int:
    if not 0 <= value <= MAX_AMOUNT_FEN:
        raise InvalidArgument(field, "must be from 0 to 10^13 fen")
    return value


def _id(value: int, field: str) -> int:
    if value <= 0:
        raise InvalidArgument(field, "is required")
    if value > MAX_ID:
        raise InvalidArgument(field, "is not an id this server issued")
    return value


def session_message(s: MediationSession, venue_name: str = "") -> pb.Session:
    return pb.Session(
        id=s.id,
        request_id=s.request_id,
        case_no=s.request.case_no if s.request else "",
        mediator_id=s.mediator_id,
        venue_id=s.venue_id,
        venue_name=venue_name,
        start=to_timestamp(s.start),
        end=to_timestamp(s.end),
        state=s.state,
        form=s.form,
        note=s.note,
    )


def request_message(
    req: MediationRequest, full: bool, venues: dict[str, str] | None = None
) -> pb.MediationRequest:
    """The request; `full` shows the complainant's name and phone, else they are masked."""
    status = store.clock_status(req)
    venues = venues or {}
    return pb.MediationRequest(
        id=req.id,
        case_no=req.case_no,
        source=req.source,
        state=req.state,
        outcome=req.outcome,
        outcome_reason=req.outcome_reason,
        reason=req.reason,
        preferred_form=req.preferred_form,
        fast_track=req.fast_track,
        institution_node_id=req.institution_node_id,
        institution_name=req.institution_name,
        product=req.product,
        amount_in_dispute_fen=req.amount_in_dispute_fen,
        complainant_name=req.complainant_name if full else mask_name(req.complainant_name),
        complainant_phone=req.complainant_phone if full else mask_phone(req.complainant_phone),
        complainant_age=req.complainant_age,
        court_name=req.court_name,
        court_reference=req.court_reference,
        court_deadline=req.court_deadline.isoformat() if req.court_deadline else "",
        requested_at=to_timestamp(req.requested_at),
        accepted_at=to_timestamp(req.accepted_at),
        closed_at=to_timestamp(req.closed_at),
        consents=[
            pb.Consent(
                party=c.party,
                consented=c.consented,
                by=c.by,
                at=to_timestamp(c.at),
                reason=c.reason,
                availability=[
                    pb.TimeWindow(
                        start=to_timestamp(datetime.fromisoformat(a)),
                        end=to_timestamp(datetime.fromisoformat(b)),
                    )
                    for a, b in c.availability or []
                ],
            )
            for c in req.consents
        ],
        clock=pb.MediationClock(
            name=status.name,
            limit_days=status.limit,
            unit=status.unit,
            started_at=to_timestamp(status.started_at),
            deadline=to_timestamp(status.deadline),
            last_day=status.last_day.isoformat() if status.last_day else "",
            state=status.state,
            article=status.article,
        ),
        sessions=[session_message(s, venues.get(s.venue_id, "")) for s in req.sessions],
        agreement_amount_fen=req.agreement_amount_fen,
        agreement_terms=req.agreement_terms,
        judicial_confirmation=req.judicial_confirmation,
        judicial_court=req.judicial_court,
        judicial_reference=req.judicial_reference,
        judicial_confirmed_on=(
            req.judicial_confirmed_on.isoformat() if req.judicial_confirmed_on else ""
        ),
        language=req.language,
    )


def plan_message(result: store.PlanResult, venues: dict[str, str]) -> pb.PlanResult:
    return pb.PlanResult(
        sessions=[session_message(s, venues.get(s.venue_id, "")) for s in result.booked],
        unscheduled=[pb.Unscheduled(request_id=r, reason=why) for r, why in result.unscheduled],
        solver=result.solver,
        seconds=result.seconds,
        kept=result.kept,
        moved=result.moved,
    )


def _venue_names(session) -> dict[str, str]:
    return {v.id: v.name for v in session.scalars(select(Venue))}


class MediationService(mediation_pb2_grpc.MediationServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def GetIntakeSummary(self, request, context):
        auth.require(context, *ANYONE)
        with db.session_scope(self.factory) as session:
            seen = session.scalar(select(func.count()).select_from(ReceivedCase)) or 0
            requests = (
                session.scalar(
                    select(func.count())
                    .select_from(ReceivedCase)
                    .where(ReceivedCase.kind == "mediation_request")
                )
                or 0
            )
            last = session.scalar(select(func.max(ReceivedCase.received_at)))
            return pb.IntakeSummary(
                cases_seen=seen,
                mediation_requests_seen=requests,
                last_case_received_at=to_timestamp(last),
            )

    # --- requests ------------------------------------------------------------------------------

    def RecordCourtReferral(self, request, context):
        auth.require(context, *DESK)
        court = _text(request.court_name, "court_name", 200)
        reference = _text(request.court_reference, "court_reference", 64)
        deadline = validation.day(request.court_deadline, "court_deadline", required=False)
        if deadline is not None and deadline < _now().date():
            raise InvalidArgument("court_deadline", "is already past")
        form = request.preferred_form or "any"
        if form not in domain.FORMS:
            raise InvalidArgument("preferred_form", f"must be one of {', '.join(domain.FORMS)}")
        if not 0 <= request.complainant_age <= 130:
            raise InvalidArgument("complainant_age", "must be from 0 to 130")
        fields = {
            "source": "court",
            "case_no": _text(request.case_no, "case_no", 24, required=False),
            "court_name": court,
            "court_reference": reference,
            "court_deadline": deadline,
            "institution_name": _text(request.institution_name, "institution_name", 200),
            "institution_node_id": _text(
                request.institution_node_id, "institution_node_id", 64, required=False
            ),
            "product": _text(request.product, "product", 40, required=False),
            "business_type": _text(request.business_type, "business_type", 24, required=False),
            "amount_in_dispute_fen": _amount(
                request.amount_in_dispute_fen, "amount_in_dispute_fen"
            ),
            "complainant_name": _text(request.complainant_name, "complainant_name", 100),
            "complainant_phone": _text(
                request.complainant_phone, "complainant_phone", 30, required=False
            ),
            "complainant_age": request.complainant_age,
            "reason": _text(request.reason, "reason", MAX_TEXT, required=False),
            "preferred_form": form,
            "language": _text(request.language, "language", 40, required=False),
        }
        with db.session_scope(self.factory) as session:
            req, _created = store.open_request(session, _now(), **fields)
            session.flush()
            return request_message(req, full=True)

    def GetRequest(self, request, context):
        auth.require(context, *ANYONE)
        with db.session_scope(self.factory) as session:
            req = store.get_request(session, _id(request.request_id, "request_id"))
            return request_message(req, full=True, venues=_venue_names(session))

    def ListRequests(self, request, context):
        auth.require(context, *ANYONE)
        if request.state and request.state not in domain.REQUEST_STATES:
            raise InvalidArgument(
                "state", f"must be one of {', '.join(domain.REQUEST_STATES)} or empty"
            )
        size, after = page(request.page_size, request.page_token)
        query = select(MediationRequest).where(MediationRequest.id > after)
        if request.state:
            query = query.where(MediationRequest.state == request.state)
        if request.case_no:
            query = query.where(MediationRequest.case_no == request.case_no)
        with db.session_scope(self.factory) as session:
            rows = list(session.scalars(query.order_by(MediationRequest.id).limit(size + 1)))
            more = len(rows) > size
            rows = rows[:size]
            venues = _venue_names(session)
            return pb.ListRequestsResponse(
                requests=[request_message(r, full=False, venues=venues) for r in rows],
                next_page_token=str(rows[-1].id) if more and rows else "",
            )

    def RecordConsent(self, request, context):
        principal = auth.require(context, *ANYONE)
        by = _text(request.by, "by", 120, required=False) or principal.subject
        reason = _text(request.reason, "reason", MAX_TEXT, required=False)
        if len(request.availability) > 50:
            raise InvalidArgument("availability", "at most 50 windows")
        windows = []
        for i, w in enumerate(request.availability):
            start = from_timestamp(w.start, f"availability[{i}].start")
            end = from_timestamp(w.end, f"availability[{i}].end")
            if start is None or end is None:
                raise InvalidArgument(f"availability[{i}]", "needs a start and an end")
            windows.append((start, end))
        with db.session_scope(self.factory) as session:
            req = store.record_consent(
                session,
                _id(request.request_id, "request_id"),
                request.party,
                request.consented,
                by,
                reason,
                _now(),
                windows,
            )
            session.flush()
            return request_message(req, full=True, venues=_venue_names(session))

    def RecordJudicialConfirmation(self, request, context):
        auth.require(context, *ANYONE)
        court = _text(request.court, "court", 200)
        reference = _text(request.reference, "reference", 64)
        confirmed_on = validation.day(request.confirmed_on, "confirmed_on")
        with db.session_scope(self.factory) as session:
            req = store.record_judicial_confirmation(
                session, _id(request.request_id, "request_id"), court, reference, confirmed_on
            )
            return request_message(req, full=True, venues=_venue_names(session))

    # --- the roster ----------------------------------------------------------------------------

    def ImportRoster(self, request, context):
        auth.require(context, *DESK)
        if not request.yaml.strip():
            raise InvalidArgument("yaml", "is required")
        try:
            roster = domain.parse_roster(request.yaml)
        except domain.RosterError as exc:
            raise InvalidArgument("yaml", str(exc)) from None
        with db.session_scope(self.factory) as session:
            report = store.import_roster(session, roster)
            if request.dry_run:
                session.rollback()
        return pb.ImportRosterResponse(**vars(report))

    def ListRoster(self, request, context):
        auth.require(context, *ANYONE)
        with db.session_scope(self.factory) as session:
            mediators = [
                pb.Mediator(
                    id=m.id,
                    name=m.name,
                    specialities=m.specialities,
                    languages=m.languages,
                    elderly_suitable=m.elderly_suitable,
                    max_per_day=m.max_per_day,
                    max_per_week=m.max_per_week,
                    conflicts=m.conflicts,
                    active=m.active,
                    leave=[f"{lv.first_day}..{lv.last_day} {lv.reason}" for lv in m.leaves],
                )
                for m in session.scalars(select(Mediator).order_by(Mediator.id))
            ]
            venues = [
                pb.Venue(
                    id=v.id,
                    name=v.name,
                    kind=v.kind,
                    form=v.form,
                    capacity=v.capacity,
                    opens=v.opens,
                    closes=v.closes,
                    court_name=v.court_name,
                    active=v.active,
                )
                for v in session.scalars(select(Venue).order_by(Venue.id))
            ]
        return pb.Roster(mediators=mediators, venues=venues)

    def RecordLeave(self, request, context):
        auth.require(context, *DESK)
        mediator_id = _text(request.mediator_id, "mediator_id", 32)
        first = validation.day(request.first_day, "first_day")
        last = validation.day(request.last_day, "last_day", required=False) or first
        with store.booking(self.factory) as session:
            result = store.add_leave(
                session, mediator_id, first, last, request.reason or "leave", _now()
            )
            return plan_message(result, _venue_names(session))

    # --- sessions ------------------------------------------------------------------------------

    def PlanSessions(self, request, context):
        auth.require(context, *DESK)
        if not 0 <= request.horizon_working_days <= 60:
            raise InvalidArgument("horizon_working_days", "must be from 0 to 60")
        if not 0 <= request.time_limit_seconds <= 60:
            raise InvalidArgument("time_limit_seconds", "must be from 0 to 60")
        with store.booking(self.factory) as session:
            result = store.plan_sessions(
                session,
                _now(),
                request.confirm,
                request.horizon_working_days,
                request.time_limit_seconds,
                [_id(r, "request_ids") for r in request.request_ids],
            )
            session.flush()
            return plan_message(result, _venue_names(session))

    def BookSession(self, request, context):
        auth.require(context, *ANYONE)
        start = from_timestamp(request.start, "start")
        end = from_timestamp(request.end, "end")
        if start is None:
            raise InvalidArgument("start", "is required")
        if end is None:
            raise InvalidArgument("end", "is required")
        mediator_id = _text(request.mediator_id, "mediator_id", 32)
        venue_id = _text(request.venue_id, "venue_id", 32)
        with store.booking(self.factory) as session:
            req = store.get_request(session, _id(request.request_id, "request_id"), lock=True)
            s = store.book_session(
                session,
                req,
                mediator_id,
                venue_id,
                start,
                end,
                "confirmed" if request.confirm else "proposed",
            )
            session.flush()
            return session_message(s, session.get(Venue, s.venue_id).name)

    def _change(self, request, context, target: str, roles: tuple[str, ...]):
        auth.require(context, *roles)
        note = _text(request.note, "note", MAX_TEXT, required=False)
        # A session brought forward is booked anew: under the booking lock on SQLite.
        with store.booking(self.factory) as session:
            s = store.transition_session(
                session,
                _id(request.session_id, "session_id"),
                target,
                _now(),
                note,
                bring_forward=request.bring_forward,
            )
            return session_message(s, session.get(Venue, s.venue_id).name)

    def ConfirmSession(self, request, context):
        return self._change(request, context, "confirmed", ANYONE)

    def HoldSession(self, request, context):
        return self._change(request, context, "held", MEDIATORS)

    def CancelSession(self, request, context):
        auth.require(context, *ANYONE)
        note = _text(request.note, "note", MAX_TEXT, required=False)
        with store.booking(self.factory) as session:
            now = _now()
            s = store.transition_session(
                session, _id(request.session_id, "session_id"), "cancelled", now, note
            )
            session.flush()
            result = store.replan(session, now, f"session {s.id} cancelled")
            venues = _venue_names(session)
            return pb.CancelSessionResponse(
                session=session_message(s, venues.get(s.venue_id, "")),
                replanned=plan_message(result, venues),
            )

    def RecordOutcome(self, request, context):
        auth.require(context, *MEDIATORS)
        terms = _text(request.terms, "terms", MAX_TEXT, required=False)
        with db.session_scope(self.factory) as session:
            s = store.record_outcome(
                session,
                _id(request.session_id, "session_id"),
                request.outcome,
                _now(),
                amount_fen=_amount(request.amount_fen, "amount_fen"),
                terms=terms,
                judicial_confirmation=request.judicial_confirmation,
            )
            session.flush()
            return request_message(s.request, full=True, venues=_venue_names(session))

    def ListSessions(self, request, context):
        auth.require(context, *ANYONE)
        if request.state and request.state not in domain.SESSION_STATES:
            raise InvalidArgument("state", f"must be one of {', '.join(domain.SESSION_STATES)}")
        query = select(MediationSession)
        if request.request_id:
            query = query.where(
                MediationSession.request_id == _id(request.request_id, "request_id")
            )
        if request.mediator_id:
            query = query.where(MediationSession.mediator_id == request.mediator_id)
        if request.state:
            query = query.where(MediationSession.state == request.state)
        with db.session_scope(self.factory) as session:
            venues = _venue_names(session)
            rows = session.scalars(query.order_by(MediationSession.start).limit(500))
            return pb.ListSessionsResponse(
                sessions=[session_message(s, venues.get(s.venue_id, "")) for s in rows]
            )


def register(server: grpc.Server) -> list[str]:
    mediation_pb2_grpc.add_MediationServiceServicer_to_server(MediationService(), server)
    register_collector()
    return [pb.DESCRIPTOR.services_by_name["MediationService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
