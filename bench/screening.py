"""Blacklist screening: batch cases/s, per-case latency, precision/recall of flags, peak memory,
and the worker's figures (per-event cases/s with storage, stored bytes per case, resident
memory after restoring a stored state, from bench/screening_service.py).

    .venv/bin/python bench/screening.py                  # 50,000 generated cases
    .venv/bin/python bench/screening.py --cases 1000000  # the 1-million-case batch memory figure
    .venv/bin/python bench/screening.py --stored 1000000 # the worker's 1-million-case figures
                                                         # (bench/screening_service.py --cases)

Prints figures; asserts nothing. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from bench.screening_data import generate  # noqa: E402
from services.blacklist.screening import CaseInput, Screener  # noqa: E402

_CHILD = """
import sys
from pathlib import Path
sys.path[:0] = [{root!r}]
from services.blacklist.batch import screen_batch
if {run}:
    screen_batch(Path({src!r}), Path({dst!r}))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (big) parent.
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _child_peak_kib(root: str, src: Path, dst: Path, run: bool) -> int:
    code = _CHILD.format(root=root, src=str(src), dst=str(dst), run=run)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=3600
    )
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--per-case", type=int, default=5_000, help="cases timed one by one")
    parser.add_argument("--no-memory", action="store_true", help="skip the child-process runs")
    parser.add_argument("--events", type=int, default=2000, help="worker: cases screened as events")
    parser.add_argument(
        "--stored", type=int, default=100_000, help="worker: cases stored, restored"
    )
    parser.add_argument("--pg", default="", help="worker: measure storage on this PostgreSQL URL")
    parser.add_argument("--no-service", action="store_true", help="skip the worker's figures")
    args = parser.parse_args()
    root = str(Path(__file__).resolve().parent.parent)

    t0 = time.perf_counter()
    cases, truth = generate(args.cases)
    print(
        f"generated {len(cases):,} cases ({sum(truth.values()):,} planted) in {time.perf_counter() - t0:.1f} s"
    )

    with tempfile.TemporaryDirectory(prefix="xiaobao-screening-") as tmp:
        src, dst = Path(tmp) / "cases.jsonl", Path(tmp) / "results.jsonl"
        with src.open("w", encoding="utf-8") as fh:
            for case in cases:
                fh.write(json.dumps(case, ensure_ascii=False) + "\n")
        del cases

        # Baseline: reading, parsing and writing the same lines, nothing else.
        t0 = time.perf_counter()
        with src.open(encoding="utf-8") as fh, (Path(tmp) / "echo.jsonl").open("w") as out:
            for line in fh:
                raw = json.loads(line)
                out.write(json.dumps({"case_no": raw["case_no"], "reasons": []}) + "\n")
        base_s = time.perf_counter() - t0

        from services.blacklist.batch import screen_batch

        t0 = time.perf_counter()
        screen_batch(src, dst)
        batch_s = time.perf_counter() - t0

        results = [json.loads(line) for line in dst.open(encoding="utf-8")]
        tp = sum(r["flagged"] and truth[r["case_no"]] for r in results)
        flagged = sum(r["flagged"] for r in results)
        planted = sum(truth.values())
        n = len(results)

        # Per case: the incremental mode, one screen() at a time.
        screener = Screener()
        lines = src.open(encoding="utf-8")
        timings = []
        for _, line in zip(range(args.per_case), lines, strict=False):
            case = CaseInput.from_dict(json.loads(line))
            t = time.perf_counter()
            screener.screen(case)
            timings.append((time.perf_counter() - t) * 1000)
        lines.close()
        timings.sort()

        peak = base_peak = None
        if not args.no_memory:
            base_peak = _child_peak_kib(root, src, dst, run=False)
            peak = _child_peak_kib(root, src, dst, run=True)

    print()
    print("| what | cases | cases/s | vs baseline |")
    print("|---|---:|---:|---:|")
    print(f"| read + parse + write JSON lines (baseline) | {n:,} | {n / base_s:,.0f} | baseline |")
    print(f"| screen-batch, two passes | {n:,} | {n / batch_s:,.0f} | {base_s / batch_s:.2f}x |")
    p50 = statistics.median(timings)
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        f"| Screener.screen, one case | {len(timings):,} | {1000 / statistics.mean(timings):,.0f} "
        f"| p50 {p50:.3f} ms, p99 {p99:.3f} ms |"
    )
    print()
    print(f"flags: {flagged:,} of {n:,}; planted ring cases {planted:,}; true positives {tp:,}")
    print(f"precision {tp / max(flagged, 1):.3f}  recall {tp / max(planted, 1):.3f}")
    if peak is not None:
        print(
            f"peak RSS of screen-batch: {peak / 1024:,.0f} MiB "
            f"(a process that only imports it: {base_peak / 1024:,.0f} MiB; "
            f"{(peak - base_peak) * 1024 / n:,.0f} bytes a case above that)"
        )
    print(
        f"this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )
    if not args.no_service:
        print()
        service = [sys.executable, str(Path(__file__).with_name("screening_service.py"))]
        service += ["--events", str(args.events), "--cases", str(args.stored)]
        subprocess.run(service + (["--pg", args.pg] if args.pg else []), check=True)


if __name__ == "__main__":
    main()
