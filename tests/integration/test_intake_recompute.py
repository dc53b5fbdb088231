"""Re-deriving every running clock (each intake worker start, every holiday-table or policy edit)
on the real PostgreSQL, beside the running platform: a batch at a time, and a case another writer
holds is waited for, not overwritten with what was read before its change committed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from services.common import db
from services.common.clients import stub
from services.intake import cases
from services.intake.models import Case, ClockRecord
from tests.integration.test_case_flow import complaint

pytestmark = pytest.mark.integration


def test_a_case_held_by_another_writer_is_recomputed_after_it_commits(
    platform, platform_env, staff
):
    submitted = [
        stub("intake").SubmitCase(complaint(), metadata=staff, timeout=10).case for _ in range(3)
    ]
    held = submitted[1].case_no
    engine = db.make_engine("intake", platform_env["XIAOBAO_DATABASE_URL"])
    factory = sessionmaker(engine, expire_on_commit=False)
    others = [c.case_no for c in submitted if c.case_no != held]
    try:
        with engine.begin() as conn:  # a stale figure the recompute will replace, committed
            conn.execute(
                text(
                    "UPDATE clock SET elapsed_days = 77 WHERE stopped_at IS NULL AND case_id IN "
                    '(SELECT id FROM "case" WHERE case_no = ANY(:others))'
                ),
                {"others": others},
            )
        writer = engine.connect()
        writer.begin()
        # Another writer (a handler of this case) holds its row, as get_case(lock=True) does,
        # and has just changed a running clock it has not committed yet.
        (case_id,) = writer.execute(
            text('SELECT id FROM "case" WHERE case_no = :n FOR UPDATE'), {"n": held}
        ).one()
        writer.execute(
            text("UPDATE clock SET elapsed_days = 99 WHERE case_id = :c AND stopped_at IS NULL"),
            {"c": case_id},
        )
        result: list[int] = []
        recompute = threading.Thread(
            target=lambda: result.append(cases.recompute_open_clocks(factory, batch=2)),
            daemon=True,
        )
        recompute.start()
        recompute.join(5)
        # This case is waited for, not skipped and not overwritten; the others are done and
        # committed meanwhile (one transaction over every case held them all until the end).
        assert recompute.is_alive(), "the recompute did not wait for the case's writer"
        assert _elapsed(factory, others) and 77 not in _elapsed(factory, others)
        writer.commit()
        recompute.join(60)
        assert not recompute.is_alive() and result and result[0] >= len(submitted)
        # Re-derived after the writer committed: its 99 was replaced by the derived figure.
        assert _elapsed(factory, [held]) and 99 not in _elapsed(factory, [held])
    finally:
        writer.close()
        engine.dispose()


def _elapsed(factory, case_nos: list[str]) -> list[float]:
    """The committed elapsed days of the cases' running clocks."""
    with factory() as session:
        return list(
            session.scalars(
                select(ClockRecord.elapsed_days)
                .join(Case, ClockRecord.case_id == Case.id)
                .where(Case.case_no.in_(case_nos), ClockRecord.stopped_at.is_(None))
            )
        )
