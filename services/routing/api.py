"""Routing's public gRPC API: the institution portal and the directory (python -m services.routing.api)."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy import select

from services.common import auth, db, grpc_server
from services.common.errors import InvalidArgument
from services.common.logs import mask_name, mask_phone
from services.common.protoconv import enum_to_name, name_to_enum, page, to_timestamp
from services.routing import domain, store
from services.routing.models import Assignment
from xiaobao.routing.v1 import routing_pb2 as pb
from xiaobao.routing.v1 import routing_pb2_grpc

MAX_ANSWER = 4000


def node_message(node: domain.DirectoryNode | None) -> pb.Node | None:
    if node is None:
        return None
    return pb.Node(
        id=node.id,
        parent_id=node.parent_id or "",
        name=node.name,
        aliases=list(node.aliases),
        kind=name_to_enum(pb.InstitutionKind, node.kind),
        region_code=node.region_code,
        product_lines=list(node.product_lines),
        active=node.active,
        level=node.level,
    )


def assignment_message(a: Assignment, names: dict[str, str], full_contact: bool) -> pb.Assignment:
    return pb.Assignment(
        case_no=a.case_no,
        node_id=a.node_id or "",
        node_name=names.get(a.node_id or "", ""),
        status=name_to_enum(pb.AssignmentStatus, a.status),
        case_kind=a.case_kind,
        product=a.product,
        summary=a.summary if full_contact else a.summary[:80],
        complainant_name=a.complainant_name if full_contact else mask_name(a.complainant_name),
        complainant_phone=a.complainant_phone if full_contact else mask_phone(a.complainant_phone),
        amount_in_dispute_fen=a.amount_in_dispute_fen,
        received_at=to_timestamp(a.received_at),
        assigned_at=to_timestamp(a.assigned_at),
        acknowledged_at=to_timestamp(a.acknowledged_at),
        answered_at=to_timestamp(a.answered_at),
        last_day=a.last_day.isoformat() if a.last_day else "",
        deadline=to_timestamp(a.deadline),
        provisional=a.provisional,
        outcome=a.outcome,
        answer=a.answer,
    )


class InstitutionPortal(routing_pb2_grpc.InstitutionPortalServicer):
    """An institution sees, acknowledges and answers only the cases of its own subtree."""

    def __init__(self) -> None:
        self.factory = db.session_factory(store.SERVICE)

    def _scope(self, context, session) -> tuple[set[str], dict[str, str]]:
        principal = auth.require(context, "institution")
        nodes = store.directory(session)
        names = {n.id: n.name for n in nodes}
        if principal.node_id not in names:
            raise InvalidArgument(
                "authorization", f"node {principal.node_id} is not in the directory"
            )
        return domain.subtree_ids(nodes, principal.node_id), names

    def ListAssignedCases(self, request, context):
        limit, after = page(request.page_size, request.page_token)
        with db.session_scope(self.factory) as session:
            allowed, names = self._scope(context, session)
            query = (
                select(Assignment)
                .where(Assignment.node_id.in_(allowed), Assignment.id > after)
                .order_by(Assignment.id)
                .limit(limit + 1)
            )
            if request.status:
                status = enum_to_name(pb.AssignmentStatus, request.status, "status")
                query = query.where(Assignment.status == status)
            rows = session.scalars(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            return pb.ListAssignedCasesResponse(
                assignments=[assignment_message(a, names, full_contact=False) for a in rows],
                next_page_token=str(rows[-1].id) if more else "",
            )

    def AcknowledgeCase(self, request, context):
        with db.session_scope(self.factory) as session:
            allowed, names = self._scope(context, session)
            assignment = store.visible_assignment(session, request.case_no, allowed)
            store.acknowledge(session, assignment, datetime.now(UTC))
            return assignment_message(assignment, names, full_contact=True)

    def AnswerCase(self, request, context):
        outcome = enum_to_name(pb.AnswerOutcome, request.outcome, "outcome")
        text = request.answer.strip()
        if not text:
            raise InvalidArgument("answer", "is required: the decision as told to the complainant")
        if len(text) > MAX_ANSWER:
            raise InvalidArgument("answer", f"is longer than {MAX_ANSWER} characters")
        with db.session_scope(self.factory) as session:
            allowed, names = self._scope(context, session)
            assignment = store.visible_assignment(session, request.case_no, allowed)
            store.answer(session, assignment, outcome, text, datetime.now(UTC))
            return assignment_message(assignment, names, full_contact=True)


class DirectoryService(routing_pb2_grpc.DirectoryServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(store.SERVICE)

    def ListNodes(self, request, context):
        auth.require(context, "operator", "supervisor", "institution")
        with db.session_scope(self.factory) as session:
            nodes = store.directory(session)
            if request.root_id:
                ids = domain.subtree_ids(nodes, request.root_id)
                if request.root_id not in {n.id for n in nodes}:
                    raise InvalidArgument("root_id", f"unknown node {request.root_id}")
                nodes = [n for n in nodes if n.id in ids]
            return pb.ListNodesResponse(nodes=[node_message(n) for n in nodes])

    def Resolve(self, request, context):
        auth.require(context, "operator", "supervisor")
        if not request.text.strip():
            raise InvalidArgument("text", "is required")
        if request.region_code and not domain.REGION_PATTERN.match(request.region_code):
            raise InvalidArgument("region_code", "must be 6 digits (GB/T 2260)")
        with db.session_scope(self.factory) as session:
            decision = store.resolver(session).resolve(
                request.text, request.region_code, request.product
            )
            return pb.ResolveResponse(
                node=node_message(decision.node),
                confidence=decision.confidence,
                runner_up=node_message(decision.runner_up),
                runner_up_confidence=decision.runner_up_confidence,
                needs_human=decision.needs_human,
            )


def register(server: grpc.Server) -> list[str]:
    routing_pb2_grpc.add_InstitutionPortalServicer_to_server(InstitutionPortal(), server)
    routing_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryService(), server)
    return [
        pb.DESCRIPTOR.services_by_name["InstitutionPortal"].full_name,
        pb.DESCRIPTOR.services_by_name["DirectoryService"].full_name,
    ]


def main() -> None:
    grpc_server.serve(store.SERVICE, register)


if __name__ == "__main__":
    main()
