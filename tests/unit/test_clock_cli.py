"""`xiaobao clock`: deadlines on the command line, the policy table, seeding the holiday table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.common.calendar import WorkingCalendar
from services.common.clock_cli import app

runner = CliRunner()


def test_seven_working_days_from_monday_before_national_day_as_json() -> None:
    # Tue 09-29 is 1, Wed 09-30 is 2, 10-01..10-07 off, 10-08 3, 10-09 4, Sat 10-10 5,
    # Mon 10-12 6, Tue 10-13 7; the limit runs out at midnight after it.
    result = runner.invoke(
        app,
        [
            "deadline",
            "--start",
            "2026-09-28T10:00+08:00",
            "--limit",
            "7",
            "--unit",
            "working_days",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "last_day": "2026-10-13",
        "deadline": "2026-10-14T00:00:00+08:00",
        "provisional": False,
    }


def test_plain_output_says_when_the_2027_table_is_missing() -> None:
    # Sun 2026-12-20, 15 working days: Fri 2027-01-08 (see test_clock for the count).
    result = runner.invoke(
        app,
        [
            "deadline",
            "--start",
            "2026-12-20T10:00+08:00",
            "--limit",
            "15",
            "--unit",
            "working_days",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2027-01-08" in result.stdout
    assert "2027-01-09T00:00:00+08:00" in result.stdout
    assert "(provisional: year 2027 not in the holiday table)" in result.stdout


def test_a_pause_on_the_command_line_is_not_counted() -> None:
    # As above but 10-08..10-09 paused: Sat 10-10 is 3, 10-12 4, 10-13 5, 10-14 6, Thu 10-15 7.
    result = runner.invoke(
        app,
        [
            "deadline",
            "--start",
            "2026-09-28T10:00+08:00",
            "--limit",
            "7",
            "--unit",
            "working_days",
            "--pause",
            "2026-10-08:2026-10-09",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["last_day"] == "2026-10-15"


def test_rolling_on_the_command_line_moves_a_deadline_off_national_day() -> None:
    # Wed 09-16 + 15 calendar days is 10-01; rolled to Thu 10-08.
    args = ["deadline", "--start", "2026-09-16T10:00+08:00", "--limit", "15"]
    args += ["--unit", "calendar_days", "--json"]
    plain = runner.invoke(app, args)
    rolled = runner.invoke(app, [*args, "--roll-to-working-day"])
    assert json.loads(plain.stdout)["last_day"] == "2026-10-01"
    assert json.loads(rolled.stdout)["last_day"] == "2026-10-08"


@pytest.mark.parametrize(
    ("start", "extra", "option"),
    [
        ("yesterday", [], "--start"),
        ("2026-09-28T10:00", [], "--start"),  # no offset: whose 10:00?
        ("2026-09-28T10:00+08:00", ["--pause", "2026-10-08"], "--pause"),
        ("2026-09-28T10:00+08:00", ["--pause", "2026-10-09:2026-10-08"], "--pause"),
    ],
    ids=["unparseable-start", "naive-start", "pause-without-end", "pause-backwards"],
)
def test_bad_input_is_one_line_on_stderr_naming_the_option(
    start: str, extra: list[str], option: str
) -> None:
    args = ["deadline", "--start", start, "--limit", "7", "--unit", "working_days", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert option in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("limit", "unit", "option"),
    [("-1", "working_days", "--limit"), ("7", "fortnights", "--unit")],
)
def test_a_bad_limit_or_unit_exits_2(limit: str, unit: str, option: str) -> None:
    args = ["deadline", "--start", "2026-09-28T10:00+08:00", "--limit", limit, "--unit", unit]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {option}:")


def test_another_holiday_table_can_be_given(tmp_path: Path) -> None:
    # A table with only 2026 and Mon 10-12 as a day off: 7 working days end Wed 10-14.
    table = tmp_path / "h.yaml"
    table.write_text(
        'source: "test"\nyears:\n  2026:\n    holidays: [2026-10-12]\n', encoding="utf-8"
    )
    args = ["deadline", "--start", "2026-10-02T10:00+08:00", "--limit", "7"]
    args += ["--unit", "working_days", "--holidays", str(table), "--json"]
    # In this table National Day is not off: Mon 10-05 is 1 ... Fri 10-09 is 5, Tue 10-13 6,
    # Wed 10-14 7.
    result = runner.invoke(app, args)
    assert json.loads(result.stdout)["last_day"] == "2026-10-14"


def test_a_malformed_holiday_table_is_reported_not_raised(tmp_path: Path) -> None:
    table = tmp_path / "h.yaml"
    table.write_text('source: "x"\nyears:\n  2026:\n    holidays: [2026-13-01]\n', encoding="utf-8")
    args = ["deadline", "--start", "2026-10-02T10:00+08:00", "--limit", "7"]
    result = runner.invoke(app, [*args, "--unit", "working_days", "--holidays", str(table)])
    assert result.exit_code == 2
    assert "--holidays" in result.stderr
    assert "2026-13-01" in result.stderr


def test_policy_lists_every_clock_with_its_article() -> None:
    result = runner.invoke(app, ["policy", "--json"])
    assert result.exit_code == 0, result.output
    clocks = {c["name"]: c for c in json.loads(result.stdout)["clocks"]}
    assert clocks["institution_decision"]["limit"] == 15
    assert [e["to"] for e in clocks["institution_decision"]["extensions"]] == [30, 60]
    assert clocks["regulator_forwarding"]["unit"] == "working_days"
    table = runner.invoke(app, ["policy"])
    assert table.exit_code == 0
    assert "regulator_forwarding" in table.stdout
    assert "30 → 60" in table.stdout


def test_seed_holidays_writes_what_it_can_and_names_2027(tmp_path: Path) -> None:
    output = tmp_path / "holidays.yaml"
    result = runner.invoke(
        app, ["seed-holidays", "--from-year", "2025", "--to-year", "2027", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "2027" in result.stdout.splitlines()[-1]
    cal = WorkingCalendar.load(output)
    assert (cal.covers(2025), cal.covers(2026), cal.covers(2027)) == (True, True, False)
