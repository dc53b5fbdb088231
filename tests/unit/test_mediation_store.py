"""Mediation's storage on a real (migrated) SQLite database: requests and consent, the clock,
booking without double booking, planning and re-planning, outcomes, reminders and the gauges."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.common import db, migrations
from services.common import settings as settings_mod
from services.common.errors import FailedPrecondition, InvalidArgument
from services.mediation import domain, scheduler, store
from services.mediation.metrics import OpenRequestsCollector
from services.mediation.models import MediationSession, OutboxMessage

SH = ZoneInfo("Asia/Shanghai")
# Planned on Tuesday 2026-12-01 at 09:00 in Tianjin; the first bookable day is Wednesday.
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
WED_10 = datetime(2026, 12, 2, 10, 0, tzinfo=SH)
ROSTER = (domain.DEFAULT_POLICY_FILE.parent / "demo_roster.yaml").read_text(encoding="utf-8")


@pytest.fixture()
def factory(tmp_path, monkeypatch) -> sessionmaker[Session]:
    """A migrated mediation database with the demo roster; no setting leaks in."""
    monkeypatch.setattr(
        settings_mod, "get", lambda: settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path)})
    )
    url = f"sqlite:///{tmp_path}/mediation.db"
    migrations.upgrade("mediation", url=url)
    engine = db.make_engine("mediation", url)
    made = sessionmaker(engine, expire_on_commit=False)
    with db.session_scope(made) as session:
        store.import_roster(session, domain.parse_roster(ROSTER))
    yield made
    engine.dispose()


def fields(case_no: str = "TJ2026120100001", **more) -> dict:
    """A consumer's request on a credit-card complaint against 建设银行 (ccb), ¥80,000."""
    return {
        "case_no": case_no,
        "source": "consumer",
        "reason": "不同意银行的处理结果",
        "preferred_form": "any",
        "institution_node_id": "ccb-tj",
        "institution_name": "中国建设银行股份有限公司天津市分行",
        "product": "credit_cards",
        "business_type": "bank",
        "amount_in_dispute_fen": 8_000_000,
        "complainant_name": "张三",
        "complainant_phone": "13800138000",
        "complainant_age": 45,
        **more,
    }


def events(session: Session, event_type: str) -> list[dict]:
    return [
        row.body["payload"]
        for row in session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == event_type)
            .order_by(OutboxMessage.id)
        )
    ]


def accepted(session: Session, case_no: str = "TJ2026120100001", at: datetime = NOW, **more):
    req, _ = store.open_request(session, at, **fields(case_no, **more))
    session.flush()
    store.record_consent(session, req.id, "consumer", True, "desk", "", at)
    store.record_consent(session, req.id, "institution", True, "客服", "", at)
    return req


# --- requests and consent ----------------------------------------------------------------------


def test_one_complaint_has_one_open_mediation_whoever_asks(factory) -> None:
    with db.session_scope(factory) as session:
        first, created = store.open_request(session, NOW, **fields())
        again, created_again = store.open_request(session, NOW, **fields())
        # The institution refers the dispute the complainant already brought: the same request.
        referred, referred_created = store.open_request(
            session, NOW, **fields(source="institution")
        )
        assert created and not created_again and not referred_created
        assert again.id == first.id and referred.id == first.id
        store.close_request(session, first, "withdrawn", NOW)
        session.flush()
        later, later_created = store.open_request(session, NOW, **fields())
        assert later_created and later.id != first.id


def test_a_request_nobody_consents_to_expires_after_the_consent_window(factory) -> None:
    with db.session_scope(factory) as session:
        waiting, _ = store.open_request(session, NOW, **fields())
        session.flush()
        days = domain.load_mediation_policy().consent_days
        assert store.expire_overdue(session, NOW + timedelta(days=days - 1)) == 0
        assert store.expire_overdue(session, NOW + timedelta(days=days, minutes=1)) == 1
        assert (waiting.state, waiting.outcome) == ("closed", "expired")
        assert "consented" in waiting.outcome_reason
        (closed,) = events(session, "mediation.closed")
        assert closed["outcome"] == "expired" and closed["started"] is False


