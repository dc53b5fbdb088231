"""Mediation scheduling (调解排期): pick a mediator, a venue and a slot for each open request.

Pure: no database, no framework. Time is cut into slots of `slot_minutes` from the horizon start;
each request gets a capped list of feasible (mediator, venue, start) candidates, and a mixed
integer programme (HiGHS) chooses at most one per request. OR-Tools CP-SAT was the first choice,
but every ortools release pins protobuf < 6.34 while grpcio-tools needs protobuf 7, so they
cannot share an environment. A greedy pass gives the fallback and the MIP's starting solution.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np

# A mediator needs this much time between two sessions (notes, the next party's file).
BUFFER_MINUTES = 15
# A session is never booked less than this long after the plan is made (parties must be told).
MIN_NOTICE_HOURS = 24
# Candidates kept per request: the earliest starts, then starts spread over the rest of the
# request's window, with a few (mediator, venue) pairs at each start.
EARLY_STARTS = 8
SPREAD_STARTS = 16
PAIRS_PER_START = 3
# Objective weights: scheduling one more request outweighs any mix of the preferences.
SCHEDULED_WEIGHT = 100.0
EARLINESS_WEIGHT = 1.0  # a start at the horizon's end costs this much against one at its start
BALANCE_WEIGHT = 0.5  # per session on the busiest mediator
KEEP_WEIGHT = 10.0  # replan: keeping a previous assignment unchanged

FORMS = ("onsite", "online")

REASON_SKILLS = "no mediator with the skills"
REASON_CONFLICT = "every mediator with the skills is conflicted with the institution"
REASON_FORM = "no venue of the requested form"
REASON_AVAILABILITY = "no common availability before the deadline"
REASON_CAPACITY = "capacity: every feasible slot is taken"
REASON_CANCELLED = "cancelled"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Request:
    id: str
    deadline: datetime
    skills: frozenset[str]
    institution: str
    form: str  # onsite | online | any
    duration_minutes: int
    availability: tuple[Window, ...]


@dataclass(frozen=True)
class Mediator:
    id: str
    skills: frozenset[str]
    conflicts: frozenset[str]
    max_per_day: int
    availability: tuple[Window, ...]


@dataclass(frozen=True)
class Venue:
    id: str
    form: str  # onsite | online
    availability: tuple[Window, ...]


@dataclass(frozen=True)
class Problem:
    horizon: Window
    slot_minutes: int
    requests: tuple[Request, ...]
    mediators: tuple[Mediator, ...]
    venues: tuple[Venue, ...]
    # When the plan is made; minimum notice counts from here. Defaults to the horizon start.
    now: datetime


@dataclass(frozen=True)
class Assignment:
    request: str
    mediator: str
    venue: str
    start: datetime
    end: datetime


@dataclass
class Plan:
    assignments: list[Assignment] = field(default_factory=list)
    unscheduled: list[tuple[str, str]] = field(default_factory=list)  # (request id, reason)
    solver: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "assignments": [
                {
                    "request": a.request,
                    "mediator": a.mediator,
                    "venue": a.venue,
                    "start": a.start.isoformat(),
                    "end": a.end.isoformat(),
                }
                for a in self.assignments
            ],
            "unscheduled": [{"request": r, "reason": why} for r, why in self.unscheduled],
        }


# --- parsing ------------------------------------------------------------------------------


def _get(obj: Any, key: str, path: str) -> Any:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected an object")
    if key not in obj:
        raise ValueError(f"{path}.{key}: missing" if path else f"{key}: missing")
    return obj[key]


def _time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{path}: expected an ISO 8601 time string")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{path}: not an ISO 8601 time: {value!r}") from None
    if t.utcoffset() is None:
        raise ValueError(f"{path}: time without a UTC offset: {value!r}")
    return t


def _window(raw: Any, path: str) -> Window:
    start = _time(_get(raw, "start", path), f"{path}.start")
    end = _time(_get(raw, "end", path), f"{path}.end")
    if end <= start:
        raise ValueError(f"{path}.end: not after start")
    return Window(start, end)


def _windows(raw: Any, path: str) -> tuple[Window, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of windows")
    return tuple(_window(w, f"{path}[{i}]") for i, w in enumerate(raw))


def _strings(raw: Any, path: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise ValueError(f"{path}: expected a list of strings")
    return frozenset(raw)


def _id(raw: Any, path: str, seen: set[str]) -> str:
    value = _get(raw, "id", path)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path}.id: expected a non-empty string")
    if value in seen:
        raise ValueError(f"{path}.id: duplicate id {value!r}")
    seen.add(value)
    return value


def _positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{path}: expected a positive integer, got {value!r}")
    return value


def _list(raw: dict, key: str) -> list:
    value = _get(raw, key, "")
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list")
    return value


def parse_problem(raw: dict) -> Problem:
    """The problem from its JSON form; ValueError names the faulty field ("requests[3].deadline")."""
    if not isinstance(raw, dict):
        raise ValueError("(root): expected an object")
    horizon = _window(_get(raw, "horizon", ""), "horizon")
    slot = _positive_int(_get(raw, "slot_minutes", ""), "slot_minutes")
    now = _time(raw["now"], "now") if "now" in raw else horizon.start
    seen: set[str] = set()
    requests = []
    for i, r in enumerate(_list(raw, "requests")):
        p = f"requests[{i}]"
        rid = _id(r, p, seen)
        form = _get(r, "form", p)
        if form not in (*FORMS, "any"):
            raise ValueError(f"{p}.form: must be onsite, online or any, got {form!r}")
        institution = _get(r, "institution", p)
        if not isinstance(institution, str):
            raise ValueError(f"{p}.institution: expected a string")
        requests.append(
            Request(
                id=rid,
                deadline=_time(_get(r, "deadline", p), f"{p}.deadline"),
                skills=_strings(_get(r, "skills", p), f"{p}.skills"),
                institution=institution,
                form=form,
                duration_minutes=_positive_int(
                    _get(r, "duration_minutes", p), f"{p}.duration_minutes"
                ),
                availability=_windows(_get(r, "availability", p), f"{p}.availability"),
            )
        )
    seen = set()
    mediators = []
    for i, m in enumerate(_list(raw, "mediators")):
        p = f"mediators[{i}]"
        mediators.append(
            Mediator(
                id=_id(m, p, seen),
                skills=_strings(_get(m, "skills", p), f"{p}.skills"),
                conflicts=_strings(_get(m, "conflicts", p), f"{p}.conflicts"),
                max_per_day=_positive_int(_get(m, "max_per_day", p), f"{p}.max_per_day"),
                availability=_windows(_get(m, "availability", p), f"{p}.availability"),
            )
        )
    seen = set()
    venues = []
    for i, v in enumerate(_list(raw, "venues")):
        p = f"venues[{i}]"
        vid = _id(v, p, seen)
        form = _get(v, "form", p)
        if form not in FORMS:
            raise ValueError(f"{p}.form: must be onsite or online, got {form!r}")
        venues.append(Venue(vid, form, _windows(_get(v, "availability", p), f"{p}.availability")))
    return Problem(horizon, slot, tuple(requests), tuple(mediators), tuple(venues), now)


# --- slots and candidates -----------------------------------------------------------------


class _Grid:
    """Slot i is [origin + i*slot, origin + (i+1)*slot)."""

    def __init__(self, problem: Problem) -> None:
        self.origin = problem.horizon.start
        self.slot = timedelta(minutes=problem.slot_minutes)
        self.n = int((problem.horizon.end - self.origin) / self.slot)
        self.buffer = math.ceil(BUFFER_MINUTES / problem.slot_minutes)
        tz = self.origin.tzinfo
        self.day = np.array(
            [(self.origin + i * self.slot).astimezone(tz).date().toordinal() for i in range(self.n)]
        )

    def time(self, i: int) -> datetime:
        return self.origin + i * self.slot

    def run(self, windows: tuple[Window, ...]) -> np.ndarray:
        """run[i] = number of consecutive free slots from slot i (0 if i is not free)."""
        free = np.zeros(self.n + 1, dtype=bool)
        for w in windows:
            a = math.ceil((w.start - self.origin) / self.slot)
            b = math.floor((w.end - self.origin) / self.slot)
            if b > a:
                free[max(a, 0) : min(b, self.n)] = True
        run = np.zeros(self.n + 1, dtype=np.int32)
        for i in range(self.n - 1, -1, -1):
            run[i] = run[i + 1] + 1 if free[i] else 0
        return run

    def last_start(self, until: datetime, length: int) -> int:
        """Largest slot index whose session of `length` slots ends by `until`."""
        return math.floor((until - self.origin) / self.slot) - length


@dataclass
class _Candidate:
    request: int
    mediator: int
    venue: int
    start: int
    length: int


class _Model:
    """Everything static about a problem: slot runs, eligibility, feasible starts."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        g = self.g = _Grid(problem)
        self.med_run = [g.run(m.availability) for m in problem.mediators]
        self.ven_run = [g.run(v.availability) for v in problem.venues]
        notice = problem.now + timedelta(hours=MIN_NOTICE_HOURS)
        self.first = max(0, math.ceil((notice - g.origin) / g.slot))
        self.length = [
            math.ceil(r.duration_minutes / problem.slot_minutes) for r in problem.requests
        ]
        self.eligible: list[list[int]] = []
        self.venues_ok: list[list[int]] = []
        self.reason: dict[int, str] = {}
        self.starts: list[np.ndarray] = []  # starts where request, some mediator, some venue fit
        for ri, r in enumerate(problem.requests):
            skilled = [mi for mi, m in enumerate(problem.mediators) if r.skills <= m.skills]
            ok = [mi for mi in skilled if r.institution not in problem.mediators[mi].conflicts]
            vs = [vi for vi, v in enumerate(problem.venues) if r.form in ("any", v.form)]
            self.eligible.append(ok)
            self.venues_ok.append(vs)
            if not skilled:
                self.reason[ri] = REASON_SKILLS
            elif not ok:
                self.reason[ri] = REASON_CONFLICT
            elif not vs:
                self.reason[ri] = REASON_FORM
            d = self.length[ri]
            last = min(g.last_start(r.deadline, d), g.n - d)
            starts = np.zeros(0, dtype=np.int64)
            if ri not in self.reason and last >= self.first:
                rrun = g.run(r.availability)[self.first : last + 1] >= d
                mrun = np.any([self.med_run[mi][self.first : last + 1] >= d for mi in ok], axis=0)
                vrun = np.any([self.ven_run[vi][self.first : last + 1] >= d for vi in vs], axis=0)
                starts = np.flatnonzero(rrun & mrun & vrun) + self.first
            if ri not in self.reason and len(starts) == 0:
                self.reason[ri] = REASON_AVAILABILITY
            self.starts.append(starts)

    def pairs(self, ri: int, s: int) -> tuple[list[int], list[int]]:
        d = self.length[ri]
        ms = [mi for mi in self.eligible[ri] if self.med_run[mi][s] >= d]
        vs = [vi for vi in self.venues_ok[ri] if self.ven_run[vi][s] >= d]
        return ms, vs


