"""Intake's rules: what a new case must carry, its case number, and which clocks its events move."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from services.common.calendar import WorkingCalendar
from services.common.clock import Policy, load_policy
from services.common.errors import InvalidArgument
from services.intake.domain import (
    COMPLAINANT_WINDOWS,
    HistoryItem,
    NewCase,
    case_number,
    clock_effects,
    derive_clocks,
    id_number_valid,
    normalise_phone,
    validate,
)

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Friday
VALID_ID = "11010519491231002X"
WRONG_CHECK_DIGIT_ID = "110105194912310021"


def complaint(**changes: object) -> NewCase:
    """A complaint as the hotline takes it down; tests change one field at a time."""
    base = NewCase(
        kind="complaint",
        channel="hotline",
        name="张三",
        phone="13812345678",
        id_number=VALID_ID,
        region_code="120103",
        institution_text="工行河西支行",
        product="credit_cards",
        summary="信用卡年费未经同意扣收，要求退还。",
        amount_in_dispute_fen=320000,
        received_at=NOW - timedelta(hours=1),
    )
    return dataclasses.replace(base, **changes)


def refused_field(new: NewCase) -> str:
    with pytest.raises(InvalidArgument) as caught:
        validate(new, NOW)
    assert caught.value.field in str(caught.value)
    return caught.value.field


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.load()


# --- validate ---------------------------------------------------------------------------------


def test_a_well_formed_complaint_is_accepted_and_cleaned() -> None:
    cleaned = validate(
        complaint(name="  张三 ", phone="+86 138 1234 5678", id_number="11010519491231002x"), NOW
    )
    assert cleaned.name == "张三"
    assert cleaned.phone == "13812345678"
    assert cleaned.id_number == VALID_ID
    assert cleaned.received_at == NOW - timedelta(hours=1)


def test_a_case_without_a_receipt_time_is_received_now() -> None:
    assert validate(complaint(received_at=None), NOW).received_at == NOW


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "grievance"}, "kind"),
        ({"channel": "fax"}, "channel"),
        ({"name": "   "}, "complainant.name"),
        ({"name": "张" * 51}, "complainant.name"),
        ({"phone": "12345"}, "complainant.phone"),
        ({"phone": "12812345678"}, "complainant.phone"),
        ({"id_number": WRONG_CHECK_DIGIT_ID}, "complainant.id_number"),
        ({"id_number": "1101051949123100"}, "complainant.id_number"),
        ({"region_code": "1201"}, "complainant.region_code"),
        ({"region_code": "天津河西"}, "complainant.region_code"),
        ({"institution_text": "  "}, "institution_text"),
        ({"institution_text": "银" * 201}, "institution_text"),
        ({"summary": " "}, "summary"),
        ({"summary": "扣" * 4001}, "summary"),
        ({"product": "p" * 41}, "product"),
        ({"amount_in_dispute_fen": -1}, "amount_in_dispute_fen"),
        ({"amount_in_dispute_fen": 10**13 + 1}, "amount_in_dispute_fen"),
        ({"received_at": NOW + timedelta(minutes=6)}, "received_at"),
        ({"received_at": datetime(1989, 12, 31, tzinfo=UTC)}, "received_at"),
        ({"received_at": datetime(2026, 11, 20, 9, 0)}, "received_at"),
    ],
    ids=lambda v: v if isinstance(v, str) else next(iter(v)),
)
def test_each_bad_field_is_refused_by_name(changes: dict, field: str) -> None:
    assert refused_field(complaint(**changes)) == field


def test_a_landline_with_area_code_is_a_valid_contact() -> None:
    # Stored in one spelling (no hyphen), so the same landline always hashes the same.
    assert validate(complaint(phone="022-23456789"), NOW).phone == "02223456789"


def test_the_id_number_and_region_are_optional() -> None:
    cleaned = validate(complaint(id_number="", region_code=""), NOW)
    assert (cleaned.id_number, cleaned.region_code) == ("", "")


def test_a_consultation_needs_no_institution() -> None:
    consultation = complaint(kind="consultation", institution_text="")
    assert validate(consultation, NOW).institution_text == ""


def test_a_petition_needs_an_institution_like_a_complaint() -> None:
    assert refused_field(complaint(kind="petition", institution_text="")) == "institution_text"


def test_a_summary_of_exactly_4000_characters_is_accepted() -> None:
    assert len(validate(complaint(summary="扣" * 4000), NOW).summary) == 4000


def test_amounts_from_zero_to_a_hundred_billion_yuan_are_accepted() -> None:
    assert validate(complaint(amount_in_dispute_fen=0), NOW).amount_in_dispute_fen == 0
    assert validate(complaint(amount_in_dispute_fen=10**13), NOW).amount_in_dispute_fen == 10**13


def test_a_receipt_time_a_few_minutes_ahead_is_clock_skew_not_the_future() -> None:
    assert validate(complaint(received_at=NOW + timedelta(minutes=4)), NOW).received_at


def test_a_letter_received_on_new_years_day_1990_is_accepted() -> None:
    first = datetime(1990, 1, 1, tzinfo=UTC)
    assert validate(complaint(received_at=first), NOW).received_at == first


# --- id numbers and phones ----------------------------------------------------------------------


def test_a_resident_id_with_the_right_check_character_is_valid() -> None:
    assert id_number_valid(VALID_ID)


def test_a_resident_id_with_a_wrong_check_digit_is_invalid() -> None:
    assert not id_number_valid(WRONG_CHECK_DIGIT_ID)


@pytest.mark.parametrize(
    "value", ["", "11010519491231002", "1101051949123100201", "11010519491231002Y"]
)
def test_a_malformed_resident_id_is_invalid(value: str) -> None:
    assert not id_number_valid(value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("(022) 23456789", "02223456789"),
        ("022-23456789", "02223456789"),
        ("13812345678", "13812345678"),
    ],
)
def test_phones_are_normalised_to_mainland_digits(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


# --- case numbers -------------------------------------------------------------------------------


def test_the_case_number_carries_the_shanghai_date_of_receipt() -> None:
    # 17:30 UTC on the 20th is 01:30 on the 21st in Shanghai.
    received = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    assert case_number(received, 42) == "XB20261121000042"


def test_the_case_number_keeps_the_same_day_before_shanghai_midnight() -> None:
    assert case_number(datetime(2026, 11, 20, 15, 59, tzinfo=UTC), 1) == "XB20261120000001"


# --- clock effects ------------------------------------------------------------------------------


def as_set(effects: list[dict]) -> set[tuple[str, str]]:
    return {(e["clock"], e["kind"]) for e in effects}


def test_receiving_a_complaint_starts_transfer_forwarding_and_first_contact(policy: Policy) -> None:
    effects = clock_effects(policy, "complaint", "intake.case_received", [])
    assert as_set(effects) == {
        ("centre_transfer", "start"),
        ("regulator_forwarding", "start"),
        ("first_contact", "start"),
    }


def test_a_redelivered_receipt_does_not_start_running_clocks_again(policy: Policy) -> None:
    running = ["centre_transfer", "regulator_forwarding", "first_contact"]
    assert clock_effects(policy, "complaint", "intake.case_received", running) == []


def test_assigning_a_complaint_stops_transfer_and_starts_the_institutions_decision(
    policy: Policy,
) -> None:
    running = ["centre_transfer", "regulator_forwarding", "first_contact"]
    effects = clock_effects(policy, "complaint", "routing.case_assigned", running)
    assert as_set(effects) == {
        ("centre_transfer", "stop"),
        ("regulator_forwarding", "stop"),
        ("institution_decision", "start"),
    }


def test_closing_a_case_stops_every_open_clock(policy: Policy) -> None:
    running = ["first_contact", "institution_decision"]
    effects = clock_effects(policy, "complaint", "intake.case_closed", running)
    assert as_set(effects) == {("first_contact", "stop"), ("institution_decision", "stop")}


def test_the_complainants_review_window_is_never_started(policy: Policy) -> None:
    assert "review_request" in COMPLAINANT_WINDOWS
    effects = clock_effects(policy, "complaint", "routing.case_answered", ["institution_decision"])
    assert as_set(effects) == {("institution_decision", "stop")}
    for event in ("intake.case_received", "routing.case_assigned", "routing.case_answered"):
        started = {e["clock"] for e in clock_effects(policy, "complaint", event, [])}
        assert not started & COMPLAINANT_WINDOWS


def test_a_consultation_starts_no_institution_clock(policy: Policy) -> None:
    for event in ("intake.case_received", "routing.case_assigned", "routing.case_answered"):
        assert clock_effects(policy, "consultation", event, []) == []


# --- derive_clocks ------------------------------------------------------------------------------


def test_a_complaint_received_assigned_and_answered_has_its_clocks_derived(
    policy: Policy, calendar: WorkingCalendar
) -> None:
    received = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Mon 10:00 Shanghai
    assigned = received + timedelta(hours=3)
    answered = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    history: list[HistoryItem] = []
    running: set[str] = set()
    for event, at in (
        ("intake.case_received", received),
        ("routing.case_assigned", assigned),
        ("routing.case_answered", answered),
    ):
        effects = clock_effects(policy, "complaint", event, running)
        for effect in effects:
            (running.add if effect["kind"] == "start" else running.discard)(effect["clock"])
        history.append(HistoryItem(type=event, at=at, clock_effects=effects))

    statuses = {s.name: s for s in derive_clocks(policy, history, calendar, answered)}

    assert sorted(statuses) == [
        "centre_transfer",
        "first_contact",
        "institution_decision",
        "regulator_forwarding",
    ]
    decision = statuses["institution_decision"]
    assert decision.state == "stopped"
    assert decision.started_at == assigned
    assert decision.stopped_at == answered
    assert decision.within_limit is True
    assert decision.limit == 15
    assert str(decision.last_day) == "2026-12-01"  # 15 calendar days after Mon 11-16
    transfer = statuses["centre_transfer"]
    assert (transfer.state, transfer.within_limit) == ("stopped", True)
    forwarding = statuses["regulator_forwarding"]
    assert (forwarding.stopped_at, forwarding.within_limit) == (assigned, True)
    # Nobody recorded the first contact: it ran past its one working day.
    assert statuses["first_contact"].state == "overdue"
    assert statuses["first_contact"].stopped_at is None


def test_full_width_digits_are_not_a_phone_region_or_id_number() -> None:
    assert refused_field(complaint(phone="１３９１２３４５６７８")) == "complainant.phone"
    assert refused_field(complaint(region_code="１２０１０３")) == "complainant.region_code"
    assert refused_field(complaint(id_number="１１０１０５１９４９１２３１００２X")) == (
        "complainant.id_number"
    )
