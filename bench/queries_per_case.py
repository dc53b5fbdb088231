"""SQL statements per case on each hop of its way, counted in-process: a figure load cannot blur.

    python bench/queries_per_case.py          # 3 cases; prints the statements of the last one

Needs PostgreSQL (`XIAOBAO_BENCH_PG_URL` / `XIAOBAO_TEST_PG_URL` as admin database, as
bench/intake.py): a fresh database is created, migrated, given the demo directory, and dropped.
Each hop runs as its process runs it, minus the transport: intake's SubmitCase (cases.submit, the
reply's case_message, the commit), routing's on_case_received (consume + assign_case), routing's
AnswerCase (store.answer), intake's on_case_assigned and on_case_answered (the worker's own
methods through consume). Counted: every statement SQLAlchemy sends, and each COMMIT.
No broker is used: the AMQP address points at a closed port, so nothing can be published.
"""

from __future__ import annotations

import os
import sys

# `python bench/queries_per_case.py` works without PYTHONPATH: the repo root and generated protos.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen", "python"))  # fmt: skip
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import contextlib
import json
import subprocess
import tempfile
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from bench.intake import PG_ADMIN_URL
from bench.run import ROOT

HOPS = (
    "intake api SubmitCase",
    "routing worker on_case_received",
    "intake worker on_case_assigned",
    "routing api AnswerCase",
    "intake worker on_case_answered",
)


def main() -> int:
    import psycopg

    name = f"xiaobao_bench_q_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="xiaobao-bench-q-") as tmp:
            env = {
                "XIAOBAO_DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
                "XIAOBAO_AUTH_SECRET": uuid.uuid4().hex * 2,
                "XIAOBAO_PII_KEY": uuid.uuid4().hex * 2,
                "XIAOBAO_AMQP_URI": "amqp://guest:guest@127.0.0.1:1//",  # nothing is published
                "XIAOBAO_DATA_DIR": tmp,
            }
            for key in [k for k in os.environ if k.startswith("XIAOBAO_")]:
                del os.environ[key]
            os.environ.update(env)
            for args in (["db", "upgrade", "all"], ["routing", "import-directory"]):
                subprocess.run(
                    [sys.executable, "-m", "services.cli", *args],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                )
            counts, last = count(3)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for hop in HOPS:
        print(f"{hop}: {counts[hop]} statements (commits included), one case after another")
        for statement in last[hop]:
            print(f"    {statement}")
    print(json.dumps({hop: counts[hop] for hop in HOPS}))
    return 0


def count(cases: int) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    from sqlalchemy import event, select

    from services.common import db
    from services.common.clock import in_force
    from services.common.messaging import consume
    from services.common.worker import ServiceDatabase
    from services.intake import cases as intake_cases
    from services.intake import domain
    from services.intake.api import case_message
    from services.intake.models import OutboxMessage as IntakeOutbox
    from services.intake.models import ProcessedEvent as IntakeProcessed
    from services.intake.worker import IntakeWorker
    from services.routing import store
    from services.routing.models import OutboxMessage as RoutingOutbox
    from services.routing.models import ProcessedEvent as RoutingProcessed

    seen: list[str] = []
    for service in ("intake", "routing"):
        engine = db.engine_for(service)
        event.listen(
            engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_a: seen.append(" ".join(statement.split())[:100]),
        )
        event.listen(engine, "commit", lambda _c: seen.append("COMMIT"))

    counts: dict[str, list[int]] = defaultdict(list)
    last: dict[str, list[str]] = {}

    @contextlib.contextmanager
    def hop(label: str):
        seen.clear()
        yield
        counts[label].append(len(seen))
        last[label] = list(seen)

    intake_factory = db.session_factory("intake")
    routing_factory = db.session_factory("routing")
    uri = os.environ["XIAOBAO_AMQP_URI"]

    class Worker:  # the worker's methods need only `db` and `_case`
        db = ServiceDatabase("intake", IntakeProcessed)

        def _case(self, session, envelope):
            return IntakeWorker._case(self, session, envelope)

    worker = Worker()

    def body(factory, model, event_type: str) -> dict:
        with db.session_scope(factory) as session:
            return (
                session.scalars(
                    select(model)
                    .where(model.event_type == event_type)
                    .order_by(model.id.desc())
                    .limit(1)
                )
                .first()
                .body
            )

    tag = uuid.uuid4().hex[:8]
    for i in range(cases):
        now = datetime.now(UTC)
        new = domain.NewCase(
            kind="complaint",
            channel="hotline",
            name="王芳",
            phone=f"138{uuid.uuid4().int % 10**8:08d}",
            id_number="",
            region_code="120104",
            institution_text="天津平安人寿",
            product="life",
            summary="保险销售误导",
            amount_in_dispute_fen=0,
            received_at=None,
            agent=None,
            transfer=None,
            people_count=1,
            new_facts=False,
        )
        valid = domain.validate(new, now)
        with hop(HOPS[0]), db.session_scope(intake_factory) as session:
            case, _ = intake_cases.submit(session, valid, f"bench-q-{tag}-{i}", now)
            case_message(case, in_force()[1])
            case_no = case.case_no
        received = body(intake_factory, IntakeOutbox, "intake.case_received")
        with hop(HOPS[1]):
            outcome = consume(
                "routing",
                routing_factory,
                RoutingProcessed,
                "routing.on_case_received",
                received,
                lambda session, envelope: store.assign_case(
                    session, envelope.payload, datetime.now(UTC)
                ),
                uri,
            )
            assert outcome == "handled", outcome
        assigned = body(routing_factory, RoutingOutbox, "routing.case_assigned")
        with hop(HOPS[2]):
            assert IntakeWorker.on_case_assigned(worker, assigned) == "handled"
        contact = {"method": "phone", "contacted_at": now.isoformat(), "staff_name": "", "note": ""}
        with hop(HOPS[3]), db.session_scope(routing_factory) as session:
            a = store.visible_assignment(session, case_no, None)
            store.answer(
                session, a, "closed_with_explanation", "已电话告知。", 0, contact, "bench", now
            )
        answered = body(routing_factory, RoutingOutbox, "routing.case_answered")
        with hop(HOPS[4]):
            assert IntakeWorker.on_case_answered(worker, answered) == "handled"
    return counts, last


if __name__ == "__main__":
    sys.exit(main())
