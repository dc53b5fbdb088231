"""The clock engine: deadlines counted by hand against the 2026 calendar, policy, clock state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.common.calendar import WorkingCalendar
from services.common.clock import (
    DEFAULT_POLICY_FILE,
    ClockEvent,
    ClockSpec,
    Policy,
    check_extension,
    compute_deadline,
    evaluate,
    load_policy,
)
from services.common.errors import ExtensionRefused, FailedPrecondition, InvalidArgument

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. at("2026-03-02 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.load()


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def decision(policy: Policy) -> ClockSpec:
    """The institution's 15-day decision clock (Art 18), pausable, extendable to 30 and 60."""
    return policy.clock("institution_decision")


# --- compute_deadline: calendar days ---------------------------------------------------------


def test_fifteen_calendar_days_do_not_count_the_day_of_receipt(calendar: WorkingCalendar) -> None:
    # Received Mon 03-02: day 1 is 03-03, day 15 is 03-17; the limit runs out at 24:00 that day.
    result = compute_deadline(at("2026-03-02 10:00"), 15, "calendar_days", calendar)
    assert result.last_day == d("2026-03-17")
    assert result.deadline == datetime(2026, 3, 18, 0, 0, tzinfo=SH)
    assert result.provisional is False


def test_time_of_day_of_receipt_does_not_matter(calendar: WorkingCalendar) -> None:
    # A minute past midnight or a minute before: day 1 is the next day either way.
    early = compute_deadline(at("2026-03-02 00:01"), 1, "calendar_days", calendar)
    late = compute_deadline(at("2026-03-02 23:59"), 1, "calendar_days", calendar)
    assert early.last_day == late.last_day == d("2026-03-03")


def test_calendar_days_run_through_the_national_day_holiday(calendar: WorkingCalendar) -> None:
    # Received Mon 09-28: 09-29 is 1, 09-30 is 2, 10-01 is 3 ... 10-13 is 15.
    result = compute_deadline(at("2026-09-28 10:00"), 15, "calendar_days", calendar)
    assert result.last_day == d("2026-10-13")


def test_receipt_late_at_night_utc_is_the_next_day_in_shanghai(calendar: WorkingCalendar) -> None:
    # 2026-03-02 17:30 UTC is 2026-03-03 01:30 in Shanghai: received 03-03, day 1 is 03-04.
    start = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    result = compute_deadline(start, 1, "calendar_days", calendar)
    assert result.last_day == d("2026-03-04")
    assert result.deadline == datetime(2026, 3, 5, 0, 0, tzinfo=SH)


# --- compute_deadline: working days ----------------------------------------------------------


def test_seven_working_days_across_national_day_2026_skip_the_holiday_week(
    calendar: WorkingCalendar,
) -> None:
    # Received Mon 09-28: Tue 09-29 is 1, Wed 09-30 is 2, 10-01..10-07 off, Thu 10-08 is 3,
    # Fri 10-09 is 4, Sat 10-10 (make-up) is 5, Sun 10-11 off, Mon 10-12 is 6, Tue 10-13 is 7.
    result = compute_deadline(at("2026-09-28 10:00"), 7, "working_days", calendar)
    assert result.last_day == d("2026-10-13")
    assert result.deadline == datetime(2026, 10, 14, 0, 0, tzinfo=SH)
    assert result.provisional is False


def test_five_working_days_across_spring_festival_2026_count_the_make_up_saturday(
    calendar: WorkingCalendar,
) -> None:
    # Received Thu 02-12: Fri 02-13 is 1, Sat 02-14 (make-up) is 2, 02-15..02-23 off,
    # Tue 02-24 is 3, Wed 02-25 is 4, Thu 02-26 is 5.
    result = compute_deadline(at("2026-02-12 15:00"), 5, "working_days", calendar)
    assert result.last_day == d("2026-02-26")


