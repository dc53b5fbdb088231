"""Tiered assignment: small matters stay at the sub-branch, big ones go up (the routing policy)."""

from __future__ import annotations

import copy
import os
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.routing.domain import DirectoryNode, parse_directory
from services.routing.tiers import (
    DEFAULT_ROUTING_POLICY_FILE,
    CaseFacts,
    RoutingPolicy,
    ScorecardThresholds,
    apply_tiers,
    birth_date,
    is_elderly,
    load_routing_policy,
    parse_routing_policy,
)


def office(
    id: str, parent: str | None, level: int, name: str = "", active: bool = True
) -> DirectoryNode:
    return DirectoryNode(
        id=id,
        parent_id=parent,
        name=name or id,
        aliases=(),
        kind="bank",
        region_code="120000",
        product_lines=(),
        active=active,
        level=level,
    )


# A bank in Tianjin: head office → Tianjin branch → Hexi sub-branch → an outlet on Youyi Road.
BANK = office("bank", None, 0, "某银行总行")
TIANJIN = office("bank-tj", "bank", 1, "某银行天津分行")
HEXI = office("bank-tj-hexi", "bank-tj", 2, "某银行河西支行")
YOUYI = office("bank-tj-hexi-youyi", "bank-tj-hexi", 3, "某银行友谊路网点")
TREE = {n.id: n for n in (BANK, TIANJIN, HEXI, YOUYI)}


@pytest.fixture(scope="module")
def policy() -> RoutingPolicy:
    return load_routing_policy()


@pytest.fixture
def doc() -> dict:
    return copy.deepcopy(yaml.safe_load(DEFAULT_ROUTING_POLICY_FILE.read_text(encoding="utf-8")))


# --- the packaged policy -----------------------------------------------------------------------


def test_the_packaged_policy_carries_the_centres_defaults(policy: RoutingPolicy) -> None:
    assert [r.name for r in policy.tiers] == [
        "big_claim",
        "major_complaint",
        "elderly",
        "repeat",
        "struggling_office",
    ]
    big = policy.tiers[0]
    assert big.amount_at_least_fen == 5_000_000
    assert big.at_most_level == 1
    assert policy.bounce_limit == 2
    assert policy.notices == (0.6, 0.8)
    assert policy.elderly_age == 60
    assert policy.breach_window_days == 90
    assert policy.scorecard == ScorecardThresholds()
    assert all(r.description for r in policy.tiers)


def test_an_edited_policy_is_picked_up_without_a_restart(tmp_path: Path, doc: dict) -> None:
    path = tmp_path / "routing_policy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert load_routing_policy(path).bounce_limit == 2
    doc["bounce_limit"] = 3
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_routing_policy(str(path)).bounce_limit == 3


def test_a_policy_file_that_is_not_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("tiers: [\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.yaml: not valid YAML"):
        load_routing_policy(path)


# --- refusing a wrong policy -------------------------------------------------------------------


def test_a_policy_with_an_unknown_condition_is_refused_naming_the_rule(doc: dict) -> None:
    doc["tiers"][2]["when"]["disabled"] = True
    with pytest.raises(ValueError, match=r"tier elderly: when: unknown condition \['disabled'\]"):
        parse_routing_policy(doc)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["tiers"][0].pop("at_most_level"),
            r"tier big_claim: \(action\): needs exactly",
        ),
        (lambda d: d["tiers"][0].update(up_levels=1), r"tier big_claim: \(action\): needs exactly"),
        (lambda d: d["tiers"][0].update(at_most_level=-1), r"tier big_claim: at_most_level"),
        (lambda d: d["tiers"][2].update(up_levels=0), r"tier elderly: up_levels"),
        (lambda d: d["tiers"][0]["when"].update(amount_at_least_yuan="lots"), r"amount_at_least"),
        (lambda d: d["tiers"][0]["when"].update(amount_at_least_yuan=0.001), r"to the fen"),
        (lambda d: d["tiers"][1]["when"].update(major=False), r"tier major_complaint: when.major"),
        (lambda d: d["tiers"][1].update(when={}), r"tier major_complaint: when: must be"),
        (lambda d: d["tiers"][1].update(escalate=True), r"tier major_complaint: \(keys\)"),
        (
            lambda d: d["tiers"][4]["when"].pop("breach_window_days"),
            r"tier struggling_office: when.breach_window_days: .* go together",
        ),
        (lambda d: d["tiers"][3].update(name="Repeat!"), r"tiers\[3\]: name"),
        (lambda d: d["tiers"][3].update(name="elderly"), r"tier elderly: name: used by an earlier"),
        (lambda d: d.update(bounce_limit=-1), r"bounce_limit"),
        (lambda d: d.update(notices=[0.8, 0.6]), r"notices: must rise"),
        (lambda d: d.update(notices=[0.5, 1.0]), r"notices: must be a list of fractions"),
        (lambda d: d.update(elderly_age="sixty"), r"elderly_age"),
        (lambda d: d.update(escalation=True), r"unknown keys \['escalation'\]"),
        (lambda d: d.pop("version"), r"version"),
        (
            lambda d: d["scorecard"]["positive"].update(min_timely_rate=1.5),
            r"scorecard.positive.min_timely_rate: must be a fraction",
        ),
        (
            lambda d: d["scorecard"]["negative"].update(breaches_at_least=0),
            r"scorecard.positive.max_breaches: .* both lists",
        ),
        (lambda d: d["scorecard"]["negative"].update(late=1), r"scorecard.negative: unknown"),
    ],
)
def test_a_wrong_policy_is_refused_naming_the_field(doc: dict, edit, message: str) -> None:
    edit(doc)
    with pytest.raises(ValueError, match=message):
        parse_routing_policy(doc)


