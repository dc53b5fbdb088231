"""China's working-day calendar (statutory holidays and 调休 make-up workdays), loaded from data."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from services.common.datafiles import LineLoader, at_line, parse_yaml, read_text

DEFAULT_HOLIDAYS_FILE = Path(__file__).parent / "data" / "holidays.yaml"
HOLIDAYS_FILE_ENV = "XIAOBAO_HOLIDAYS_FILE"

_HEADER = """\
# Working-day calendar of mainland China, as the State Council General Office's yearly holiday
# notice (国务院办公厅关于部分节假日安排的通知) sets it. The regulatory clocks count working
# days with it.
#
# years:<year>:holidays  statutory days off (法定节假日 and the days joined to them), as announced,
#                        weekends included.
# years:<year>:workdays  make-up working days (调休): a Saturday or Sunday that is worked.
# Any other Monday to Friday is a working day, any other Saturday or Sunday is not.
#
# The notice for the next year comes out around mid-November: add that year here (by hand, or with
# `xiaobao clock seed-holidays` once chinesecalendar has it); no release is needed. A year missing
# from this table is counted Monday to Friday only and every deadline in it is marked provisional.
"""


class _StringDatesLoader(LineLoader):
    """Leaves YYYY-MM-DD as text so that a bad date is reported with its year, not by PyYAML;
    remembers lines and refuses a year given twice."""


_StringDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days, for the years the holiday table covers."""

    years: frozenset[int]
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""

    @classmethod
    def load(cls, path: str | Path | None = None) -> WorkingCalendar:
        """Load the table at `path`, else $XIAOBAO_HOLIDAYS_FILE, else the packaged file."""
        if path is None:
            path = os.environ.get(HOLIDAYS_FILE_ENV) or DEFAULT_HOLIDAYS_FILE
        resolved = Path(path).resolve()
        # Keyed by modification time too, so a corrected file is picked up without a restart.
        return _load_cached(str(resolved), resolved.stat().st_mtime_ns)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> WorkingCalendar:
        """Build from the parsed table; raises ValueError naming the year and entry at fault."""
        if not isinstance(table, Mapping):
            raise ValueError(
                at_line("holiday table: expected a mapping with 'source' and 'years'", table)
            )
        years_raw = table.get("years")
        if not isinstance(years_raw, Mapping):
            raise ValueError(
                at_line(
                    "holiday table: 'years' must be a mapping of year -> holidays/workdays",
                    table,
                    "years",
                )
            )
        years: set[int] = set()
        holidays: set[date] = set()
        workdays: set[date] = set()
        for year_key, entry in years_raw.items():
            try:
                year = _parse_year(year_key)
            except ValueError as exc:
                raise ValueError(at_line(str(exc), years_raw, year_key)) from None
            if not isinstance(entry, Mapping):
                raise ValueError(
                    at_line(
                        f"holiday table, year {year}: expected holidays and workdays",
                        years_raw,
                        year_key,
                    )
                )
            unknown = set(entry) - {"holidays", "workdays"}
            if unknown:
                raise ValueError(
                    at_line(
                        f"holiday table, year {year}: unknown keys {sorted(unknown)}",
                        entry,
                        min(unknown, key=str),
                    )
                )
            if "holidays" not in entry:
                raise ValueError(
                    at_line(
                        f"holiday table, year {year}: 'holidays' is missing", years_raw, year_key
                    )
                )
            year_holidays = _parse_dates(year, "holidays", entry.get("holidays"), entry)
            year_workdays = _parse_dates(year, "workdays", entry.get("workdays") or [], entry)
            for d in sorted(year_workdays):
                if d.weekday() < 5:
                    raise ValueError(
                        _date_at(
                            f"holiday table, year {year}: workday {d.isoformat()} is a "
                            f"{d.strftime('%A')}, a make-up workday must be a Saturday or Sunday",
                            entry.get("workdays"),
                            d,
                        )
                    )
            both = year_holidays & year_workdays
            if both:
                first = min(both)
                raise ValueError(
                    _date_at(
                        f"holiday table, year {year}: {first.isoformat()} is listed as both "
                        "holiday and workday",
                        entry.get("workdays"),
                        first,
                    )
                )
            years.add(year)
            holidays |= year_holidays
            workdays |= year_workdays
        return cls(
            years=frozenset(years),
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
            source=str(table.get("source", "")),
        )

    def covers(self, year: int) -> bool:
        return year in self.years

    @property
    def last_year(self) -> int:
        """The last year the table covers (0 if none): monitoring warns in November when it is
        not next year (xiaobao_holiday_table_last_year)."""
        return max(self.years, default=0)

    def is_holiday(self, d: date) -> bool:
        """A statutory day off per the table; always False for a year the table lacks."""
        return d in self.holidays

    def is_working_day(self, d: date) -> bool:
        """A make-up workday, or Monday to Friday and not a holiday (uncovered year: Mon-Fri)."""
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int) -> WorkingCalendar:
    del mtime_ns  # only part of the cache key
    try:
        table = parse_yaml(read_text(path), _StringDatesLoader)
    except ValueError as exc:
        raise ValueError(f"holiday table {path}: {exc}") from exc
    if table is None:
        raise ValueError(f"holiday table {path}: the file is empty (line 1)")
    try:
        return WorkingCalendar.from_table(table)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _parse_year(key: object) -> int:
    if isinstance(key, bool):
        raise ValueError(f"holiday table: {key!r} is not a year")
    try:
        year = int(str(key))
    except ValueError:
        raise ValueError(f"holiday table: {key!r} is not a year") from None
    if not 1949 <= year <= 2200:
        raise ValueError(f"holiday table: {key!r} is not a plausible year")
    return year


