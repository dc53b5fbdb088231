"""Intake's public gRPC API (python -m services.intake.api)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from services.common import auth, db, grpc_server, logs, validation
from services.common import settings as settings_mod
from services.common.clock import Policy, in_force
from services.common.errors import FailedPrecondition, InvalidArgument
from services.common.logs import mask_id_number, mask_name, mask_phone
from services.common.protoconv import enum_to_name, from_timestamp, name_to_enum, page, to_timestamp
from services.intake import cases, domain, http, referrals, taxonomy
from services.intake.metrics import clock_state, register_collector
from services.intake.models import Case
from xiaobao.intake.v1 import intake_pb2 as pb
from xiaobao.intake.v1 import intake_pb2_grpc

STAFF = ("operator", "supervisor")
MEDIATION_FORMS = {
    pb.MEDIATION_FORM_UNSPECIFIED: "any",
    pb.MEDIATION_FORM_ONSITE: "onsite",
    pb.MEDIATION_FORM_ONLINE: "online",
}


def case_message(case: Case, policy: Policy, detail: bool = True) -> pb.Case:
    """The case as staff see it; `policy` is read once per request, not once per clock."""
    now = datetime.now(UTC)
    specs = policy.clocks
    msg = pb.Case(
        case_no=case.case_no or "",
        kind=name_to_enum(pb.CaseKind, case.kind),
        channel=name_to_enum(pb.Channel, case.channel),
        status=name_to_enum(pb.CaseStatus, case.status),
        complainant=pb.Complainant(
            name=mask_name(case.complainant_name),
            phone=mask_phone(case.complainant_phone),
            id_number=mask_id_number(case.complainant_id_number),
            region_code=case.complainant_region,
        ),
        institution_text=case.institution_text,
        product=case.product,
        summary=case.summary if detail else case.summary[:80],
        amount_in_dispute_fen=case.amount_in_dispute_fen,
        received_at=to_timestamp(case.received_at),
        assigned_node_id=case.assigned_node_id,
        assigned_node_name=case.assigned_node_name,
        closed_at=to_timestamp(case.closed_at),
        resolution=case.resolution,
        people_count=case.people_count,
        major=case.major,
        repeat_of=case.repeat_of,
        new_facts=case.new_facts,
        screening_flagged=case.screening_flagged,
        screening_note=case.screening_note,
        classification=pb.Classification(
            business_type=case.business_type,
            product=case.product,
            issue=case.issue,
            taxonomy_version=case.taxonomy_version,
            source=case.classified_by,
        ),
    )
    if case.agent_name:
        msg.agent.CopyFrom(
            pb.Agent(
                name=mask_name(case.agent_name),
                id_number=mask_id_number(case.agent_id_number),
                phone=mask_phone(case.agent_phone),
                authorization_reference=case.agent_authorization_ref,
                relationship=case.agent_relationship,
            )
        )
    if case.regulator:
        msg.transfer.CopyFrom(
            pb.Transfer(
                regulator=case.regulator,
                reference=case.regulator_reference,
                received_by_regulator_at=to_timestamp(case.regulator_received_at),
            )
        )
    for clock in case.clocks:
        msg.clocks.append(
            pb.Clock(
                name=clock.name,
                article=f"{specs[clock.name].source} {specs[clock.name].article}"
                if clock.name in specs
                else "",
                limit=clock.limit,
                unit=clock.unit,
                started_at=to_timestamp(clock.started_at),
                stopped_at=to_timestamp(clock.stopped_at),
                last_day=clock.last_day.isoformat() if clock.last_day else "",
                deadline=to_timestamp(clock.deadline),
                provisional=clock.provisional,
                state=clock_state(clock, now, policy.at_risk_fraction),
                within_limit=bool(clock.within_limit),
                elapsed_days=clock.elapsed_days
                if clock.stopped_at or not clock.started_at
                else (now - clock.started_at).total_seconds() / 86400,
            )
        )
    if detail:
        # In the order things happened, as the clocks and the consumer's page read them: events
        # travel on separate queues, so an acknowledgement may be recorded after the closing.
        for event in sorted(case.events, key=lambda e: (e.at, e.id or 0)):
            msg.timeline.append(
                pb.TimelineEntry(
                    at=to_timestamp(event.at),
                    type=event.type,
                    actor=event.actor,
                    detail=event.detail,
                )
            )
    return msg


class IntakeService(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(cases.SERVICE)

    def SubmitCase(self, request: pb.SubmitCaseRequest, context: grpc.ServicerContext):
        auth.require(context, *STAFF)
        now = datetime.now(UTC)
        new = domain.validate(new_case(request), now)
        if len(request.request_id) > 64:
            raise InvalidArgument("request_id", "is longer than 64 characters")
        classification = (
            staff_classification(request.classification)
            if request.HasField("classification")
            else None
        )
        with db.session_scope(self.factory) as session:
            case, duplicate = cases.submit(session, new, request.request_id, now, classification)
            return pb.SubmitCaseResponse(
                case=case_message(case, in_force()[1]),
                duplicate_request=duplicate,
                linked_to=case.repeat_of if case.status == "linked" else "",
            )

    def GetCase(self, request: pb.GetCaseRequest, context: grpc.ServicerContext):
        auth.require(context, *STAFF)
        with db.session_scope(self.factory) as session:
            return case_message(cases.get_case(session, _case_no(request)), in_force()[1])

    def ListCases(self, request: pb.ListCasesRequest, context: grpc.ServicerContext):
        auth.require(context, *STAFF)
        limit, after = page(request.page_size, request.page_token)
        query = (
            select(Case)
            .options(selectinload(Case.clocks))
            .where(Case.id > after)
            .order_by(Case.id)
            .limit(limit + 1)
        )
        if request.status:
            query = query.where(
                Case.status == enum_to_name(pb.CaseStatus, request.status, "status")
            )
        with db.session_scope(self.factory) as session:
            rows = session.scalars(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            policy = in_force()[1]
            return pb.ListCasesResponse(
                cases=[case_message(c, policy, detail=False) for c in rows],
                next_page_token=str(rows[-1].id) if more else "",
            )

    def RecordFirstContact(
        self, request: pb.RecordFirstContactRequest, context: grpc.ServicerContext
    ):
        principal = auth.require(context, *STAFF)
        now = datetime.now(UTC)
        at = from_timestamp(request.contacted_at, "contacted_at") or now
        if at > now:
            raise InvalidArgument("contacted_at", "is in the future")
        with db.session_scope(self.factory) as session:
            case = cases.get_case(session, _case_no(request), lock=True)
            if at < case.received_at:
                raise InvalidArgument("contacted_at", "is before the case was received")
            if any(e.type == "intake.first_contact_recorded" for e in case.events):
                raise FailedPrecondition(f"first contact of {case.case_no} is already recorded")
            cases.record(
                session,
                case,
                "intake.first_contact_recorded",
                at,
                principal.subject,
                request.note[:500],
            )
            return case_message(case, in_force()[1])

    def CloseCase(self, request: pb.CloseCaseRequest, context: grpc.ServicerContext):
        principal = auth.require(context, *STAFF)
        if not request.resolution.strip():
            raise InvalidArgument("resolution", "is required")
        with db.session_scope(self.factory) as session:
            case = cases.get_case(session, _case_no(request), lock=True)
            if case.status in ("assigned", "answered") and case.kind in domain.ROUTED_KINDS:
                raise FailedPrecondition(
                    f"case {case.case_no} is with an institution; it closes on their answer"
                )
            cases.close(session, case, datetime.now(UTC), principal.subject, request.resolution)
            return case_message(case, in_force()[1])

    def WithdrawCase(self, request: pb.WithdrawCaseRequest, context: grpc.ServicerContext):
        principal = auth.require(context, *STAFF)
        now = datetime.now(UTC)
        reason = request.reason.strip()
        if not reason:
            raise InvalidArgument("reason", "is required: what the complainant said")
        if len(reason) > 500:
            raise InvalidArgument("reason", "is longer than 500 characters")
        at = from_timestamp(request.withdrawn_at, "withdrawn_at") or now
        if at > now:
            raise InvalidArgument("withdrawn_at", "is in the future")
        with db.session_scope(self.factory) as session:
            case = cases.get_case(session, _case_no(request), lock=True)
            if at < case.received_at:
                raise InvalidArgument("withdrawn_at", "is before the case was received")
            cases.withdraw(session, case, at, principal.subject, reason)
            return case_message(case, in_force()[1])

    def RequestMediation(self, request: pb.RequestMediationRequest, context: grpc.ServicerContext):
        principal = auth.require(context, *STAFF)
        reason = validation.text(request.reason, "reason", 500, required=True)
        if request.preferred_form not in pb.MediationForm.values():
            raise InvalidArgument("preferred_form", f"unknown value {request.preferred_form}")
        form = MEDIATION_FORMS[request.preferred_form]
        with db.session_scope(self.factory) as session:
            case = cases.get_case(session, _case_no(request), lock=True)
            referrals.request_mediation(
                session, case, datetime.now(UTC), principal.subject, reason, form, "consumer"
            )
            return case_message(case, in_force()[1])

    def ClassifyCase(self, request: pb.ClassifyCaseRequest, context: grpc.ServicerContext):
        principal = auth.require(context, *STAFF)
        if not request.HasField("classification"):
            raise InvalidArgument("classification", "is required")
        fixed = staff_classification(request.classification)
        if len(request.note) > 500:
            raise InvalidArgument("note", "is longer than 500 characters")
        with db.session_scope(self.factory) as session:
            case = cases.get_case(session, _case_no(request), lock=True)
            cases.classify(session, case, fixed, principal.subject, request.note.strip())
            return case_message(case, in_force()[1])


def _case_no(request) -> str:
    """The request's case number: required, and no longer than a case number can be."""
    return validation.text(request.case_no, "case_no", 24)


