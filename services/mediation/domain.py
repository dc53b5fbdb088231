"""Mediation's rules as plain functions: request and session state machines, consent, fast track,
the mediation clock, and the roster file. No framework, no database."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from services.common.calendar import WorkingCalendar
from services.common.clock import ClockEvent, ClockSpec, ClockStatus, Policy, evaluate
from services.common.datafiles import load_yaml
from services.common.errors import FailedPrecondition, InvalidArgument

SOURCES = ("consumer", "institution", "court")
PARTIES = ("consumer", "institution")
FORMS = ("onsite", "online", "any")
SPECIALITIES = ("banking", "life", "property", "legal")
VENUE_KINDS = ("centre", "court", "online")

# A request waits for both parties' consent, is accepted (mediation.started sent), then closed.
REQUEST_STATES = ("awaiting_consent", "accepted", "closed")
OPEN_REQUEST_STATES = ("awaiting_consent", "accepted")
OUTCOMES = ("agreement", "no_agreement", "party_absent", "withdrawn", "refused", "expired")
SESSION_OUTCOMES = ("agreement", "no_agreement", "party_absent", "withdrawn")

SESSION_STATES = ("proposed", "confirmed", "held", "cancelled", *SESSION_OUTCOMES)
# Which session state may follow which. Cancelled is only possible before the session is held;
# an outcome ends the request (a cancelled session leaves it open to be planned again).
SESSION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("confirmed", "cancelled", "withdrawn"),
    "confirmed": ("held", "cancelled", "party_absent", "withdrawn"),
    "held": SESSION_OUTCOMES,
}
# Sessions that occupy their mediator and venue: all but cancelled ones.
BUSY_SESSION_STATES = tuple(s for s in SESSION_STATES if s != "cancelled")
UPCOMING_SESSION_STATES = ("proposed", "confirmed")

DEFAULT_POLICY_FILE = Path(__file__).parent / "data" / "mediation_policy.yaml"
POLICY_FILE_ENV = "XIAOBAO_MEDIATION_POLICY_FILE"
FAST_TRACK_CLOCK = "mediation_fast_track"
COURT_CLOCK = "court_referred_mediation"
CENTRE_CLOCK = "mediation"
CLOCK_NAMES = (CENTRE_CLOCK, COURT_CLOCK, FAST_TRACK_CLOCK)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# --- the desk's policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class MediationPolicy:
    version: str
    fast_track_below_fen: int
    fast_track_clock_days: int
    fast_track_clock_unit: str
    fast_track_default_form: str
    session_minutes: int
    fast_track_session_minutes: int
    reminder_lead_hours: tuple[int, ...]
    slot_minutes: int
    horizon_working_days: int
    time_limit_seconds: float
    elderly_age: int
    # A request neither party has answered within this many days ends as expired.
    consent_days: int
    speciality_by_product: dict[str, str]
    speciality_by_business_type: dict[str, str]


def _whole(raw: Mapping, key: str, minimum: int = 1) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{key}: must be a whole number >= {minimum}, not {value!r}")
    return value


def parse_mediation_policy(raw: object) -> MediationPolicy:
    """Validate the desk's policy; ValueError names the field at fault."""
    if not isinstance(raw, Mapping):
        raise ValueError("the mediation policy must be a mapping")
    fast = raw.get("fast_track")
    if not isinstance(fast, Mapping):
        raise ValueError("fast_track: must be a mapping")
    try:
        below = _whole(fast, "below_fen", 0)
        days = _whole(fast, "clock_days")
    except ValueError as exc:
        raise ValueError(f"fast_track.{exc}") from None
    unit = fast.get("clock_unit", "calendar_days")
    if unit not in ("calendar_days", "working_days"):
        raise ValueError(f"fast_track.clock_unit: {unit!r} is not calendar_days or working_days")
    form = fast.get("default_form", "online")
    if form not in FORMS:
        raise ValueError(f"fast_track.default_form: {form!r} is not one of {', '.join(FORMS)}")
    leads = raw.get("reminder_lead_hours", [24, 2])
    if not isinstance(leads, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in leads
    ):
        raise ValueError("reminder_lead_hours: must be a list of whole hours > 0")
    limit = raw.get("time_limit_seconds", 10)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
        raise ValueError(f"time_limit_seconds: must be a number > 0, not {limit!r}")
    maps = {}
    for key in ("speciality_by_product", "speciality_by_business_type"):
        body = raw.get(key) or {}
        if not isinstance(body, Mapping) or any(v not in SPECIALITIES for v in body.values()):
            raise ValueError(f"{key}: must map codes to one of {', '.join(SPECIALITIES)}")
        maps[key] = {str(k): str(v) for k, v in body.items()}
    return MediationPolicy(
        version=str(raw.get("version", "")),
        fast_track_below_fen=below,
        fast_track_clock_days=days,
        fast_track_clock_unit=unit,
        fast_track_default_form=form,
        session_minutes=_whole(raw, "session_minutes"),
        fast_track_session_minutes=_whole(raw, "fast_track_session_minutes"),
        reminder_lead_hours=tuple(sorted(set(leads), reverse=True)),
        slot_minutes=_whole(raw, "slot_minutes"),
        horizon_working_days=_whole(raw, "horizon_working_days"),
        time_limit_seconds=float(limit),
        elderly_age=_whole(raw, "elderly_age"),
        consent_days=_whole({"consent_days": raw.get("consent_days", 10)}, "consent_days"),
        **maps,
    )


