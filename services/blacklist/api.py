"""Blacklist's public gRPC API for investigators (python -m services.blacklist.api)."""

from __future__ import annotations

import grpc
from sqlalchemy import func, select

from services.blacklist.models import ScreeningItem
from services.common import auth, db, grpc_server
from services.common.errors import InvalidArgument
from services.common.protoconv import to_timestamp
from xiaobao.blacklist.v1 import blacklist_pb2 as pb
from xiaobao.blacklist.v1 import blacklist_pb2_grpc

SERVICE = "blacklist"


class BlacklistService(blacklist_pb2_grpc.BlacklistServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def GetScreeningBacklog(self, request, context):
        auth.require(context, "investigator", "supervisor", "operator")
        limit = request.limit or 50
        if not 1 <= limit <= 500:
            raise InvalidArgument("limit", "must be between 1 and 500")
        with db.session_scope(self.factory) as session:
            total = session.scalar(select(func.count()).select_from(ScreeningItem)) or 0
            pending = (
                session.scalar(
                    select(func.count())
                    .select_from(ScreeningItem)
                    .where(ScreeningItem.status == "pending")
                )
                or 0
            )
            rows = session.scalars(
                select(ScreeningItem).order_by(ScreeningItem.id.desc()).limit(limit)
            ).all()
            return pb.ScreeningBacklog(
                pending=pending,
                total=total,
                items=[
                    pb.ScreeningItem(
                        case_no=r.case_no,
                        case_kind=r.case_kind,
                        channel=r.channel,
                        received_at=to_timestamp(r.received_at),
                        status=r.status,
                    )
                    for r in rows
                ],
            )


def register(server: grpc.Server) -> list[str]:
    blacklist_pb2_grpc.add_BlacklistServiceServicer_to_server(BlacklistService(), server)
    return [pb.DESCRIPTOR.services_by_name["BlacklistService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
