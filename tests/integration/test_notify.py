"""Wake-ups through PostgreSQL's LISTEN/NOTIFY (services.common.notify), on the real server: what
commits is heard, what rolls back is not, a killed listening connection comes back, and a
worker's outbox relay publishes an api's event at its commit instead of at its next poll."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import kombu
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.common import db, messaging, notify
from services.platform import free_ports_env
from tests.integration.conftest import (
    PG_ADMIN_URL,
    ROOT,
    TEST_SECRET,
    own_database,
    own_vhost,
    vhost_uri,
    xiaobao,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def listener(database_url: str) -> Iterator[tuple[notify.Listener, queue.Queue, str]]:
    channel = f"xiaobao_test_{uuid.uuid4().hex[:8]}"
    heard: queue.Queue = queue.Queue()
    name = f"test listener {channel}"
    lst = notify.Listener(database_url, [channel], heard.put, name=name)  # a libpq URL
    lst.start()
    assert heard.get(timeout=15) is None  # connected: the wake-up every (re)connection gives
    try:
        yield lst, heard, channel
    finally:
        lst.stop()


def _commit(engine, channel: str, payloads: list[str], rollback: bool = False) -> None:
    with Session(engine) as session:
        for payload in payloads:
            notify.announce(session, channel, payload)
        session.execute(text("SELECT 1"))  # a transaction, as a real writer's
        if rollback:
            session.rollback()
        else:
            session.commit()


def test_listeners_hear_what_commits_once_and_nothing_of_what_rolls_back(database_url, listener):
    lst, heard, channel = listener
    engine = create_engine(db.engine_url(database_url))
    try:
        _commit(engine, channel, ["a", "a", "b"])
        _commit(engine, channel, ["rolled back"], rollback=True)
        _commit(engine, channel, ["c"])
        got = [heard.get(timeout=10) for _ in range(3)]
    finally:
        engine.dispose()
    # In commit order; "a" announced twice in one transaction is sent once, and the rolled-back
    # one (which would have come between) never.
    assert got == ["a", "b", "c"]
    assert lst.connected


def test_a_listener_whose_connection_is_killed_listens_again(database_url, listener):
    lst, heard, channel = listener
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (lst.name,),
        ).fetchall()
    assert killed == [(True,)]
    # Reconnected: the wake-up of a (re)connection, for whatever was announced meanwhile.
    assert heard.get(timeout=20) is None
    engine = create_engine(db.engine_url(database_url))
    try:
        _commit(engine, channel, ["after"])
        assert heard.get(timeout=10) == "after"
    finally:
        engine.dispose()


# A routing worker's outbox relay alone, under eventlet as in `nameko run`, polling every 60 s.
RELAY = textwrap.dedent(
    """
    import eventlet
    eventlet.monkey_patch()
    import sys
    from services.common import worker
    from services.routing.models import OutboxMessage

    class Container:
        def spawn_managed_thread(self, fn):
            return eventlet.spawn(fn)

    relay = worker.Relay("routing", OutboxMessage)
    relay.container = Container()
    relay.setup()
    relay.start()
    while not (relay.listener and relay.listener.connected):
        eventlet.sleep(0.05)
    eventlet.sleep(0.5)  # its first pass (nothing pending) is done; it waits for 60 s now
    print("listening", flush=True)
    eventlet.sleep(120)
    """
)


def test_the_relay_publishes_an_event_at_its_commit_not_at_its_next_poll(tmp_path):
    with own_database("xiaobao_notify") as url, own_vhost("xiaobao-notify") as vhost:
        env = {
            "XIAOBAO_DATABASE_URL": url,
            "XIAOBAO_AMQP_URI": vhost_uri(vhost),
            "XIAOBAO_DATA_DIR": str(tmp_path),
            "XIAOBAO_AUTH_SECRET": TEST_SECRET,
            "XIAOBAO_PII_KEY": TEST_SECRET,
            "XIAOBAO_OUTBOX_POLL_SECONDS": "60",
        }
        env.update(free_ports_env(("routing",)))
        migrated = xiaobao(env, "db", "upgrade", "routing")
        assert migrated.returncode == 0, migrated.stderr
        child = subprocess.Popen(
            [sys.executable, "-c", RELAY],
            cwd=ROOT,
            env={
                **os.environ,
                **env,
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen' / 'python'}",
            },
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "relay.log").open("w"),
            text=True,
        )
        try:
            said = child.stdout.readline().strip()  # "" if it died
            assert said == "listening", (tmp_path / "relay.log").read_text()[-2000:]
            (target,) = messaging.subscription_queues("routing", "case_acknowledged")
            with kombu.Connection(vhost_uri(vhost)) as conn:
                bound = target(conn.channel())
                bound.declare()
                engine = db.make_engine("routing", url)
                from services.routing.models import OutboxMessage

                with Session(engine) as session, session.begin():
                    envelope = messaging.emit(
                        session,
                        OutboxMessage,
                        "routing.case_acknowledged",
                        {"case_no": "CP-NOTIFY-1", "acknowledged_at": "2026-11-21T00:00:00+00:00"},
                    )
                engine.dispose()
                committed = time.monotonic()
                message = None
                while message is None and time.monotonic() - committed < 20:
                    message = bound.get(no_ack=True)
                    if message is None:
                        time.sleep(0.05)
            # The relay polls every 60 s: only the commit's notification can have woken it.
            assert message is not None, "the relay did not publish within 20 s of the commit"
            assert message.payload["event_id"] == envelope.event_id
        finally:
            child.kill()
            child.wait(10)