def test_both_consents_start_the_mediation_and_its_30_day_clock(factory) -> None:
    with db.session_scope(factory) as session:
        req, _ = store.open_request(session, NOW, **fields())
        session.flush()
        store.record_consent(session, req.id, "consumer", True, "desk", "", NOW)
        assert req.state == "awaiting_consent" and events(session, "mediation.started") == []
        store.record_consent(session, req.id, "institution", True, "客服", "", NOW)
        assert req.state == "accepted"
        assert [c.by for c in req.consents] == ["desk", "客服"]
        assert events(session, "mediation.started") == [
            {"case_no": req.case_no, "request_id": str(req.id), "at": NOW.isoformat()}
        ]
        assert req.clock_name == "mediation"
        assert req.last_day == date(2026, 12, 31)
        assert not req.fast_track and req.preferred_form == "any"


def test_a_refusal_ends_the_request_with_its_reason_and_no_pause(factory) -> None:
    with db.session_scope(factory) as session:
        req, _ = store.open_request(session, NOW, **fields())
        session.flush()
        with pytest.raises(InvalidArgument, match="reason"):
            store.record_consent(session, req.id, "institution", False, "客服", " ", NOW)
        store.record_consent(session, req.id, "institution", False, "客服", "已诉讼", NOW)
        assert req.state == "closed" and req.outcome == "refused"
        assert "已诉讼" in req.outcome_reason
        (closed,) = events(session, "mediation.closed")
        assert closed["outcome"] == "refused" and closed["started"] is False
        assert events(session, "mediation.started") == []
        with pytest.raises(FailedPrecondition):
            store.record_consent(session, req.id, "consumer", True, "desk", "", NOW)


def test_a_small_claim_is_fast_tracked_online_with_a_10_day_clock(factory) -> None:
    with db.session_scope(factory) as session:
        req = accepted(session, amount_in_dispute_fen=300_000)
        assert req.fast_track and req.preferred_form == "online"
        assert req.clock_name == "mediation_fast_track" and req.clock_limit == 10
        assert req.last_day == date(2026, 12, 11)


def test_a_court_referral_runs_to_the_courts_deadline_from_receipt(factory) -> None:
    with db.session_scope(factory) as session:
        req, _ = store.open_request(
            session,
            NOW,
            source="court",
            case_no="",
            court_name="天津市和平区人民法院",
            court_reference="(2026)津0101民诉前调1234号",
            court_deadline=date(2026, 12, 15),
            institution_name="中国人寿",
            product="life",
            complainant_name="李四",
        )
        assert req.clock_name == "court_referred_mediation"
        assert req.clock_started_at == NOW and req.last_day == date(2026, 12, 15)
        again, created = store.open_request(
            session, NOW, source="court", court_reference="(2026)津0101民诉前调1234号"
        )
        assert not created and again.id == req.id


def test_a_closed_complaint_withdraws_its_open_request(factory) -> None:
    with db.session_scope(factory) as session:
        req = accepted(session)
        assert store.withdraw_for_case(session, req.case_no, NOW, "withdrawn") == 1
        assert req.outcome == "withdrawn"
        (closed,) = events(session, "mediation.closed")
        assert closed["started"] is True and closed["outcome"] == "withdrawn"
        assert store.withdraw_for_case(session, req.case_no, NOW, "closed") == 0


# --- booking -----------------------------------------------------------------------------------


