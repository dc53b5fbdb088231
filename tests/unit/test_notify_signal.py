"""services.common.notify without a server: the waiters' Signal, and announcing on SQLite."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.common import notify


def test_a_wake_up_after_what_the_waiter_saw_ends_its_wait_even_if_it_came_first():
    signal = notify.Signal()
    seen = signal.generation
    signal.wake("n1")  # before the waiter got to wait: it must not be lost
    started = time.monotonic()
    assert signal.wait(seen, timeout=5.0) is True
    assert time.monotonic() - started < 1.0


def test_a_waiter_sleeps_through_what_does_not_concern_it():
    signal = notify.Signal()
    seen = signal.generation
    signal.wake("other-node")
    assert signal.wait(seen, timeout=0.2, relevant={"mine"}.__contains__) is False
    signal.wake("mine")
    assert signal.wait(seen, timeout=0.2, relevant={"mine"}.__contains__) is True


def test_a_wake_up_for_anything_concerns_every_waiter():
    signal = notify.Signal()
    seen = signal.generation
    signal.wake(None)  # a listener (re)connected: anything may have changed
    assert signal.wait(seen, timeout=0.2, relevant=lambda key: False) is True


def test_a_waiter_further_behind_than_the_kept_wake_ups_is_woken():
    signal = notify.Signal()
    seen = signal.generation
    for _ in range(notify.Signal.RECENT + 5):
        signal.wake("other-node")
    # What changed between `seen` and the oldest kept wake-up is forgotten: it may concern it.
    assert signal.wait(seen, timeout=0.2, relevant=lambda key: False) is True


def test_a_wake_up_from_another_thread_ends_a_wait_in_progress():
    signal = notify.Signal()
    seen = signal.generation
    timer = threading.Timer(0.1, signal.wake, args=("mine",))
    timer.start()
    started = time.monotonic()
    assert signal.wait(seen, timeout=10.0, relevant={"mine"}.__contains__) is True
    assert time.monotonic() - started < 5.0
    timer.join()


def test_nothing_is_announced_on_sqlite_and_the_commit_goes_through(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    with Session(engine) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        notify.announce(session, "xiaobao_outbox_intake")
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
        assert "xiaobao.announce" not in session.info
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_a_rolled_back_session_forgets_what_it_announced(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        notify.announce(session, "xiaobao_outbox_intake")
        session.rollback()
        assert "xiaobao.announce" not in session.info


def test_listening_needs_postgresql(monkeypatch, tmp_path):
    monkeypatch.setenv("XIAOBAO_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    from services.common import settings

    settings.get.cache_clear()
    try:
        assert notify.listen_url("routing") is None
        monkeypatch.setenv(
            "XIAOBAO_DATABASE_URL", "postgresql://xiaobao@db:5432/xiaobao?xiaobao_schema=rt"
        )
        settings.get.cache_clear()
        assert notify.listen_url("routing") == "postgresql://xiaobao@db:5432/xiaobao"
    finally:
        settings.get.cache_clear()