def new_case(request: pb.SubmitCaseRequest) -> domain.NewCase:
    """The request as the domain's NewCase (not yet validated)."""
    agent = transfer = None
    if request.HasField("agent"):
        a = request.agent
        agent = domain.Agent(
            name=a.name,
            id_number=a.id_number,
            phone=a.phone,
            authorization_reference=a.authorization_reference,
            relationship=a.relationship,
        )
    if request.HasField("transfer"):
        t = request.transfer
        transfer = domain.Transfer(
            regulator=t.regulator,
            reference=t.reference,
            received_by_regulator_at=from_timestamp(
                t.received_by_regulator_at, "transfer.received_by_regulator_at"
            ),
        )
    return domain.NewCase(
        kind=enum_to_name(pb.CaseKind, request.kind, "kind"),
        channel=enum_to_name(pb.Channel, request.channel, "channel"),
        name=request.complainant.name,
        phone=request.complainant.phone,
        id_number=request.complainant.id_number,
        region_code=request.complainant.region_code,
        institution_text=request.institution_text,
        product=request.product,
        summary=request.summary,
        amount_in_dispute_fen=request.amount_in_dispute_fen,
        received_at=from_timestamp(request.received_at, "received_at"),
        agent=agent,
        transfer=transfer,
        people_count=request.people_count,
        new_facts=request.new_facts,
    )


def staff_classification(c: pb.Classification) -> taxonomy.Classification:
    """Staff's codes, checked against the taxonomy in force (InvalidArgument names the field)."""
    return taxonomy.correct(taxonomy.taxonomy_in_force(), c.business_type, c.product, c.issue)


def register(server: grpc.Server) -> list[str]:
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(IntakeService(), server)
    register_collector()
    return [pb.DESCRIPTOR.services_by_name["IntakeService"].full_name]


def main() -> None:
    # The consumers' page and HTTP API (services/intake/http.py) run in this process too.
    cfg = settings_mod.get()
    logs.setup(cases.SERVICE, "api", cfg.log_level, cfg.log_format)
    consumer = http.start(cfg)
    try:
        grpc_server.serve(cases.SERVICE, register)
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