def load_mediation_policy(path: str | Path | None = None) -> MediationPolicy:
    """The file at `path`, else $XIAOBAO_MEDIATION_POLICY_FILE, else the packaged file."""
    path = path or os.environ.get(POLICY_FILE_ENV) or DEFAULT_POLICY_FILE
    return load_yaml(path, parse_mediation_policy, "mediation policy")


# --- requests ----------------------------------------------------------------------------------


def is_fast_track(amount_fen: int, source: str, mp: MediationPolicy) -> bool:
    """Small claims take the fast track; a court's referral keeps the court's own terms."""
    return source != "court" and 0 < amount_fen < mp.fast_track_below_fen


def initial_form(preferred: str, fast_track: bool, mp: MediationPolicy) -> str:
    """The form asked for; on the fast track "any" becomes the fast track's default (online)."""
    if preferred not in FORMS:
        raise InvalidArgument("preferred_form", f"must be one of {', '.join(FORMS)}")
    if fast_track and preferred == "any":
        return mp.fast_track_default_form
    return preferred


def skills_needed(product: str, business_type: str, source: str, mp: MediationPolicy) -> set[str]:
    skill = mp.speciality_by_product.get(product) or mp.speciality_by_business_type.get(
        business_type
    )
    needed = {skill} if skill else set()
    if source == "court":
        needed.add("legal")
    return needed


def consent_decision(consents: Mapping[str, bool]) -> str:
    """refused (either party refused), accepted (both consented) or waiting."""
    if any(v is False for v in consents.values()):
        return "refused"
    if all(consents.get(p) is True for p in PARTIES):
        return "accepted"
    return "waiting"


def check_can_consent(state: str, party: str, already: Mapping[str, bool]) -> None:
    if party not in PARTIES:
        raise InvalidArgument("party", f"must be one of {', '.join(PARTIES)}")
    if state != "awaiting_consent":
        raise FailedPrecondition(f"the request is {state}; consent is no longer recorded")
    if party in already:
        raise FailedPrecondition(f"the {party}'s answer is already recorded")


def check_session_transition(current: str, target: str) -> None:
    if target not in SESSION_STATES:
        raise InvalidArgument("state", f"must be one of {', '.join(SESSION_STATES)}")
    if target not in SESSION_TRANSITIONS.get(current, ()):
        allowed = ", ".join(SESSION_TRANSITIONS.get(current, ())) or "nothing (it is final)"
        raise FailedPrecondition(f"a {current} session cannot become {target}; allowed: {allowed}")


def check_outcome(outcome: str, amount_fen: int, terms: str) -> None:
    if outcome not in SESSION_OUTCOMES:
        raise InvalidArgument("outcome", f"must be one of {', '.join(SESSION_OUTCOMES)}")
    if amount_fen < 0:
        raise InvalidArgument("amount_fen", "must not be negative")
    if outcome == "agreement" and not terms.strip():
        raise InvalidArgument("terms", "an agreement needs its terms")
    if outcome != "agreement" and amount_fen:
        raise InvalidArgument("amount_fen", "only an agreement carries an amount")


# --- the mediation clock -----------------------------------------------------------------------


