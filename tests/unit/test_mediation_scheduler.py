"""The mediation scheduler: each constraint on a tiny problem, input validation, the MIP against
greedy, validate_plan on a broken plan, and the schedule-batch command."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.mediation import scheduler as sch
from services.mediation.batch import schedule_batch

# Monday 7 December 2026 in Shanghai; the plan is made on the Friday before.
MON = "2026-12-07"
TUE = "2026-12-08"


def t(day: str, hhmm: str) -> str:
    return f"{day}T{hhmm}:00+08:00"


def win(day: str, a: str, b: str) -> dict:
    return {"start": t(day, a), "end": t(day, b)}


def request(rid: str = "R1", **over) -> dict:
    r = {
        "id": rid,
        "deadline": t(TUE, "18:00"),
        "skills": ["banking"],
        "institution": "bank-a",
        "form": "any",
        "duration_minutes": 60,
        "availability": [win(MON, "09:00", "12:00"), win(TUE, "09:00", "12:00")],
    }
    r.update(over)
    return r


def mediator(mid: str = "M1", **over) -> dict:
    m = {
        "id": mid,
        "skills": ["banking", "life"],
        "conflicts": [],
        "max_per_day": 4,
        "availability": [win(MON, "09:00", "17:30"), win(TUE, "09:00", "17:30")],
    }
    m.update(over)
    return m


def venue(vid: str = "V1", form: str = "onsite", **over) -> dict:
    v = {
        "id": vid,
        "form": form,
        "availability": [win(MON, "09:00", "17:30"), win(TUE, "09:00", "17:30")],
    }
    v.update(over)
    return v


def problem(requests=None, mediators=None, venues=None) -> dict:
    return {
        "horizon": {"start": t(MON, "00:00"), "end": t("2026-12-09", "00:00")},
        "now": t("2026-12-04", "17:00"),
        "slot_minutes": 30,
        "requests": requests if requests is not None else [request()],
        "mediators": mediators if mediators is not None else [mediator()],
        "venues": venues if venues is not None else [venue()],
    }


def plan_both(raw: dict) -> list[sch.Plan]:
    p = sch.parse_problem(raw)
    plans = [sch.greedy(p), sch.solve(p, time_limit=5)]
    for plan in plans:
        assert sch.validate_plan(p, plan) == []
    return plans


def only(plan: sch.Plan) -> sch.Assignment:
    assert len(plan.assignments) == 1, plan
    return plan.assignments[0]


def reason(plan: sch.Plan, rid: str) -> str:
    return dict(plan.unscheduled)[rid]


def test_a_plain_request_gets_the_earliest_slot():
    for plan in plan_both(problem()):
        a = only(plan)
        assert (a.mediator, a.venue, a.start.isoformat()) == ("M1", "V1", t(MON, "09:00"))
        assert a.end.isoformat() == t(MON, "10:00")


def test_a_mediator_without_the_skills_is_not_chosen():
    raw = problem(mediators=[mediator("M1", skills=["life"]), mediator("M2", skills=["banking"])])
    for plan in plan_both(raw):
        assert only(plan).mediator == "M2"
    raw = problem(mediators=[mediator("M1", skills=["life"])])
    for plan in plan_both(raw):
        assert reason(plan, "R1") == sch.REASON_SKILLS


def test_a_mediator_conflicted_with_the_institution_is_not_chosen():
    raw = problem(mediators=[mediator("M1", conflicts=["bank-a"]), mediator("M2")])
    for plan in plan_both(raw):
        assert only(plan).mediator == "M2"
    raw = problem(mediators=[mediator("M1", conflicts=["bank-a"])])
    for plan in plan_both(raw):
        assert reason(plan, "R1") == sch.REASON_CONFLICT


def test_the_form_must_match_and_any_takes_either():
    venues = [venue("V1", "onsite"), venue("V2", "online")]
    for plan in plan_both(problem([request(form="online")], venues=venues)):
        assert only(plan).venue == "V2"
    for plan in plan_both(problem([request(form="onsite")], venues=venues[1:])):
        assert reason(plan, "R1") == sch.REASON_FORM
    for plan in plan_both(problem([request(form="any")], venues=venues[1:])):
        assert only(plan).venue == "V2"


@pytest.mark.parametrize("who", ["request", "mediator", "venue"])
def test_every_party_must_be_available(who):
    # The one party free only on Tuesday afternoon decides the slot.
    late = [win(TUE, "14:00", "16:00")]
    both = [*request()["availability"], *late]
    raw = problem(
        [request(availability=late if who == "request" else both)],
        [mediator(availability=late) if who == "mediator" else mediator()],
        [venue(availability=late) if who == "venue" else venue()],
    )
    for plan in plan_both(raw):
        assert only(plan).start.isoformat() == t(TUE, "14:00")


def test_nothing_after_the_deadline_or_before_the_notice():
    # The request is only free on Tuesday morning, its deadline is Monday evening.
    raw = problem([request(deadline=t(MON, "18:00"), availability=[win(TUE, "09:00", "12:00")])])
    for plan in plan_both(raw):
        assert reason(plan, "R1") == sch.REASON_AVAILABILITY
    # Made on Monday 08:00: Monday is inside the 24 h notice, Tuesday 09:00 is the first slot.
    raw = problem()
    raw["now"] = t(MON, "08:00")
    for plan in plan_both(raw):
        assert only(plan).start.isoformat() == t(TUE, "09:00")


def test_a_mediator_needs_the_buffer_between_two_sessions():
    raw = problem(
        [request("R1"), request("R2")],
        venues=[venue("V1"), venue("V2")],
    )
    for plan in plan_both(raw):
        a, b = sorted(plan.assignments, key=lambda a: a.start)
        assert a.end.isoformat() == t(MON, "10:00")
        # 15 min buffer on a 30 min grid: the next session starts at 10:30, not 10:00.
        assert b.start.isoformat() == t(MON, "10:30")


def test_a_venue_holds_one_session_at_a_time():
    raw = problem([request("R1"), request("R2")], [mediator("M1"), mediator("M2")])
    for plan in plan_both(raw):
        a, b = sorted(plan.assignments, key=lambda a: a.start)
        assert a.venue == b.venue == "V1"
        assert b.start >= a.end


def test_a_mediator_takes_no_more_than_max_per_day():
    one_day = [win(MON, "09:00", "17:30")]
    reqs = [request(f"R{i}", availability=one_day) for i in range(3)]
    raw = problem(reqs, [mediator(max_per_day=2)], [venue("V1"), venue("V2")])
    for plan in plan_both(raw):
        assert len(plan.assignments) == 2
        assert [why for _, why in plan.unscheduled] == [sch.REASON_CAPACITY]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r["requests"][0].pop("deadline"), "requests[0].deadline: missing"),
        (lambda r: r["requests"][0].update(deadline="2026-12-08T18:00"), "requests[0].deadline"),
        (lambda r: r["requests"][0].update(deadline="tomorrow"), "requests[0].deadline"),
        (lambda r: r["requests"][0].update(form="phone"), "requests[0].form"),
        (lambda r: r["requests"][0].update(duration_minutes=0), "requests[0].duration_minutes"),
        (
            lambda r: r["requests"][0]["availability"].append(win(MON, "12:00", "11:00")),
            "requests[0].availability[2].end",
        ),
        (lambda r: r["requests"].append(request("R1")), "requests[1].id: duplicate"),
        (lambda r: r["mediators"][0].update(max_per_day=-1), "mediators[0].max_per_day"),
        (lambda r: r["venues"][0].update(form="any"), "venues[0].form"),
        (lambda r: r.pop("slot_minutes"), "slot_minutes: missing"),
        (lambda r: r["horizon"].update(end=t(MON, "00:00")), "horizon.end"),
    ],
)
def test_malformed_input_names_the_field(mutate, field):
    raw = copy.deepcopy(problem())
    mutate(raw)
    with pytest.raises(ValueError) as caught:
        sch.parse_problem(raw)
    assert str(caught.value).startswith(field), caught.value


def test_durations_not_a_multiple_of_the_slot_round_up():
    raw = problem([request("R1", duration_minutes=45), request("R2", duration_minutes=45)])
    for plan in plan_both(raw):
        a, b = sorted(plan.assignments, key=lambda a: a.start)
        assert a.end.isoformat() == t(MON, "09:45")
        assert b.start.isoformat() == t(MON, "10:30")


def test_the_mip_schedules_more_than_greedy_where_greedy_is_short_sighted():
    # R1 (earlier deadline) is free all morning, R2 only 09:00-10:00. Greedy gives R1 the 09:00
    # slot of the only venue and R2 is left out; the MIP moves R1 to 10:00.
    reqs = [
        request("R1", deadline=t(MON, "18:00"), availability=[win(MON, "09:00", "12:00")]),
        request("R2", availability=[win(MON, "09:00", "10:00")]),
    ]
    raw = problem(reqs, [mediator("M1"), mediator("M2")])
    p = sch.parse_problem(raw)
    g, m = sch.greedy(p), sch.solve(p, time_limit=5)
    assert sch.validate_plan(p, g) == sch.validate_plan(p, m) == []
    assert len(g.assignments) == 1
    assert len(m.assignments) == 2
    assert m.solver == "mip"


def test_validate_plan_catches_a_broken_plan():
    raw = problem(
        [request("R1"), request("R2", institution="bank-b")],
        [mediator("M1", conflicts=["bank-b"]), mediator("M2")],
    )
    p = sch.parse_problem(raw)
    plan = sch.solve(p, time_limit=5)
    assert sch.validate_plan(p, plan) == []
    first = plan.assignments[0]
    broken = sch.Plan(
        assignments=[
            first,
            replace(first, request="R2", mediator="M1"),  # same slot, same venue, conflicted
        ],
        unscheduled=[],
    )
    errors = sch.validate_plan(p, broken)
    assert any("conflicted" in e for e in errors)
    assert any("lack the buffer" in e for e in errors)
    assert any("V1" in e and "overlap" in e for e in errors)


def test_replan_keeps_what_it_can_and_moves_a_missing_mediators_sessions():
    raw = problem(
        [request("R1"), request("R2"), request("R3")],
        [mediator("M1"), mediator("M2")],
        [venue("V1"), venue("V2")],
    )
    p = sch.parse_problem(raw)
    before = sch.solve(p, time_limit=5)
    assert len(before.assignments) == 3
    after = sch.replan(p, before, cancelled_request_ids=["R3"], unavailable_mediators=["M2"])
    assert dict(after.unscheduled)["R3"] == sch.REASON_CANCELLED
    assert {a.request for a in after.assignments} == {"R1", "R2"}
    assert all(a.mediator == "M1" for a in after.assignments)
    kept = {a for a in before.assignments if a.mediator == "M1" and a.request != "R3"}
    assert kept <= set(after.assignments)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("schedule-batch")(schedule_batch)
    app.command("noop")(lambda: None)  # two commands keep the sub-command name in the CLI
    return app


def test_schedule_batch_writes_the_plan(tmp_path: Path):
    src, dst = tmp_path / "problem.json", tmp_path / "plan.json"
    src.write_text(json.dumps(problem()), encoding="utf-8")
    result = CliRunner().invoke(
        _cli(), ["schedule-batch", "--input", str(src), "--output", str(dst), "--time-limit", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "scheduled 1/1" in result.output
    plan = json.loads(dst.read_text(encoding="utf-8"))
    assert plan["assignments"][0]["start"] == t(MON, "09:00")
    assert plan["unscheduled"] == []


def test_schedule_batch_names_the_bad_field_and_exits_2(tmp_path: Path):
    raw = problem()
    raw["requests"][0]["form"] = "phone"
    src = tmp_path / "problem.json"
    src.write_text(json.dumps(raw), encoding="utf-8")
    result = CliRunner().invoke(
        _cli(), ["schedule-batch", "--input", str(src), "--output", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 2
    assert "requests[0].form" in result.output
    assert not (tmp_path / "p.json").exists()


def test_replan_does_not_keep_a_session_its_mediator_can_no_longer_attend() -> None:
    """An assignment kept by replan must still fit: here its mediator's day was taken away."""
    from services.mediation.scheduler import Mediator, Plan, Problem, parse_problem, replan, solve

    raw = {
        "horizon": {"start": "2026-12-02T09:00+08:00", "end": "2026-12-04T18:00+08:00"},
        "now": "2026-12-01T09:00+08:00",
        "slot_minutes": 30,
        "requests": [
            {
                "id": "r1",
                "deadline": "2026-12-04T18:00+08:00",
                "skills": [],
                "institution": "x",
                "form": "any",
                "duration_minutes": 60,
                "availability": [
                    {"start": "2026-12-02T09:00+08:00", "end": "2026-12-04T18:00+08:00"}
                ],
            }
        ],
        "mediators": [
            {
                "id": "m1",
                "skills": [],
                "conflicts": [],
                "max_per_day": 3,
                "availability": [
                    {"start": "2026-12-02T09:00+08:00", "end": "2026-12-02T17:00+08:00"},
                    {"start": "2026-12-03T09:00+08:00", "end": "2026-12-03T17:00+08:00"},
                ],
            }
        ],
        "venues": [
            {
                "id": "v1",
                "form": "online",
                "availability": [
                    {"start": "2026-12-02T09:00+08:00", "end": "2026-12-04T18:00+08:00"}
                ],
            }
        ],
    }
    problem = parse_problem(raw)
    first = solve(problem, time_limit=5)
    (kept,) = first.assignments
    assert kept.start.day == 2
    # m1 falls ill on Wednesday: only Thursday is left.
    m1 = problem.mediators[0]
    sick = Problem(
        problem.horizon,
        problem.slot_minutes,
        problem.requests,
        (Mediator(m1.id, m1.skills, m1.conflicts, m1.max_per_day, m1.availability[1:]),),
        problem.venues,
        problem.now,
    )
    again = replan(sick, Plan(assignments=[kept]), time_limit=5)
    (moved,) = again.assignments
    assert moved.start.day == 3
