"""Mediation scheduling: greedy and our HiGHS MIP against OR-Tools CP-SAT, same run, same instances.

.venv/bin/python bench/scheduling_cpsat.py [--quick] [--time-limit 10] [--long-limit 60]
    [--requests 1000 --mediators 50 --venues 10 --days 20] [--small 60] [--small-runs 3]
    [--seed 7] [--venv /tmp/xiaobao-cpsat-venv]

OR-Tools cannot live in the project's environment (every ortools wheel pins protobuf < 6.34,
grpcio-tools needs protobuf 7), so CP-SAT runs in a separate virtual environment outside the repo,
created once and cached, as a subprocess: bench/cpsat_model.py reads the batch-contract
problem.json and writes plan.json. Each CP-SAT plan is checked here with validate_plan; an
invalid plan is reported as such and not counted.

CP-SAT runs twice per instance at --time-limit: alone, and hinted with greedy's plan (as our
`solve` hints HiGHS). On the small instances a --long-limit run maximising the count only (hinted)
with redundant per-day venue-capacity constraints (--energy) gives the best known count and,
when it reports OPTIMAL, a proof that no plan of the whole problem schedules more.
Times are wall-clock; CP-SAT's include starting Python and importing ortools in the subprocess
(about 0.5 s) and its model's time limit covers reading and building the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from scheduling import generate  # noqa: E402  (bench/scheduling.py, the same generator)

from services.mediation.scheduler import (  # noqa: E402
    Assignment,
    Plan,
    Problem,
    greedy,
    parse_problem,
    solve,
    validate_plan,
)

ORTOOLS = "ortools==9.15.6755"
MODEL = HERE / "cpsat_model.py"


def ensure_venv(venv: Path) -> Path:
    """The side venv's python, with ortools; created on first use. Exits 1 if that fails."""
    py = venv / "bin" / "python"
    want = ORTOOLS.split("==")[1]
    check = [str(py), "-c", "import ortools, sys; sys.exit(ortools.__version__ != sys.argv[1])"]
    if py.exists() and subprocess.run([*check, want], capture_output=True).returncode == 0:
        return py
    print(f"creating {venv} with {ORTOOLS} (once) ...", flush=True)
    steps = [
        ["python3.11", "-m", "venv", str(venv)],
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", ORTOOLS],
        [*check, want],
    ]
    for cmd in steps:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as exc:
            raise SystemExit(f"cannot set up CP-SAT: {' '.join(cmd)}: {exc}") from None
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
            print(f"cannot set up CP-SAT: {' '.join(cmd)} exited {r.returncode}", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
            raise SystemExit(1)
    return py


def plan_from_json(raw: dict) -> Plan:
    plan = Plan(solver="cp-sat")
    for a in raw["assignments"]:
        plan.assignments.append(
            Assignment(
                a["request"],
                a["mediator"],
                a["venue"],
                datetime.fromisoformat(a["start"]),
                datetime.fromisoformat(a["end"]),
            )
        )
    plan.unscheduled = [(u["request"], u["reason"]) for u in raw["unscheduled"]]
    return plan


class Result:
    def __init__(self, count: int | None, seconds: float, note: str = "") -> None:
        self.count, self.seconds, self.note = count, seconds, note

    def cell(self, n: int) -> str:
        if self.count is None:
            return f"{self.note}, {self.seconds:.1f} s"
        extra = f", {self.note}" if self.note else ""
        return f"{self.count}/{n}, {self.seconds:.1f} s{extra}"


def ours(problem: Problem, limit: float | None) -> tuple[Result, Plan]:
    t0 = time.perf_counter()
    plan = greedy(problem) if limit is None else solve(problem, time_limit=limit)
    seconds = time.perf_counter() - t0
    errors = validate_plan(problem, plan)
    if errors:
        return Result(None, seconds, f"INVALID ({errors[0]})"), plan
    return Result(len(plan.assignments), seconds, "" if limit is None else plan.solver), plan


def cpsat(
    py: Path,
    problem: Problem,
    work: Path,
    tag: str,
    limit: float,
    objective: str = "full",
    hint: Path | None = None,
    energy: bool = False,
) -> Result:
    out = work / f"plan-{tag}.json"
    cmd = [str(py), str(MODEL), str(work / "problem.json"), str(out)]
    cmd += ["--time-limit", str(limit), "--workers", "2", "--objective", objective]
    if hint is not None:
        cmd += ["--hint", str(hint)]
    if energy:
        cmd.append("--energy")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        print(r.stderr.strip()[-2000:], file=sys.stderr)
        return Result(None, seconds, f"failed (exit {r.returncode})")
    stats = json.loads(r.stdout.strip().splitlines()[-1])
    plan = plan_from_json(json.loads(out.read_text(encoding="utf-8")))
    errors = validate_plan(problem, plan)
    print(f"    cp-sat {tag}: {json.dumps(stats)}", flush=True)
    if errors:
        print(f"    cp-sat {tag}: INVALID: {errors[:5]}", flush=True)
        return Result(None, seconds, f"INVALID ({len(errors)} errors)")
    note = stats["status"]
    if objective == "count" and stats["bound"] is not None:
        note += f", bound {stats['bound']:.0f}"
    return Result(len(plan.assignments), seconds, note)


def bench(py: Path, name: str, raw: dict, limit: float, long_limit: float | None) -> list[str]:
    problem = parse_problem(raw)
    n = len(problem.requests)
    with tempfile.TemporaryDirectory(prefix="xiaobao-cpsat-") as tmp:
        work = Path(tmp)
        (work / "problem.json").write_text(json.dumps(raw, ensure_ascii=False), "utf-8")
        print(f"{name}: {n} requests", flush=True)
        g, gp = ours(problem, None)
        (work / "greedy.json").write_text(json.dumps(gp.to_json()), "utf-8")
        print(f"    greedy {g.cell(n)}", flush=True)
        m, _ = ours(problem, limit)
        print(f"    highs {m.cell(n)}", flush=True)
        c = cpsat(py, problem, work, f"{limit:g}s", limit)
        ch = cpsat(py, problem, work, f"{limit:g}s-hint", limit, hint=work / "greedy.json")
        row = [g, m, c, ch]
        if long_limit is not None:
            row.append(
                cpsat(
                    py,
                    problem,
                    work,
                    f"{long_limit:g}s-count",
                    long_limit,
                    "count",
                    work / "greedy.json",
                    energy=True,
                )
            )
    best = max((x.count for x in row if x.count is not None), default=0)
    cells = [name, *(x.cell(n) for x in row)]
    if long_limit is None:
        cells.append("—")
    ratios = [f"{x.count / best:.3f}" if x.count is not None and best else "—" for x in row[:4]]
    return [*cells, str(best), *ratios]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the small instances only")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--long-limit", type=float, default=60.0)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--mediators", type=int, default=50)
    ap.add_argument("--venues", type=int, default=10)
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--small", type=int, default=60)
    ap.add_argument("--small-runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--venv", type=Path, default=Path("/tmp/xiaobao-cpsat-venv"))
    a = ap.parse_args()

    py = ensure_venv(a.venv)
    t = f"{a.time_limit:g} s"
    head = [
        "case",
        "greedy",
        f"HiGHS {t}",
        f"CP-SAT {t}",
        f"CP-SAT {t} + greedy hint",
        f"CP-SAT {a.long_limit:g} s, count only",
        "best",
        "greedy / best",
        "HiGHS / best",
        "CP-SAT / best",
        "CP-SAT+hint / best",
    ]
    rows = []
    if not a.quick:
        name = f"{a.requests:,} requests, {a.days} days (seed {a.seed})"
        raw = generate(a.requests, a.mediators, a.venues, a.days, a.seed)
        rows.append(bench(py, name, raw, a.time_limit, None))
    # The same small cases as bench/scheduling.py: 6 mediators, 2 venues, 5 working days.
    for k in range(a.small_runs):
        seed = a.seed + 100 + k
        raw = generate(a.small, 6, 2, 5, seed)
        rows.append(bench(py, f"small, seed {seed}", raw, a.time_limit, a.long_limit))
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * 6 + "---:|" * 5)
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