def test_no_double_booking_of_a_mediator_buffer_included(factory) -> None:
    with store.booking(factory) as session:
        a = accepted(session, "TJ1")
        b = accepted(session, "TJ2")
        end = WED_10 + timedelta(hours=2)
        store.book_session(session, a, "med-wang", "room-1", WED_10, end, now=NOW)
        with pytest.raises(FailedPrecondition, match="mediator med-wang is booked"):
            store.book_session(
                session,
                b,
                "med-wang",
                "online-1",
                end + timedelta(minutes=10),
                end + timedelta(hours=2),
                now=NOW,
            )
        assert session.scalar(select(func.count()).select_from(MediationSession)) == 1
        s = store.book_session(
            session,
            b,
            "med-wang",
            "online-1",
            end + timedelta(minutes=15),
            end + timedelta(hours=2),
            now=NOW,
        )
        assert s.busy_until == s.end + timedelta(minutes=15)


def test_no_double_booking_of_a_venue(factory) -> None:
    with store.booking(factory) as session:
        a = accepted(session, "TJ1")
        b = accepted(session, "TJ2", institution_node_id="boc-tj", institution_name="中国银行")
        store.book_session(
            session, a, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
        )
        with pytest.raises(FailedPrecondition, match="venue room-1 is booked"):
            store.book_session(
                session,
                b,
                "med-zhao",
                "room-1",
                WED_10 + timedelta(hours=1),
                WED_10 + timedelta(hours=3),
                now=NOW,
            )


def test_a_cancelled_session_frees_its_time(factory) -> None:
    with store.booking(factory) as session:
        a = accepted(session, "TJ1")
        b = accepted(session, "TJ2")
        s = store.book_session(
            session, a, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
        )
        store.transition_session(session, s.id, "cancelled", NOW)
        store.book_session(
            session, b, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
        )


def test_a_conflicted_mediator_is_never_booked(factory) -> None:
    with store.booking(factory) as session:
        req = accepted(session, institution_node_id="ccb")  # med-zhao worked for ccb
        with pytest.raises(FailedPrecondition, match="conflict of interest"):
            store.book_session(
                session, req, "med-zhao", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
            )


def test_a_booking_needs_notice_and_an_accepted_request(factory) -> None:
    with store.booking(factory) as session:
        req = accepted(session)
        with pytest.raises(FailedPrecondition, match="notice"):
            store.book_session(
                session,
                req,
                "med-wang",
                "room-1",
                NOW + timedelta(hours=2),
                NOW + timedelta(hours=4),
                now=NOW,
            )
        waiting, _ = store.open_request(session, NOW, **fields("TJ9"))
        session.flush()
        with pytest.raises(FailedPrecondition, match="awaiting_consent"):
            store.book_session(
                session, waiting, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
            )


# --- planning ----------------------------------------------------------------------------------


def test_planning_books_every_accepted_request_without_overlaps(factory) -> None:
    with store.booking(factory) as session:
        reqs = [accepted(session, f"TJ{i}") for i in range(6)]
        result = store.plan_sessions(session, NOW, confirm=True, time_limit=5)
        assert len(result.booked) == 6, result.unscheduled
        assert {s.request_id for s in result.booked} == {r.id for r in reqs}
        assert len(events(session, "mediation.session_scheduled")) == 6
        problem = store.build_problem(session, NOW, [], 10)
        plan = scheduler.Plan(
            assignments=[
                scheduler.Assignment(str(s.request_id), s.mediator_id, s.venue_id, s.start, s.end)
                for s in result.booked
            ]
        )
        by_med: dict[str, list] = {}
        for s in result.booked:
            assert s.start >= NOW + timedelta(hours=24)
            by_med.setdefault(s.mediator_id, []).append(s)
        for sessions in by_med.values():
            sessions.sort(key=lambda s: s.start)
            for x, y in itertools.pairwise(sessions):
                assert x.busy_until <= y.start
        assert problem.requests == () and plan.assignments
        # Planned again: nothing left to plan, nothing booked twice.
        assert store.plan_sessions(session, NOW, confirm=True, time_limit=5).booked == []