def test_a_working_day_limit_can_end_on_the_make_up_saturday_after_spring_festival(
    calendar: WorkingCalendar,
) -> None:
    # Received Wed 02-25: Thu 02-26 is 1, Fri 02-27 is 2, Sat 02-28 (make-up) is 3.
    result = compute_deadline(at("2026-02-25 09:00"), 3, "working_days", calendar)
    assert result.last_day == d("2026-02-28")


def test_receipt_on_a_make_up_saturday_by_shanghai_time_counts_from_the_next_day(
    calendar: WorkingCalendar,
) -> None:
    # 02-13 16:30 UTC is Sat 02-14 00:30 in Shanghai: counting starts 02-15, the holiday runs
    # to 02-23, so working day 1 is Tue 02-24. Taken as Fri 02-13 (UTC) it would be Sat 02-14.
    start = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)
    result = compute_deadline(start, 1, "working_days", calendar)
    assert result.last_day == d("2026-02-24")


def test_same_day_transfer_received_on_a_holiday_is_due_the_first_working_day(
    calendar: WorkingCalendar,
) -> None:
    # Limit 0 (the centre's same-day transfer) on Sat 10-03, inside National Day: due Thu 10-08.
    result = compute_deadline(at("2026-10-03 10:00"), 0, "working_days", calendar)
    assert result.last_day == d("2026-10-08")
    assert result.deadline == datetime(2026, 10, 9, 0, 0, tzinfo=SH)


def test_same_day_transfer_received_on_a_working_day_is_due_that_day(
    calendar: WorkingCalendar,
) -> None:
    assert compute_deadline(at("2026-10-10 16:00"), 0, "working_days", calendar).last_day == d(
        "2026-10-10"  # a make-up Saturday is a working day
    )
    assert compute_deadline(at("2026-10-03 10:00"), 0, "calendar_days", calendar).last_day == d(
        "2026-10-03"  # in calendar days a holiday is just a day
    )


# --- compute_deadline: pauses, rolling, provisional --------------------------------------------


def test_paused_days_are_not_counted(calendar: WorkingCalendar) -> None:
    # Received Mon 03-02, appraisal 03-05..03-09 (5 days) not counted: 03-03 is 1, 03-04 is 2,
    # 03-10 is 3 ... 03-22 is 15.
    pauses = [(d("2026-03-05"), d("2026-03-09"))]
    result = compute_deadline(at("2026-03-02 10:00"), 15, "calendar_days", calendar, pauses)
    assert result.last_day == d("2026-03-22")


def test_a_pause_that_ends_before_it_begins_is_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(InvalidArgument) as err:
        compute_deadline(
            at("2026-03-02 10:00"),
            15,
            "calendar_days",
            calendar,
            [(d("2026-03-09"), d("2026-03-05"))],
        )
    assert err.value.field == "pauses"


def test_a_calendar_deadline_on_a_holiday_stays_put_unless_the_policy_rolls_it(
    calendar: WorkingCalendar,
) -> None:
    # Received Wed 09-16: 09-17 is 1 ... 10-01 is 15, National Day. Rolled: Thu 10-08.
    start = at("2026-09-16 10:00")
    assert compute_deadline(start, 15, "calendar_days", calendar).last_day == d("2026-10-01")
    rolled = compute_deadline(start, 15, "calendar_days", calendar, roll_to_working_day=True)
    assert rolled.last_day == d("2026-10-08")
    assert rolled.deadline == datetime(2026, 10, 9, 0, 0, tzinfo=SH)


def test_rolling_keeps_a_deadline_on_a_make_up_sunday(calendar: WorkingCalendar) -> None:
    # Received Sat 09-05: 09-06 is 1 ... Sun 09-20 is 15, a make-up workday.
    result = compute_deadline(
        at("2026-09-05 10:00"), 15, "calendar_days", calendar, roll_to_working_day=True
    )
    assert result.last_day == d("2026-09-20")


