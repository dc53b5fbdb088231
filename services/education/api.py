"""Education's public gRPC API (python -m services.education.api)."""

from __future__ import annotations

from datetime import date

import grpc
from sqlalchemy import select

from services.common import auth, db, grpc_server, validation
from services.common.errors import InvalidArgument
from services.education import domain, store
from services.education.models import ComplaintTopic
from xiaobao.education.v1 import education_pb2 as pb
from xiaobao.education.v1 import education_pb2_grpc

SERVICE = store.SERVICE
READERS = ("operator", "supervisor", "educator")
WRITERS = ("supervisor", "educator")


def _period(request) -> tuple[date, date]:
    # `from` is a Python keyword: the proto field is read by name.
    start = validation.day(getattr(request, "from"), "from")
    return start, validation.day(request.to, "to")


def _campaign_message(row) -> pb.Campaign:
    return pb.Campaign(
        code=row.code,
        theme=row.theme,
        title=row.title,
        starts_on=row.starts_on.isoformat(),
        ends_on=row.ends_on.isoformat(),
        organiser=row.organiser,
        co_organisers=list(row.co_organisers or ()),
        target_groups=list(row.target_groups or ()),
        regions=list(row.regions or ()),
    )


def _reach(r: pb.Reach) -> domain.Reach:
    return domain.Reach(
        participants=r.participants,
        by_group=dict(r.by_group),
        materials=r.materials,
        online={(o.work, o.platform): o.reads for o in r.online},
        reported_on=validation.day(r.reported_on, "reach.reported_on", required=False),
    )


def _row(row) -> pb.ReportRow:
    return pb.ReportRow(
        keys=dict(row.keys),
        activities=row.activities,
        participants=row.participants,
        materials=row.materials,
        online_reads=row.online_reads,
    )


class EducationService(education_pb2_grpc.EducationServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def GetComplaintTopics(self, request, context):
        auth.require(context, *READERS)
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

    def UpsertCampaign(self, request, context):
        auth.require(context, *WRITERS)
        campaign = domain.Campaign(
            code=request.code,
            theme=request.theme,
            title=request.title,
            starts_on=validation.day(request.starts_on, "starts_on"),
            ends_on=validation.day(request.ends_on, "ends_on"),
            organiser=request.organiser,
            co_organisers=tuple(request.co_organisers),
            target_groups=tuple(request.target_groups),
            regions=tuple(request.regions),
        )
        with db.session_scope(self.factory) as session:
            row, created = store.upsert_campaign(session, campaign, store.now_utc())
            return pb.UpsertCampaignResponse(campaign=_campaign_message(row), created=created)

    def RecordActivity(self, request, context):
        auth.require(context, *WRITERS)
        a = request.activity
        activity = domain.Activity(
            campaign_code=a.campaign_code,
            held_on=validation.day(a.held_on, "activity.held_on"),
            place_type=a.place_type,
            region_code=a.region_code,
            format=a.format,
            organiser=a.organiser,
            title=a.title,
            grid_cell=a.grid_cell,
        )
        reach = _reach(request.reach) if request.HasField("reach") else None
        with db.session_scope(self.factory) as session:
            recorded = store.record_activity(
                session, activity, a.reported_by, store.now_utc(), reach, request.note
            )
            return pb.RecordActivityResponse(
                activity_id=recorded.activity.id,
                duplicate=recorded.duplicate,
                reach_version=recorded.reach_version,
            )

    def GetReport(self, request, context):
        from services.education import reports

        auth.require(context, *READERS)
        start, end = _period(request)
        with db.session_scope(self.factory) as session:
            # ReportRefused is an InvalidArgument naming `by` or `from`.
            result = reports.report(session, start, end, list(request.by))
            return pb.Report(
                **{"from": start.isoformat()},
                to=end.isoformat(),
                totals=_row(result.totals),
                rows=[_row(r) for r in result.rows],
            )

    def GetHotspots(self, request, context):
        from services.education import hotspots

        auth.require(context, *READERS)
        start, end = _period(request)
        if start > end:
            raise InvalidArgument("from", "is after to")
        with db.session_scope(self.factory) as session:
            found = hotspots.find(session, start, end)
            return pb.HotspotsResponse(
                hotspots=[
                    pb.Hotspot(
                        region_code=h.region_code,
                        topic=h.topic,
                        complaints=h.complaints,
                        previous=h.previous,
                        rise=h.rise,
                        participants=h.participants,
                        suggestion=h.suggestion,
                    )
                    for h in found
                ]
            )


def register(server: grpc.Server) -> list[str]:
    education_pb2_grpc.add_EducationServiceServicer_to_server(EducationService(), server)
    return [pb.DESCRIPTOR.services_by_name["EducationService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