def test_sick_leave_moves_only_the_sick_mediators_sessions(factory) -> None:
    with store.booking(factory) as session:
        life = [
            accepted(session, f"TJL{i}", product="life", business_type="insurance")
            for i in range(2)
        ]
        bank = accepted(session, "TJB", institution_node_id="")
        result = store.plan_sessions(session, NOW, confirm=True, time_limit=5)
        assert len(result.booked) == 3
        before = {s.request_id: (s.mediator_id, s.venue_id, s.start) for s in result.booked}
        sick_session = next(s for s in result.booked if s.request_id == life[0].id)
        day = sick_session.start.astimezone(SH).date()
        replanned = store.add_leave(session, sick_session.mediator_id, day, day, "sick", NOW)
        session.flush()
        live = {
            s.request_id: (s.mediator_id, s.venue_id, s.start)
            for s in session.scalars(
                select(MediationSession).where(MediationSession.state == "confirmed")
            )
        }
        assert set(live) == {life[0].id, life[1].id, bank.id}
        moved = [rid for rid in live if live[rid] != before[rid]]
        assert life[0].id in moved
        for rid in moved:
            mediator, _venue, start = live[rid]
            assert not (mediator == sick_session.mediator_id and start.astimezone(SH).date() == day)
        assert replanned.moved == len(moved)


# --- outcomes ----------------------------------------------------------------------------------


def test_an_agreement_ends_the_mediation_and_tells_intake(factory) -> None:
    with store.booking(factory) as session:
        req = accepted(session)
        s = store.book_session(
            session,
            req,
            "med-wang",
            "room-1",
            WED_10,
            WED_10 + timedelta(hours=2),
            "confirmed",
            now=NOW,
        )
        with pytest.raises(FailedPrecondition, match="before it starts"):
            store.transition_session(session, s.id, "held", NOW)
        after = WED_10 + timedelta(hours=2)
        with pytest.raises(FailedPrecondition, match="confirmed session cannot become agreement"):
            store.record_outcome(session, s.id, "agreement", after, 100_000, "退还年费")
        store.transition_session(session, s.id, "held", after)
        store.record_outcome(session, s.id, "agreement", after, 100_000, "退还年费", True)
        assert req.state == "closed" and req.outcome == "agreement"
        (closed,) = events(session, "mediation.closed")
        assert closed == {
            "case_no": req.case_no,
            "request_id": str(req.id),
            "at": after.isoformat(),
            "outcome": "agreement",
            "amount_fen": 100_000,
            "terms": "退还年费",
            "judicial_confirmation": True,
            "started": True,
        }
        store.record_judicial_confirmation(
            session, req.id, "和平区法院", "(2026)津0101民特1号", date(2026, 12, 9)
        )
        assert req.judicial_confirmed_on == date(2026, 12, 9)


# --- reminders and gauges ----------------------------------------------------------------------


def test_each_reminder_goes_out_once(factory) -> None:
    with store.booking(factory) as session:
        req = accepted(session)
        store.book_session(
            session,
            req,
            "med-wang",
            "room-1",
            WED_10,
            WED_10 + timedelta(hours=2),
            "confirmed",
            now=NOW,
        )
    day_before = WED_10 - timedelta(hours=23)
    with db.session_scope(factory) as session:
        assert store.send_due_reminders(session, day_before) == 1
    with db.session_scope(factory) as session:
        assert store.send_due_reminders(session, day_before + timedelta(minutes=5)) == 0
        assert store.send_due_reminders(session, WED_10 - timedelta(hours=1)) == 1
        assert store.send_due_reminders(session, WED_10 - timedelta(minutes=30)) == 0
        sent = events(session, "mediation.reminder_due")
        assert [e["hours_before"] for e in sent] == [24, 2]