def test_fifteen_working_days_from_2026_12_20_reach_2027_and_are_provisional(
    calendar: WorkingCalendar,
) -> None:
    # Received Sun 12-20: 12-21..12-25 are 1-5, 12-28..12-31 are 6-9, Fri 2027-01-01 is 10 (the
    # 2027 notice is not in the table, so Monday to Friday only), 01-04..01-08 are 11-15.
    result = compute_deadline(at("2026-12-20 10:00"), 15, "working_days", calendar)
    assert result.last_day == d("2027-01-08")
    assert result.provisional is True


def test_five_working_days_from_2026_12_20_end_in_2026_and_are_not_provisional(
    calendar: WorkingCalendar,
) -> None:
    # 12-21..12-25 are 1-5.
    result = compute_deadline(at("2026-12-20 10:00"), 5, "working_days", calendar)
    assert result.last_day == d("2026-12-25")
    assert result.provisional is False


def test_calendar_days_into_2027_need_no_holiday_table_unless_rolled(
    calendar: WorkingCalendar,
) -> None:
    # 12-21 is 1, 12-31 is 11, 2027-01-04 (a Monday) is 15. Only rolling asks the calendar.
    start = at("2026-12-20 10:00")
    plain = compute_deadline(start, 15, "calendar_days", calendar)
    rolled = compute_deadline(start, 15, "calendar_days", calendar, roll_to_working_day=True)
    assert (plain.last_day, plain.provisional) == (d("2027-01-04"), False)
    assert (rolled.last_day, rolled.provisional) == (d("2027-01-04"), True)


@pytest.mark.parametrize(
    ("start", "limit", "unit", "field"),
    [
        (datetime(2026, 3, 2, 10, 0), 15, "calendar_days", "start"),  # naive
        (at("2026-03-02 10:00"), -1, "calendar_days", "limit"),
        (at("2026-03-02 10:00"), 15, "weeks", "unit"),
    ],
    ids=["naive-start", "negative-limit", "unknown-unit"],
)
def test_bad_input_names_the_field(
    calendar: WorkingCalendar, start: datetime, limit: int, unit: str, field: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        compute_deadline(start, limit, unit, calendar)  # type: ignore[arg-type]
    assert err.value.field == field


def test_sixty_working_days_for_every_start_day_of_2026_are_quick(
    calendar: WorkingCalendar,
) -> None:
    first = at("2026-01-01 09:00")
    results = [
        compute_deadline(first + timedelta(days=i), 60, "working_days", calendar)
        for i in range(365)
    ]
    # Received Thu 2026-01-01 (New Year, 01-01..01-03 off): Sun 01-04 (make-up) is 1,
    # Jan 05-09 are 2-6, 12-16 7-11, 19-23 12-16, 26-30 17-21; Feb 02-06 are 22-26, 09-13 27-31,
    # Sat 14 (make-up) 32, 15-23 off, 24-27 are 33-36, Sat 28 (make-up) 37; Mar 02-06 are 38-42,
    # 09-13 43-47, 16-20 48-52, 23-27 53-57, 30 and 31 are 58-59, Wed 04-01 is 60.
    assert results[0].last_day == d("2026-04-01")
    assert all(r.last_day > first.date() for r in results)


# --- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limit", "unit", "article"),
    [
        ("regulator_forwarding", 7, "working_days", "Art 33"),
        ("institution_decision", 15, "calendar_days", "Art 18"),
        ("review_request", 30, "calendar_days", "Art 20"),
        ("review_decision", 30, "calendar_days", "Art 20"),
        ("petition_registration", 15, "calendar_days", "Art 22"),
        ("petition_receipt_notice", 15, "calendar_days", "Art 23"),
        ("petition_transfer_objection", 5, "working_days", "Art 23"),
        ("petition_handling", 60, "calendar_days", "Art 34"),
        ("petition_recheck_request", 30, "calendar_days", "Art 35"),
        ("petition_recheck_reply", 30, "calendar_days", "Art 35"),
        ("petition_review_request", 30, "calendar_days", "Art 36"),
        ("petition_review_opinion", 30, "calendar_days", "Art 36"),
        ("court_referred_mediation", 30, "calendar_days", None),
        ("mediation", 30, "calendar_days", None),
        ("centre_transfer", 0, "working_days", None),
        ("first_contact", 1, "working_days", None),
    ],
)
def test_the_policy_carries_every_limit_of_the_regulations(
    policy: Policy, name: str, limit: int, unit: str, article: str | None
) -> None:
    spec = policy.clock(name)
    assert (spec.limit, spec.unit) == (limit, unit)
    if article is not None:
        assert spec.article == article
    assert spec.source


