"""Mediation and screening as intake applies them to a case (Art 23 pauses, flags)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.common import db
from services.common.errors import FailedPrecondition
from services.intake import cases, domain, referrals
from services.intake.models import Base, OutboxMessage

T0 = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("intake", f"sqlite:///{tmp_path}/intake.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def complaint(kind: str = "complaint", summary: str = "退保金额与合同不符") -> domain.NewCase:
    return domain.NewCase(
        kind=kind,
        channel="phone",
        name="赵桂英",
        phone="13812345678",
        id_number="",
        region_code="120104",
        institution_text="天津平安人寿",
        product="life",
        summary=summary,
        amount_in_dispute_fen=1_200_000,
        received_at=T0,
    )


def assigned_case(factory) -> str:
    """A complaint with the institution: its 15-day decision clock running from T0."""
    with db.session_scope(factory) as session:
        case, _ = cases.submit(session, complaint(), "", T0)
        case.status = "assigned"
        case.assigned_node_id = "pingan-life-tj"
        cases.record(session, case, "routing.case_assigned", T0, "routing")
        return case.case_no


def clock(factory, case_no: str, name: str = "institution_decision"):
    with db.session_scope(factory) as session:
        return next(c for c in cases.get_case(session, case_no).clocks if c.name == name)


def outbox(factory, event_type: str) -> list[dict]:
    with db.session_scope(factory) as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.event_type == event_type)
        ).all()
        return [r.body["payload"] for r in rows]


def apply(factory, case_no: str, fn, *args) -> None:
    with db.session_scope(factory) as session:
        fn(session, cases.get_case(session, case_no, lock=True), *args)


def test_a_consumer_request_is_announced_with_what_the_mediator_needs(factory):
    case_no = assigned_case(factory)
    apply(
        factory, case_no, referrals.request_mediation, T0, "desk", "不服处理", "online", "consumer"
    )
    (sent,) = outbox(factory, "intake.mediation_requested")
    assert sent["case_no"] == case_no
    assert sent["source"] == "consumer"
    assert sent["preferred_form"] == "online"
    assert sent["institution_node_id"] == "pingan-life-tj"
    assert sent["amount_in_dispute_fen"] == 1_200_000
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.status == "assigned"  # unchanged until both parties consent
        assert case.events[-1].type == "intake.mediation_requested"


def test_a_withdrawn_case_or_one_already_in_mediation_cannot_be_sent_again(factory):
    case_no = assigned_case(factory)
    apply(factory, case_no, referrals.mediation_started, T0 + timedelta(days=2), "r1")
    with pytest.raises(FailedPrecondition, match="already in mediation"):
        apply(factory, case_no, referrals.request_mediation, T0, "desk", "x", "any", "consumer")
    with db.session_scope(factory) as session:
        cases.withdraw(session, cases.get_case(session, case_no, lock=True), T0, "desk", "撤诉")
    with pytest.raises(FailedPrecondition, match="withdrawn"):
        apply(factory, case_no, referrals.request_mediation, T0, "desk", "x", "any", "consumer")


def test_a_standalone_mediation_request_is_announced_on_receipt(factory):
    with db.session_scope(factory) as session:
        case, _ = cases.submit(session, complaint(kind="mediation_request"), "", T0)
        case_no = case.case_no
    (sent,) = outbox(factory, "intake.mediation_requested")
    assert sent["case_no"] == case_no
    assert sent["source"] == "consumer"


def test_mediation_time_does_not_count_against_the_institution(factory):
    case_no = assigned_case(factory)
    before = clock(factory, case_no).last_day
    start, end = T0 + timedelta(days=3), T0 + timedelta(days=10)
    apply(factory, case_no, referrals.mediation_started, start, "r1")
    with db.session_scope(factory) as session:
        assert cases.get_case(session, case_no).status == "in_mediation"
    apply(
        factory,
        case_no,
        referrals.mediation_closed,
        end,
        {"outcome": "no_agreement", "request_id": "r1", "started": True},
    )
    after = clock(factory, case_no)
    assert after.stopped_at is None  # the institution goes on deciding
    # Paused from day 3 (counted) to day 10 (not counted): the last day moves by seven days.
    assert after.last_day == before + timedelta(days=7)
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.status == "assigned"  # returned to the institution
        assert case.status_before_mediation == ""


def test_an_agreement_closes_the_complaint_with_its_terms(factory):
    case_no = assigned_case(factory)
    apply(factory, case_no, referrals.mediation_started, T0 + timedelta(days=2), "r1")
    apply(
        factory,
        case_no,
        referrals.mediation_closed,
        T0 + timedelta(days=5),
        {
            "outcome": "agreement",
            "amount_fen": 800_000,
            "terms": "退还保费8000元",
            "judicial_confirmation": True,
            "started": True,
        },
    )
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.status == "closed"
        assert "¥8,000.00" in case.resolution and "退还保费8000元" in case.resolution
        assert "司法确认" in case.resolution
    assert clock(factory, case_no).stopped_at == T0 + timedelta(days=5)
    (closed,) = outbox(factory, "intake.case_closed")
    assert closed["case_no"] == case_no


def test_an_appraisal_pause_outlives_the_mediation(factory):
    case_no = assigned_case(factory)
    appraisal = T0 + timedelta(days=1)
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no, lock=True)
        cases.record(
            session,
            case,
            "routing.clock_paused",
            appraisal,
            "institution",
            effects=[{"clock": "institution_decision", "kind": "pause", "reason": "appraisal"}],
        )
    apply(factory, case_no, referrals.mediation_started, T0 + timedelta(days=2), "r1")
    apply(
        factory,
        case_no,
        referrals.mediation_closed,
        T0 + timedelta(days=4),
        {"outcome": "no_agreement", "started": True},
    )
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert referrals._open_pauses(case) == {"institution_decision": "appraisal"}


def test_a_failed_mediation_after_the_institution_answered_closes_the_case(factory):
    case_no = assigned_case(factory)
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no, lock=True)
        cases.record(session, case, "routing.case_answered", T0 + timedelta(days=4), "inst")
        case.status = "referred_to_mediation"
    apply(
        factory,
        case_no,
        referrals.mediation_closed,
        T0 + timedelta(days=6),
        {"outcome": "refused", "started": False},
    )
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.status == "closed"
        assert "refused" in case.resolution


def test_a_clue_flags_the_case_and_only_its_dismissal_clears_it(factory):
    case_no = assigned_case(factory)
    raised = {
        "clue_id": "CL-7",
        "score": 0.83,
        "reasons": [{"signal": "contact", "detail": "agent phone shared with 37 complainants"}],
    }
    apply(factory, case_no, referrals.clue_raised, T0, raised)
    apply(factory, case_no, referrals.clue_dismissed, T0, {"clue_id": "CL-9"})
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.screening_flagged and case.screening_clue_id == "CL-7"
        assert "37 complainants" in case.screening_note
    apply(factory, case_no, referrals.clue_dismissed, T0, {"clue_id": "CL-7"})
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert not case.screening_flagged and case.screening_note == ""
        assert case.events[-1].type == "blacklist.clue_dismissed"


def test_an_assignment_overtaken_by_a_later_routing_decision_is_recognised(factory):
    case_no = assigned_case(factory)
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no, lock=True)
        queued = T0 + timedelta(hours=2)
        cases.record(session, case, "routing.case_needs_routing", queued, "routing")
        # The reassignment routing made an hour earlier arrives late, on its own queue.
        assert cases.overtaken(case, T0 + timedelta(hours=1))
        assert not cases.overtaken(case, T0 + timedelta(hours=3))