def test_open_requests_are_counted_by_clock_and_state_at_scrape_time(factory) -> None:
    with db.session_scope(factory) as session:
        accepted(session, at=datetime.now(UTC))
        store.open_request(session, NOW, **fields("TJ8"))
    families = {f.name: f for f in OpenRequestsCollector(factory).collect()}
    clocks = {
        tuple(s.labels.values()): s.value for s in families["xiaobao_clock_open_cases"].samples
    }
    assert clocks[("mediation", "ok")] == 1
    assert clocks[("court_referred_mediation", "overdue")] == 0
    assert "mediation_fast_track" not in {c for c, _ in clocks}  # counted under mediation
    requests = {
        s.labels["state"]: s.value for s in families["xiaobao_mediation_open_requests"].samples
    }
    assert requests == {"awaiting_consent": 1, "accepted": 1}


def test_a_booking_outside_working_hours_or_on_leave_is_refused(factory) -> None:
    with store.booking(factory) as session:
        req = accepted(session)
        evening = WED_10.replace(hour=18)
        with pytest.raises(FailedPrecondition, match="mediator med-wang is not available"):
            store.book_session(
                session, req, "med-wang", "online-1", evening, evening + timedelta(hours=1), now=NOW
            )
        saturday = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
        with pytest.raises(FailedPrecondition, match="not available"):
            store.book_session(
                session, req, "med-wang", "room-1", saturday, saturday + timedelta(hours=2), now=NOW
            )
        assert session.scalar(select(func.count()).select_from(MediationSession)) == 0
        # Leave: the re-plan that follows books req elsewhere; nobody gets med-wang that day.
        store.add_leave(session, "med-wang", WED_10.date(), WED_10.date(), "leave", NOW)
        other = accepted(session, "TJ3")
        with pytest.raises(FailedPrecondition, match="not available"):
            store.book_session(
                session, other, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
            )
        for s in session.scalars(select(MediationSession)):
            assert not (
                s.mediator_id == "med-wang" and s.start.astimezone(SH).date() == WED_10.date()
            )


def test_parties_present_early_bring_a_session_forward_if_all_are_free(factory) -> None:
    with store.booking(factory) as session:
        a = accepted(session, "TJ1")
        b = accepted(session, "TJ2")
        thursday = WED_10 + timedelta(days=1)
        sa = store.book_session(
            session,
            a,
            "med-wang",
            "room-1",
            thursday,
            thursday + timedelta(hours=2),
            "confirmed",
            now=NOW,
        )
        sb = store.book_session(
            session,
            b,
            "med-wang",
            "online-1",
            WED_10,
            WED_10 + timedelta(hours=2),
            "confirmed",
            now=NOW,
        )
        # Wednesday 10:30: med-wang is in b's session, so a cannot be brought forward now.
        at = WED_10 + timedelta(minutes=30)
        with pytest.raises(FailedPrecondition, match="mediator med-wang is booked"):
            store.transition_session(session, sa.id, "held", at, bring_forward=True)
        assert sa.start == thursday and sa.state == "confirmed"
        store.transition_session(session, sb.id, "held", at)
        later = WED_10 + timedelta(hours=3)
        store.transition_session(session, sa.id, "held", later, bring_forward=True)
        assert sa.start == later and sa.end == later + timedelta(hours=2) and sa.state == "held"


def test_a_cancellation_replans_its_request_and_keeps_every_other_session(factory) -> None:
    with store.booking(factory) as session:
        reqs = [accepted(session, f"TJ{i}") for i in range(4)]
        booked = store.plan_sessions(session, NOW, confirm=True, time_limit=5).booked
        assert len(booked) == 4
        before = {s.id: (s.mediator_id, s.venue_id, s.start) for s in booked}
        gone = booked[0]
        store.transition_session(session, gone.id, "cancelled", NOW, "consumer unavailable")
        result = store.replan(session, NOW, "cancelled")
        assert result.moved == 0 and result.kept == 3
        (new,) = result.booked
        assert new.request_id == gone.request_id and new.state == "proposed"
        for s in booked[1:]:
            assert s.state == "confirmed" and (s.mediator_id, s.venue_id, s.start) == before[s.id]
        assert {r.id for r in reqs} == {s.request_id for s in [*booked[1:], new]}