def test_the_complaint_decision_extends_to_30_then_to_60_with_an_approver(policy: Policy) -> None:
    spec = policy.clock("institution_decision")
    assert [(e.to, e.requires_approver) for e in spec.extensions] == [(30, False), (60, True)]
    assert spec.pausable
    assert spec.applies_to == ("complaint",)
    handling = policy.clock("petition_handling")
    assert [(e.to, e.requires_approver) for e in handling.extensions] == [(90, True)]
    assert handling.applies_to == ("petition",)


def test_the_centre_standards_apply_to_every_kind_of_case(policy: Policy) -> None:
    kinds = ("complaint", "mediation_request", "report", "petition")
    assert policy.clock("first_contact").applies_to == kinds
    assert policy.clock("centre_transfer").applies_to == kinds
    assert policy.clock("first_contact").stop_event == "intake.first_contact_recorded"


def test_policy_switches_and_targets(policy: Policy) -> None:
    assert policy.timezone == "Asia/Shanghai"
    assert policy.roll_calendar_deadlines_to_working_day is False
    assert policy.at_risk_fraction == 0.2
    assert policy.major_complaint_min_people == 20
    assert policy.targets["average_closure"]["value"] == 6
    assert policy.targets["average_closure"]["unit"] == "working_days"
    assert "small_claims_threshold" in policy.targets


def test_an_unknown_clock_is_a_clear_key_error(policy: Policy) -> None:
    with pytest.raises(KeyError, match="no clock 'decison'"):
        policy.clock("decison")


