"""Education's public gRPC API (python -m services.education.api)."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from services.common import auth, db, grpc_server
from services.education.models import ComplaintTopic
from xiaobao.education.v1 import education_pb2 as pb
from xiaobao.education.v1 import education_pb2_grpc

SERVICE = "education"


class EducationService(education_pb2_grpc.EducationServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def GetComplaintTopics(self, request, context):
        auth.require(context, "operator", "supervisor", "educator")
        with db.session_scope(self.factory) as session:
            rows = session.scalars(
                select(ComplaintTopic).order_by(ComplaintTopic.cases.desc())
            ).all()
            return pb.ComplaintTopics(
                topics=[
                    pb.TopicCount(product=r.product, region_code=r.region_code, cases=r.cases)
                    for r in rows
                ],
                cases_seen=sum(r.cases for r in rows),
            )


def register(server: grpc.Server) -> list[str]:
    education_pb2_grpc.add_EducationServiceServicer_to_server(EducationService(), server)
    return [pb.DESCRIPTOR.services_by_name["EducationService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