def test_a_mediators_daily_cap_is_respected(factory) -> None:
    with store.booking(factory) as session:
        reqs = [accepted(session, f"TJ{i}") for i in range(4)]  # med-wang: 3 a day
        for i, req in enumerate(reqs[:3]):
            start = WED_10.replace(hour=9) + timedelta(hours=2 * i + (1 if i == 2 else 0))
            store.book_session(
                session, req, "med-wang", "online-1", start, start + timedelta(hours=1), now=NOW
            )
        late = WED_10.replace(hour=16)
        with pytest.raises(FailedPrecondition, match="3 sessions on 2026-12-02, the cap"):
            store.book_session(
                session, reqs[3], "med-wang", "room-1", late, late + timedelta(hours=1), now=NOW
            )


def test_sessions_are_planned_when_both_parties_said_they_can_attend(factory) -> None:
    thursday_pm = (
        datetime(2026, 12, 3, 13, 0, tzinfo=SH),
        datetime(2026, 12, 3, 17, 30, tzinfo=SH),
    )
    with store.booking(factory) as session:
        req, _ = store.open_request(session, NOW, **fields())
        session.flush()
        store.record_consent(
            session,
            req.id,
            "consumer",
            True,
            "desk",
            "",
            NOW,
            [(datetime(2026, 12, 2, 9, 0, tzinfo=SH), datetime(2026, 12, 4, 0, 0, tzinfo=SH))],
        )
        store.record_consent(session, req.id, "institution", True, "客服", "", NOW, [thursday_pm])
        with pytest.raises(FailedPrecondition, match="parties said they cannot attend"):
            store.book_session(
                session, req, "med-wang", "room-1", WED_10, WED_10 + timedelta(hours=2), now=NOW
            )
        (booked,) = store.plan_sessions(session, NOW, confirm=False, time_limit=5).booked
        assert thursday_pm[0] <= booked.start and booked.end <= thursday_pm[1]
        with pytest.raises(InvalidArgument, match=r"availability\[0\]"):
            other, _ = store.open_request(session, NOW, **fields("TJ2"))
            session.flush()
            store.record_consent(
                session, other.id, "consumer", True, "desk", "", NOW, [thursday_pm[::-1]]
            )


def test_a_court_room_is_only_for_its_own_courts_referrals(factory) -> None:
    with store.booking(factory) as session:
        consumer = accepted(session, preferred_form="onsite")
        with pytest.raises(FailedPrecondition, match="court room"):
            store.book_session(
                session,
                consumer,
                "med-wang",
                "room-court",
                WED_10,
                WED_10 + timedelta(hours=2),
                now=NOW,
            )
        referral, _ = store.open_request(
            session,
            NOW,
            source="court",
            court_name="天津市和平区人民法院",
            court_reference="(2026)津0101民诉前调9号",
            institution_name="中国银行",
            product="credit_cards",
            business_type="bank",
            preferred_form="onsite",
            complainant_name="王五",
        )
        session.flush()
        store.record_consent(session, referral.id, "consumer", True, "desk", "", NOW)
        store.record_consent(session, referral.id, "institution", True, "desk", "", NOW)
        store.book_session(
            session,
            referral,
            "med-wang",
            "room-court",
            WED_10,
            WED_10 + timedelta(hours=2),
            now=NOW,
        )
        # Planned: the remaining on-site consumers get centre rooms, never the court's.
        others = [accepted(session, f"TJ{i}", preferred_form="onsite") for i in range(3)]
        booked = store.plan_sessions(session, NOW, confirm=False, time_limit=5).booked
        assert {s.request_id for s in booked} == {consumer.id, *(r.id for r in others)}
        assert {s.venue_id for s in booked} == {"room-1"}