def _policy_with(tmp_path: Path, clock: str, **changes: object) -> Path:
    raw = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    raw["clocks"][clock].update(changes)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("clock", "changes", "expected"),
    [
        ("regulator_forwarding", {"unit": "weeks"}, "clock regulator_forwarding: unit"),
        ("review_request", {"limit": -30}, "clock review_request: limit"),
        (
            "institution_decision",
            {"extensions": [{"to": 30, "article": "a"}, {"to": 30, "article": "b"}]},
            r"clock institution_decision: extensions\[1\].to",
        ),
        (
            "institution_decision",
            {"extensions": [{"to": 10, "article": "a"}]},
            r"clock institution_decision: extensions\[0\].to",
        ),
        ("mediation", {"applies_to": []}, "clock mediation: applies_to"),
        ("mediation", {"limt": 30}, r"clock mediation: \(keys\)"),
    ],
    ids=[
        "unknown-unit",
        "negative-limit",
        "extensions-not-increasing",
        "extension-below-the-limit",
        "no-case-kinds",
        "misspelt-key",
    ],
)
def test_a_malformed_policy_is_refused_naming_the_clock_and_field(
    tmp_path: Path, clock: str, changes: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        load_policy(_policy_with(tmp_path, clock, **changes))


def test_env_var_points_the_default_load_at_another_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _policy_with(tmp_path, "mediation", limit=45)
    monkeypatch.setenv("XIAOBAO_POLICY_FILE", str(path))
    assert load_policy().clock("mediation").limit == 45


# --- extensions --------------------------------------------------------------------------------


def test_extension_to_30_needs_a_reason_but_no_approver(decision: ClockSpec) -> None:
    step = check_extension(decision, 15, 30, "needs the bank's call records", "")
    assert step.to == 30
    with pytest.raises(ExtensionRefused, match="reason"):
        check_extension(decision, 15, 30, "  ", "")


def test_extension_to_60_without_an_approver_is_refused(decision: ClockSpec) -> None:
    with pytest.raises(ExtensionRefused, match="approver"):
        check_extension(decision, 30, 60, "especially complex", "")
    assert check_extension(decision, 30, 60, "especially complex", "Branch head Li").to == 60


def test_extension_beyond_60_days_is_refused(decision: ClockSpec) -> None:
    with pytest.raises(ExtensionRefused, match="beyond the 60 days"):
        check_extension(decision, 30, 90, "very complex", "Branch head Li")
    with pytest.raises(ExtensionRefused, match="already at 60 days"):
        check_extension(decision, 60, 90, "very complex", "Branch head Li")


def test_extension_may_not_skip_the_30_day_step(decision: ClockSpec) -> None:
    with pytest.raises(ExtensionRefused, match="next extension is to 30 days"):
        check_extension(decision, 15, 60, "especially complex", "Branch head Li")


def test_a_clock_without_extensions_cannot_be_extended(policy: Policy) -> None:
    with pytest.raises(ExtensionRefused, match="cannot be extended"):
        check_extension(policy.clock("regulator_forwarding"), 7, 14, "busy", "Director Wang")


# --- clock state from the event history ----------------------------------------------------------


def test_a_clock_without_a_start_has_not_started(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    status = evaluate(decision, [], calendar, at("2026-03-05 10:00"), policy)
    assert status.state == "not_started"
    assert status.deadline is None
    stray_stop = [ClockEvent("stop", at("2026-03-04 10:00"))]
    assert evaluate(decision, stray_stop, calendar, at("2026-03-05 10:00"), policy).state == (
        "not_started"
    )


def test_a_running_decision_clock_is_ok_early_on(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    events = [ClockEvent("start", at("2026-03-02 10:00"))]
    status = evaluate(decision, events, calendar, at("2026-03-05 10:00"), policy)
    assert status.state == "ok"
    assert status.last_day == d("2026-03-17")  # 03-03 is day 1, 03-17 day 15
    assert status.deadline == datetime(2026, 3, 18, 0, 0, tzinfo=SH)
    assert status.within_limit is None
    assert status.elapsed_days == 3.0
    assert status.article == "Art 18"


def test_the_last_fifth_of_the_time_is_at_risk(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # Started 03-02 10:00, deadline 03-18 00:00: 15 d 14 h; a fifth is 3 d 2 h 48 min, so at risk
    # from 03-14 21:12.
    events = [ClockEvent("start", at("2026-03-02 10:00"))]
    assert evaluate(decision, events, calendar, at("2026-03-14 21:00"), policy).state == "ok"
    assert evaluate(decision, events, calendar, at("2026-03-14 21:30"), policy).state == "at_risk"
    assert evaluate(decision, events, calendar, at("2026-03-17 23:59"), policy).state == "at_risk"


def test_at_midnight_after_the_last_day_the_clock_is_overdue(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    events = [ClockEvent("start", at("2026-03-02 10:00"))]
    status = evaluate(decision, events, calendar, at("2026-03-18 00:00"), policy)
    assert status.state == "overdue"
    assert status.within_limit is None


def test_a_same_day_clock_is_at_risk_for_its_whole_last_day(
    policy: Policy, calendar: WorkingCalendar
) -> None:
    # Same-day transfer received Mon 03-02 10:00: deadline 03-03 00:00, 14 h away. A fifth of
    # that is under 3 h; the one-day floor makes it at risk from the start.
    events = [ClockEvent("start", at("2026-03-02 10:00"))]
    status = evaluate(
        policy.clock("centre_transfer"), events, calendar, at("2026-03-02 11:00"), policy
    )
    assert status.last_day == d("2026-03-02")
    assert status.state == "at_risk"


def test_an_answer_before_midnight_of_the_last_day_is_within_the_limit(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    start = ClockEvent("start", at("2026-03-02 10:00"))
    in_time = [start, ClockEvent("stop", at("2026-03-17 23:59"))]
    late = [start, ClockEvent("stop", at("2026-03-18 00:00"))]
    status = evaluate(decision, in_time, calendar, at("2026-04-30 10:00"), policy)
    assert (status.state, status.within_limit) == ("stopped", True)
    assert status.stopped_at == at("2026-03-17 23:59")
    assert status.elapsed_days == pytest.approx(15 + 13.98 / 24, abs=1e-3)  # to 23:59, not now
    status = evaluate(decision, late, calendar, at("2026-04-30 10:00"), policy)
    assert (status.state, status.within_limit) == ("stopped", False)


def test_an_appraisal_pause_moves_the_deadline(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # Paused Wed 03-04 15:00, resumed Mon 03-09 10:00: 03-05..03-09 not counted (the day the pause
    # begins counts, the day it ends does not). 03-03 is 1, 03-04 is 2, 03-10 is 3, 03-22 is 15.
    events = [
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("pause", at("2026-03-04 15:00"), reason="outside appraisal"),
        ClockEvent("resume", at("2026-03-09 10:00")),
    ]
    status = evaluate(decision, events, calendar, at("2026-03-10 10:00"), policy)
    assert status.paused_days == ((d("2026-03-05"), d("2026-03-09")),)
    assert status.last_day == d("2026-03-22")


def test_an_open_pause_pushes_the_deadline_a_day_for_every_day_it_lasts(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # Paused Wed 03-04 15:00 and still paused. On 03-06, 03-05..03-06 are out: 03-07 is day 3,
    # day 15 is 03-19. A day later 03-05..03-07 are out and day 15 is 03-20.
    events = [
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("pause", at("2026-03-04 15:00"), reason="outside appraisal"),
    ]
    on_6th = evaluate(decision, events, calendar, at("2026-03-06 12:00"), policy)
    on_7th = evaluate(decision, events, calendar, at("2026-03-07 12:00"), policy)
    assert on_6th.paused_days == ((d("2026-03-05"), d("2026-03-06")),)
    assert on_6th.last_day == d("2026-03-19")
    assert on_7th.last_day == d("2026-03-20")


def test_a_clock_the_policy_does_not_let_pause_refuses_a_pause(
    policy: Policy, calendar: WorkingCalendar
) -> None:
    events = [
        ClockEvent("start", at("2026-09-28 10:00")),
        ClockEvent("pause", at("2026-09-29 10:00"), reason="appraisal"),
    ]
    with pytest.raises(FailedPrecondition, match="cannot be paused"):
        evaluate(policy.clock("regulator_forwarding"), events, calendar, at("2026-09-30"), policy)


def test_extensions_15_to_30_to_60_move_the_deadline(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # From 03-02: 30 days end 04-01 (03-31 is day 29); 60 days end 05-01 (04-01 plus 30).
    events = [
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("extend", at("2026-03-12 10:00"), limit=30, reason="needs call records"),
    ]
    status = evaluate(decision, events, calendar, at("2026-03-13 10:00"), policy)
    assert (status.limit, status.last_day) == (30, d("2026-04-01"))
    assert status.article.startswith("Art 18")
    events.append(
        ClockEvent(
            "extend", at("2026-03-28 10:00"), limit=60, reason="especially complex", approver="Li"
        )
    )
    status = evaluate(decision, events, calendar, at("2026-03-29 10:00"), policy)
    assert (status.limit, status.last_day) == (60, d("2026-05-01"))


def test_a_recorded_extension_beyond_60_days_is_refused(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    events = [
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("extend", at("2026-03-12 10:00"), limit=30, reason="complex"),
        ClockEvent("extend", at("2026-03-28 10:00"), limit=60, reason="very", approver="Li"),
        ClockEvent("extend", at("2026-04-20 10:00"), limit=90, reason="still", approver="Li"),
    ]
    with pytest.raises(ExtensionRefused, match="90"):
        evaluate(decision, events, calendar, at("2026-04-21 10:00"), policy)


def test_a_repeat_complaint_with_new_facts_restarts_the_clock_afresh(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # Art 15: restarted Wed 04-01 09:00 with the base 15 days and no pause: 04-02 is 1, 04-16 is 15.
    events = [
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("pause", at("2026-03-04 15:00"), reason="appraisal"),
        ClockEvent("resume", at("2026-03-09 10:00")),
        ClockEvent("extend", at("2026-03-12 10:00"), limit=30, reason="complex"),
        ClockEvent("stop", at("2026-03-20 10:00")),
        ClockEvent("restart", at("2026-04-01 09:00"), reason="new facts"),
    ]
    status = evaluate(decision, events, calendar, at("2026-04-02 10:00"), policy)
    assert status.started_at == at("2026-04-01 09:00")
    assert (status.stopped_at, status.limit, status.paused_days) == (None, 15, ())
    assert status.last_day == d("2026-04-16")
    assert status.state == "ok"


def test_events_are_applied_in_time_order_whatever_order_they_arrive_in(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    events = [
        ClockEvent("resume", at("2026-03-09 10:00")),
        ClockEvent("start", at("2026-03-02 10:00")),
        ClockEvent("pause", at("2026-03-04 15:00"), reason="appraisal"),
    ]
    status = evaluate(decision, events, calendar, at("2026-03-10 10:00"), policy)
    assert status.last_day == d("2026-03-22")  # as with the pause in order: 03-05..03-09 out


def test_a_holiday_table_correction_recomputes_an_open_clock(
    policy: Policy, calendar: WorkingCalendar
) -> None:
    # The forwarding clock from Mon 09-28 ends Tue 10-13 (7 working days). If the table is
    # corrected to make Mon 10-12 a day off, day 6 becomes 10-13 and day 7 Wed 10-14.
    spec = policy.clock("regulator_forwarding")
    events = [ClockEvent("start", at("2026-09-28 10:00"))]
    now = at("2026-09-30 10:00")
    assert evaluate(spec, events, calendar, now, policy).last_day == d("2026-10-13")
    corrected = dataclasses.replace(calendar, holidays=calendar.holidays | {d("2026-10-12")})
    assert evaluate(spec, events, corrected, now, policy).last_day == d("2026-10-14")


def test_a_forwarding_clock_running_into_2027_is_provisional(
    policy: Policy, calendar: WorkingCalendar
) -> None:
    # Mon 12-28: 12-29, 12-30, 12-31 are 1-3, Fri 2027-01-01 is 4 (no 2027 table), 01-04..01-06
    # are 5-7.
    spec = policy.clock("regulator_forwarding")
    events = [ClockEvent("start", at("2026-12-28 10:00"))]
    status = evaluate(spec, events, calendar, at("2026-12-29 10:00"), policy)
    assert (status.last_day, status.provisional) == (d("2027-01-06"), True)


def test_the_policy_switch_rolls_a_clock_ending_on_a_holiday(
    decision: ClockSpec, calendar: WorkingCalendar, policy: Policy
) -> None:
    # Started Wed 09-16: day 15 is 10-01. With the switch on it moves to Thu 10-08.
    events = [ClockEvent("start", at("2026-09-16 10:00"))]
    now = at("2026-09-17 10:00")
    assert evaluate(decision, events, calendar, now, policy).last_day == d("2026-10-01")
    rolling = dataclasses.replace(policy, roll_calendar_deadlines_to_working_day=True)
    assert evaluate(decision, events, calendar, now, rolling).last_day == d("2026-10-08")


def test_the_in_force_generation_changes_only_when_the_policy_in_force_changes(
    tmp_path, monkeypatch
):
    from services.common import clock

    clock.forget_in_force()
    before = clock.in_force_generation()
    assert clock.in_force_generation() == before  # nothing changed
    edited = tmp_path / "policy.yaml"
    edited.write_text(
        clock.DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace(
            'version: "2026.1"', 'version: "2026.1-edited"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv(clock.POLICY_FILE_ENV, str(edited))
    assert clock.in_force()[1].version == "2026.1-edited"
    assert clock.in_force_generation() == before + 1
    monkeypatch.delenv(clock.POLICY_FILE_ENV)
    clock.forget_in_force()
    assert clock.in_force_generation() > before + 1  # back to the packaged policy: a change
