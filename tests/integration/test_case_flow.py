"""One case from intake to closure through the ten real processes, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import random
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.common.clients import stub
from services.common.settings import SERVICES
from tests.integration.conftest import (
    answer_request,
    eventually,
    institution,
    scrape,
    wait_assigned,
    wait_closed,
)
from xiaobao.blacklist.v1 import blacklist_pb2 as bpb
from xiaobao.education.v1 import education_pb2 as epb
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.mediation.v1 import mediation_pb2 as mpb
from xiaobao.routing.v1 import routing_pb2 as rpb

pytestmark = pytest.mark.integration


def unique_phone() -> str:
    """139****5678, masked the same way every time, a different complainant each call."""
    return f"139{random.randrange(10_000):04d}5678"


def complaint(
    institution_text: str = "天津平安人寿", region: str = "120104"
) -> ipb.SubmitCaseRequest:
    return ipb.SubmitCaseRequest(
        kind=ipb.CASE_KIND_COMPLAINT,
        channel=ipb.CHANNEL_HOTLINE,
        # A phone of its own per case: one complainant on one matter twice is a linked repeat.
        complainant=ipb.Complainant(name="李秀英", phone=unique_phone(), region_code=region),
        institution_text=institution_text,
        product="life",
        summary="销售时夸大收益，要求退保",
        amount_in_dispute_fen=1_580_000,
        request_id=uuid.uuid4().hex,
    )


def test_every_api_is_serving_with_health_and_reflection(platform):
    for service, address, *_ in platform.endpoints():
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING, service
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
            answers = reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
            names = {s.name for a in answers for s in a.list_services_response.service}
            assert any(n.startswith(f"xiaobao.{service}.v1.") for n in names), (service, names)
    assert len(platform.processes) == 2 * len(SERVICES)


def test_complaint_is_assigned_answered_and_closed_with_its_sli_counted(platform, staff):
    intake = stub("intake")
    portal = stub("portal")
    metrics_before = scrape(platform.endpoints()[0][3])
    closed_key = 'xiaobao_clock_closed_total{clock="institution_decision",within_limit="true"}'

    request = complaint()
    case = intake.SubmitCase(request, metadata=staff, timeout=10).case
    assert case.status == ipb.CASE_STATUS_RECEIVED
    assert {c.name for c in case.clocks} >= {
        "centre_transfer",
        "first_contact",
        "regulator_forwarding",
    }
    assert case.complainant.phone == "139****5678"  # masked for staff listings

    pingan = institution("pingan-life-tj")

    assignment = wait_assigned("pingan-life-tj", case.case_no)
    assert assignment.node_id == "pingan-life-tj"
    assert assignment.last_day  # the institution sees its decision deadline

    acked = portal.AcknowledgeCase(rpb.CaseRequest(case_no=case.case_no), metadata=pingan)
    assert acked.status == rpb.ASSIGNMENT_STATUS_ACKNOWLEDGED
    # The institution calls the complainant back: it gets the number in full.
    assert acked.complainant_phone == request.complainant.phone
    portal.AnswerCase(
        answer_request(
            case.case_no, "MONETARY_RELIEF", "同意全额退保，已电话告知。", relief_fen=1_280_000
        ),
        metadata=pingan,
    )

    final = wait_closed(case.case_no, staff)
    clocks = {c.name: c for c in final.clocks}
    assert clocks["institution_decision"].state == "stopped"
    assert clocks["institution_decision"].within_limit
    assert clocks["institution_decision"].article == "CBIRC Order 2020 No. 3 Art 18"
    assert clocks["centre_transfer"].state == "stopped"
    assert all(c.state == "stopped" for c in final.clocks)
    types = [e.type for e in final.timeline]
    assert types[:2] == ["intake.case_received", "routing.case_assigned"]
    assert "routing.case_answered" in types and types[-1] == "intake.case_closed"
    assert final.assigned_node_id == "pingan-life-tj"

    after = scrape(platform.endpoints()[0][3])
    assert after.get(closed_key, 0) == metrics_before.get(closed_key, 0) + 1

    # Nothing is left in the outbox once the flow has settled.
    for service, _address, _api, worker in platform.endpoints():
        key = f'xiaobao_outbox_pending{{service="{service}"}}'
        eventually(lambda key=key, worker=worker: scrape(worker).get(key) == 0)

    # The gauge of open cases is computed from the database at scrape time by the intake api.
    api_metrics = scrape(platform.endpoints()[0][2])
    assert 'xiaobao_clock_open_cases{clock="institution_decision",state="ok"}' in api_metrics


def test_other_services_see_every_received_case(platform, staff):
    case = stub("intake").SubmitCase(complaint("建设银行天津分行", "120101"), metadata=staff).case

    def screened():
        backlog = stub("blacklist").GetScreeningBacklog(
            bpb.GetScreeningBacklogRequest(limit=500), metadata=staff
        )
        return any(i.case_no == case.case_no and i.status == "screened" for i in backlog.items)

    eventually(screened)
    summary = stub("mediation").GetIntakeSummary(mpb.GetIntakeSummaryRequest(), metadata=staff)
    assert summary.cases_seen >= 1
    topics = stub("education").GetComplaintTopics(epb.GetComplaintTopicsRequest(), metadata=staff)
    assert any(t.product == "life" or t.region_code == "120101" for t in topics.topics)


def test_institution_cannot_see_another_institutions_case(platform, staff):
    case = stub("intake").SubmitCase(complaint("工行河西支行", "120103"), metadata=staff).case
    portal = stub("portal")
    # The Tianjin branch sees what its sub-branch was given.
    assert (
        wait_assigned("icbc-tj", case.case_no).node_id == "icbc-tj-hexi"
    )  # the branch sees its sub-branch
    ccb = institution("ccb-tj")
    listed = portal.ListAssignedCases(rpb.ListAssignedCasesRequest(), metadata=ccb)
    assert case.case_no not in {a.case_no for a in listed.assignments}
    with pytest.raises(grpc.RpcError) as err:
        portal.AnswerCase(answer_request(case.case_no), metadata=ccb)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_unknown_institution_waits_for_a_person(platform, staff):
    case = stub("intake").SubmitCase(complaint("某某网络小额贷款公司"), metadata=staff).case

    def needs_routing():
        got = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
        return got.status == ipb.CASE_STATUS_NEEDS_ROUTING

    eventually(needs_routing)


@pytest.mark.parametrize(
    ("field", "mutate"),
    [
        ("complainant.phone", lambda r: r.complainant.__setattr__("phone", "12345")),
        (
            "complainant.id_number",
            lambda r: r.complainant.__setattr__("id_number", "110105194912310021"),
        ),
        ("kind", lambda r: r.__setattr__("kind", 0)),
        ("summary", lambda r: r.__setattr__("summary", "字" * 4001)),
        ("received_at", lambda r: r.received_at.FromSeconds(4_102_444_800)),  # 2100
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(platform, staff, field, mutate):
    intake = stub("intake")
    before = len(intake.ListCases(ipb.ListCasesRequest(page_size=500), metadata=staff).cases)
    request = complaint()
    mutate(request)
    with pytest.raises(grpc.RpcError) as err:
        intake.SubmitCase(request, metadata=staff)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(f"{field}:")
    after = len(intake.ListCases(ipb.ListCasesRequest(page_size=500), metadata=staff).cases)
    assert after == before


def test_calls_without_a_valid_token_are_refused(platform):
    intake = stub("intake")
    with pytest.raises(grpc.RpcError) as err:
        intake.ListCases(ipb.ListCasesRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as err:
        intake.ListCases(ipb.ListCasesRequest(), metadata=institution("icbc-tj"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_retried_submission_returns_the_same_case(platform, staff):
    request = complaint()
    first = stub("intake").SubmitCase(request, metadata=staff)
    second = stub("intake").SubmitCase(request, metadata=staff)
    assert second.duplicate_request and not first.duplicate_request
    assert second.case.case_no == first.case.case_no


def test_logs_of_every_process_carry_no_personal_data(platform, staff):
    request = complaint("建行南开支行", "120104")
    request.complainant.name = "欧阳秀兰"
    request.complainant.phone = "13698765432"
    request.complainant.id_number = "11010519491231002X"
    request.summary = "本人欧阳秀兰，电话13698765432，身份证11010519491231002X，要求退还手续费"
    case = stub("intake").SubmitCase(request, metadata=staff).case

    def routed():
        got = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
        return got.assigned_node_id

    eventually(routed)
    logs = {p.name: p.read_text(errors="replace") for p in platform.log_dir.glob("*.log")}
    assert len(logs) == 10
    assert case.case_no in logs["intake-api.log"]  # the logs do speak of the case...
    for name, text in logs.items():  # ...but never of the person
        for secret in ("13698765432", "11010519491231002X", "欧阳秀兰", "秀兰"):
            assert secret not in text, f"{secret} in {name}"
