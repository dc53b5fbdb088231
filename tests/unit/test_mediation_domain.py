"""Mediation's rules without a database: consent, the session lifecycle, the fast track, the
mediation clock (court deadline included), working time and the roster file."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.common.clock import in_force
from services.common.errors import FailedPrecondition, InvalidArgument
from services.mediation import domain

SH = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=SH)


@pytest.fixture()
def mp() -> domain.MediationPolicy:
    return domain.load_mediation_policy()


# --- consent -----------------------------------------------------------------------------------


def test_mediation_waits_for_both_parties() -> None:
    assert domain.consent_decision({}) == "waiting"
    assert domain.consent_decision({"consumer": True}) == "waiting"
    assert domain.consent_decision({"consumer": True, "institution": True}) == "accepted"


def test_either_partys_refusal_ends_the_request() -> None:
    assert domain.consent_decision({"consumer": True, "institution": False}) == "refused"
    assert domain.consent_decision({"consumer": False}) == "refused"


def test_a_party_answers_once_and_only_while_consent_is_awaited() -> None:
    with pytest.raises(FailedPrecondition):
        domain.check_can_consent("awaiting_consent", "consumer", {"consumer": True})
    with pytest.raises(FailedPrecondition):
        domain.check_can_consent("closed", "institution", {})
    with pytest.raises(InvalidArgument, match="party"):
        domain.check_can_consent("awaiting_consent", "court", {})
    domain.check_can_consent("awaiting_consent", "institution", {"consumer": True})


# --- the session lifecycle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ["proposed", "confirmed", "held", "agreement"],
        ["proposed", "confirmed", "held", "no_agreement"],
        ["proposed", "confirmed", "held", "party_absent"],
        ["proposed", "confirmed", "party_absent"],
        ["proposed", "confirmed", "held", "withdrawn"],
        ["proposed", "cancelled"],
        ["proposed", "confirmed", "cancelled"],
    ],
)
def test_session_lifecycle_allows_the_desks_paths(path: list[str]) -> None:
    for current, target in itertools.pairwise(path):
        domain.check_session_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("proposed", "held"),  # a session is confirmed before it is held
        ("proposed", "agreement"),
        ("held", "cancelled"),  # too late to cancel a session that took place
        ("held", "confirmed"),
        ("cancelled", "confirmed"),
        ("agreement", "no_agreement"),  # an outcome is final
    ],
)
def test_invalid_session_transitions_are_refused(current: str, target: str) -> None:
    with pytest.raises(FailedPrecondition, match=f"{current} session cannot become {target}"):
        domain.check_session_transition(current, target)


def test_an_agreement_needs_its_terms_and_only_it_carries_an_amount() -> None:
    with pytest.raises(InvalidArgument, match="terms"):
        domain.check_outcome("agreement", 100_00, " ")
    with pytest.raises(InvalidArgument, match="amount_fen"):
        domain.check_outcome("no_agreement", 100_00, "")
    with pytest.raises(InvalidArgument, match="outcome"):
        domain.check_outcome("refused", 0, "")  # refusal is consent's business, not a session's
    domain.check_outcome("agreement", 100_00, "退还保费一万元")


# --- the fast track ----------------------------------------------------------------------------


def test_small_claims_take_the_fast_track(mp) -> None:
    below = mp.fast_track_below_fen
    assert domain.is_fast_track(below - 1, "consumer", mp)
    assert not domain.is_fast_track(below, "consumer", mp)
    assert not domain.is_fast_track(0, "consumer", mp)  # no amount stated: the normal track
    assert not domain.is_fast_track(100, "court", mp)  # a court's referral keeps its terms


def test_the_fast_track_is_online_unless_on_site_is_asked_for(mp) -> None:
    assert domain.initial_form("any", True, mp) == "online"
    assert domain.initial_form("onsite", True, mp) == "onsite"
    assert domain.initial_form("any", False, mp) == "any"
    with pytest.raises(InvalidArgument, match="preferred_form"):
        domain.initial_form("phone", False, mp)


def test_the_fast_track_runs_a_shorter_clock_from_the_desk_policy(mp) -> None:
    calendar, policy = in_force()
    spec = domain.clock_spec(policy, "consumer", True, mp)
    assert spec.name == "mediation_fast_track"
    assert spec.limit == mp.fast_track_clock_days == 10
    events = [{"kind": "start", "at": TUESDAY.isoformat()}]
    status = domain.clock_status(spec, events, calendar, TUESDAY, policy)
    assert status.last_day == date(2026, 12, 11)
    normal = domain.clock_spec(policy, "consumer", False, mp)
    assert normal.name == "mediation" and normal.limit == 30
    status = domain.clock_status(normal, events, calendar, TUESDAY, policy)
    assert status.last_day == date(2026, 12, 31)


def test_the_courts_own_deadline_wins_over_the_policy_limit(mp) -> None:
    calendar, policy = in_force()
    spec = domain.clock_spec(policy, "court", False, mp)
    assert spec.name == "court_referred_mediation"
    events = [{"kind": "start", "at": TUESDAY.isoformat()}]
    status = domain.clock_status(spec, events, calendar, TUESDAY, policy, date(2026, 12, 20))
    assert status.last_day == date(2026, 12, 20)
    assert status.deadline == datetime(2026, 12, 21, tzinfo=SH)
    assert status.state == "ok"
    late = datetime(2026, 12, 21, 9, 0, tzinfo=SH)
    assert domain.clock_status(spec, events, calendar, late, policy, date(2026, 12, 20)).state == (
        "overdue"
    )
    stopped = [*events, {"kind": "stop", "at": "2026-12-10T10:00:00+08:00"}]
    status = domain.clock_status(spec, stopped, calendar, late, policy, date(2026, 12, 20))
    assert status.state == "stopped" and status.within_limit is True


def test_skills_follow_the_product_and_a_court_needs_a_legal_mediator(mp) -> None:
    assert domain.skills_needed("life", "insurance", "consumer", mp) == {"life"}
    assert domain.skills_needed("credit_cards", "bank", "consumer", mp) == {"banking"}
    assert domain.skills_needed("credit_cards", "bank", "court", mp) == {"banking", "legal"}


# --- working time ------------------------------------------------------------------------------


def test_working_windows_skip_holidays_weekends_and_leave() -> None:
    calendar, policy = in_force()
    # 2026-10-01..07 is the National Day holiday; 10-10 (Saturday) is a make-up working day in
    # the table only if the notice says so, so take a plain week instead: 2026-11-30 Monday.
    windows = domain.working_windows(
        date(2026, 11, 30),
        date(2026, 12, 6),
        "09:00",
        "17:30",
        calendar,
        policy.tz,
        off=[(date(2026, 12, 2), date(2026, 12, 2))],
    )
    days = [a.date() for a, _ in windows]
    assert days == [date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 3), date(2026, 12, 4)]
    assert windows[0][0].hour == 9 and windows[0][1].minute == 30


def test_subtract_cuts_busy_time_out_of_free_windows() -> None:
    a = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
    b = datetime(2026, 12, 1, 17, 0, tzinfo=SH)
    busy = (datetime(2026, 12, 1, 10, 0, tzinfo=SH), datetime(2026, 12, 1, 12, 15, tzinfo=SH))
    assert domain.subtract([(a, b)], [busy]) == [(a, busy[0]), (busy[1], b)]


# --- the roster file ---------------------------------------------------------------------------


def test_the_demo_roster_is_valid() -> None:
    roster = domain.parse_roster(
        (domain.DEFAULT_POLICY_FILE.parent / "demo_roster.yaml").read_text(encoding="utf-8")
    )
    assert {m.id for m in roster.mediators} >= {"med-wang", "med-li"}
    assert {v.kind for v in roster.venues} == {"centre", "court", "online"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mediators:\n  - id: a\n    name: 甲\n    specialities: [cooking]\n", "line 2: mediators"),
        (
            "mediators:\n  - id: a\n    name: 甲\n    specialities: [life]\n"
            "  - id: a\n    name: 乙\n    specialities: [life]\n",
            "line 5: mediators[1].id: duplicate",
        ),
        (
            "venues:\n  - id: r\n    name: 法院调解室\n    kind: court\n",
            "line 2: venues[0].court_name",
        ),
        (
            "mediators:\n  - id: a\n    name: 甲\n    specialities: [life]\n"
            "    max_per_day: 5\n    max_per_week: 2\n",
            "max_per_week",
        ),
        (
            "mediators:\n  - id: a\n    name: 甲\n    specialities: [life]\n    leave:\n"
            "      - from: 2026-12-05\n        to: 2026-12-01\n",
            "line 6: mediators[0].leave[0].to",
        ),
        ("mediators: [\n", "not valid YAML"),
    ],
)
def test_a_bad_roster_is_refused_naming_the_line_and_field(text: str, message: str) -> None:
    with pytest.raises(domain.RosterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        domain.parse_roster(text)


def test_a_broken_desk_policy_names_the_field(tmp_path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("fast_track: {below_fen: -1, clock_days: 10}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"fast_track\.below_fen"):
        domain.load_mediation_policy(bad)
