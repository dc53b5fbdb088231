"""Mediation through the real platform: a disputed complaint mediated to an agreement that closes
it (the complaint's clock paused meanwhile), and concurrent bookings that never double-book."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, time, timedelta

import grpc
import pytest

from services.common import auth
from services.common.clients import stub
from services.common.clock import SHANGHAI, in_force
from services.common.protoconv import to_timestamp
from tests.integration.conftest import (
    TEST_SECRET,
    answer_request,
    eventually,
    institution,
    scrape,
    wait_assigned,
    wait_closed,
    xiaobao,
)
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.mediation.v1 import mediation_pb2 as mpb

pytestmark = pytest.mark.integration


def desk():
    return auth.bearer(auth.issue_token("it-mediation-desk", "operator", secret=TEST_SECRET))


def mediator():
    return auth.bearer(auth.issue_token("it-mediator", "mediator", secret=TEST_SECRET))


@pytest.fixture(scope="module")
def roster(platform, platform_env):
    """The demo roster, imported through the CLI as the desk would."""
    done = xiaobao(platform_env, "mediation", "import-roster")
    assert done.returncode == 0, done.stderr
    assert "3 mediators, 3 venues" in done.stdout
    return done


def request_of(mediation, case_no: str) -> mpb.MediationRequest | None:
    """The case's one mediation request, once mediation's worker has taken it from intake."""
    page = mediation.ListRequests(
        mpb.ListRequestsRequest(case_no=case_no), metadata=desk(), timeout=5
    )
    assert len(page.requests) <= 1, page.requests
    return page.requests[0] if page.requests else None


def consent_both(mediation, request_id: int) -> mpb.MediationRequest:
    mediation.RecordConsent(
        mpb.RecordConsentRequest(request_id=request_id, party="consumer", consented=True),
        metadata=desk(),
    )
    return mediation.RecordConsent(
        mpb.RecordConsentRequest(
            request_id=request_id, party="institution", consented=True, by="平安人寿客服"
        ),
        metadata=desk(),
    )


def test_a_disputed_complaint_is_mediated_to_an_agreement_that_closes_it(
    platform, roster, staff
) -> None:
    intake = stub("intake")
    mediation = stub("mediation")
    phone = f"139{random.randrange(10_000):04d}5678"
    case = intake.SubmitCase(
        ipb.SubmitCaseRequest(
            kind=ipb.CASE_KIND_COMPLAINT,
            channel=ipb.CHANNEL_HOTLINE,
            complainant=ipb.Complainant(name="李秀英", phone=phone, region_code="120104"),
            institution_text="天津平安人寿",
            product="life",
            summary="销售时夸大收益，要求退保",
            amount_in_dispute_fen=1_580_000,
            request_id=uuid.uuid4().hex,
        ),
        metadata=staff,
        timeout=10,
    ).case
    wait_assigned("pingan-life-tj", case.case_no)

    def assigned_in_intake():
        got = intake.GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
        return got.status == ipb.CASE_STATUS_ASSIGNED

    eventually(assigned_in_intake)  # intake knows the office, and tells mediation

    # The complainant disputes and asks for mediation; intake announces it.
    intake.RequestMediation(
        ipb.RequestMediationRequest(
            case_no=case.case_no,
            reason="对退保金额有异议，申请调解",
            preferred_form=ipb.MEDIATION_FORM_ONLINE,
        ),
        metadata=staff,
        timeout=10,
    )

    req = eventually(lambda: request_of(mediation, case.case_no))
    assert req.source == "consumer" and req.state == "awaiting_consent"
    assert req.complainant_phone == "139****5678"  # masked in listings
    assert req.institution_node_id == "pingan-life-tj"
    assert req.fast_track  # ¥15,800 is a small claim: online, 10-day clock
    full = mediation.GetRequest(mpb.GetRequestRequest(request_id=req.id), metadata=mediator())
    assert full.complainant_phone == phone  # the mediator calls the complainant

    accepted = consent_both(mediation, req.id)
    assert accepted.state == "accepted"
    assert accepted.clock.name == "mediation_fast_track" and accepted.clock.limit_days == 10
    assert [c.party for c in accepted.consents] == ["consumer", "institution"]

    # Art 23: from here the complaint's clock is paused, in intake and in routing.
    def in_mediation():
        got = intake.GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
        return got if got.status == ipb.CASE_STATUS_IN_MEDIATION else None

    paused_case = eventually(in_mediation)
    started = next(e for e in paused_case.timeline if e.type == "mediation.started")
    assert "institution_decision" in started.detail  # the institution's clock paused for it
    eventually(lambda: wait_assigned("pingan-life-tj", case.case_no).clock.paused)

    # The desk plans it: one online session, confirmed, announced to intake.
    plan = mediation.PlanSessions(
        mpb.PlanSessionsRequest(confirm=True, request_ids=[req.id], time_limit_seconds=5),
        metadata=desk(),
        timeout=60,
    )
    (planned,) = plan.sessions
    assert not plan.unscheduled
    assert planned.state == "confirmed" and planned.form == "online"
    assert planned.mediator_id in ("med-li", "med-zhao")  # life cases, no conflict with Ping An
    assert planned.start.ToDatetime(tzinfo=UTC) >= datetime.now(UTC) + timedelta(hours=23)

    def scheduled_on_timeline():
        got = intake.GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)
        return any(e.type == "mediation.session_scheduled" for e in got.timeline)

    eventually(scheduled_on_timeline)

    # Not before its time, unless both parties are there and it is brought forward.
    with pytest.raises(grpc.RpcError) as refused:
        mediation.HoldSession(mpb.ChangeSessionRequest(session_id=planned.id), metadata=mediator())
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    held = mediation.HoldSession(
        mpb.ChangeSessionRequest(session_id=planned.id, bring_forward=True), metadata=mediator()
    )
    assert held.state == "held"

    # An operator may not record the outcome; a mediator does.
    outcome = mpb.RecordOutcomeRequest(
        session_id=planned.id,
        outcome="agreement",
        amount_fen=1_200_000,
        terms="保险公司退还保费人民币壹万贰仟元",
    )
    with pytest.raises(grpc.RpcError) as denied:
        mediation.RecordOutcome(outcome, metadata=desk())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    closed = mediation.RecordOutcome(outcome, metadata=mediator())
    assert closed.state == "closed" and closed.outcome == "agreement"
    assert closed.clock.state == "stopped"

    # Intake closes the complaint with the agreement as its resolution.
    final = wait_closed(case.case_no, staff)
    assert "退还保费" in final.resolution
    types = [e.type for e in final.timeline]
    assert types.index("mediation.started") < types.index("mediation.closed")
    assert "mediation.session_scheduled" in types

    # A second outcome is refused: the mediation has ended.
    with pytest.raises(grpc.RpcError) as again:
        mediation.RecordOutcome(outcome, metadata=mediator())
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_an_institutions_referral_that_fails_in_mediation_closes_the_answered_case(
    platform, roster, staff
) -> None:
    intake = stub("intake")
    mediation = stub("mediation")
    case = intake.SubmitCase(
        ipb.SubmitCaseRequest(
            kind=ipb.CASE_KIND_COMPLAINT,
            channel=ipb.CHANNEL_HOTLINE,
            complainant=ipb.Complainant(
                name="赵六", phone=f"137{random.randrange(10_000):04d}1234", region_code="120104"
            ),
            institution_text="天津平安人寿",
            product="life",
            summary="理赔金额争议",
            amount_in_dispute_fen=12_000_000,
            request_id=uuid.uuid4().hex,
        ),
        metadata=staff,
        timeout=10,
    ).case
    wait_assigned("pingan-life-tj", case.case_no)
    stub("portal").AnswerCase(
        answer_request(case.case_no, "REFERRED_TO_MEDIATION", "建议通过调解中心调解。"),
        metadata=institution("pingan-life-tj"),
    )

    req = eventually(lambda: request_of(mediation, case.case_no))
    assert req.source == "institution" and not req.fast_track  # ¥120,000: the normal track
    assert consent_both(mediation, req.id).clock.name == "mediation"
    plan = mediation.PlanSessions(
        mpb.PlanSessionsRequest(request_ids=[req.id], time_limit_seconds=5), metadata=desk()
    )
    (proposed,) = plan.sessions
    assert proposed.state == "proposed"
    confirmed = mediation.ConfirmSession(
        mpb.ChangeSessionRequest(session_id=proposed.id), metadata=desk()
    )
    assert confirmed.state == "confirmed"
    # The consumer does not come: the mediation ends without an agreement.
    ended = mediation.RecordOutcome(
        mpb.RecordOutcomeRequest(session_id=proposed.id, outcome="party_absent"),
        metadata=mediator(),
    )
    assert ended.outcome == "party_absent" and ended.sessions[0].state == "party_absent"
    final = wait_closed(case.case_no, staff)  # answered already: closed, noting the failure
    assert "mediation.closed" in [e.type for e in final.timeline]


def test_a_refusal_ends_a_court_referral_and_bad_input_names_the_field(
    platform, platform_env, roster
) -> None:
    mediation = stub("mediation")
    with pytest.raises(grpc.RpcError) as bad:
        mediation.RecordCourtReferral(
            mpb.RecordCourtReferralRequest(court_name="和平区法院", court_reference="x"),
            metadata=desk(),
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "institution_name" in bad.value.details()
    req = court_referral(mediation)
    again = court_referral(mediation, req.court_reference)
    assert again.id == req.id  # idempotent while open
    refused = mediation.RecordConsent(
        mpb.RecordConsentRequest(
            request_id=req.id, party="institution", consented=False, reason="已向法院起诉"
        ),
        metadata=desk(),
    )
    assert refused.state == "closed" and refused.outcome == "refused"
    assert "已向法院起诉" in refused.outcome_reason
    shown = xiaobao(platform_env, "mediation", "requests", "show", str(req.id))
    assert shown.returncode == 0, shown.stderr
    assert "outcome refused" in shown.stdout and "court 天津市和平区人民法院" in shown.stdout
    bad_consent = xiaobao(platform_env, "mediation", "consent", str(req.id), "--party", "consumer")
    assert bad_consent.returncode == 1 and "FAILED_PRECONDITION" in bad_consent.stderr
    assert "Traceback" not in bad_consent.stderr


def court_referral(mediation, reference: str = "") -> mpb.MediationRequest:
    return mediation.RecordCourtReferral(
        mpb.RecordCourtReferralRequest(
            court_name="天津市和平区人民法院",
            court_reference=reference or f"(2026)津0101民诉前调{uuid.uuid4().hex[:6]}号",
            institution_name="中国银行股份有限公司天津市分行",
            product="credit_cards",
            business_type="bank",
            amount_in_dispute_fen=9_000_000,
            complainant_name="王五",
            complainant_phone="13900001111",
        ),
        metadata=desk(),
    )


def test_concurrent_bookings_of_one_mediator_and_slot_never_double_book(platform, roster) -> None:
    mediation = stub("mediation")
    # Court referrals on a bank card need banking and legal: med-wang.
    requests = [court_referral(mediation) for _ in range(6)]
    for r in requests:
        assert consent_both(mediation, r.id).state == "accepted"
    calendar, _policy = in_force()
    day = datetime.now(SHANGHAI).date() + timedelta(days=3)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    start = datetime.combine(day, time(14, 0), SHANGHAI)
    barrier = threading.Barrier(len(requests))
    results: list[object] = [None] * len(requests)

    def book(i: int) -> None:
        barrier.wait()
        try:
            results[i] = mediation.BookSession(
                mpb.BookSessionRequest(
                    request_id=requests[i].id,
                    mediator_id="med-wang",
                    venue_id="room-1",
                    start=to_timestamp(start),
                    end=to_timestamp(start + timedelta(hours=2)),
                ),
                metadata=desk(),
                timeout=30,
            )
        except grpc.RpcError as exc:
            results[i] = exc.code()

    threads = [threading.Thread(target=book, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    booked = [r for r in results if isinstance(r, mpb.Session)]
    assert len(booked) == 1, results
    assert all(
        r == grpc.StatusCode.FAILED_PRECONDITION for r in results if not isinstance(r, mpb.Session)
    ), results
    stored = mediation.ListSessions(
        mpb.ListSessionsRequest(mediator_id="med-wang"), metadata=desk()
    ).sessions
    at_that_time = [
        s
        for s in stored
        if s.state != "cancelled" and s.start.ToDatetime(tzinfo=UTC) == start.astimezone(UTC)
    ]
    assert [s.id for s in at_that_time] == [booked[0].id]
    # Fifteen minutes after the end is free again; ten minutes is not (the buffer).
    end = start + timedelta(hours=2)
    loser = next(r for r, res in zip(requests, results, strict=True) if res is not booked[0])
    with pytest.raises(grpc.RpcError) as close:
        mediation.BookSession(
            mpb.BookSessionRequest(
                request_id=loser.id,
                mediator_id="med-wang",
                venue_id="online-1",
                start=to_timestamp(end + timedelta(minutes=10)),
                end=to_timestamp(end + timedelta(minutes=70)),
            ),
            metadata=desk(),
        )
    assert close.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # The SLIs: the court's clocks run (ok) for every accepted referral, computed at scrape time.
    api_metrics = next(e[2] for e in platform.endpoints() if e[0] == "mediation")
    figures = scrape(api_metrics)
    assert figures['xiaobao_mediation_open_requests{state="accepted"}'] >= len(requests)
    running = 'xiaobao_clock_open_cases{clock="court_referred_mediation",state="ok"}'
    assert figures[running] >= len(requests)
