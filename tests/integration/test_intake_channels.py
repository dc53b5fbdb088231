"""Intake through its real gRPC api and workers: every channel and kind, transfers, proxies,
group and repeat complaints, withdrawal, classification, and bad input on every field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest

from services.common.clients import stub
from services.common.protoconv import to_timestamp
from tests.integration.conftest import eventually, wait_assigned
from tests.integration.test_case_flow import unique_phone
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

AGENT_ID = "11010519491231002X"  # a valid checksum


def request(kind="COMPLAINT", channel="HOTLINE", **more) -> ipb.SubmitCaseRequest:
    req = ipb.SubmitCaseRequest(
        kind=ipb.CaseKind.Value(f"CASE_KIND_{kind}"),
        channel=ipb.Channel.Value(f"CHANNEL_{channel}"),
        complainant=ipb.Complainant(name="周淑珍", phone=unique_phone(), region_code="120104"),
        institution_text="招商银行天津分行",
        product="credit_cards",
        summary="信用卡分期手续费未明示，要求退还",
        amount_in_dispute_fen=86_000,
        request_id=uuid.uuid4().hex,
    )
    for key, value in more.items():
        if isinstance(value, (ipb.Agent, ipb.Transfer, ipb.Classification, ipb.Complainant)):
            getattr(req, key).CopyFrom(value)
        else:
            setattr(req, key, value)
    return req


def clocks(case: ipb.Case) -> dict[str, ipb.Clock]:
    return {c.name: c for c in case.clocks}


def get(staff, case_no: str) -> ipb.Case:
    return stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)


@pytest.mark.parametrize("channel", ["HOTLINE", "WEB", "MINI_PROGRAM", "LETTER", "VISIT", "EMAIL"])
def test_a_complaint_from_each_channel_is_recorded_and_routed(platform, staff, channel):
    received = datetime.now(UTC) - (timedelta(days=2) if channel == "LETTER" else timedelta(0))
    req = request(channel=channel)
    req.received_at.CopyFrom(to_timestamp(received))
    case = stub("intake").SubmitCase(req, metadata=staff).case
    assert case.channel == ipb.Channel.Value(f"CHANNEL_{channel}")
    # The centre's clocks run from its own receipt: a letter's from the day it arrived.
    first_contact = clocks(case)["first_contact"]
    assert abs(first_contact.started_at.ToDatetime(tzinfo=UTC) - received) < timedelta(seconds=1)
    wait_assigned("cmb-tj", case.case_no)


@pytest.mark.parametrize(
    ("kind", "routed", "clock"),
    [
        ("COMPLAINT", True, "institution_decision"),
        ("PETITION", True, "petition_registration"),
        ("CONSULTATION", False, ""),  # answered at the desk: no limit applies
        ("MEDIATION_REQUEST", False, "first_contact"),
        ("REPORT", False, "first_contact"),
    ],
)
def test_each_kind_carries_its_own_clocks(platform, staff, kind, routed, clock):
    case = stub("intake").SubmitCase(request(kind=kind), metadata=staff).case
    if routed:
        assigned = wait_assigned("cmb-tj", case.case_no)
        assert assigned.clock.name in ("institution_decision", "petition_handling")
        eventually(lambda: clock in clocks(get(staff, case.case_no)))
    elif clock:
        assert clock in clocks(case)
        assert "institution_decision" not in clocks(get(staff, case.case_no))
    else:
        assert not clocks(case)


def test_a_transferred_case_runs_each_clock_from_its_legal_start(platform, staff):
    at_regulator = datetime.now(UTC) - timedelta(days=3)
    req = request(
        channel="TRANSFER",
        transfer=ipb.Transfer(
            regulator="国家金融监督管理总局天津监管局", reference="津金监转〔2026〕118号"
        ),
    )
    req.transfer.received_by_regulator_at.CopyFrom(to_timestamp(at_regulator))
    case = stub("intake").SubmitCase(req, metadata=staff).case
    found = clocks(case)
    # The regulator's forwarding limit (Art 33) runs from its own receipt, the centre's from now.
    assert abs(
        found["regulator_forwarding"].started_at.ToDatetime(tzinfo=UTC) - at_regulator
    ) < timedelta(seconds=1)
    assert found["first_contact"].started_at.ToDatetime(tzinfo=UTC) > at_regulator + timedelta(
        days=2
    )
    assert case.transfer.reference == "津金监转〔2026〕118号"
    assert "intake.regulator_received" in [e.type for e in get(staff, case.case_no).timeline]


def test_a_proxy_case_keeps_the_agent_protected_and_masked(platform, platform_env, staff):
    agent = ipb.Agent(
        name="钱代理",
        id_number=AGENT_ID,
        phone="13600001234",
        authorization_reference="授权-2026-0042",
        relationship="其他",
    )
    case = stub("intake").SubmitCase(request(agent=agent), metadata=staff).case
    assert case.agent.name == "钱**" and case.agent.phone == "136****1234"
    assert case.agent.authorization_reference == "授权-2026-0042"
    # Stored encrypted: neither the agent's nor the complainant's numbers are in the table.
    with psycopg.connect(platform_env["XIAOBAO_DATABASE_URL"]) as conn:
        row = conn.execute(
            'SELECT agent_phone, agent_id_number, complainant_phone FROM intake."case" '
            "WHERE case_no = %s",
            (case.case_no,),
        ).fetchone()
    assert "13600001234" not in "".join(row) and AGENT_ID not in "".join(row)
    assert all(value.startswith("gAAAAA") for value in row)  # Fernet tokens


def test_twenty_people_together_make_a_major_complaint(platform, staff):
    major = stub("intake").SubmitCase(request(people_count=23), metadata=staff).case
    assert major.major and major.people_count == 23
    small = stub("intake").SubmitCase(request(people_count=19), metadata=staff).case
    assert not small.major
    # Routing's tier policy sends a major complaint to the municipal branch.
    assert wait_assigned("cmb-tj", major.case_no).node_id == "cmb-tj"
    assert "major" in wait_assigned("cmb-tj", major.case_no).tier_reason


def test_a_repeat_without_new_facts_is_linked_and_with_new_facts_starts_afresh(platform, staff):
    intake = stub("intake")
    first_req = request()
    first = intake.SubmitCase(first_req, metadata=staff).case
    wait_assigned("cmb-tj", first.case_no)

    again = request()
    again.complainant.CopyFrom(first_req.complainant)
    again.institution_text = "招商银行股份有限公司天津分行"  # the same bank, written differently
    linked = intake.SubmitCase(again, metadata=staff)
    assert linked.linked_to == first.case_no
    assert linked.case.status == ipb.CASE_STATUS_LINKED
    assert not [c for c in linked.case.clocks if c.state != "stopped"]  # no clock of its own
    assert "intake.repeat_received" in [e.type for e in get(staff, first.case_no).timeline]

    facts = request(new_facts=True)
    facts.complainant.CopyFrom(first_req.complainant)
    fresh = intake.SubmitCase(facts, metadata=staff)
    assert fresh.linked_to == "" and fresh.case.repeat_of == first.case_no
    assert "first_contact" in clocks(fresh.case)
    assigned = wait_assigned("cmb-tj", fresh.case.case_no)
    assert "repeat" in assigned.tier_reason

    other = request()
    other.complainant.CopyFrom(first_req.complainant)
    other.institution_text, other.product = "天津平安人寿", "life"
    other.summary = "保险销售时夸大收益"
    assert intake.SubmitCase(other, metadata=staff).linked_to == ""  # another matter


def test_withdrawal_ends_the_case_and_its_clocks_the_day_it_comes_in(platform, staff):
    intake = stub("intake")
    case = intake.SubmitCase(request(), metadata=staff).case
    wait_assigned("cmb-tj", case.case_no)
    withdrawn = intake.WithdrawCase(
        ipb.WithdrawCaseRequest(case_no=case.case_no, reason="已与银行自行和解"), metadata=staff
    )
    assert withdrawn.status == ipb.CASE_STATUS_WITHDRAWN
    assert all(c.state == "stopped" for c in withdrawn.clocks)
    with pytest.raises(grpc.RpcError) as err:
        intake.WithdrawCase(
            ipb.WithdrawCaseRequest(case_no=case.case_no, reason="again"), metadata=staff
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The institution no longer has it open.
    def closed_at_institution():
        from services.common.clients import stub as s
        from tests.integration.conftest import institution
        from xiaobao.routing.v1 import routing_pb2 as rpb

        got = s("portal").GetAssignedCase(
            rpb.CaseRequest(case_no=case.case_no), metadata=institution("cmb-tj")
        )
        return got.status == rpb.ASSIGNMENT_STATUS_CLOSED

    eventually(closed_at_institution)


def test_staff_correct_the_classification_and_the_timeline_keeps_the_old_one(platform, staff):
    intake = stub("intake")
    case = intake.SubmitCase(request(), metadata=staff).case
    assert case.classification.source == "suggested"
    assert case.classification.product == "credit_cards"
    fixed = intake.ClassifyCase(
        ipb.ClassifyCaseRequest(
            case_no=case.case_no,
            classification=ipb.Classification(
                business_type="bank", product="credit_cards", issue="fees"
            ),
            note="分期手续费属收费问题",
        ),
        metadata=staff,
    )
    assert (fixed.classification.issue, fixed.classification.source) == ("fees", "staff")
    assert "intake.case_classified" in [e.type for e in fixed.timeline]
    with pytest.raises(grpc.RpcError) as err:
        intake.ClassifyCase(
            ipb.ClassifyCaseRequest(
                case_no=case.case_no,
                classification=ipb.Classification(
                    business_type="bank", product="auto", issue="fees"
                ),
            ),
            metadata=staff,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith("classification.product")


def _agent(**changes) -> ipb.Agent:
    agent = ipb.Agent(
        name="钱代理", id_number=AGENT_ID, phone="13600001234", authorization_reference="授权-1"
    )
    for key, value in changes.items():
        setattr(agent, key, value)
    return agent


def _transfer_at(req, when: datetime) -> None:
    req.transfer.CopyFrom(ipb.Transfer(regulator="天津监管局", reference="津-1"))
    req.transfer.received_by_regulator_at.CopyFrom(to_timestamp(when))


FUTURE = datetime.now(UTC) + timedelta(days=3)
BAD = [
    ("kind", lambda r: setattr(r, "kind", 0)),
    ("kind", lambda r: setattr(r, "kind", 99)),
    ("channel", lambda r: setattr(r, "channel", 0)),
    ("complainant.name", lambda r: setattr(r.complainant, "name", " ")),
    ("complainant.name", lambda r: setattr(r.complainant, "name", "名" * 51)),
    ("complainant.phone", lambda r: setattr(r.complainant, "phone", "12345")),
    ("complainant.phone", lambda r: setattr(r.complainant, "phone", "1391234567x")),
    ("complainant.id_number", lambda r: setattr(r.complainant, "id_number", "110105194912310021")),
    ("complainant.region_code", lambda r: setattr(r.complainant, "region_code", "12010")),
    ("institution_text", lambda r: setattr(r, "institution_text", "")),
    ("institution_text", lambda r: setattr(r, "institution_text", "银" * 201)),
    ("product", lambda r: setattr(r, "product", "p" * 41)),
    ("summary", lambda r: setattr(r, "summary", "")),
    ("summary", lambda r: setattr(r, "summary", "字" * 4001)),
    ("amount_in_dispute_fen", lambda r: setattr(r, "amount_in_dispute_fen", -1)),
    ("amount_in_dispute_fen", lambda r: setattr(r, "amount_in_dispute_fen", 10**14)),
    ("received_at", lambda r: r.received_at.CopyFrom(to_timestamp(FUTURE))),
    ("received_at", lambda r: r.received_at.FromSeconds(315_532_800 - 86_400)),  # 1979
    ("request_id", lambda r: setattr(r, "request_id", "r" * 65)),
    ("people_count", lambda r: setattr(r, "people_count", -2)),
    ("agent.name", lambda r: r.agent.CopyFrom(_agent(name=""))),
    ("agent.phone", lambda r: r.agent.CopyFrom(_agent(phone="000"))),
    ("agent.id_number", lambda r: r.agent.CopyFrom(_agent(id_number="110105194912310021"))),
    (
        "agent.authorization_reference",
        lambda r: r.agent.CopyFrom(_agent(authorization_reference="")),
    ),
    ("transfer", lambda r: setattr(r, "channel", ipb.CHANNEL_TRANSFER)),
    ("transfer", lambda r: _transfer_at(r, datetime.now(UTC))),  # not the transfer channel
    (
        "transfer.received_by_regulator_at",
        lambda r: (setattr(r, "channel", ipb.CHANNEL_TRANSFER), _transfer_at(r, FUTURE)),
    ),
    (
        "classification.product",
        lambda r: r.classification.CopyFrom(
            ipb.Classification(business_type="bank", product="no_such_product")
        ),
    ),
]


@pytest.mark.parametrize(("field", "mutate"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_input_on_every_field_is_refused_by_name_and_stores_nothing(
    platform, platform_env, staff, field, mutate
):
    def count() -> int:
        with psycopg.connect(platform_env["XIAOBAO_DATABASE_URL"]) as conn:
            return conn.execute('SELECT count(*) FROM intake."case"').fetchone()[0]

    req = request()
    mutate(req)
    before = count()
    with pytest.raises(grpc.RpcError) as err:
        stub("intake").SubmitCase(req, metadata=staff)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert err.value.details().startswith(field), err.value.details()
    assert count() == before


def test_staff_record_withdraw_and_show_a_case_from_the_command_line(platform, platform_env):
    from tests.integration.conftest import xiaobao

    recorded = xiaobao(
        platform_env,
        "intake",
        "submit",
        "--name",
        "吴建华",
        "--phone",
        unique_phone(),
        "--institution",
        "工行和平支行",
        "--region",
        "120101",
        "--summary",
        "手机银行转账失败资金未退回",
        "--amount",
        "2300.50",
    )
    assert recorded.returncode == 0, recorded.stderr
    case_no = recorded.stdout.split()[0]
    assert case_no.startswith("XB") and "first_contact: last day" in recorded.stdout
    refused = xiaobao(
        platform_env, "intake", "submit", "--name", "吴建华", "--phone", "123", "--summary", "x"
    )
    assert refused.returncode == 2 and "complainant.phone" in refused.stderr
    assert "Traceback" not in refused.stderr
    withdrawn = xiaobao(platform_env, "intake", "withdraw", case_no, "--reason", "已解决")
    assert withdrawn.returncode == 0, withdrawn.stderr
    shown = xiaobao(platform_env, "intake", "show", case_no)
    assert shown.returncode == 0 and "withdrawn" in shown.stdout
    assert "intake.case_withdrawn" in shown.stdout