# --- greedy -------------------------------------------------------------------------------


def _plan_from(
    problem: Problem, model: _Model, chosen: dict[int, _Candidate], solver: str, t0: float
) -> Plan:
    g = model.g
    plan = Plan(solver=solver)
    for ri, r in enumerate(problem.requests):
        c = chosen.get(ri)
        if c is None:
            plan.unscheduled.append((r.id, model.reason.get(ri, REASON_CAPACITY)))
            continue
        start = g.time(c.start)
        plan.assignments.append(
            Assignment(
                r.id,
                problem.mediators[c.mediator].id,
                problem.venues[c.venue].id,
                start,
                start + timedelta(minutes=r.duration_minutes),
            )
        )
    plan.seconds = time.perf_counter() - t0
    return plan


def _greedy(model: _Model) -> dict[int, _Candidate]:
    p, g = model.p, model.g
    med_busy = np.zeros((len(p.mediators), g.n + g.buffer + 1), dtype=bool)
    ven_busy = np.zeros((len(p.venues), g.n + 1), dtype=bool)
    per_day: dict[tuple[int, int], int] = defaultdict(int)
    load = [0] * len(p.mediators)
    order = sorted(
        (ri for ri in range(len(p.requests)) if ri not in model.reason),
        key=lambda ri: (p.requests[ri].deadline, len(model.starts[ri])),
    )
    chosen: dict[int, _Candidate] = {}
    for ri in order:
        d = model.length[ri]
        for s in model.starts[ri]:
            s = int(s)
            ms, vs = model.pairs(ri, s)
            v = next((vi for vi in vs if not ven_busy[vi, s : s + d].any()), None)
            if v is None:
                continue
            day = int(g.day[s])
            free = [
                mi
                for mi in ms
                if not med_busy[mi, s : s + d + g.buffer].any()
                and per_day[mi, day] < p.mediators[mi].max_per_day
                # the buffer before: a session ending within `buffer` slots before s
                and not med_busy[mi, max(0, s - g.buffer) : s].any()
            ]
            if not free:
                continue
            m = min(free, key=lambda mi: load[mi])
            # Mark the session only (not its buffer) so the backward check above sees it.
            med_busy[m, s : s + d] = True
            ven_busy[v, s : s + d] = True
            per_day[m, day] += 1
            load[m] += 1
            chosen[ri] = _Candidate(ri, m, v, s, d)
            break
    return chosen