def _date_at(message: str, items: object, day: date) -> str:
    """`message` with the line of `day` in the file's list, when known."""
    for i, item in enumerate(items if isinstance(items, list) else ()):
        if str(item) == day.isoformat() or item == day:
            return at_line(message, items, i)
    return message


def _parse_dates(year: int, field: str, raw: object, entry: object = None) -> set[date]:
    if not isinstance(raw, list):
        raise ValueError(
            at_line(
                f"holiday table, year {year}: '{field}' must be a list of YYYY-MM-DD", entry, field
            )
        )
    out: set[date] = set()
    for i, item in enumerate(raw):
        if isinstance(item, date):
            d = item
        else:
            try:
                d = date.fromisoformat(str(item))
            except ValueError:
                raise ValueError(
                    at_line(
                        f"holiday table, year {year}: {field} entry {item!r} is not a "
                        "YYYY-MM-DD date",
                        raw,
                        i,
                    )
                ) from None
        if d.year != year:
            raise ValueError(
                at_line(
                    f"holiday table, year {year}: {field} entry {d.isoformat()} belongs to {d.year}",
                    raw,
                    i,
                )
            )
        if d in out:
            raise ValueError(
                at_line(
                    f"holiday table, year {year}: {field} entry {d.isoformat()} is listed twice",
                    raw,
                    i,
                )
            )
        out.add(d)
    return out


def seed_table(from_year: int, to_year: int) -> dict[str, Any]:
    """The holiday table for the given years from chinesecalendar; years it lacks are left out."""
    import chinese_calendar  # only needed to seed, not to run

    years: dict[int, dict[str, list[date]]] = {}
    for year in range(from_year, to_year + 1):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue  # the library does not know that year yet
        years[year] = {
            "holidays": sorted(d for d in chinese_calendar.holidays if d.year == year),
            "workdays": sorted(d for d in chinese_calendar.workdays if d.year == year),
        }
    version = metadata.version("chinesecalendar")
    return {
        "source": (
            f"chinesecalendar {version} (transcribes the State Council General Office's yearly "
            "holiday notices)"
        ),
        "years": years,
    }


def write_table(path: str | Path, table: Mapping[str, Any]) -> None:
    """Write the table in the commented, one-date-a-line form the data file uses."""
    WorkingCalendar.from_table(table)  # never write a table we would refuse to load
    lines = [_HEADER, f"source: {_quote(str(table.get('source', '')))}", "years:"]
    for year in sorted(table["years"], key=int):
        entry = table["years"][year]
        lines.append(f"  {int(year)}:")
        for field in ("holidays", "workdays"):
            dates = _iso_sorted(entry.get(field) or [])
            if not dates:
                lines.append(f"    {field}: []")
                continue
            lines.append(f"    {field}:")
            lines.extend(f"      - {d}" for d in dates)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _iso_sorted(dates: Iterable[date | str]) -> list[str]:
    return sorted(d.isoformat() if isinstance(d, date) else str(d) for d in dates)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
