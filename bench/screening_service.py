"""Blacklist screening as the worker runs it: per-event cases/s with storage, stored bytes per
case, and the worker's resident memory after restoring a large stored state.

    .venv/bin/python bench/screening_service.py                      # 2,000 events, 100,000 stored
    .venv/bin/python bench/screening_service.py --cases 1000000      # the 1-million-case figures
    .venv/bin/python bench/screening_service.py --pg postgresql://postgres@127.0.0.1:5432/test

Per event: `store.ScreeningState.screen` for each case in its own transaction on SQLite (what
`BlacklistWorker.on_case_received` does, minus the broker): prepare, catch up with other
replicas, score, store the case and its contact points, clue and outbox rows when flagged.
Stored: the same rows written in bulk for `--cases` generated cases (each with the template the
worker would have given it, as the worker stores it); bytes per case is the
database's size (SQLite file after a checkpoint; PostgreSQL `pg_total_relation_size` of the
tables, with `--pg`) divided by the cases. Restore: a child process opens that database and
restores a screener from it (`ScreeningState.restore`, what the worker does at start), printing
the restore's seconds, its VmRSS (read from /proc) and peak, against a child that only imports
the same modules as the worker. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen" / "python")]

from bench.screening_data import generate  # noqa: E402

_CHILD = """
import sys, time
from pathlib import Path
sys.path[:0] = [{root!r}, {root!r} + "/gen/python"]
import gc, json
import nameko.events, nameko.extensions, prometheus_client, psycopg  # what the worker imports
from services.blacklist import store
from services.common import db
seconds, n, size = 0.0, 0, {{}}
if {run}:
    factory = db.session_factory("blacklist")
    state = store.ScreeningState()
    t = time.perf_counter()
    with db.session_scope(factory) as session:
        n = state.restore(session)
    seconds = time.perf_counter() - t
    size = state.screener.size()
    db.engine_for("blacklist").dispose()
gc.collect()
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
print(n, seconds, status["VmRSS"].split()[0], status["VmHWM"].split()[0], json.dumps(size))
"""


def payload(case: dict, pii_key: str) -> dict:
    """A batch-input case as intake's case_received event carries it (hashes, no numbers)."""
    from services.blacklist.store import normalise_phone
    from services.common.pii import keyed_hash

    c, a = case["complainant"], case.get("agent") or {}
    phone = normalise_phone(c.get("phone") or "")
    return {
        "case_no": case["case_no"],
        "kind": "complaint",
        "channel": "letter",
        "institution_text": case["institution"],
        "received_at": case["received_at"] + ("" if "+" in case["received_at"] else "+08:00"),
        "summary": case["text"],
        "complainant_name": c.get("name") or "",
        "complainant_phone": phone,
        "phone_hash": keyed_hash(phone, pii_key) if phone else "",
        "id_hash": keyed_hash(c["id_number"].upper(), pii_key) if c.get("id_number") else "",
        "agent_name": a.get("name") or "",
        "agent_phone_hash": keyed_hash(normalise_phone(a["phone"]), pii_key)
        if a.get("phone")
        else "",
        "agent_id_hash": keyed_hash(a["id_number"].upper(), pii_key) if a.get("id_number") else "",
    }


def env_for(url: str, data_dir: str) -> dict[str, str]:
    return {"XIAOBAO_DATABASE_URL": url, "XIAOBAO_DATA_DIR": data_dir}


def use(env: dict[str, str]) -> None:
    os.environ.update(env)
    from services.common import db, settings

    settings.get.cache_clear()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()


def per_event(cases: list[dict], tmp: str) -> tuple[int, float, int]:
    from services.blacklist import store
    from services.common import db, migrations, settings

    url = f"sqlite:///{tmp}/events.db"
    use(env_for(url, tmp))
    migrations.upgrade("blacklist", url=url)
    key = settings.get().pii_key
    events = [payload(c, key) for c in cases]
    factory = db.session_factory("blacklist")
    state = store.ScreeningState()
    with db.session_scope(factory) as session:
        state.restore(session)
    flagged = 0
    t = time.perf_counter()
    for p in events:
        with db.session_scope(factory) as session:
            done = state.screen(session, p)
            flagged += bool(done and done.result.flagged)
    return len(events), time.perf_counter() - t, flagged