def clock_spec(policy: Policy, source: str, fast_track: bool, mp: MediationPolicy) -> ClockSpec:
    """The clock a request runs on: the court's, the fast track's (data) or the centre's."""
    if source == "court":
        return policy.clock(COURT_CLOCK)
    base = policy.clock(CENTRE_CLOCK)
    if fast_track:
        return dataclasses.replace(
            base,
            name=FAST_TRACK_CLOCK,
            title="Small-claims fast-track mediation (the centre's own limit)",
            limit=mp.fast_track_clock_days,
            unit=mp.fast_track_clock_unit,
            article="centre rule (mediation_policy.yaml fast_track)",
        )
    return base


def court_deadline_instant(day: date, policy: Policy) -> datetime:
    """A court's deadline date ends at 24:00 of that day, in the policy's time zone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=policy.tz)


def clock_status(
    spec: ClockSpec,
    events: Sequence[Mapping[str, Any]],
    calendar: WorkingCalendar,
    now: datetime,
    policy: Policy,
    court_deadline: date | None = None,
) -> ClockStatus:
    """The engine's view of a request's clock from its stored events; a court's own deadline,
    when it gave one, replaces the computed one."""
    replay = [ClockEvent(kind=e["kind"], at=datetime.fromisoformat(e["at"])) for e in events]
    status = evaluate(spec, replay, calendar, now, policy)
    if court_deadline is None or status.started_at is None:
        return status
    deadline = court_deadline_instant(court_deadline, policy)
    if status.stopped_at is not None:
        state, within = "stopped", status.stopped_at < deadline
    else:
        from services.common.clock import running_state

        start = min(status.started_at, deadline - timedelta(days=1))
        state, within = running_state(start, deadline, now, policy.at_risk_fraction), None
    return dataclasses.replace(
        status,
        last_day=court_deadline,
        deadline=deadline,
        provisional=False,
        state=state,
        within_limit=within,
        article="the referring court's deadline",
    )


# --- working time ------------------------------------------------------------------------------


def hhmm(value: object, where: str) -> time:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"{where}: must be a time like 09:00, not {value!r}")
    h, m = value.split(":")
    return time(int(h), int(m))


def working_windows(
    first: date,
    last: date,
    opens: str,
    closes: str,
    calendar: WorkingCalendar,
    tz,
    weekdays: Sequence[int] = (1, 2, 3, 4, 5, 6, 7),
    off: Sequence[tuple[date, date]] = (),
) -> list[tuple[datetime, datetime]]:
    """Opening hours on every working day from `first` to `last` (both included), except
    weekdays not worked and days off (inclusive ranges)."""
    t_open, t_close = hhmm(opens, "opens"), hhmm(closes, "closes")
    out = []
    d = first
    while d <= last:
        if (
            calendar.is_working_day(d)
            and d.isoweekday() in weekdays
            and not any(a <= d <= b for a, b in off)
        ):
            out.append((datetime.combine(d, t_open, tz), datetime.combine(d, t_close, tz)))
        d += timedelta(days=1)
    return out


def subtract(
    windows: Sequence[tuple[datetime, datetime]], busy: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of `windows` not covered by any `busy` interval."""
    out = list(windows)
    for b_start, b_end in busy:
        nxt = []
        for w_start, w_end in out:
            if b_end <= w_start or w_end <= b_start:
                nxt.append((w_start, w_end))
                continue
            if w_start < b_start:
                nxt.append((w_start, b_start))
            if b_end < w_end:
                nxt.append((b_end, w_end))
        out = nxt
    return out


# --- the roster file ---------------------------------------------------------------------------


class RosterError(ValueError):
    """A roster file refused whole; the message names the line and the field."""


@dataclass(frozen=True)
class MediatorEntry:
    id: str
    name: str
    specialities: tuple[str, ...]
    languages: tuple[str, ...]
    elderly_suitable: bool
    max_per_day: int
    max_per_week: int
    conflicts: tuple[str, ...]
    works_from: str
    works_until: str
    weekdays: tuple[int, ...]
    leave: tuple[tuple[date, date, str], ...]


@dataclass(frozen=True)
class VenueEntry:
    id: str
    name: str
    kind: str
    capacity: int
    opens: str
    closes: str
    court_name: str


@dataclass(frozen=True)
class Roster:
    mediators: tuple[MediatorEntry, ...]
    venues: tuple[VenueEntry, ...]