def greedy(problem: Problem) -> Plan:
    """Requests by deadline, then fewest feasible starts; each takes its earliest free slot."""
    t0 = time.perf_counter()
    model = _Model(problem)
    return _plan_from(problem, model, _greedy(model), "greedy", t0)


# --- the MIP ------------------------------------------------------------------------------


def _candidates(model: _Model, keep: dict[int, _Candidate]) -> list[_Candidate]:
    out: list[_Candidate] = []
    med_seen = [0] * len(model.p.mediators)
    ven_seen = [0] * len(model.p.venues)
    for ri, starts in enumerate(model.starts):
        if len(starts) == 0:
            continue
        d = model.length[ri]
        picked = list(starts[:EARLY_STARTS])
        rest = starts[EARLY_STARTS:]
        if len(rest):
            idx = np.unique(
                np.linspace(0, len(rest) - 1, min(SPREAD_STARTS, len(rest))).astype(int)
            )
            picked += list(rest[idx])
        seen = set()
        if ri in keep:
            k = keep[ri]
            out.append(k)
            seen.add((k.mediator, k.venue, k.start))
        for s in picked:
            s = int(s)
            ms, vs = model.pairs(ri, s)
            # Rotate through the least-offered mediators and venues so candidates spread load.
            ms = sorted(ms, key=lambda mi: med_seen[mi])[:PAIRS_PER_START]
            vs = sorted(vs, key=lambda vi: ven_seen[vi])[:PAIRS_PER_START]
            for j in range(max(len(ms), len(vs))):
                mi, vi = ms[j % len(ms)], vs[j % len(vs)]
                if (mi, vi, s) in seen:
                    continue
                seen.add((mi, vi, s))
                med_seen[mi] += 1
                ven_seen[vi] += 1
                out.append(_Candidate(ri, mi, vi, s, d))
    return out