def bulk_store(cases: list[dict], url: str, tmp: str) -> float:
    """Writes every case as the worker would store it, in bulk; returns the seconds taken."""
    from sqlalchemy import insert

    from services.blacklist import screening, store
    from services.blacklist.models import CasePoint, ScreenedCase
    from services.common import db, migrations, settings

    use(env_for(url, tmp))
    migrations.upgrade("blacklist", url=url)
    key = settings.get().pii_key
    screener = screening.Screener(pii_key=key)
    factory = db.session_factory("blacklist")
    now = datetime.now(UTC)
    t = time.perf_counter()
    chunk = 5000
    next_id = 1
    for start in range(0, len(cases), chunk):
        rows, points = [], []
        for case in cases[start : start + chunk]:
            p = payload(case, key)
            prepared = screener.prepare(store.case_input(p, key))
            features = screener.apply(prepared)  # the template the worker would give it
            rows.append(
                {
                    "id": next_id,
                    "case_no": p["case_no"],
                    "received_at": datetime.fromisoformat(p["received_at"]),
                    "institution": p["institution_text"],
                    "complainant_key": prepared.complainant[1:],
                    "complainant_name_hash": store.name_hash(p["complainant_name"], key),
                    "agent_name_hash": store.name_hash(p["agent_name"], key),
                    "complainant_name": p["complainant_name"],
                    "complainant_phone": p["complainant_phone"],
                    "agent_name": p["agent_name"],
                    "points": [list(x) for x in prepared.points],
                    "signature": screening.signature_bytes(prepared.signature),
                    "lexicon": store._lexicon_json(prepared.lexicon),
                    "template_key": screener.template_key(features.template),
                    "similarity": features.similarity,
                    "score": 0.0,
                    "flagged": False,
                    "ring_id": "",
                    "reasons": [],
                    "lexicon_version": screener.lexicon.version,
                    "screened_at": now,
                }
            )
            points.extend(
                {"point_hash": h, "kind": k, "role": r, "case_id": next_id}
                for h, k, r in prepared.points
            )
            next_id += 1
        with db.session_scope(factory) as session:
            session.execute(insert(ScreenedCase), rows)
            session.execute(insert(CasePoint), points)
    return time.perf_counter() - t


def stored_bytes(url: str, tmp: str) -> int:
    from sqlalchemy import text

    from services.common import db

    engine = db.engine_for("blacklist")
    if db.is_postgres(url):
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
                        "AND c.relname IN ('screened_case', 'case_point')"
                    )
                ).scalar()
            )
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return Path(url.removeprefix("sqlite:///")).stat().st_size


def child(env: dict[str, str], run: bool) -> tuple[int, float, int, int, dict]:
    code = _CHILD.format(root=str(ROOT), run=run)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=7200,
        env={**os.environ, **env},
    )
    n, seconds, rss, hwm, size = done.stdout.strip().splitlines()[-1].split(" ", 4)
    return int(n), float(seconds), int(rss), int(hwm), json.loads(size)


def restore_figures(env: dict[str, str]) -> None:
    _, _, base_rss, _, _ = child(env, run=False)
    restored, seconds, rss, hwm, size = child(env, run=True)
    per = (rss - base_rss) * 1024 / max(restored, 1)
    print(
        f"worker restore: {restored:,} cases in {seconds:.1f} s ({restored / seconds:,.0f} cases/s); "
        f"VmRSS {rss / 1024:,.0f} MiB (imports alone {base_rss / 1024:,.0f} MiB, peak {hwm / 1024:,.0f} MiB) = "
        f"{per:,.0f} bytes a case above the imports; state: "
        + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in size.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="cases screened one by one")
    parser.add_argument(
        "--cases", "--stored", type=int, default=100_000, help="cases stored, then restored"
    )
    parser.add_argument("--pg", default="", help="a PostgreSQL URL (a schema is created)")
    parser.add_argument(
        "--keep",
        default="",
        help="a SQLite file for the stored cases: written if absent, else only restored from",
    )
    args = parser.parse_args()
    if args.keep and Path(args.keep).exists():
        env = env_for(f"sqlite:///{Path(args.keep).resolve()}", str(Path(args.keep).parent))
        restore_figures(env)
        return

    with tempfile.TemporaryDirectory(prefix="xiaobao-screening-service-") as tmp:
        cases, _truth = generate(max(args.events, args.cases))
        n, seconds, flagged = per_event(cases[: args.events], tmp)
        print(
            f"per event, stored on SQLite: {n:,} cases in {seconds:.1f} s = {n / seconds:,.0f} cases/s, {flagged} flagged"
        )

        if args.pg:
            schema = f"bench_blacklist_{os.getpid()}"
            url = args.pg + ("&" if "?" in args.pg else "?") + f"xiaobao_schema={schema}"
        elif args.keep:
            url = f"sqlite:///{Path(args.keep).resolve()}"
        else:
            url = f"sqlite:///{tmp}/stored.db"
        env = env_for(url, tmp)
        seconds = bulk_store(cases[: args.cases], url, tmp)
        size = stored_bytes(url, tmp)
        per_case = size / args.cases
        print(
            f"stored {args.cases:,} cases in bulk in {seconds:.0f} s; "
            f"{'PostgreSQL' if args.pg else 'SQLite'} size {size / 2**20:,.0f} MiB = "
            f"{per_case:,.0f} bytes a case -> {per_case * 1e6 / 2**30:,.2f} GiB at 1,000,000 cases"
        )
        del cases
        restore_figures(env)
        if args.pg:
            from sqlalchemy import text

            from services.common import db

            with db.engine_for("blacklist").begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