_MEDIATOR_KEYS = {
    "id",
    "name",
    "specialities",
    "languages",
    "elderly_suitable",
    "max_per_day",
    "max_per_week",
    "conflicts",
    "works_from",
    "works_until",
    "weekdays",
    "leave",
}
_VENUE_KEYS = {"id", "name", "kind", "capacity", "opens", "closes", "court_name"}
# Caps and capacities above this are typing errors (and would overflow a database integer).
MAX_ROSTER_NUMBER = 1000


def _lines(node: yaml.Node) -> Any:
    """The YAML document as Python values, mappings annotated with their line ('__line__').

    A key given twice, or a scalar YAML cannot read (a date like 2026-02-30), is refused here
    with its line."""
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {"__line__": node.start_mark.line + 1}
        for k, v in node.value:
            key = str(_scalar(k))
            if key in out:
                raise RosterError(f"line {k.start_mark.line + 1}: key {key!r} given twice")
            out[key] = _lines(v)
        return out
    if isinstance(node, yaml.SequenceNode):
        return _Items(node.start_mark.line + 1, [_lines(v) for v in node.value])
    return _scalar(node)


class _Items(list):
    """A YAML sequence that remembers its line."""

    def __init__(self, line: int, items: list) -> None:
        super().__init__(items)
        self.line = line


def _scalar(node: yaml.Node) -> Any:
    try:
        return yaml.safe_load(yaml.serialize(node))
    except (ValueError, yaml.YAMLError) as exc:
        raise RosterError(f"line {node.start_mark.line + 1}: cannot be read: {exc}") from None


