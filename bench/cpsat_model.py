"""The mediation scheduling problem as a CP-SAT model (run in a side venv with ortools; no project code).

python cpsat_model.py problem.json plan.json [--time-limit 10] [--workers 2]
    [--objective full|count] [--hint plan.json] [--params k=v,...] [--energy] [--log]

Reads the batch-contract problem.json and writes plan.json ({"assignments": [...],
"unscheduled": [...]}); prints one JSON line of statistics on stdout. The rules are those of
services/mediation/scheduler.py, rebuilt here on the same slot grid:

- slot i is [origin + i*slot, origin + (i+1)*slot); a window frees the slots wholly inside it;
  a session of ceil(duration/slot) slots may start at s when the request, the mediator and the
  venue each have that many free slots from s; the first start is 24 h after `now`; the session
  ends by the deadline and inside the horizon;
- the mediator has every skill of the request and no conflict with its institution; the venue
  has the requested form (any = either);
- per mediator, sessions plus a 15-minute buffer after each (rounded up to slots) do not
  overlap; per venue, sessions do not overlap; a mediator has at most max_per_day sessions on a
  calendar day of the horizon's time zone.

Variables: per request a start S_r (its domain: the feasible starts), a presence P_r, one
literal per candidate day (exactly one if present; it bounds S_r to that day) and the day D_r;
per eligible (request, mediator) a presence b_rm, excluded on the days (or starts) the mediator
cannot take, an optional interval [S_r, S_r + length + buffer) in the mediator's NoOverlap and
an optional interval [D_r, D_r + 1) of demand 1 in a Cumulative of capacity max_per_day (the
daily cap). Venues with the same form and the same availability form a class, one Cumulative per
class with capacity = its number of venues (exact: sessions that never exceed k at once can be
given k venues, done after solving by interval partitioning).

Objective `full` (default) is the MIP's, scaled to integers: per scheduled request
100 - start/n_slots, minus 0.5 x the busiest mediator's sessions. `count` maximises the number
scheduled only; then the solver's bound is a bound on the count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from ortools.sat.python import cp_model

BUFFER_MINUTES = 15
MIN_NOTICE_HOURS = 24
FORMS = ("onsite", "online")


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _restrict(m, s_r, by_day: dict, zs: dict, lit, allowed: set[int]) -> None:
    """S_r among `allowed` when `lit` holds, day by day (mostly whole days drop out)."""
    for k, ss in by_day.items():
        keep = [s for s in ss if s in allowed]
        if not keep:
            m.AddBoolOr([lit.Not(), zs[k].Not()])
        elif len(keep) < len(ss):
            m.AddLinearExpressionInDomain(s_r, cp_model.Domain.FromValues(keep)).OnlyEnforceIf(
                [lit, zs[k]]
            )


def main() -> None:
    t0 = time.perf_counter()
    ap = argparse.ArgumentParser()
    ap.add_argument("problem")
    ap.add_argument("plan")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--objective", choices=("full", "count"), default="full")
    ap.add_argument("--hint", help="a plan.json to hint the solver with")
    # Probing alone takes ~6 s of presolve on the 1,000-request case; off by default.
    ap.add_argument("--params", default="cp_model_probing_level=0", help="k=v,... for CP-SAT")
    ap.add_argument(
        "--energy",
        action="store_true",
        help="redundant per-day venue-capacity constraints: a better bound, a slower presolve",
    )
    ap.add_argument("--log", action="store_true", help="CP-SAT's search log on stdout")
    a = ap.parse_args()

    raw = json.loads(Path(a.problem).read_text(encoding="utf-8"))
    origin, h_end = _t(raw["horizon"]["start"]), _t(raw["horizon"]["end"])
    now = _t(raw["now"]) if "now" in raw else origin
    slot_min = int(raw["slot_minutes"])
    slot = timedelta(minutes=slot_min)
    n = int((h_end - origin) / slot)
    buffer = math.ceil(BUFFER_MINUTES / slot_min)
    tz = origin.tzinfo
    day_ord = [(origin + i * slot).astimezone(tz).date().toordinal() for i in range(n)]
    day0 = min(day_ord) if day_ord else 0
    day_of = [d - day0 for d in day_ord]
    first = max(0, math.ceil((now + timedelta(hours=MIN_NOTICE_HOURS) - origin) / slot))

    def run(windows: list[dict]) -> list[int]:
        free = [False] * (n + 1)
        for w in windows:
            lo = math.ceil((_t(w["start"]) - origin) / slot)
            hi = math.floor((_t(w["end"]) - origin) / slot)
            for i in range(max(lo, 0), min(hi, n)):
                free[i] = True
        out = [0] * (n + 1)
        for i in range(n - 1, -1, -1):
            out[i] = out[i + 1] + 1 if free[i] else 0
        return out

    reqs, meds, vens = raw["requests"], raw["mediators"], raw["venues"]
    med_run = [run(m["availability"]) for m in meds]
    # Venue classes: same form, same availability.
    classes: dict[tuple, list[int]] = defaultdict(list)
    for vi, v in enumerate(vens):
        key = (v["form"], tuple(sorted((w["start"], w["end"]) for w in v["availability"])))
        classes[key].append(vi)
    cls = list(classes.values())
    cls_form = [vens[c[0]]["form"] for c in cls]
    cls_run = [run(vens[c[0]]["availability"]) for c in cls]

    m = cp_model.CpModel()
    S, P, D, length, first_start = {}, {}, {}, {}, {}
    b: dict[tuple[int, int], cp_model.IntVar] = {}
    c: dict[tuple[int, int], cp_model.IntVar] = {}
    z: dict[tuple[int, int], cp_model.IntVar] = {}
    med_iv: dict[int, list] = defaultdict(list)
    med_day_iv: dict[int, list] = defaultdict(list)
    cls_iv: dict[int, list] = defaultdict(list)
    energy: dict[tuple[int, int], list] = defaultdict(list)
    for ri, r in enumerate(reqs):
        skills = set(r["skills"])
        d = math.ceil(int(r["duration_minutes"]) / slot_min)
        last = min(math.floor((_t(r["deadline"]) - origin) / slot) - d, n - d)
        if last < first:
            continue
        rrun = run(r["availability"])
        rstarts = [s for s in range(first, last + 1) if rrun[s] >= d]
        ok = [
            mi
            for mi, md in enumerate(meds)
            if skills <= set(md["skills"]) and r["institution"] not in set(md["conflicts"])
        ]
        med_starts = {mi: [s for s in rstarts if med_run[mi][s] >= d] for mi in ok}
        med_starts = {mi: ss for mi, ss in med_starts.items() if ss}
        cls_starts = {
            k: [s for s in rstarts if cls_run[k][s] >= d]
            for k in range(len(cls))
            if r["form"] in ("any", cls_form[k])
        }
        cls_starts = {k: ss for k, ss in cls_starts.items() if ss}
        mset = set().union(*med_starts.values()) if med_starts else set()
        vset = set().union(*cls_starts.values()) if cls_starts else set()
        dom = sorted(mset & vset)
        if not dom:
            continue
        length[ri] = d
        first_start[ri] = dom[0]
        s_r = S[ri] = m.NewIntVarFromDomain(cp_model.Domain.FromValues(dom), f"s{ri}")
        p_r = P[ri] = m.NewBoolVar(f"p{ri}")
        # The day is chosen by one literal per day (no element constraint: CP-SAT would encode
        # every start value); each literal bounds S_r to that day's starts.
        by_day: dict[int, list[int]] = defaultdict(list)
        for s in dom:
            by_day[day_of[s]].append(s)
        zs = {}
        for k, ss in by_day.items():
            zk = zs[k] = z[ri, k] = m.NewBoolVar(f"z{ri}_{k}")
            m.Add(s_r >= ss[0]).OnlyEnforceIf(zk)
            m.Add(s_r <= ss[-1]).OnlyEnforceIf(zk)
        m.AddExactlyOne([*zs.values(), p_r.Not()])
        d_r = D[ri] = m.NewIntVarFromDomain(cp_model.Domain.FromValues(sorted(by_day)), f"d{ri}")
        m.Add(d_r == sum(k * zk for k, zk in zs.items())).OnlyEnforceIf(p_r)

        bs = []
        for mi, ss in med_starts.items():
            ss = set(ss) & vset
            if not ss:
                continue
            x = b[ri, mi] = m.NewBoolVar(f"b{ri}_{mi}")
            bs.append(x)
            _restrict(m, s_r, by_day, zs, x, ss)
            med_iv[mi].append(m.NewOptionalFixedSizeIntervalVar(s_r, d + buffer, x, f"mi{ri}_{mi}"))
            med_day_iv[mi].append(m.NewOptionalFixedSizeIntervalVar(d_r, 1, x, f"md{ri}_{mi}"))
        cs = []
        for k, ss in cls_starts.items():
            ss = set(ss) & mset
            if not ss:
                continue
            y = c[ri, k] = m.NewBoolVar(f"c{ri}_{k}")
            cs.append(y)
            _restrict(m, s_r, by_day, zs, y, ss)
            cls_iv[k].append(m.NewOptionalFixedSizeIntervalVar(s_r, d, y, f"v{ri}_{k}"))
            # Redundant, for the bound: the class's slots used per day (w = y and z_day).
            for day, zk in zs.items() if a.energy else ():
                if any(s in ss for s in by_day[day]):
                    w = m.NewBoolVar(f"w{ri}_{k}_{day}")
                    m.AddBoolAnd([y, zk]).OnlyEnforceIf(w)
                    m.AddBoolOr([y.Not(), zk.Not(), w])
                    energy[k, day].append((d, w))
        m.Add(sum(bs) == p_r)
        m.Add(sum(cs) == p_r)
    for mi, ivs in med_iv.items():
        m.AddNoOverlap(ivs)
        cap = int(meds[mi]["max_per_day"])
        if len(ivs) > cap:
            m.AddCumulative(med_day_iv[mi], [1] * len(ivs), cap)
    for (k, day), terms in energy.items():
        free = sum(1 for i in range(n) if day_of[i] == day and cls_run[k][i] > 0)
        if sum(d for d, _ in terms) > free * len(cls[k]):
            m.Add(sum(d * w for d, w in terms) <= free * len(cls[k]))
    for k, ivs in cls_iv.items():
        if len(cls[k]) == 1:
            m.AddNoOverlap(ivs)
        else:
            m.AddCumulative(ivs, [1] * len(ivs), len(cls[k]))

    extra = None
    if a.objective == "count":
        m.Maximize(sum(P.values()))
    else:
        # 2n x (100 - start/n) per scheduled request - 2n x 0.5 x busiest load.
        nn = max(n, 1)
        terms = []
        E = {}
        for ri, s_r in S.items():
            e = E[ri] = m.NewIntVar(0, n, f"e{ri}")
            m.Add(e == s_r).OnlyEnforceIf(P[ri])
            m.Add(e == 0).OnlyEnforceIf(P[ri].Not())
            terms.append(200 * nn * P[ri] - 2 * e)
        load = m.NewIntVar(0, len(reqs), "load")
        extra = (E, load)
        for mi in range(len(meds)):
            xs = [x for (ri, mj), x in b.items() if mj == mi]
            if xs:
                m.Add(sum(xs) <= load)
        m.Maximize(sum(terms) - nn * load)

    if a.hint:
        hint = json.loads(Path(a.hint).read_text(encoding="utf-8"))
        r_ix = {r["id"]: i for i, r in enumerate(reqs)}
        m_ix = {md["id"]: i for i, md in enumerate(meds)}
        v_cls = {vens[vi]["id"]: k for k, vs in enumerate(cls) for vi in vs}
        got: dict[int, tuple[int, int, int]] = {}
        for h in hint["assignments"]:
            ri = r_ix.get(h["request"])
            s = (_t(h["start"]) - origin) / slot
            if ri in S and s == int(s):
                got[ri] = (int(s), m_ix[h["mediator"]], v_cls[h["venue"]])
        # A complete hint: unscheduled requests at the first value of their start's domain.
        for ri in S:
            g = got.get(ri)
            m.AddHint(P[ri], g is not None)
            s = g[0] if g is not None else first_start[ri]
            m.AddHint(S[ri], s)
            m.AddHint(D[ri], day_of[s])
            for (rj, k), zk in z.items():
                if rj == ri:
                    m.AddHint(zk, g is not None and k == day_of[s])
            if extra is not None:
                m.AddHint(extra[0][ri], s if g is not None else 0)
        if extra is not None:
            loads = defaultdict(int)
            for g in got.values():
                loads[g[1]] += 1
            m.AddHint(extra[1], max(loads.values(), default=0))
        for (ri, mi), x in b.items():
            m.AddHint(x, ri in got and got[ri][1] == mi)
        for (ri, k), y in c.items():
            m.AddHint(y, ri in got and got[ri][2] == k)

    built = time.perf_counter() - t0
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = a.workers
    solver.parameters.log_search_progress = a.log
    for kv in filter(None, a.params.split(",")):
        k, v = kv.split("=")
        kind = type(getattr(solver.parameters, k))
        setattr(solver.parameters, k, v.lower() == "true" if kind is bool else kind(v))
    # The time limit covers reading and building too, as solve()'s covers its greedy pass.
    solver.parameters.max_time_in_seconds = max(a.time_limit - built - 0.2, 0.1)
    status = solver.Solve(m)
    solved = time.perf_counter() - t0 - built

    assignments, unscheduled = [], []
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = []
        for ri in S:
            if solver.BooleanValue(P[ri]):
                s = solver.Value(S[ri])
                mi = next(mj for (rj, mj), x in b.items() if rj == ri and solver.BooleanValue(x))
                k = next(kk for (rj, kk), y in c.items() if rj == ri and solver.BooleanValue(y))
                chosen.append((s, ri, mi, k))
        # Interval partitioning of each class's sessions over its venues.
        free_at: dict[int, int] = {}
        for s, ri, mi, k in sorted(chosen):
            vi = next(v for v in cls[k] if free_at.get(v, -1) <= s)
            free_at[vi] = s + length[ri]
            start = origin + s * slot
            end = start + timedelta(minutes=int(reqs[ri]["duration_minutes"]))
            assignments.append(
                {
                    "request": reqs[ri]["id"],
                    "mediator": meds[mi]["id"],
                    "venue": vens[vi]["id"],
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                }
            )
    done = {x["request"] for x in assignments}
    for ri, r in enumerate(reqs):
        if r["id"] not in done:
            why = "capacity: every feasible slot is taken" if ri in S else "no feasible slot"
            unscheduled.append({"request": r["id"], "reason": why})
    assignments.sort(key=lambda x: x["request"])
    with open(a.plan, "w", encoding="utf-8") as f:
        json.dump({"assignments": assignments, "unscheduled": unscheduled}, f, indent=1)
    stats = {
        "status": solver.StatusName(status),
        "scheduled": len(assignments),
        "objective": a.objective,
        "bound": solver.BestObjectiveBound() if status != cp_model.UNKNOWN else None,
        "build_s": round(built, 3),
        "solve_s": round(solved, 3),
        "total_s": round(time.perf_counter() - t0, 3),
        "requests_modelled": len(S),
        "mediator_vars": len(b),
        "venue_classes": len(cls),
    }
    print(json.dumps(stats))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