def _mip(
    model: _Model,
    cands: list[_Candidate],
    hint: dict[int, _Candidate],
    keep: dict[int, _Candidate],
    deadline: float,
    workers: int,
) -> dict[int, _Candidate] | None:
    import highspy

    p, g = model.p, model.g
    n = len(cands)
    if n == 0:
        return {}
    n_med = len(p.mediators)
    # Columns: one per candidate, then the busiest mediator's load.
    cost = np.empty(n + 1)
    rows: dict[tuple, list[int]] = defaultdict(list)
    for j, c in enumerate(cands):
        w = SCHEDULED_WEIGHT - EARLINESS_WEIGHT * c.start / max(g.n, 1)
        k = keep.get(c.request)
        if k is not None and (k.mediator, k.venue, k.start) == (c.mediator, c.venue, c.start):
            w += KEEP_WEIGHT
        cost[j] = -w  # HiGHS minimises
        rows["r", c.request].append(j)
        for s in range(c.start, c.start + c.length + g.buffer):
            rows["m", c.mediator, s].append(j)
        for s in range(c.start, c.start + c.length):
            rows["v", c.venue, s].append(j)
        rows["d", c.mediator, int(g.day[c.start])].append(j)
        rows["l", c.mediator].append(j)
    cost[n] = BALANCE_WEIGHT
    starts, index, value, lower, upper = [0], [], [], [], []
    for key, cols in rows.items():
        kind = key[0]
        if kind == "l":
            index += [*cols, n]
            value += [1.0] * len(cols) + [-1.0]
            lower.append(-highspy.kHighsInf)
            upper.append(0.0)
        else:
            if len(cols) <= 1 and kind != "d":
                continue
            cap = p.mediators[key[1]].max_per_day if kind == "d" else 1
            if kind == "d" and len(cols) <= cap:
                continue
            index += cols
            value += [1.0] * len(cols)
            lower.append(-highspy.kHighsInf)
            upper.append(float(cap))
        starts.append(len(index))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # Leave room to read the solution back and build the plan.
    h.setOptionValue("time_limit", max(deadline - time.perf_counter() - 0.3, 0.1))
    h.setOptionValue("threads", int(workers))
    h.setOptionValue("mip_rel_gap", 1e-4)
    lp = highspy.HighsLp()
    lp.num_col_ = n + 1
    lp.num_row_ = len(lower)
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n + 1)
    lp.col_upper_ = np.append(np.ones(n), float(n_med and len(p.requests)))
    lp.row_lower_ = np.array(lower)
    lp.row_upper_ = np.array(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * (n + 1)
    h.passModel(lp)
    if hint:
        where = {(c.request, c.mediator, c.venue, c.start): j for j, c in enumerate(cands)}
        x = np.zeros(n + 1)
        loads = np.zeros(n_med)
        for c in hint.values():
            j = where.get((c.request, c.mediator, c.venue, c.start))
            if j is not None:
                x[j] = 1.0
                loads[c.mediator] += 1
        x[n] = loads.max(initial=0)
        sol = highspy.HighsSolution()
        sol.col_value = list(x)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    if h.getInfo().primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    x = h.getSolution().col_value
    return {c.request: c for j, c in enumerate(cands) if x[j] > 0.5}


def _count(chosen: dict[int, _Candidate]) -> int:
    return len(chosen)


def solve(problem: Problem, time_limit: float = 10.0, workers: int = 2) -> Plan:
    """The best plan found within `time_limit` seconds; greedy's if the MIP does no better."""
    t0 = time.perf_counter()
    model = _Model(problem)
    base = _greedy(model)
    cands = _candidates(model, base)
    deadline = t0 + time_limit
    found = (
        _mip(model, cands, base, {}, deadline, workers) if time.perf_counter() < deadline else None
    )
    if found is None or _count(found) < _count(base):
        return _plan_from(problem, model, base, "greedy", t0)
    return _plan_from(problem, model, found, "mip", t0)


def replan(
    problem: Problem,
    previous: Plan,
    cancelled_request_ids: tuple[str, ...] | list[str] = (),
    unavailable_mediators: tuple[str, ...] | list[str] = (),
    time_limit: float = 10.0,
    workers: int = 2,
) -> Plan:
    """A new plan that keeps as many of `previous`'s assignments unchanged as it can.

    Cancelled requests are dropped; sessions of unavailable mediators are planned again.
    Keeping an assignment weighs KEEP_WEIGHT, less than scheduling one more request.
    """
    t0 = time.perf_counter()
    cancelled = set(cancelled_request_ids)
    gone = set(unavailable_mediators)
    live = Problem(
        problem.horizon,
        problem.slot_minutes,
        tuple(r for r in problem.requests if r.id not in cancelled),
        tuple(m for m in problem.mediators if m.id not in gone),
        problem.venues,
        problem.now,
    )
    model = _Model(live)
    r_ix = {r.id: i for i, r in enumerate(live.requests)}
    m_ix = {m.id: i for i, m in enumerate(live.mediators)}
    v_ix = {v.id: i for i, v in enumerate(live.venues)}
    keep: dict[int, _Candidate] = {}
    for a in previous.assignments:
        if a.request in r_ix and a.mediator in m_ix and a.venue in v_ix:
            ri = r_ix[a.request]
            s = (a.start - model.g.origin) / model.g.slot
            if s != int(s) or not 0 <= s < model.g.n:
                continue
            mi, vi, s = m_ix[a.mediator], v_ix[a.venue], int(s)
            ms, vs = model.pairs(ri, s)
            # Kept only if it still fits: the mediator may be on leave now, the venue closed.
            if mi in ms and vi in vs and s in set(model.starts[ri].tolist()):
                keep[ri] = _Candidate(ri, mi, vi, s, model.length[ri])
    cands = _candidates(model, keep)
    found = _mip(model, cands, {}, keep, t0 + time_limit, workers)
    if found is None:
        found = _greedy(model)
        solver = "greedy"
    else:
        solver = "mip"
    plan = _plan_from(live, model, found, solver, t0)
    plan.unscheduled += [(rid, REASON_CANCELLED) for rid in sorted(cancelled)]
    return plan


# --- checking -----------------------------------------------------------------------------


def _inside(a: datetime, b: datetime, windows: tuple[Window, ...]) -> bool:
    return any(w.start <= a and b <= w.end for w in windows)


def validate_plan(problem: Problem, plan: Plan) -> list[str]:
    """Every broken constraint of `plan`, checked on the times themselves, not on slots."""
    errors: list[str] = []
    reqs = {r.id: r for r in problem.requests}
    meds = {m.id: m for m in problem.mediators}
    vens = {v.id: v for v in problem.venues}
    buffer = timedelta(minutes=BUFFER_MINUTES)
    notice = problem.now + timedelta(hours=MIN_NOTICE_HOURS)
    tz = problem.horizon.start.tzinfo
    seen: defaultdict[str, int] = defaultdict(int)
    by_med: defaultdict[str, list[Assignment]] = defaultdict(list)
    by_ven: defaultdict[str, list[Assignment]] = defaultdict(list)
    for a in plan.assignments:
        seen[a.request] += 1
        r, m, v = reqs.get(a.request), meds.get(a.mediator), vens.get(a.venue)
        if r is None or m is None or v is None:
            errors.append(f"{a.request}: unknown request, mediator or venue")
            continue
        by_med[m.id].append(a)
        by_ven[v.id].append(a)
        if a.end - a.start < timedelta(minutes=r.duration_minutes):
            errors.append(f"{r.id}: session shorter than {r.duration_minutes} min")
        if not r.skills <= m.skills:
            errors.append(f"{r.id}: mediator {m.id} lacks skills {sorted(r.skills - m.skills)}")
        if r.institution in m.conflicts:
            errors.append(f"{r.id}: mediator {m.id} is conflicted with {r.institution}")
        if r.form not in ("any", v.form):
            errors.append(f"{r.id}: wants {r.form}, venue {v.id} is {v.form}")
        for who, windows in (
            ("parties", r.availability),
            (m.id, m.availability),
            (v.id, v.availability),
        ):
            if not _inside(a.start, a.end, windows):
                errors.append(f"{r.id}: {who} not available {a.start.isoformat()}")
        if a.end > r.deadline:
            errors.append(f"{r.id}: ends after the deadline")
        if a.start < notice:
            errors.append(f"{r.id}: less than {MIN_NOTICE_HOURS} h notice")
        if a.start < problem.horizon.start or a.end > problem.horizon.end:
            errors.append(f"{r.id}: outside the horizon")
    for rid, k in seen.items():
        if k > 1:
            errors.append(f"{rid}: scheduled {k} times")
    unscheduled = [rid for rid, _ in plan.unscheduled]
    for rid in reqs:
        k = seen.get(rid, 0) + unscheduled.count(rid)
        if k != 1:
            errors.append(f"{rid}: appears {k} times among assignments and unscheduled")
    for mid, sessions in by_med.items():
        sessions.sort(key=lambda a: a.start)
        for x, y in pairwise(sessions):
            if x.end + buffer > y.start:
                errors.append(f"{mid}: {x.request} and {y.request} overlap or lack the buffer")
        days: defaultdict[Any, int] = defaultdict(int)
        for a in sessions:
            days[a.start.astimezone(tz).date()] += 1
        for day, k in days.items():
            if k > meds[mid].max_per_day:
                errors.append(f"{mid}: {k} sessions on {day}, cap {meds[mid].max_per_day}")
    for vid, sessions in by_ven.items():
        sessions.sort(key=lambda a: a.start)
        for x, y in pairwise(sessions):
            if x.end > y.start:
                errors.append(f"{vid}: {x.request} and {y.request} overlap")
    return errors
