"""The working-day calendar: the packaged holiday table, its validation, and seeding it."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from services.common.calendar import WorkingCalendar, seed_table, write_table


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.load()


def _write(path: Path, body: str) -> Path:
    path.write_text('source: "test"\nyears:\n' + body, encoding="utf-8")
    return path


def test_packaged_table_covers_2020_to_2026_and_not_2027(calendar: WorkingCalendar) -> None:
    assert [y for y in range(2018, 2029) if calendar.covers(y)] == list(range(2020, 2027))
    assert "chinesecalendar" in calendar.source


def test_national_day_week_2026_is_off_and_saturday_10_10_is_worked(
    calendar: WorkingCalendar,
) -> None:
    for day in range(1, 8):
        assert not calendar.is_working_day(date(2026, 10, day)), f"2026-10-0{day}"
        assert calendar.is_holiday(date(2026, 10, day))
    assert calendar.is_working_day(date(2026, 9, 20))  # Sunday, make-up workday
    assert calendar.is_working_day(date(2026, 10, 10))  # Saturday, make-up workday
    assert not calendar.is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert calendar.is_working_day(date(2026, 10, 8))  # Thursday after the holiday


def test_spring_festival_2026_runs_02_15_to_02_23_with_two_saturdays_worked(
    calendar: WorkingCalendar,
) -> None:
    off = [date(2026, 2, d) for d in range(15, 24)]
    assert [d for d in off if calendar.is_working_day(d)] == []
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday before, worked
    assert calendar.is_working_day(date(2026, 2, 28))  # Saturday after, worked
    assert calendar.is_working_day(date(2026, 2, 24))  # Tuesday, back at work
    assert not calendar.is_working_day(date(2026, 2, 7))  # an ordinary Saturday


def test_new_year_2026_and_its_make_up_sunday(calendar: WorkingCalendar) -> None:
    assert not calendar.is_working_day(date(2026, 1, 1))  # Thursday
    assert not calendar.is_working_day(date(2026, 1, 2))  # Friday
    assert calendar.is_working_day(date(2026, 1, 4))  # Sunday, make-up workday


def test_the_five_make_up_workdays_of_2025_are_working_days(calendar: WorkingCalendar) -> None:
    # The State Council notice for 2025: 1/26, 2/8, 4/27, 9/28, 10/11.
    for d in ("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"):
        day = date.fromisoformat(d)
        assert day.weekday() >= 5, d
        assert calendar.is_working_day(day), d


def test_a_year_missing_from_the_table_counts_monday_to_friday(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(date(2027, 1, 1))  # a Friday; the 2027 notice is not in
    assert not calendar.is_holiday(date(2027, 1, 1))
    assert not calendar.is_working_day(date(2027, 1, 2))  # Saturday
    assert not calendar.is_working_day(date(2027, 1, 3))  # Sunday


def test_env_var_points_the_default_load_at_another_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "h.yaml", "  2026:\n    holidays: [2026-03-02]\n    workdays: []\n")
    monkeypatch.setenv("XIAOBAO_HOLIDAYS_FILE", str(path))
    cal = WorkingCalendar.load()
    assert not cal.is_working_day(date(2026, 3, 2))  # a Monday, a holiday in this table only
    assert cal.is_working_day(date(2026, 10, 5))  # National Day is not in this table
    assert not cal.covers(2025)


def test_a_corrected_table_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.yaml", "  2026:\n    holidays: []\n")
    assert WorkingCalendar.load(path).is_working_day(date(2026, 10, 12))
    _write(path, "  2026:\n    holidays: [2026-10-12]\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not WorkingCalendar.load(path).is_working_day(date(2026, 10, 12))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  2026:\n    holidays: [2026-02-30]\n", r"year 2026.*'2026-02-30'"),
        ("  2026:\n    holidays: [2025-10-01]\n", r"year 2026.*2025-10-01 belongs to 2025"),
        (
            "  2026:\n    holidays: [2026-10-10]\n    workdays: [2026-10-10]\n",
            r"year 2026.*2026-10-10.*both holiday and workday",
        ),
        ("  2026:\n    holidays: []\n    workdays: [2026-10-12]\n", r"year 2026.*2026-10-12"),
        ("  2026:\n    workdays: []\n", r"year 2026.*'holidays' is missing"),
        ("  twenty:\n    holidays: []\n", r"'twenty' is not a year"),
    ],
    ids=[
        "no-such-date",
        "date-under-the-wrong-year",
        "both-holiday-and-workday",
        "make-up-workday-on-a-weekday",
        "holidays-missing",
        "year-not-a-number",
    ],
)
def test_a_malformed_holiday_table_is_refused_naming_the_year_and_entry(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = _write(tmp_path / "bad.yaml", body)
    with pytest.raises(ValueError, match=expected):
        WorkingCalendar.load(path)


def test_seeding_skips_2027_which_chinesecalendar_does_not_know() -> None:
    table = seed_table(2025, 2027)
    assert sorted(table["years"]) == [2025, 2026]
    assert [d.isoformat() for d in table["years"][2025]["workdays"]] == [
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
    ]
    assert date(2026, 10, 1) in table["years"][2026]["holidays"]


def test_a_written_table_loads_back_the_same_days(tmp_path: Path) -> None:
    table = seed_table(2024, 2026)
    path = tmp_path / "holidays.yaml"
    write_table(path, table)
    cal = WorkingCalendar.load(path)
    assert cal.years == frozenset({2024, 2025, 2026})
    assert cal.holidays == frozenset(d for y in table["years"].values() for d in y["holidays"])
    assert cal.workdays == frozenset(d for y in table["years"].values() for d in y["workdays"])
    assert path.read_text(encoding="utf-8").startswith("#")  # the explaining comment


def test_write_table_refuses_a_table_it_could_not_load_back(tmp_path: Path) -> None:
    bad = {"source": "x", "years": {2026: {"holidays": [date(2025, 1, 1)], "workdays": []}}}
    with pytest.raises(ValueError, match="year 2026"):
        write_table(tmp_path / "h.yaml", bad)
    assert not (tmp_path / "h.yaml").exists()
