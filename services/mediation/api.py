"""Mediation's public gRPC API (python -m services.mediation.api)."""

from __future__ import annotations

import grpc
from sqlalchemy import func, select

from services.common import auth, db, grpc_server
from services.common.protoconv import to_timestamp
from services.mediation.models import ReceivedCase
from xiaobao.mediation.v1 import mediation_pb2 as pb
from xiaobao.mediation.v1 import mediation_pb2_grpc

SERVICE = "mediation"


class MediationService(mediation_pb2_grpc.MediationServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def GetIntakeSummary(self, request, context):
        auth.require(context, "operator", "supervisor", "mediator")
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


def register(server: grpc.Server) -> list[str]:
    mediation_pb2_grpc.add_MediationServiceServicer_to_server(MediationService(), server)
    return [pb.DESCRIPTOR.services_by_name["MediationService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
