"""Mediation scheduling: the MIP against the greedy fallback, and against a long run on small cases.

.venv/bin/python bench/scheduling.py [--requests 1000 --mediators 50 --venues 10 --days 20]
    [--time-limit 10] [--small 60] [--small-runs 3] [--long-limit 60] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.mediation.scheduler import (
    Problem,
    greedy,
    parse_problem,
    solve,
    validate_plan,
)

SH = ZoneInfo("Asia/Shanghai")
SKILLS = ("banking", "life", "property", "legal")
INSTITUTIONS = [f"inst-{i:02d}" for i in range(40)]


def working_days(first: date, n: int) -> list[date]:
    days, d = [], first
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _iso(d: date, hh: int, mm: int) -> str:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=SH).isoformat()


def office_hours(days: list[date]) -> list[dict]:
    return [
        w
        for d in days
        for w in (
            {"start": _iso(d, 9, 0), "end": _iso(d, 12, 0)},
            {"start": _iso(d, 13, 30), "end": _iso(d, 17, 30)},
        )
    ]


def generate(requests: int, mediators: int, venues: int, days: int, seed: int) -> dict:
    """A seeded instance: office hours in Shanghai, 5% conflicts, mixed forms and durations."""
    rng = random.Random(seed)
    first = date(2026, 12, 7)  # a Monday; the plan is made the Friday before
    wd = working_days(first, days)
    hours = office_hours(wd)
    out_reqs = []
    for i in range(requests):
        own = rng.sample(wd, k=max(1, int(len(wd) * rng.uniform(0.3, 0.8))))
        avail = [w for w in hours if date.fromisoformat(w["start"][:10]) in own]
        deadline_day = wd[min(len(wd) - 1, rng.randint(len(wd) // 4, len(wd) - 1))]
        out_reqs.append(
            {
                "id": f"R{i:04d}",
                "deadline": _iso(deadline_day, 18, 0),
                "skills": rng.sample(SKILLS, k=rng.choice((1, 1, 2))),
                "institution": rng.choice(INSTITUTIONS),
                "form": rng.choice(("onsite", "online", "any", "any")),
                "duration_minutes": rng.choice((60, 90, 120)),
                "availability": avail,
            }
        )
    out_meds = []
    for i in range(mediators):
        off = set(rng.sample(wd, k=len(wd) // 10))
        out_meds.append(
            {
                "id": f"M{i:02d}",
                "skills": rng.sample(SKILLS, k=rng.choice((2, 3, 4))),
                "conflicts": [x for x in INSTITUTIONS if rng.random() < 0.05],
                "max_per_day": rng.choice((2, 3, 4)),
                "availability": [
                    w for w in hours if date.fromisoformat(w["start"][:10]) not in off
                ],
            }
        )
    out_vens = [
        {"id": f"V{i:02d}", "form": "online" if i % 3 == 2 else "onsite", "availability": hours}
        for i in range(venues)
    ]
    return {
        "horizon": {"start": _iso(wd[0], 0, 0), "end": _iso(wd[-1] + timedelta(days=1), 0, 0)},
        "now": _iso(wd[0] - timedelta(days=3), 17, 0),
        "slot_minutes": 30,
        "requests": out_reqs,
        "mediators": out_meds,
        "venues": out_vens,
    }


def run(problem: Problem, name: str, limit: float | None) -> int:
    t0 = time.perf_counter()
    plan = greedy(problem) if limit is None else solve(problem, time_limit=limit)
    seconds = time.perf_counter() - t0
    errors = validate_plan(problem, plan)
    n = len(problem.requests)
    k = len(plan.assignments)
    print(
        f"  {name:<22} {seconds:7.2f} s  {k:5d}/{n} scheduled ({k / n:6.1%})  "
        f"solver={plan.solver}  {'valid' if not errors else f'INVALID: {errors[:3]}'}"
    )
    if errors:
        raise SystemExit(1)
    return k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--mediators", type=int, default=50)
    ap.add_argument("--venues", type=int, default=10)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--small", type=int, default=60)
    ap.add_argument("--small-runs", type=int, default=3)
    ap.add_argument("--long-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()

    print(
        f"large: {a.requests} requests, {a.mediators} mediators, {a.venues} venues, {a.days} working days"
    )
    big = parse_problem(generate(a.requests, a.mediators, a.venues, a.days, a.seed))
    g = run(big, "greedy", None)
    m = run(big, f"mip {a.time_limit:g} s", a.time_limit)
    print(f"  mip / greedy = {m / max(g, 1):.3f}")

    # Small cases are made tight (few mediators and venues, a week) so that choices matter.
    for k in range(a.small_runs):
        seed = a.seed + 100 + k
        print(
            f"small #{k + 1}: {a.small} requests, 6 mediators, 2 venues, 5 working days, seed {seed}"
        )
        small = parse_problem(generate(a.small, 6, 2, 5, seed))
        g = run(small, "greedy", None)
        m = run(small, f"mip {a.time_limit:g} s", a.time_limit)
        best = max(run(small, f"mip {a.long_limit:g} s (best)", a.long_limit), m, g)
        print(f"  ratio to best known: mip {m / best:.3f}, greedy {g / best:.3f}")


if __name__ == "__main__":
    main()