def test_rules_that_count_breaches_over_different_windows_are_refused(doc: dict) -> None:
    # The caller counts an office's breaches once; a second window would be judged on the wrong count.
    doc["tiers"].append(
        {
            "name": "failing_office",
            "when": {"node_breaches_at_least": 1, "breach_window_days": 30},
            "at_most_level": 1,
        }
    )
    with pytest.raises(ValueError, match=r"tier failing_office: breach_window_days: 30 differs"):
        parse_routing_policy(doc)


def test_a_policy_without_breach_rules_asks_for_no_breach_count(doc: dict) -> None:
    doc["tiers"] = [t for t in doc["tiers"] if "node_breaches_at_least" not in t["when"]]
    assert parse_routing_policy(doc).breach_window_days == 0


# --- where the case goes -----------------------------------------------------------------------


def test_a_small_claim_stays_at_the_sub_branch(policy: RoutingPolicy) -> None:
    decision = apply_tiers(policy, CaseFacts(amount_fen=300_000), HEXI, TREE)
    assert decision.node == HEXI
    assert decision.from_node == HEXI
    assert decision.rules == ()
    assert not decision.moved
    assert "no tier rule applies" in decision.reason


def test_a_big_claim_goes_to_the_municipal_branch(policy: RoutingPolicy) -> None:
    decision = apply_tiers(policy, CaseFacts(amount_fen=8_000_000), YOUYI, TREE)
    assert decision.node == TIANJIN
    assert decision.from_node == YOUYI
    assert decision.rules == ("big_claim",)
    assert "big_claim" in decision.reason and "某银行天津分行" in decision.reason


def test_a_claim_of_exactly_fifty_thousand_yuan_is_a_big_claim(policy: RoutingPolicy) -> None:
    assert apply_tiers(policy, CaseFacts(amount_fen=5_000_000), HEXI, TREE).node == TIANJIN
    assert apply_tiers(policy, CaseFacts(amount_fen=4_999_999), HEXI, TREE).node == HEXI


def test_a_big_claim_at_the_branch_already_stays_there(policy: RoutingPolicy) -> None:
    decision = apply_tiers(policy, CaseFacts(amount_fen=9_000_000), TIANJIN, TREE)
    assert decision.node == TIANJIN
    assert decision.rules == ("big_claim",)
    assert decision.reason.endswith("is senior enough already; stays")


def test_a_major_complaint_goes_to_the_branch(policy: RoutingPolicy) -> None:
    assert apply_tiers(policy, CaseFacts(major=True), YOUYI, TREE).node == TIANJIN


def test_an_elderly_complainants_case_goes_one_level_up(policy: RoutingPolicy) -> None:
    assert apply_tiers(policy, CaseFacts(elderly=True), YOUYI, TREE).node == HEXI
    assert apply_tiers(policy, CaseFacts(elderly=True), HEXI, TREE).node == TIANJIN


def test_a_repeat_complaint_goes_to_the_office_above_the_one_that_answered(
    policy: RoutingPolicy,
) -> None:
    assert apply_tiers(policy, CaseFacts(repeat=True), HEXI, TREE).node == TIANJIN


