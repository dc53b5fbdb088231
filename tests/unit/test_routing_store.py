"""Routing's storage on a real SQLite database with the demo Tianjin directory: handing cases to
offices, the institution's clock (extensions, pauses, returns), the portal's feed and the sweep."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from services.common import db, migrations
from services.common import settings as settings_mod
from services.common.clock import in_force
from services.common.errors import CaseNotFound, ExtensionRefused, FailedPrecondition
from services.routing import store
from services.routing.models import Assignment, ClockNotice, OutboxMessage

SH = ZoneInfo("Asia/Shanghai")
# Received and assigned on Monday 2026-07-06 at 10:00 in Tianjin. The 15-day institution clock
# does not count the day of receipt: its last day is Tuesday 07-21, it runs out at 24:00.
MONDAY = datetime(2026, 7, 6, 10, 0, tzinfo=SH)
LAST_DAY_15 = date(2026, 7, 21)
DEADLINE_15 = datetime(2026, 7, 22, 0, 0, tzinfo=SH)
LAST_DAY_30 = date(2026, 8, 5)
DEADLINE_30 = datetime(2026, 8, 6, 0, 0, tzinfo=SH)
LAST_DAY_60 = date(2026, 9, 4)
WUQING = "pingan-life-tj-wuqing"  # 平安人寿武清支公司, a sub-branch (level 2)
BAODI = "pingan-life-tj-baodi"
BINHAI = "pingan-life-tj-binhai"
PINGAN_TJ = "pingan-life-tj"  # 平安人寿天津分公司, their branch (level 1)
PINGAN_HEAD = "pingan-life"  # 中国平安人寿 head office (level 0)


@pytest.fixture()
def factory(tmp_path, monkeypatch) -> sessionmaker[Session]:
    """A migrated routing database with the demo directory imported; no setting leaks in."""
    monkeypatch.setattr(
        settings_mod, "get", lambda: settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path)})
    )
    url = f"sqlite:///{tmp_path}/routing.db"
    migrations.upgrade("routing", url=url)
    engine = db.make_engine("routing", url)
    made = sessionmaker(engine, expire_on_commit=False)
    store.DIRECTORY.clear()  # the cache is per process; another test's directory must not show
    with db.session_scope(made) as session:
        nodes = store.read_directory_file(store.DEMO_DIRECTORY)
        store.import_directory(session, nodes, source="demo_directory.yaml")
    yield made
    store.DIRECTORY.clear()
    engine.dispose()


def complaint(case_no: str, institution_text: str = "天津平安人寿", **more) -> dict:
    """intake.case_received as routing's worker sees it: a Nankai resident's life-policy complaint."""
    return {
        "case_no": case_no,
        "kind": "complaint",
        "institution_text": institution_text,
        "region_code": "120104",
        "product": "life",
        "summary": "保单退保金额与合同不符",
        "complainant_name": "赵桂英",
        "complainant_phone": "13812345678",
        "amount_in_dispute_fen": 0,
        "received_at": MONDAY.isoformat(),
        **more,
    }


def assign(factory, payload: dict, now: datetime = MONDAY) -> str:
    with db.session_scope(factory) as session:
        store.assign_case(session, payload, now)
    return payload["case_no"]


def assignment(session: Session, case_no: str) -> Assignment:
    found = session.scalar(select(Assignment).where(Assignment.case_no == case_no))
    assert found is not None, f"no assignment for {case_no}"
    return found


def events(factory, event_type: str, case_no: str | None = None) -> list[dict]:
    """The payloads of the outbox rows of one type, oldest first."""
    with db.session_scope(factory) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == event_type)
            .order_by(OutboxMessage.id)
        ).all()
        payloads = [row.body["payload"] for row in rows]
    return [p for p in payloads if case_no is None or p["case_no"] == case_no]


def outbox_count(factory) -> int:
    with db.session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage))


def notices(factory, case_no: str) -> list[tuple[str, int, str, str]]:
    """(office, limit, stage, escalated_to) of every notice the sweep recorded for a case."""
    with db.session_scope(factory) as session:
        rows = session.scalars(
            select(ClockNotice).where(ClockNotice.case_no == case_no).order_by(ClockNotice.id)
        ).all()
        return [(n.node_id, n.limit_days, n.stage, n.escalated_to) for n in rows]


def share(fraction: float, start: datetime, deadline: datetime) -> datetime:
    """The instant when `fraction` of the time from start to deadline has run."""
    return start + fraction * (deadline - start)


def sweep(factory, now: datetime) -> list[store.Notice]:
    with db.session_scope(factory) as session:
        return store.sweep(session, now)


def act(factory, case_no: str, action, *args, now: datetime):
    """One institution action (acknowledge, answer, ...) on the case in its own transaction."""
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        action(session, a, *args, now)
        return a


def extend(factory, case_no, to_days, now, reason="需调取通话录音核实销售过程", approver=""):
    with db.session_scope(factory) as session:
        store.request_extension(
            session, assignment(session, case_no), to_days, reason, approver, "wang.li", now
        )


def answer(factory, case_no: str, now: datetime) -> None:
    with db.session_scope(factory) as session:
        store.answer(
            session,
            assignment(session, case_no),
            "closed_with_explanation",
            "已向投诉人说明退保金计算方式",
            0,
            {"method": "phone"},
            "wang.li",
            now,
        )


def pause(factory, case_no: str, now: datetime) -> None:
    act(factory, case_no, store.pause_clock, "appraisal", "委托第三方鉴定签名", "wang.li", now=now)


def resume(factory, case_no: str, now: datetime) -> None:
    act(factory, case_no, store.resume_clock, "鉴定意见已出", "wang.li", now=now)


def give_back(factory, case_no: str, now: datetime, hint: str = "", reason: str = "非本机构业务"):
    act(factory, case_no, store.return_case, reason, hint, "wang.li", now=now)


# --- assignment ------------------------------------------------------------------------------


def test_a_complaint_about_tianjin_pingan_life_goes_to_its_tianjin_branch_with_15_days(factory):
    assign(factory, complaint("TJ-2026-000101"))
    with db.session_scope(factory) as session:
        a = assignment(session, "TJ-2026-000101")
        assert (a.status, a.node_id) == ("assigned", PINGAN_TJ)
        assert (a.clock_name, a.limit_days) == ("institution_decision", 15)
        assert a.last_day == LAST_DAY_15
        assert a.deadline == DEADLINE_15
        assert a.assigned_at == MONDAY
        assert a.feed_seq > 0
        assert [e["kind"] for e in a.clock_events] == ["start"]
    [event] = events(factory, "routing.case_assigned")
    assert event["case_no"] == "TJ-2026-000101"
    assert event["node_id"] == PINGAN_TJ
    assert event["last_day"] == "2026-07-21"
    assert event["reassigned"] is False


def test_a_lender_the_directory_does_not_know_goes_to_the_routing_desk(factory):
    assign(factory, complaint("TJ-2026-000102", "鑫融通小额贷款有限公司", product="loans"))
    with db.session_scope(factory) as session:
        a = assignment(session, "TJ-2026-000102")
        assert a.status == "needs_routing"
        assert a.node_id is None
        assert a.queue_reason  # the desk is told why
        assert a.clock_events == []  # no institution's clock runs for nobody
        assert a.feed_seq > 0
    [event] = events(factory, "routing.case_needs_routing")
    assert event["case_no"] == "TJ-2026-000102"
    assert event["why"] == a.queue_reason
    assert events(factory, "routing.case_assigned") == []


def test_a_consultation_is_not_handed_to_any_institution(factory):
    with db.session_scope(factory) as session:
        made = store.assign_case(session, complaint("TJ-2026-000103", kind="consultation"), MONDAY)
    assert made is None
    with db.session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 0
    assert outbox_count(factory) == 0


def test_a_redelivered_case_is_assigned_once(factory):
    assign(factory, complaint("TJ-2026-000104"))
    with db.session_scope(factory) as session:
        again = store.assign_case(session, complaint("TJ-2026-000104"), MONDAY + timedelta(hours=1))
    assert again is None
    with db.session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 1
    assert len(events(factory, "routing.case_assigned")) == 1


# --- tiers -----------------------------------------------------------------------------------


def test_a_claim_of_50000_yuan_at_a_sub_branch_goes_to_its_branch_naming_the_rule(factory):
    assign(
        factory, complaint("TJ-2026-000111", "平安人寿武清支公司", amount_in_dispute_fen=5_000_000)
    )
    assign(
        factory, complaint("TJ-2026-000112", "平安人寿武清支公司", amount_in_dispute_fen=4_999_999)
    )
    with db.session_scope(factory) as session:
        big = assignment(session, "TJ-2026-000111")
        small = assignment(session, "TJ-2026-000112")
        assert big.node_id == PINGAN_TJ
        assert "big_claim" in big.tier_reason
        assert WUQING in big.tier_reason and PINGAN_TJ in big.tier_reason
        assert small.node_id == WUQING  # ¥49,999.99 stays where it arose
        assert "big_claim" not in small.tier_reason
    assigned = {e["case_no"]: e for e in events(factory, "routing.case_assigned")}
    assert "big_claim" in assigned["TJ-2026-000111"]["tier_reason"]


def test_a_complainant_aged_70_is_handled_one_level_up(factory):
    assign(factory, complaint("TJ-2026-000113", "平安人寿武清支公司", complainant_age=70))
    with db.session_scope(factory) as session:
        a = assignment(session, "TJ-2026-000113")
        assert a.node_id == PINGAN_TJ  # one level above the sub-branch, not the head office
        assert a.elderly
        assert "elderly" in a.tier_reason


# --- extensions ------------------------------------------------------------------------------


def test_extensions_go_15_to_30_freely_and_to_60_only_with_an_approver(factory):
    case_no = assign(factory, complaint("TJ-2026-000121"))
    extend(factory, case_no, 30, MONDAY + timedelta(days=3))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert (a.limit_days, a.last_day) == (30, LAST_DAY_30)
        events_before = list(a.clock_events)
    outbox_before = outbox_count(factory)

    # The refusal is raised before anything is written: even a caller that commits stores nothing.
    with db.session_scope(factory) as session, pytest.raises(ExtensionRefused) as refused:
        store.request_extension(
            session,
            assignment(session, case_no),
            60,
            "涉及多家机构共同核查",
            "",
            "wang.li",
            MONDAY + timedelta(days=10),
        )
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "approver" in str(refused.value)
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.clock_events == events_before
        assert (a.limit_days, a.last_day) == (30, LAST_DAY_30)
    assert outbox_count(factory) == outbox_before

    extend(factory, case_no, 60, MONDAY + timedelta(days=10), approver="天津分公司 李主任")
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert (a.limit_days, a.last_day) == (60, LAST_DAY_60)
        assert a.clock_events[-1]["approver"] == "天津分公司 李主任"
    extended = events(factory, "routing.case_extended", case_no)
    assert [e["to_days"] for e in extended] == [30, 60]
    assert extended[-1]["last_day"] == "2026-09-04"


def test_an_extension_to_90_days_is_refused_naming_the_60_day_maximum(factory):
    case_no = assign(factory, complaint("TJ-2026-000122"))
    with db.session_scope(factory) as session, pytest.raises(ExtensionRefused, match="60 days"):
        store.request_extension(
            session,
            assignment(session, case_no),
            90,
            "案情复杂",
            "天津分公司 李主任",
            "wang.li",
            MONDAY + timedelta(days=2),
        )
    with db.session_scope(factory) as session:
        assert assignment(session, case_no).limit_days == 15
    assert events(factory, "routing.case_extended") == []


def test_an_answered_case_cannot_be_extended(factory):
    case_no = assign(factory, complaint("TJ-2026-000123"))
    answer(factory, case_no, MONDAY + timedelta(days=5))
    with pytest.raises(FailedPrecondition, match="is answered"):
        extend(factory, case_no, 30, MONDAY + timedelta(days=6))
    assert events(factory, "routing.case_extended") == []


def test_an_extension_asked_for_after_the_deadline_is_refused(factory):
    case_no = assign(factory, complaint("TJ-2026-000124"))
    late = DEADLINE_15 + timedelta(hours=9)  # Wednesday 07-22, 09:00: the last day was yesterday
    with pytest.raises(FailedPrecondition, match="has passed"):
        extend(factory, case_no, 30, late)
    with db.session_scope(factory) as session:
        assert assignment(session, case_no).limit_days == 15
    assert events(factory, "routing.case_extended") == []


# --- pauses ----------------------------------------------------------------------------------


def test_a_clock_cannot_be_paused_twice_nor_resumed_unless_paused(factory):
    case_no = assign(factory, complaint("TJ-2026-000131"))
    with pytest.raises(FailedPrecondition, match="not paused"):
        resume(factory, case_no, MONDAY + timedelta(days=1))
    pause(factory, case_no, MONDAY + timedelta(days=2))
    with pytest.raises(FailedPrecondition, match="paused since"):
        pause(factory, case_no, MONDAY + timedelta(days=3))
    with db.session_scope(factory) as session:
        assert [e["kind"] for e in assignment(session, case_no).clock_events] == ["start", "pause"]
    assert len(events(factory, "routing.clock_paused")) == 1
    assert events(factory, "routing.clock_resumed") == []


def test_five_days_of_appraisal_move_the_last_day_by_five_days(factory):
    case_no = assign(factory, complaint("TJ-2026-000132"))
    # Paused Wednesday 07-08, resumed Monday 07-13: 07-09 to 07-13 are not counted.
    pause(factory, case_no, datetime(2026, 7, 8, 10, 0, tzinfo=SH))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.paused
        assert a.next_check_at is None  # no reminders while the clock stands still
    resume(factory, case_no, datetime(2026, 7, 13, 10, 0, tzinfo=SH))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert not a.paused
        assert a.last_day == LAST_DAY_15 + timedelta(days=5)
        assert a.deadline == DEADLINE_15 + timedelta(days=5)
        assert a.limit_days == 15
    [resumed] = events(factory, "routing.clock_resumed")
    assert resumed["last_day"] == "2026-07-26"


def test_mediation_time_is_not_counted_and_only_mediation_ends_its_pause(factory):
    case_no = assign(factory, complaint("TJ-2026-000134"))
    started = datetime(2026, 7, 8, 10, 0, tzinfo=SH)
    with db.session_scope(factory) as session:
        assert store.mediation_started(session, case_no, started, started)
        # Redelivered, or a second request: the clock is paused once.
        assert not store.mediation_started(session, case_no, started, started)
    with pytest.raises(FailedPrecondition, match="paused for mediation"):
        resume(factory, case_no, datetime(2026, 7, 9, 10, 0, tzinfo=SH))
    ended = datetime(2026, 7, 13, 10, 0, tzinfo=SH)
    with db.session_scope(factory) as session:
        assert store.mediation_closed(session, case_no, ended, ended)
        a = assignment(session, case_no)
        assert not a.paused
        assert a.last_day == LAST_DAY_15 + timedelta(days=5)
        assert [e["kind"] for e in a.clock_events] == ["start", "pause", "resume"]
    # Intake hears of mediation from the mediation service; routing announces nothing more.
    assert events(factory, "routing.clock_paused") == []


def test_an_appraisal_pause_is_not_ended_by_a_mediation(factory):
    case_no = assign(factory, complaint("TJ-2026-000135"))
    pause(factory, case_no, MONDAY + timedelta(days=1))
    at = MONDAY + timedelta(days=2)
    with db.session_scope(factory) as session:
        assert not store.mediation_started(session, case_no, at, at)
        assert not store.mediation_closed(session, case_no, at, at)
        assert assignment(session, case_no).paused


def test_a_petitions_handling_clock_cannot_be_paused(factory):
    case_no = assign(factory, complaint("TJ-2026-000133", kind="petition"))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert (a.clock_name, a.limit_days) == ("petition_handling", 60)
    with pytest.raises(FailedPrecondition, match="cannot be paused"):
        pause(factory, case_no, MONDAY + timedelta(days=2))
    with db.session_scope(factory) as session:
        assert [e["kind"] for e in assignment(session, case_no).clock_events] == ["start"]
    assert events(factory, "routing.clock_paused") == []


# --- returns ---------------------------------------------------------------------------------


def test_a_returned_case_is_resolved_again_without_the_office_that_returned_it(factory):
    case_no = assign(factory, complaint("TJ-2026-000141"))
    give_back(factory, case_no, MONDAY + timedelta(days=1))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.status == "assigned"
        assert a.node_id == PINGAN_HEAD  # the Tianjin branch is passed over, the head office fits
        assert a.returns == 1
        assert a.tier_reason.startswith(f"returned by {PINGAN_TJ}")
        assert a.route_history[0]["node_id"] == PINGAN_TJ
        assert a.route_history[0]["reason"] == "非本机构业务"
        assert [e["kind"] for e in a.clock_events] == ["start", "stop", "restart"]
        assert a.last_day == LAST_DAY_15 + timedelta(days=1)  # the new office's own 15 days
    [returned] = events(factory, "routing.case_returned")
    assert (returned["node_id"], returned["returns"]) == (PINGAN_TJ, 1)
    reassigned = events(factory, "routing.case_assigned")[-1]
    assert (reassigned["node_id"], reassigned["reassigned"]) == (PINGAN_HEAD, True)


def test_a_hint_given_with_a_return_is_used_to_resolve_the_case_again(factory):
    case_no = assign(factory, complaint("TJ-2026-000142", "平安人寿武清支公司"))
    give_back(factory, case_no, MONDAY + timedelta(days=1), hint="平安人寿宝坻支公司")
    with db.session_scope(factory) as session:
        assert assignment(session, case_no).node_id == BAODI


def test_an_office_that_returned_a_case_no_longer_sees_it(factory):
    case_no = assign(factory, complaint("TJ-2026-000143", "平安人寿武清支公司"))
    with db.session_scope(factory) as session:
        assert store.visible_assignment(session, case_no, {WUQING}).node_id == WUQING
    give_back(factory, case_no, MONDAY + timedelta(days=1), hint="平安人寿宝坻支公司")
    with db.session_scope(factory) as session:
        with pytest.raises(CaseNotFound):
            store.visible_assignment(session, case_no, {WUQING})
        assert store.visible_assignment(session, case_no, {BAODI}).node_id == BAODI
        subtree = store.current_directory(session).subtree(PINGAN_TJ)
        assert store.visible_assignment(session, case_no, subtree).node_id == BAODI


def test_a_big_claim_returned_by_the_branch_does_not_go_back_to_that_branch(factory):
    # ¥80,000 against the Wuqing sub-branch: the big_claim rule hands it to the Tianjin branch.
    case_no = assign(
        factory, complaint("TJ-2026-000144", "平安人寿武清支公司", amount_in_dispute_fen=8_000_000)
    )
    with db.session_scope(factory) as session:
        assert assignment(session, case_no).node_id == PINGAN_TJ
    give_back(factory, case_no, MONDAY + timedelta(days=1))
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        # The branch said it is not theirs: handing it straight back to them is a bounce.
        assert a.node_id != PINGAN_TJ, a.tier_reason


def test_the_third_return_sends_the_case_to_the_routing_desk_which_restarts_the_clock(factory):
    case_no = assign(factory, complaint("TJ-2026-000145", "平安人寿武清支公司"))
    give_back(factory, case_no, MONDAY + timedelta(days=1), hint="平安人寿宝坻支公司")
    give_back(factory, case_no, MONDAY + timedelta(days=2), hint="平安人寿滨海新区支公司")
    with db.session_scope(factory) as session:
        assert assignment(session, case_no).node_id == BINHAI
    extend(factory, case_no, 30, MONDAY + timedelta(days=3))  # the Binhai office took more time
    give_back(factory, case_no, MONDAY + timedelta(days=4), hint="平安人寿天津分公司")
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.status == "needs_routing"
        assert a.node_id is None
        assert a.returns == 3
        assert a.queue_reason == "returned 3 times (limit 2)"
        assert [h["node_id"] for h in a.route_history] == [WUQING, BAODI, BINHAI]
        with pytest.raises(CaseNotFound):
            store.visible_assignment(session, case_no, {BINHAI})
    [desk] = events(factory, "routing.case_needs_routing")
    assert desk["why"] == "returned 3 times (limit 2)"

    routed_at = MONDAY + timedelta(days=4, hours=2)
    with db.session_scope(factory) as session:
        store.route_by_desk(session, case_no, PINGAN_TJ, "分公司统一处理", "desk.zhang", routed_at)
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert (a.status, a.node_id) == ("assigned", PINGAN_TJ)
        assert a.clock_events[-1]["kind"] == "restart"
        assert a.limit_days == 15  # the extension was Binhai's; the branch starts afresh
        assert a.last_day == date(2026, 7, 25)  # 15 days from Friday 07-10
        assert a.tier_reason == "routed by the desk (desk.zhang): 分公司统一处理"
        assert a.queue_reason == ""
    last = events(factory, "routing.case_assigned")[-1]
    assert (last["node_id"], last["reassigned"]) == (PINGAN_TJ, True)


# --- the portal's feed -----------------------------------------------------------------------


def test_every_change_to_an_assignment_takes_a_later_place_in_the_feed(factory):
    case_no = assign(factory, complaint("TJ-2026-000151"))
    seqs = []

    def seq() -> None:
        with db.session_scope(factory) as session:
            seqs.append(assignment(session, case_no).feed_seq)

    seq()
    act(factory, case_no, store.acknowledge, "wang.li", now=MONDAY + timedelta(hours=2))
    seq()
    assign(factory, complaint("TJ-2026-000152"), MONDAY + timedelta(hours=3))  # another case
    extend(factory, case_no, 30, MONDAY + timedelta(days=1))
    seq()
    pause(factory, case_no, MONDAY + timedelta(days=2))
    seq()
    resume(factory, case_no, MONDAY + timedelta(days=4))
    seq()
    answer(factory, case_no, MONDAY + timedelta(days=6))
    seq()
    assert all(later > earlier for earlier, later in itertools.pairwise(seqs)), seqs
    with db.session_scope(factory) as session:
        other = assignment(session, "TJ-2026-000152").feed_seq
    assert seqs[1] < other < seqs[2]


# --- the sweep -------------------------------------------------------------------------------


def test_the_office_is_reminded_once_when_60_percent_of_its_time_has_run(factory):
    case_no = assign(factory, complaint("TJ-2026-000161"))
    at_61 = share(0.61, MONDAY, DEADLINE_15)
    assert sweep(factory, share(0.59, MONDAY, DEADLINE_15)) == []
    assert sweep(factory, at_61) == [
        store.Notice(case_no, PINGAN_TJ, "institution_decision", "60%", "")
    ]
    assert sweep(factory, at_61) == []  # a second sweep at the same instant
    [approaching] = events(factory, "routing.deadline_approaching")
    assert approaching["case_no"] == case_no
    assert approaching["threshold"] == "60%"
    assert approaching["limit_days"] == 15
    assert approaching["last_day"] == "2026-07-21"
    assert notices(factory, case_no) == [(PINGAN_TJ, 15, "60%", "")]


def test_a_missed_deadline_is_escalated_once_to_the_branch_above(factory):
    case_no = assign(factory, complaint("TJ-2026-000162", "平安人寿武清支公司"))
    late = DEADLINE_15 + timedelta(hours=9)
    assert sweep(factory, late) == [
        store.Notice(case_no, WUQING, "institution_decision", "breach", PINGAN_TJ)
    ]
    # Two workers' sweeps one after the other, and a later one: nothing more is sent.
    assert sweep(factory, late) == []
    assert sweep(factory, late + timedelta(hours=1)) == []
    [breached] = events(factory, "routing.deadline_breached")
    assert (breached["case_no"], breached["node_id"]) == (case_no, WUQING)
    assert breached["escalated_to"] == PINGAN_TJ
    # A late sweep sends only the furthest stage, not stale reminders.
    assert events(factory, "routing.deadline_approaching") == []
    assert notices(factory, case_no) == [(WUQING, 15, "breach", PINGAN_TJ)]
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.escalated_to_node_id == PINGAN_TJ
        assert a.status == "assigned"  # still the sub-branch's to answer


def test_a_paused_clock_gets_no_reminders_nor_escalation(factory):
    case_no = assign(factory, complaint("TJ-2026-000163"))
    pause(factory, case_no, MONDAY + timedelta(days=1))
    assert sweep(factory, share(0.61, MONDAY, DEADLINE_15)) == []
    assert sweep(factory, DEADLINE_15 + timedelta(days=1)) == []
    assert events(factory, "routing.deadline_approaching") == []
    assert events(factory, "routing.deadline_breached") == []
    assert notices(factory, case_no) == []


def test_an_extension_after_the_60_percent_reminder_brings_one_for_the_new_limit(factory):
    case_no = assign(factory, complaint("TJ-2026-000164"))
    at_61 = share(0.61, MONDAY, DEADLINE_15)
    assert [n.stage for n in sweep(factory, at_61)] == ["60%"]
    extend(factory, case_no, 30, at_61 + timedelta(hours=1))
    assert sweep(factory, at_61 + timedelta(hours=1)) == []
    # 60% of 30 days has not run yet: the 15-day limit's 80% mark no longer applies either.
    assert sweep(factory, share(0.59, MONDAY, DEADLINE_30)) == []
    assert sweep(factory, share(0.61, MONDAY, DEADLINE_30)) == [
        store.Notice(case_no, PINGAN_TJ, "institution_decision", "60%", "")
    ]
    assert notices(factory, case_no) == [(PINGAN_TJ, 15, "60%", ""), (PINGAN_TJ, 30, "60%", "")]
    approaching = events(factory, "routing.deadline_approaching")
    assert [(e["limit_days"], e["last_day"]) for e in approaching] == [
        (15, "2026-07-21"),
        (30, "2026-08-05"),
    ]


def test_an_office_that_misses_its_restarted_deadline_is_escalated_again(factory):
    case_no = assign(factory, complaint("TJ-2026-000165", "平安人寿武清支公司"))
    first_miss = DEADLINE_15 + timedelta(hours=9)
    assert [n.stage for n in sweep(factory, first_miss)] == ["breach"]
    # The desk moves the overdue case to Baodi, then decides Wuqing must answer after all: the
    # Wuqing office's 15 days start afresh, and it misses them again.
    with db.session_scope(factory) as session:
        store.route_by_desk(session, case_no, BAODI, "", "desk.zhang", first_miss)
    back_at = first_miss + timedelta(hours=1)
    with db.session_scope(factory) as session:
        store.route_by_desk(session, case_no, WUQING, "确属武清支公司", "desk.zhang", back_at)
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert (a.limit_days, a.last_day) == (15, date(2026, 8, 6))
        second_deadline = a.deadline
    sent = sweep(factory, second_deadline + timedelta(hours=9))
    assert sent == [store.Notice(case_no, WUQING, "institution_decision", "breach", PINGAN_TJ)]
    assert len(events(factory, "routing.deadline_breached", case_no)) == 2


def test_the_centre_closing_a_case_stops_the_institutions_clock(factory):
    case_no = assign(factory, complaint("TJ-2026-000171"))
    closed_at = MONDAY + timedelta(days=3)
    with db.session_scope(factory) as session:
        before = assignment(session, case_no).feed_seq
        store.close_by_centre(session, case_no, closed_at)
    with db.session_scope(factory) as session:
        a = assignment(session, case_no)
        assert a.status == "closed"
        assert a.clock_events[-1] == {"kind": "stop", "at": closed_at.isoformat()}
        assert a.next_check_at is None
        assert a.feed_seq > before
        calendar, policy = in_force()
        status = store.clock_status(a, DEADLINE_15 + timedelta(days=1), calendar, policy)
        assert status is not None and status.state == "stopped"
        assert status.within_limit is True
        with pytest.raises(FailedPrecondition, match="closed"):
            store.request_extension(session, a, 30, "案情复杂", "", "wang.li", closed_at)
    assert sweep(factory, DEADLINE_15 + timedelta(days=1)) == []
    assert events(factory, "routing.deadline_breached") == []
