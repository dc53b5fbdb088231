"""The quarterly institution scorecard (正负面清单): timeliness, roll-ups, the lists, the outputs."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from services.routing.domain import DirectoryNode
from services.routing.scorecard import (
    CSV_COLUMNS,
    Figures,
    Quarter,
    ScoreLine,
    ScoreRow,
    classify,
    compute,
    render,
    write_csv,
)
from services.routing.tiers import ScorecardThresholds, load_routing_policy

SH = ZoneInfo("Asia/Shanghai")
Q3 = Quarter.parse("2026Q3")
BARS = ScorecardThresholds()


def at(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. at("2026-07-02 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def office(id: str, parent: str | None, level: int, name: str) -> DirectoryNode:
    return DirectoryNode(
        id=id,
        parent_id=parent,
        name=name,
        aliases=(),
        kind="bank",
        region_code="120000",
        product_lines=(),
        level=level,
    )


# A bank: head office → Tianjin and Beijing branches → two Tianjin sub-branches.
NODES = [
    office("bank", None, 0, "某银行总行"),
    office("bank-tj", "bank", 1, "某银行天津分行"),
    office("bank-tj-hexi", "bank-tj", 2, "某银行河西支行"),
    office("bank-tj-nankai", "bank-tj", 2, "某银行南开支行"),
    office("bank-bj", "bank", 1, "某银行北京分行"),
    office("insurer", None, 0, "某保险总公司"),
]
AFTER_Q3 = at("2026-10-20 09:00")


def case(
    case_no: str,
    node_id: str = "bank-tj-hexi",
    assigned: str = "2026-07-06 10:00",
    answered: str | None = "2026-07-15 16:00",
    deadline: str | None = "2026-07-22 00:00",
    **more,
) -> ScoreRow:
    """A case assigned on a Monday in July with the 15-day limit running out at 24:00 on 07-21."""
    return ScoreRow(
        case_no=case_no,
        node_id=node_id,
        assigned_at=at(assigned),
        answered_at=at(answered) if answered else None,
        deadline=at(deadline) if deadline else None,
        outcome=more.pop("outcome", "closed_with_explanation" if answered else ""),
        **more,
    )


def line(lines: list[ScoreLine], node_id: str) -> ScoreLine:
    return next(x for x in lines if x.node_id == node_id)


def figures(*rows: ScoreRow, now: datetime = AFTER_Q3) -> Figures:
    return line(compute(rows, NODES, Q3, now, BARS), rows[0].node_id).own


# --- quarters ----------------------------------------------------------------------------------


def test_a_quarter_runs_from_shanghai_midnight_to_the_next_quarters_first_midnight() -> None:
    assert (Q3.year, Q3.q, Q3.label) == (2026, 3, "2026Q3")
    assert Q3.start == at("2026-07-01 00:00")
    assert Q3.end == at("2026-10-01 00:00")
    assert Quarter.parse("2026Q4").end == at("2027-01-01 00:00")
    assert Quarter.parse("2026-q1") == Quarter(2026, 1)


@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "abc", "2026", "Q3 2026", ""])
def test_a_quarter_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"quarter|2026Q3"):
        Quarter.parse(text)


def test_the_quarter_of_a_moment_is_taken_in_shanghai_time() -> None:
    # 2026-06-30 17:00 UTC is 07-01 01:00 in Shanghai: the third quarter.
    assert Quarter.containing(datetime(2026, 6, 30, 17, 0, tzinfo=ZoneInfo("UTC"))) == Q3
    assert Quarter.parse("2026Q1").previous() == Quarter(2025, 4)


# --- timeliness ----------------------------------------------------------------------------------


def test_a_case_answered_before_its_deadline_is_timely() -> None:
    f = figures(case("C1"))
    assert (f.cases, f.answered, f.answered_within_limit, f.overdue_open) == (1, 1, 1, 0)
    assert f.timely_rate == 1.0


def test_a_case_answered_after_its_deadline_is_not_timely() -> None:
    f = figures(case("C1", answered="2026-07-23 10:00"))
    assert (f.answered, f.answered_within_limit) == (1, 0)
    assert f.timely_rate == 0.0


def test_an_answer_at_the_stroke_of_the_deadline_is_late() -> None:
    assert figures(case("C1", answered="2026-07-22 00:00")).answered_within_limit == 0


def test_a_case_still_open_after_the_quarter_whose_deadline_passed_is_not_timely() -> None:
    # Assigned on 09-25, due by 24:00 on 10-10, still unanswered when the scorecard is run on 10-20.
    f = figures(case("C1", assigned="2026-09-25 10:00", answered=None, deadline="2026-10-11 00:00"))
    assert (f.answered, f.overdue_open, f.pending) == (0, 1, 0)
    assert f.timely_rate == 0.0


def test_a_case_assigned_late_in_the_quarter_is_judged_on_its_answer_after_it() -> None:
    f = figures(
        case(
            "C1",
            assigned="2026-09-25 10:00",
            answered="2026-10-09 10:00",
            deadline="2026-10-11 00:00",
        )
    )
    assert f.answered_within_limit == 1


def test_a_case_open_within_its_limit_is_pending_and_leaves_the_rate_open() -> None:
    f = figures(case("C1", answered=None), now=at("2026-07-10 12:00"))
    assert (f.overdue_open, f.pending) == (0, 1)
    assert f.timely_rate is None


def test_a_paused_case_is_not_overdue_while_its_appraisal_runs() -> None:
    f = figures(case("C1", answered=None, paused=True))
    assert (f.overdue_open, f.pending, f.paused) == (0, 1, 1)


def test_an_answer_recorded_after_now_is_not_yet_counted() -> None:
    # Re-running the scorecard as of 07-20 gives what it gave on 07-20.
    f = figures(case("C1", answered="2026-07-21 10:00"), now=at("2026-07-20 12:00"))
    assert (f.answered, f.pending) == (0, 1)


def test_a_case_with_no_clock_counts_as_answered_in_time() -> None:
    f = figures(case("C1", deadline=None), case("C2", deadline=None, answered=None))
    assert (f.answered_within_limit, f.overdue_open, f.pending) == (1, 0, 1)


def test_cases_assigned_outside_the_quarter_are_not_on_its_scorecard() -> None:
    rows = [
        case("JUNE", assigned="2026-06-30 23:59"),
        case("JULY", assigned="2026-07-01 00:00"),
        case("OCT", assigned="2026-10-01 00:00"),
    ]
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").own.cases == 1


# --- the other figures ---------------------------------------------------------------------------


def test_outcomes_relief_extensions_and_repeats_are_counted() -> None:
    f = figures(
        case("C1", outcome="monetary_relief", relief_fen=1_234_567, extended=True),
        case("C2", outcome="non_monetary_relief", repeat=True),
        case("C3", outcome="referred_to_mediation"),
        case("C4"),
    )
    assert f.outcomes == {
        "closed_with_explanation": 1,
        "monetary_relief": 1,
        "non_monetary_relief": 1,
        "referred_to_mediation": 1,
    }
    assert f.relief_yuan == Decimal("12345.67")
    assert (f.extension_rate, f.repeat_rate) == (0.25, 0.25)


def test_a_returned_case_counts_against_the_office_that_returned_it_only_as_a_return() -> None:
    rows = [
        case("C1", "bank-tj-hexi", answered=None, returned=True, breached=True),
        case("C1", "bank-tj-nankai", assigned="2026-07-08 10:00", deadline="2026-07-24 00:00"),
    ]
    lines = compute(rows, NODES, Q3, AFTER_Q3, BARS)
    hexi = line(lines, "bank-tj-hexi").own
    assert (hexi.cases, hexi.returned, hexi.handled, hexi.overdue_open, hexi.breaches) == (
        1,
        1,
        0,
        0,
        1,
    )
    assert hexi.timely_rate is None
    branch = line(lines, "bank-tj").subtree
    assert (branch.cases, branch.returned, branch.answered_within_limit) == (1, 1, 1)
    assert branch.return_rate == 0.5


# --- roll-ups and lines --------------------------------------------------------------------------


def test_a_head_office_line_rolls_up_its_branches() -> None:
    rows = [
        case("C1", "bank-tj-hexi"),
        case("C2", "bank-tj-nankai", answered="2026-07-30 10:00"),
        case("C3", "bank-tj"),
    ]
    lines = compute(rows, NODES, Q3, AFTER_Q3, BARS)
    assert [(x.node_id, x.depth) for x in lines] == [
        ("bank", 0),
        ("bank-tj", 1),
        ("bank-tj-hexi", 2),
        ("bank-tj-nankai", 2),
    ]
    head = line(lines, "bank")
    assert (head.own.cases, head.subtree.cases, head.subtree.answered_within_limit) == (0, 3, 2)
    branch = line(lines, "bank-tj")
    assert (branch.own.cases, branch.subtree.cases) == (1, 3)
    assert branch.subtree.timely_rate == pytest.approx(2 / 3)


def test_offices_without_cases_in_their_subtree_have_no_line() -> None:
    lines = compute([case("C1", "bank-tj-hexi")], NODES, Q3, AFTER_Q3, BARS)
    assert {x.node_id for x in lines} == {"bank", "bank-tj", "bank-tj-hexi"}


def test_a_scorecard_for_one_branch_starts_at_that_branch() -> None:
    rows = [case("C1", "bank-tj-hexi"), case("C2", "bank-bj")]
    lines = compute(rows, NODES, Q3, AFTER_Q3, BARS, root="bank-tj")
    assert [(x.node_id, x.depth) for x in lines] == [("bank-tj", 0), ("bank-tj-hexi", 1)]
    with pytest.raises(ValueError, match="root: no office 'bank-sh'"):
        compute(rows, NODES, Q3, AFTER_Q3, BARS, root="bank-sh")


def test_an_empty_quarter_has_an_empty_scorecard() -> None:
    assert compute([], NODES, Q3, AFTER_Q3, BARS) == []


# --- the lists -----------------------------------------------------------------------------------


def on_time(n: int, node_id: str = "bank-tj-hexi", **more) -> list[ScoreRow]:
    return [case(f"T{node_id}{i}", node_id, **more) for i in range(n)]


def late(n: int, node_id: str = "bank-tj-hexi", **more) -> list[ScoreRow]:
    return [case(f"L{node_id}{i}", node_id, answered="2026-07-25 10:00", **more) for i in range(n)]


def test_ten_cases_answered_in_time_put_an_office_on_the_positive_list() -> None:
    lines = compute(on_time(10), NODES, Q3, AFTER_Q3, BARS)
    assert line(lines, "bank-tj-hexi").list == "positive"


def test_nine_cases_are_too_few_for_the_positive_list() -> None:
    assert line(compute(on_time(9), NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == ""


def test_one_breach_keeps_an_office_off_the_positive_list() -> None:
    rows = [*on_time(19), *on_time(1, "bank-tj-hexi", breached=True)]
    rows[-1] = replace(rows[-1], case_no="B1")
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == ""


def test_an_office_that_extends_one_case_in_four_is_not_positive() -> None:
    rows = [
        *on_time(15),
        *[replace(r, case_no=f"X{i}", extended=True) for i, r in enumerate(on_time(5))],
    ]
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == ""


def test_three_breaches_put_an_office_on_the_negative_list() -> None:
    rows = [*on_time(30), *late(3, breached=True)]
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == "negative"


def test_fewer_than_four_in_five_on_time_is_negative() -> None:
    rows = [*on_time(3), *late(2)]
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == "negative"


def test_one_late_case_of_two_is_not_yet_a_pattern() -> None:
    rows = [*on_time(1), *late(1)]
    assert line(compute(rows, NODES, Q3, AFTER_Q3, BARS), "bank-tj-hexi").list == ""


def test_a_branch_answers_for_its_sub_branches_on_the_lists() -> None:
    rows = [*on_time(10, "bank-tj"), *late(3, "bank-tj-nankai", breached=True)]
    lines = compute(rows, NODES, Q3, AFTER_Q3, BARS)
    assert line(lines, "bank-tj").list == "negative"
    assert line(lines, "bank").list == "negative"
    assert classify(line(lines, "bank-tj").own, BARS) == "positive"


def test_the_packaged_policys_bars_are_the_ones_the_scorecard_uses() -> None:
    bars = load_routing_policy().scorecard
    assert line(compute(on_time(10), NODES, Q3, AFTER_Q3, bars), "bank").list == "positive"


# --- refusing bad input --------------------------------------------------------------------------


def test_a_case_at_an_office_missing_from_the_directory_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="bank-gone"):
        compute([case("C1", "bank-gone")], NODES, Q3, AFTER_Q3, BARS)


def test_an_unknown_outcome_is_refused_naming_the_case() -> None:
    with pytest.raises(ValueError, match=r"case C1 .*outcome 'settled'"):
        compute([case("C1", outcome="settled")], NODES, Q3, AFTER_Q3, BARS)


def test_a_time_without_an_offset_is_refused() -> None:
    row = replace(case("C1"), assigned_at=datetime(2026, 7, 6, 10, 0))
    with pytest.raises(ValueError, match=r"case C1 .*assigned_at needs a UTC offset"):
        compute([row], NODES, Q3, AFTER_Q3, BARS)


# --- output --------------------------------------------------------------------------------------


def test_the_table_indents_offices_under_their_parents_and_shows_percentages() -> None:
    rows = [*on_time(10), *late(3, "bank-tj-nankai", breached=True)]
    console = Console(record=True, width=250)
    console.print(render(compute(rows, NODES, Q3, AFTER_Q3, BARS)))
    text = console.export_text()
    assert "机构正负面清单 Institution scorecard 2026Q3" in text
    assert "按时率 Timely rate" in text
    assert "│ 某银行总行 " in text
    assert "│   某银行天津分行 " in text
    assert "│     某银行河西支行 " in text
    assert "76.9%" in text  # 10 of 13 on time at the head office
    assert "负面 negative" in text
    assert "正面 positive" in text


def test_the_csv_has_a_header_and_two_rows_per_office_in_a_stable_order() -> None:
    rows = [
        case("C1", "bank-tj-hexi", outcome="monetary_relief", relief_fen=50_000),
        case("C2", "bank-tj"),
    ]
    out = io.StringIO()
    write_csv(compute(rows, NODES, Q3, AFTER_Q3, BARS), out)
    records = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(records[0]) == CSV_COLUMNS
    assert CSV_COLUMNS[:6] == ("quarter", "node_id", "parent_id", "level", "name", "scope")
    body = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in records[1:]]
    assert [(r["node_id"], r["scope"]) for r in body] == [
        ("bank", "subtree"),
        ("bank", "own"),
        ("bank-tj", "subtree"),
        ("bank-tj", "own"),
        ("bank-tj-hexi", "subtree"),
        ("bank-tj-hexi", "own"),
    ]
    branch = body[2]
    assert (branch["quarter"], branch["parent_id"], branch["level"]) == ("2026Q3", "bank", "1")
    assert (branch["cases"], branch["timely_rate"], branch["relief_yuan"]) == (
        "2",
        "1.0000",
        "500.00",
    )
    assert branch["outcome_monetary_relief"] == "1"
    assert body[3]["cases"] == "1"
    assert body[1]["timely_rate"] == ""  # the head office had no case of its own