def test_rules_do_not_add_up_the_most_senior_office_asked_for_wins(policy: RoutingPolicy) -> None:
    both = apply_tiers(policy, CaseFacts(elderly=True, repeat=True), YOUYI, TREE)
    assert both.node == HEXI  # up one, not two
    assert both.rules == ("elderly", "repeat")
    big = apply_tiers(policy, CaseFacts(amount_fen=6_000_000, elderly=True), YOUYI, TREE)
    assert big.node == TIANJIN
    assert big.rules == ("big_claim", "elderly")
    assert big.reason.startswith("big_claim (at most level 1):")


def test_a_node_with_two_breaches_hands_the_next_case_up(policy: RoutingPolicy) -> None:
    assert apply_tiers(policy, CaseFacts(node_breaches=2), HEXI, TREE).node == TIANJIN
    assert apply_tiers(policy, CaseFacts(node_breaches=1), HEXI, TREE).node == HEXI


def test_the_head_office_has_no_office_above_and_keeps_the_case(policy: RoutingPolicy) -> None:
    decision = apply_tiers(policy, CaseFacts(repeat=True, major=True), BANK, TREE)
    assert decision.node == BANK
    assert decision.rules == ("major_complaint", "repeat")
    assert not decision.moved
    assert "has no office above" in decision.reason


def test_an_inactive_branch_is_passed_over_for_the_office_above_it(
    policy: RoutingPolicy,
) -> None:
    closed = {**TREE, "bank-tj": office("bank-tj", "bank", 1, "某银行天津分行", active=False)}
    decision = apply_tiers(policy, CaseFacts(major=True), HEXI, closed)
    assert decision.node == BANK
    assert "passing over inactive bank-tj" in decision.reason


def test_with_no_active_office_above_the_case_stays(policy: RoutingPolicy) -> None:
    closed = {
        **TREE,
        "bank": office("bank", None, 0, active=False),
        "bank-tj": office("bank-tj", "bank", 1, active=False),
    }
    decision = apply_tiers(policy, CaseFacts(major=True), HEXI, closed)
    assert decision.node == HEXI
    assert "no active office above" in decision.reason


def test_the_walk_up_stops_where_the_directory_does(policy: RoutingPolicy) -> None:
    # Only the sub-branch and the outlet are known: the case goes as high as the tree reaches.
    partial = {n.id: n for n in (HEXI, YOUYI)}
    assert apply_tiers(policy, CaseFacts(major=True), YOUYI, partial).node == HEXI


def test_a_big_claim_against_a_tianjin_sub_branch_goes_to_the_tianjin_branch(
    policy: RoutingPolicy,
) -> None:
    directory = Path(DEFAULT_ROUTING_POLICY_FILE).parent / "demo_directory.yaml"
    nodes = parse_directory(yaml.safe_load(directory.read_text(encoding="utf-8")))
    by_id = {n.id: n for n in nodes}
    decision = apply_tiers(policy, CaseFacts(amount_fen=12_000_000), by_id["icbc-tj-hexi"], by_id)
    assert decision.node.id == "icbc-tj"


# --- elderly complainants ----------------------------------------------------------------------


def test_a_resident_id_gives_the_birth_date() -> None:
    assert birth_date("12010319660315123X") == date(1966, 3, 15)
    assert birth_date("120103660315123") == date(1966, 3, 15)  # first-generation, 15 digits
    assert birth_date("1966-03-15") == date(1966, 3, 15)


def test_a_complainant_turns_elderly_on_their_sixtieth_birthday() -> None:
    assert is_elderly("12010319660315123X", date(2026, 3, 15), 60)
    assert not is_elderly("12010319660315123X", date(2026, 3, 14), 60)
    assert is_elderly("1950-01-01", date(2026, 3, 14), 60)


def test_a_leap_day_birthday_counts_from_the_first_of_march_in_other_years() -> None:
    assert not is_elderly("1964-02-29", date(2024, 2, 28), 60)
    assert is_elderly("1964-02-29", date(2024, 2, 29), 60)
    assert not is_elderly("1964-02-29", date(2025, 2, 28), 61)
    assert is_elderly("1964-02-29", date(2025, 3, 1), 61)
    assert not is_elderly("1966-02-29", date(2026, 2, 28), 60)  # no such date: unknown


@pytest.mark.parametrize(
    "text",
    ["", "unknown", "120103196613151234", "1201031966031512", "15/03/1966", "2099-01-01"],
)
def test_an_unreadable_or_future_birth_date_is_not_elderly(text: str) -> None:
    assert not is_elderly(text, date(2026, 3, 15), 60)