def parse_roster(text: str) -> Roster:
    """The roster (mediators, venues) from YAML; RosterError names the line and the field."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "").split())
        raise RosterError(
            f"line {mark.line + 1 if mark else 1}: not valid YAML: {problem}"
        ) from None
    except yaml.YAMLError as exc:
        raise RosterError(f"line 1: not valid YAML: {' '.join(str(exc).split())}") from None
    if node is None:
        raise RosterError("line 1: the roster is empty")
    raw = _lines(node)
    if not isinstance(raw, dict):
        raise RosterError("line 1: the roster must be a mapping with mediators and venues")
    unknown = set(raw) - {"__line__", "version", "mediators", "venues"}
    if unknown:
        raise RosterError(f"line {raw['__line__']}: unknown keys {sorted(unknown)}")
    for key in ("mediators", "venues"):
        if raw.get(key) is not None and not isinstance(raw[key], list):
            found = raw[key]
            line = found.get("__line__") if isinstance(found, dict) else raw["__line__"]
            raise RosterError(f"line {line}: {key}: must be a list")
    mediators: list[MediatorEntry] = []
    venues: list[VenueEntry] = []
    seen: set[str] = set()
    for i, m in enumerate(raw.get("mediators") or []):
        mediators.append(_mediator(m, f"mediators[{i}]", seen, raw["mediators"]))
    seen = set()
    for i, v in enumerate(raw.get("venues") or []):
        venues.append(_venue(v, f"venues[{i}]", seen, raw["venues"]))
    if not mediators and not venues:
        # Every mediator and venue missing from a file is deactivated: an empty roster would
        # close the desk.
        raise RosterError(f"line {raw['__line__']}: the roster lists no mediators and no venues")
    return Roster(tuple(mediators), tuple(venues))


def _fail(line: int, where: str, message: str) -> RosterError:
    return RosterError(f"line {line}: {where}: {message}")


def _entry_id(m: Any, where: str, seen: set[str], keys: set[str], within: Any) -> tuple[int, str]:
    if not isinstance(m, dict):
        raise RosterError(f"line {getattr(within, 'line', 1)}: {where}: must be a mapping")
    line = m["__line__"]
    unknown = set(m) - keys - {"__line__"}
    if unknown:
        raise _fail(line, where, f"unknown keys {sorted(unknown)}")
    mid = m.get("id")
    if not isinstance(mid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", mid):
        raise _fail(line, f"{where}.id", "must be 1-32 letters, digits, - or _")
    if mid in seen:
        raise _fail(line, f"{where}.id", f"duplicate id {mid!r}")
    seen.add(mid)
    return line, mid


def _str_list(m: dict, key: str, line: int, where: str, allowed=None) -> tuple[str, ...]:
    value = m.get(key) or []
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise _fail(line, f"{where}.{key}", "must be a list of names")
    if allowed is not None:
        bad = [x for x in value if x not in allowed]
        if bad:
            raise _fail(line, f"{where}.{key}", f"{bad} not among {', '.join(allowed)}")
    return tuple(value)


def _int(m: dict, key: str, default: int, line: int, where: str) -> int:
    value = m.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROSTER_NUMBER:
        raise _fail(
            line,
            f"{where}.{key}",
            f"must be a whole number from 1 to {MAX_ROSTER_NUMBER}, not {value!r}",
        )
    return value


def _day(value: Any, line: int, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(line, where, f"not a date like 2026-12-01: {value!r}") from None


def _mediator(m: Any, where: str, seen: set[str], within: Any = None) -> MediatorEntry:
    line, mid = _entry_id(m, where, seen, _MEDIATOR_KEYS, within)
    name = m.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(line, f"{where}.name", "is required")
    specialities = _str_list(m, "specialities", line, where, SPECIALITIES)
    if not specialities:
        raise _fail(line, f"{where}.specialities", "needs at least one speciality")
    per_day = _int(m, "max_per_day", 3, line, where)
    per_week = _int(m, "max_per_week", 10, line, where)
    if per_week < per_day:
        raise _fail(line, f"{where}.max_per_week", f"{per_week} is below max_per_day {per_day}")
    works_from, works_until = m.get("works_from", "09:00"), m.get("works_until", "17:30")
    try:
        if hhmm(works_from, "works_from") >= hhmm(works_until, "works_until"):
            raise ValueError("works_until: must be after works_from")
    except ValueError as exc:
        raise _fail(line, where, str(exc)) from None
    weekdays = m.get("weekdays", [1, 2, 3, 4, 5])
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in weekdays
    ):
        raise _fail(line, f"{where}.weekdays", "must list ISO weekdays 1 (Monday) to 7")
    elderly = m.get("elderly_suitable", False)
    if not isinstance(elderly, bool):
        raise _fail(line, f"{where}.elderly_suitable", "must be true or false")
    leave = []
    for j, lv in enumerate(m.get("leave") or []):
        w = f"{where}.leave[{j}]"
        if not isinstance(lv, dict) or "from" not in lv:
            raise _fail(line, w, "must be {from, to, reason}")
        first = _day(lv["from"], lv["__line__"], f"{w}.from")
        last = _day(lv.get("to", lv["from"]), lv["__line__"], f"{w}.to")
        if last < first:
            raise _fail(lv["__line__"], f"{w}.to", "ends before it begins")
        reason = lv.get("reason", "leave")
        if reason not in ("leave", "sick"):
            raise _fail(lv["__line__"], f"{w}.reason", "must be leave or sick")
        leave.append((first, last, reason))
    return MediatorEntry(
        id=mid,
        name=name.strip(),
        specialities=specialities,
        languages=_str_list(m, "languages", line, where),
        elderly_suitable=elderly,
        max_per_day=per_day,
        max_per_week=per_week,
        conflicts=_str_list(m, "conflicts", line, where),
        works_from=works_from,
        works_until=works_until,
        weekdays=tuple(weekdays),
        leave=tuple(leave),
    )


def _venue(v: Any, where: str, seen: set[str], within: Any = None) -> VenueEntry:
    line, vid = _entry_id(v, where, seen, _VENUE_KEYS, within)
    name = v.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(line, f"{where}.name", "is required")
    kind = v.get("kind")
    if kind not in VENUE_KINDS:
        raise _fail(line, f"{where}.kind", f"must be one of {', '.join(VENUE_KINDS)}")
    court = v.get("court_name", "")
    if kind == "court" and not (isinstance(court, str) and court.strip()):
        raise _fail(line, f"{where}.court_name", "a court room names its court")
    opens, closes = v.get("opens", "09:00"), v.get("closes", "17:30")
    try:
        if hhmm(opens, "opens") >= hhmm(closes, "closes"):
            raise ValueError("closes: must be after opens")
    except ValueError as exc:
        raise _fail(line, where, str(exc)) from None
    return VenueEntry(
        id=vid,
        name=name.strip(),
        kind=kind,
        capacity=_int(v, "capacity", 6, line, where),
        opens=opens,
        closes=closes,
        court_name=str(court or ""),
    )
