"""The regulatory clock engine: deadlines, the clock policy, and clock state derived from events."""

from __future__ import annotations

import logging
import os
import time as time_module
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.common.calendar import HOLIDAYS_FILE_ENV, WorkingCalendar
from services.common.datafiles import load_yaml
from services.common.errors import ExtensionRefused, FailedPrecondition, InvalidArgument

Unit = Literal["calendar_days", "working_days"]
UNITS: tuple[str, ...] = get_args(Unit)
State = Literal["not_started", "ok", "at_risk", "overdue", "stopped"]
EventKind = Literal["start", "stop", "pause", "resume", "extend", "restart"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_POLICY_FILE = Path(__file__).parent / "data" / "policy.yaml"
POLICY_FILE_ENV = "XIAOBAO_POLICY_FILE"
_ONE_DAY = timedelta(days=1)
_log = logging.getLogger(__name__)


# --- deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """The last permitted day, and the instant the limit runs out (24:00 of that day)."""

    last_day: date
    deadline: datetime
    provisional: bool


def compute_deadline(
    start: datetime,
    limit: int,
    unit: Unit,
    calendar: WorkingCalendar,
    pauses: Sequence[tuple[date, date]] = (),
    roll_to_working_day: bool = False,
    *,
    tz: ZoneInfo = SHANGHAI,
) -> Deadline:
    """The deadline of a `limit`-day clock started at `start`.

    The day of receipt is not counted; paused days (inclusive ranges) are not counted; for
    working_days only working days count. A limit of 0 means the same day (or the first day that
    counts). `provisional` is set when the answer depends on the working-day status of a day in a
    year the holiday table does not cover (there only weekends are known).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise InvalidArgument("start", "needs a UTC offset, e.g. 2026-09-28T10:00+08:00")
    if unit not in UNITS:
        raise InvalidArgument("unit", f"{unit!r} is not one of {', '.join(UNITS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidArgument("limit", f"must be a whole number of days, 0 or more, not {limit!r}")
    ranges = sorted(pauses)
    for p_from, p_to in ranges:
        if p_from > p_to:
            raise InvalidArgument("pauses", f"pause {p_from} to {p_to} ends before it begins")

    working = unit == "working_days"

    def pause_end(d: date) -> date | None:
        for p_from, p_to in ranges:
            if p_from <= d <= p_to:
                return p_to
        return None

    def first_counting_day(d: date) -> date:
        """`d` or the first day after it that counts."""
        while True:
            end = pause_end(d)
            if end is not None:
                d = end + _ONE_DAY  # jump over the whole pause
            elif working and not calendar.is_working_day(d):
                d += _ONE_DAY
            else:
                return d

    first = start.astimezone(tz).date()
    last_day = first_counting_day(first if limit == 0 else first + _ONE_DAY)
    for _ in range(limit - 1):
        last_day = first_counting_day(last_day + _ONE_DAY)

    # Consulted the calendar for: every examined day (working_days), or the rolled days.
    consulted_from = first if working else last_day
    if roll_to_working_day and not working:
        while not calendar.is_working_day(last_day):
            last_day += _ONE_DAY
    consulted_years = range(consulted_from.year, last_day.year + 1)
    provisional = (working or roll_to_working_day) and not all(
        calendar.covers(y) for y in consulted_years
    )
    return Deadline(
        last_day=last_day,
        deadline=datetime.combine(last_day + _ONE_DAY, time(0), tzinfo=tz),
        provisional=provisional,
    )


def uncovered_years(start: date, last_day: date, calendar: WorkingCalendar) -> list[int]:
    """The years between two days that the holiday table lacks (for telling a user why)."""
    return [y for y in range(start.year, last_day.year + 1) if not calendar.covers(y)]


# --- policy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """A step a clock's limit may be raised to."""

    to: int
    article: str
    requires_approver: bool = False


@dataclass(frozen=True)
class ClockSpec:
    """One clock of the policy: what starts and stops it, its limit and how it may change."""

    name: str
    title: str
    limit: int
    unit: Unit
    source: str
    article: str
    applies_to: tuple[str, ...]
    start_event: str
    stop_event: str
    extensions: tuple[Extension, ...] = ()
    pausable: bool = False

    @property
    def max_limit(self) -> int:
        return self.extensions[-1].to if self.extensions else self.limit


@dataclass(frozen=True)
class Policy:
    """The versioned clock policy file, validated."""

    version: str
    timezone: str
    roll_calendar_deadlines_to_working_day: bool
    at_risk_fraction: float
    clocks: dict[str, ClockSpec]
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    major_complaint_min_people: int = 20

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def clock(self, name: str) -> ClockSpec:
        try:
            return self.clocks[name]
        except KeyError:
            known = ", ".join(sorted(self.clocks))
            raise KeyError(f"no clock {name!r} in policy {self.version} (known: {known})") from None

    def clocks_for(self, case_kind: str) -> list[ClockSpec]:
        """The clocks a case of this kind carries."""
        return [c for c in self.clocks.values() if case_kind in c.applies_to]


def load_policy(path: str | Path | None = None) -> Policy:
    """Load the policy at `path`, else $XIAOBAO_POLICY_FILE, else the packaged file."""
    if path is None:
        path = os.environ.get(POLICY_FILE_ENV) or DEFAULT_POLICY_FILE
    return load_yaml(path, parse_policy, "policy")


_POLICY_KEYS = {
    "version",
    "timezone",
    "roll_calendar_deadlines_to_working_day",
    "at_risk_fraction",
    "major_complaint_min_people",
    "clocks",
    "targets",
}
_CLOCK_KEYS = {
    "title",
    "limit",
    "unit",
    "source",
    "article",
    "applies_to",
    "start_event",
    "stop_event",
    "extensions",
    "pausable",
}


def parse_policy(raw: object) -> Policy:
    """Validate a parsed policy document; ValueError names the clock and field at fault."""
    if not isinstance(raw, Mapping):
        raise ValueError("the policy must be a mapping")
    unknown = set(raw) - _POLICY_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    version = raw.get("version")
    if not isinstance(version, str | int | float) or isinstance(version, bool) or not str(version):
        raise ValueError("version: must be a non-empty string")
    timezone = raw.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone: {timezone!r} is not a known time zone") from None
    roll = raw.get("roll_calendar_deadlines_to_working_day", False)
    if not isinstance(roll, bool):
        raise ValueError("roll_calendar_deadlines_to_working_day: must be true or false")
    fraction = raw.get("at_risk_fraction", 0.2)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction < 1:
        raise ValueError(f"at_risk_fraction: must be a number from 0 to below 1, not {fraction!r}")
    people = raw.get("major_complaint_min_people", 20)
    if isinstance(people, bool) or not isinstance(people, int) or people < 2:
        raise ValueError(f"major_complaint_min_people: must be a whole number >= 2, not {people!r}")
    clocks_raw = raw.get("clocks")
    if not isinstance(clocks_raw, Mapping) or not clocks_raw:
        raise ValueError("clocks: must be a non-empty mapping of clock name -> clock")
    clocks = {str(name): _parse_clock(str(name), body) for name, body in clocks_raw.items()}
    targets_raw = raw.get("targets") or {}
    if not isinstance(targets_raw, Mapping):
        raise ValueError("targets: must be a mapping of name -> {value, unit, source}")
    targets: dict[str, dict[str, Any]] = {}
    for name, body in targets_raw.items():
        if not isinstance(body, Mapping) or not {"value", "unit", "source"} <= set(body):
            raise ValueError(f"target {name}: needs value, unit and source")
        targets[str(name)] = dict(body)
    return Policy(
        version=str(version),
        timezone=str(timezone),
        roll_calendar_deadlines_to_working_day=roll,
        at_risk_fraction=float(fraction),
        clocks=clocks,
        targets=targets,
        major_complaint_min_people=people,
    )


def _parse_clock(name: str, body: object) -> ClockSpec:
    def fail(fld: str, message: str) -> ValueError:
        return ValueError(f"clock {name}: {fld}: {message}")

    if not isinstance(body, Mapping):
        raise fail("(body)", "must be a mapping")
    unknown = set(body) - _CLOCK_KEYS
    if unknown:
        raise fail("(keys)", f"unknown keys {sorted(unknown)}")
    for key in ("title", "source", "article", "start_event", "stop_event"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise fail(key, "must be a non-empty string")
    unit = body.get("unit")
    if unit not in UNITS:
        raise fail("unit", f"{unit!r} is not one of {', '.join(UNITS)}")
    limit = body.get("limit")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise fail("limit", f"must be a whole number of days, 0 or more, not {limit!r}")
    applies_to = body.get("applies_to")
    if (
        not isinstance(applies_to, list)
        or not applies_to
        or not all(isinstance(k, str) and k for k in applies_to)
    ):
        raise fail("applies_to", "must be a non-empty list of case kinds")
    pausable = body.get("pausable", False)
    if not isinstance(pausable, bool):
        raise fail("pausable", "must be true or false")
    extensions_raw = body.get("extensions") or []
    if not isinstance(extensions_raw, list):
        raise fail("extensions", "must be a list of {to, article, requires_approver}")
    extensions: list[Extension] = []
    previous = limit
    for i, ext in enumerate(extensions_raw):
        if not isinstance(ext, Mapping) or set(ext) - {"to", "article", "requires_approver"}:
            raise fail(f"extensions[{i}]", "must be {to, article, requires_approver}")
        to = ext.get("to")
        if isinstance(to, bool) or not isinstance(to, int):
            raise fail(f"extensions[{i}].to", f"must be a whole number of days, not {to!r}")
        if to <= previous:
            raise fail(
                f"extensions[{i}].to", f"{to} must be more than the limit before it ({previous})"
            )
        article = ext.get("article")
        if not isinstance(article, str) or not article.strip():
            raise fail(f"extensions[{i}].article", "must be a non-empty string")
        approver = ext.get("requires_approver", False)
        if not isinstance(approver, bool):
            raise fail(f"extensions[{i}].requires_approver", "must be true or false")
        extensions.append(Extension(to=to, article=article, requires_approver=approver))
        previous = to
    return ClockSpec(
        name=name,
        title=body["title"],
        limit=limit,
        unit=unit,
        source=body["source"],
        article=body["article"],
        applies_to=tuple(applies_to),
        start_event=body["start_event"],
        stop_event=body["stop_event"],
        extensions=tuple(extensions),
        pausable=pausable,
    )


# --- clock state from the event history ------------------------------------------------------


@dataclass(frozen=True)
class ClockEvent:
    """Something that happened to one clock of a case."""

    kind: EventKind
    at: datetime
    limit: int | None = None  # the new limit, for "extend"
    reason: str = ""
    approver: str = ""


@dataclass(frozen=True)
class ClockStatus:
    """Where a clock stands at `now`."""

    name: str
    started_at: datetime | None
    stopped_at: datetime | None
    limit: int
    unit: Unit
    last_day: date | None
    deadline: datetime | None
    provisional: bool
    state: State
    within_limit: bool | None
    elapsed_days: float | None
    paused_days: tuple[tuple[date, date], ...]
    article: str


def check_extension(
    spec: ClockSpec, current_limit: int, requested: int, reason: str, approver: str
) -> Extension:
    """The extension step granted, or ExtensionRefused saying why (validate before storing)."""
    steps = [e for e in spec.extensions if e.to > current_limit]
    if not spec.extensions:
        raise ExtensionRefused(f"{spec.name}: the {spec.limit}-day limit cannot be extended")
    if not steps:
        raise ExtensionRefused(
            f"{spec.name}: already at {current_limit} days, the most the policy allows "
            f"({spec.extensions[-1].article}); an extension to {requested} days is refused"
        )
    step = steps[0]
    if requested > spec.max_limit:
        raise ExtensionRefused(
            f"{spec.name}: {requested} days is beyond the {spec.max_limit} days the policy allows "
            f"({spec.extensions[-1].article}); refused"
        )
    if requested != step.to:
        raise ExtensionRefused(
            f"{spec.name}: the limit is {current_limit} days and the next extension is to "
            f"{step.to} days ({step.article}), not {requested}"
        )
    if not reason.strip():
        raise ExtensionRefused(f"{spec.name}: an extension to {requested} days needs a reason")
    if step.requires_approver and not approver.strip():
        raise ExtensionRefused(
            f"{spec.name}: an extension to {requested} days needs an approver ({step.article})"
        )
    return step


def open_pause(events: Iterable[Mapping]) -> Mapping | None:
    """The pause still open after a clock's events in order (dicts with `kind`, and `reason` on a
    pause), or None. A second pause while paused is ignored, as `evaluate` ignores it; a resume,
    restart or stop ends the pause."""
    current = None
    for e in events:
        if e["kind"] == "pause" and current is None:
            current = e
        elif e["kind"] in ("resume", "restart", "stop"):
            current = None
    return current


def at_risk_from(started_at: datetime, deadline: datetime, at_risk_fraction: float) -> datetime:
    """When a running clock turns at risk: the last fraction of its time, at least its last day."""
    return deadline - max(_ONE_DAY, at_risk_fraction * (deadline - started_at))


def running_state(
    started_at: datetime, deadline: datetime, now: datetime, at_risk_fraction: float
) -> State:
    """ok, at_risk (see at_risk_from) or overdue."""
    if now >= deadline:
        return "overdue"
    if now >= at_risk_from(started_at, deadline, at_risk_fraction):
        return "at_risk"
    return "ok"


def evaluate(
    spec: ClockSpec,
    events: Sequence[ClockEvent],
    calendar: WorkingCalendar,
    now: datetime,
    policy: Policy,
) -> ClockStatus:
    """Replay a clock's events (in time order) and say where it stands at `now`.

    Duplicate starts, a resume without a pause and a second pause while paused are ignored, as
    redelivered events are. A pause on a clock the policy does not let pause, and an extension the
    policy refuses, raise (FailedPrecondition, ExtensionRefused): the history is wrong.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument("now", "needs a UTC offset")
    for e in events:
        if e.at.tzinfo is None or e.at.utcoffset() is None:
            raise InvalidArgument("events", f"{e.kind} event at {e.at} has no UTC offset")
        if e.kind not in EVENT_KINDS:
            raise InvalidArgument("events", f"unknown event kind {e.kind!r}")
    tz = policy.tz
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    limit = spec.limit
    article = spec.article
    pause_spans: list[tuple[datetime, datetime | None]] = []

    for e in sorted(events, key=lambda e: e.at):  # stable: ties keep their recorded order
        if e.kind == "restart":
            # Art 15: a repeat complaint with new facts starts afresh.
            started_at, stopped_at = e.at, None
            limit, article, pause_spans = spec.limit, spec.article, []
            continue
        if e.kind == "start":
            if started_at is None:
                started_at = e.at
            continue
        if started_at is None or stopped_at is not None:
            continue  # nothing to act on before the start or after the stop
        paused = bool(pause_spans) and pause_spans[-1][1] is None
        if e.kind == "stop":
            stopped_at = e.at
        elif e.kind == "pause":
            if not spec.pausable:
                raise FailedPrecondition(f"{spec.name}: this clock cannot be paused")
            if not paused:
                pause_spans.append((e.at, None))
        elif e.kind == "resume":
            if paused:
                pause_spans[-1] = (pause_spans[-1][0], e.at)
        elif e.kind == "extend":
            if e.limit is None:
                raise ExtensionRefused(f"{spec.name}: an extension must say the new limit")
            step = check_extension(spec, limit, e.limit, e.reason, e.approver)
            limit, article = step.to, step.article

    if started_at is None:
        return ClockStatus(
            name=spec.name,
            started_at=None,
            stopped_at=None,
            limit=limit,
            unit=spec.unit,
            last_day=None,
            deadline=None,
            provisional=False,
            state="not_started",
            within_limit=None,
            elapsed_days=None,
            paused_days=(),
            article=article,
        )

    # A pause still open runs until the stop, or until today: the deadline moves with it.
    open_until = stopped_at or now
    paused_days: list[tuple[date, date]] = []
    for p_at, r_at in pause_spans:
        # The day a pause begins counts, the day it ends does not (like the day of receipt).
        first = p_at.astimezone(tz).date() + _ONE_DAY
        last = (r_at or open_until).astimezone(tz).date()
        if first <= last:
            paused_days.append((first, last))

    result = compute_deadline(
        started_at,
        limit,
        spec.unit,
        calendar,
        paused_days,
        policy.roll_calendar_deadlines_to_working_day,
        tz=tz,
    )
    deadline = result.deadline
    elapsed = ((stopped_at or now) - started_at).total_seconds() / 86400
    within_limit: bool | None = None
    state: State
    if stopped_at is not None:
        state = "stopped"
        within_limit = stopped_at < deadline
    else:
        state = running_state(started_at, deadline, now, policy.at_risk_fraction)
    return ClockStatus(
        name=spec.name,
        started_at=started_at,
        stopped_at=stopped_at,
        limit=limit,
        unit=spec.unit,
        last_day=result.last_day,
        deadline=deadline,
        provisional=result.provisional,
        state=state,
        within_limit=within_limit,
        elapsed_days=elapsed,
        paused_days=tuple(paused_days),
        article=article,
    )


# --- what is in force ------------------------------------------------------------------------

_last_good: dict[str, Any] = {}
# Checking both files on disk costs more than a portal listing's own work; an edit is picked up
# within this many seconds instead of on the very next call.
IN_FORCE_MAX_AGE_SECONDS = 1.0
_checked: dict[str, Any] = {}


def in_force() -> tuple[WorkingCalendar, Policy]:
    """The holiday table and the policy in force (re-checked at most once a second).

    Both are files an operator edits without a release; a broken edit must not stop the
    platform, so the last good copy stays in force and the error is logged (once per edit).
    """
    where = (os.environ.get(HOLIDAYS_FILE_ENV), os.environ.get(POLICY_FILE_ENV))
    seen = _checked.get("value")
    now = time_module.monotonic()
    if seen is not None and seen[0] == where and now - seen[1] < IN_FORCE_MAX_AGE_SECONDS:
        return seen[2]
    value = _load_in_force()
    if seen is None or seen[2][0] is not value[0] or seen[2][1] is not value[1]:
        # Compared while the old copies are still referenced, so a new copy can never be
        # mistaken for an old one that happened to share its id().
        _checked["generation"] = _checked.get("generation", 0) + 1
    _checked["value"] = (where, now, value)
    return value


def in_force_generation() -> int:
    """Changes whenever the holiday table or policy in force changes: a cache key for anything
    derived from them (never use id() of the objects: a freed id is reused)."""
    in_force()
    return _checked["generation"]


def forget_in_force() -> None:
    """The next in_force() reads the files again (for tests that edit them in place). The
    generation only ever grows, so no cache keyed on it can match a different policy."""
    _checked.pop("value", None)


def _load_in_force() -> tuple[WorkingCalendar, Policy]:
    result = []
    for key, loader in (("calendar", WorkingCalendar.load), ("policy", load_policy)):
        try:
            value = loader()
        except (OSError, ValueError) as exc:
            if key not in _last_good:
                raise
            message = f"{type(exc).__name__}: {exc}"
            if _last_good.get(f"{key}.error") != message:
                _log.error("%s file rejected, the previous one stays in force: %s", key, message)
                _last_good[f"{key}.error"] = message
            value = _last_good[key]
        else:
            _last_good[key] = value
            _last_good.pop(f"{key}.error", None)
        result.append(value)
    return result[0], result[1]
