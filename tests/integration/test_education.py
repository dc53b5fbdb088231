"""Education through its real gRPC api and the event stream: campaigns, activities reported by
co-organisers, refused inconsistent reach, reports, and hot spots from complaints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from services.common import auth
from services.common.clients import stub
from tests.integration.conftest import TEST_SECRET, eventually
from tests.integration.test_case_flow import unique_phone
from xiaobao.education.v1 import education_pb2 as epb
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()  # Asia/Shanghai


@pytest.fixture()
def educator():
    return auth.bearer(auth.issue_token("it-edu", "educator", secret=TEST_SECRET))


def test_co_organisers_report_one_activity_once_and_bad_reach_is_refused(platform, educator):
    edu = stub("education")
    code = f"it-{uuid.uuid4().hex[:8]}"
    created = edu.UpsertCampaign(
        epb.Campaign(
            code=code,
            theme="risk_warning",
            title="防范代理退保风险提示",
            starts_on=(TODAY - timedelta(days=10)).isoformat(),
            ends_on=(TODAY + timedelta(days=10)).isoformat(),
            organiser="消保中心",
            co_organisers=["平安人寿天津分公司"],
            target_groups=["elderly"],
            regions=["120101"],
        ),
        metadata=educator,
    )
    assert created.created
    activity = epb.Activity(
        campaign_code=code,
        held_on=TODAY.isoformat(),
        place_type="community",
        region_code="120101",
        format="on_site",
        organiser="消保中心",
        title="社区讲座：识别代理退保骗局",
        reported_by="消保中心",
    )
    first = edu.RecordActivity(
        epb.RecordActivityRequest(
            activity=activity,
            reach=epb.Reach(participants=80, by_group={"elderly": 60}, materials=200),
        ),
        metadata=educator,
    )
    activity.reported_by = "平安人寿天津分公司"
    activity.title = "社区讲座：识别“代理退保”骗局"
    again = edu.RecordActivity(epb.RecordActivityRequest(activity=activity), metadata=educator)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.activity_id == first.activity_id

    with pytest.raises(grpc.RpcError) as err:
        edu.RecordActivity(
            epb.RecordActivityRequest(
                activity=activity, reach=epb.Reach(participants=10, by_group={"elderly": 11})
            ),
            metadata=educator,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("by_group.elderly")

    report = edu.GetReport(
        epb.ReportRequest(
            **{"from": TODAY.isoformat()}, to=TODAY.isoformat(), by=["region", "campaign"]
        ),
        metadata=educator,
    )
    row = next(r for r in report.rows if r.keys.get("campaign") == code)
    assert (row.activities, row.participants, row.materials) == (1, 80, 200)


def test_a_surge_of_proxy_surrender_complaints_in_a_district_without_education_is_a_hot_spot(
    platform, staff, educator
):
    intake = stub("intake")
    for i in range(4):
        intake.SubmitCase(
            ipb.SubmitCaseRequest(
                kind=ipb.CASE_KIND_COMPLAINT,
                channel=ipb.CHANNEL_WEB,
                complainant=ipb.Complainant(
                    name="赵桂兰", phone=unique_phone(), region_code="120106"
                ),
                institution_text="太平人寿天津分公司",
                product="life",
                summary="代理机构称可全额退保，要求退保并返还保费",
                agent=ipb.Agent(
                    name="钱代理",
                    id_number="11010519491231002X",
                    phone="1360000123" + str(i),
                    authorization_reference=f"授权-{i}",
                ),
                request_id=uuid.uuid4().hex,
            ),
            metadata=staff,
        )

    def hot():
        spots = stub("education").GetHotspots(
            epb.HotspotsRequest(
                **{"from": (TODAY - timedelta(days=6)).isoformat()}, to=TODAY.isoformat()
            ),
            metadata=educator,
        )
        # Events arrive one by one: wait for all four (the spot shows from the third).
        return next(
            (
                h
                for h in spots.hotspots
                if h.region_code == "120106" and "proxy" in h.topic and h.complaints >= 4
            ),
            None,
        )

    spot = eventually(hot, timeout=30)
    assert spot.participants == 0 and spot.previous == 0 and spot.suggestion
