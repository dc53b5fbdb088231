"""Wake-ups between processes through PostgreSQL's LISTEN/NOTIFY, instead of polling.

A transaction that writes something another process waits for (an outbox row for the relay, a
change to the portal's feed) announces it; PostgreSQL delivers the notification when, and only
if, the transaction commits. The waiting process holds one listening connection and wakes at
once instead of at its next poll. Polling stays as the safety net: a listener that lost its
connection (a database restart) misses what was announced meanwhile, so it wakes its waiters
on every reconnect, and they keep a slower poll. SQLite has no notifications: there, nothing is
announced and the waiters poll as before.

Channel names are database-wide; every channel here starts with `xiaobao_`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import psycopg
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from services.common import db

log = logging.getLogger(__name__)

_KEY = "xiaobao.announce"


def outbox_channel(service: str) -> str:
    return f"xiaobao_outbox_{service}"


def announce(session: Session, channel: str, payload: str = "") -> None:
    """Notifies `channel`'s listeners when this session's transaction commits (PostgreSQL).
    `payload` says what changed (never personal data); the same one twice is sent once."""
    session.info.setdefault(_KEY, set()).add((channel, payload))


@event.listens_for(Session, "before_commit")
def _notify_before_commit(session: Session) -> None:
    announced = session.info.pop(_KEY, None)
    if not announced or session.get_bind().dialect.name != "postgresql":
        return
    # Queued in the transaction; PostgreSQL sends them at commit and drops them on a rollback.
    pairs = sorted(announced)
    session.execute(
        text(
            "SELECT pg_notify(n.channel, n.payload) FROM unnest("
            "CAST(:channels AS text[]), CAST(:payloads AS text[])) AS n(channel, payload)"
        ),
        {"channels": [c for c, _ in pairs], "payloads": [p for _, p in pairs]},
    )


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def listen_url(service: str) -> str | None:
    """The libpq URL of a service's PostgreSQL database, or None on SQLite."""
    url = db.database_url(service)
    return db.engine_url(url, driver="postgresql") if db.is_postgres(url) else None


class Listener:
    """One connection LISTENing on `channels`, calling `on_wake(payload)` for each notification
    and `on_wake(None)` after every (re)connection (anything may have changed meanwhile). Runs in a thread of its own (a green one in a worker, where
    psycopg's wait is cooperative). `connected` says whether notifications are arriving, so a
    waiter can poll slowly while they are and quickly while they are not."""

    def __init__(
        self,
        url: str,
        channels: list[str],
        on_wake: Callable[[str | None], None],
        name: str = "notify",
        retry_seconds: float = 1.0,
    ) -> None:
        self.url = url
        self.channels = channels
        self.on_wake = on_wake
        self.name = name
        self.retry_seconds = retry_seconds
        self.connected = False
        self._running = False
        self._conn: psycopg.Connection | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        failures = 0
        while self._running:
            try:
                with psycopg.connect(
                    self.url, autocommit=True, connect_timeout=5, application_name=self.name[:63]
                ) as conn:
                    self._conn = conn
                    for channel in self.channels:
                        conn.execute(f'LISTEN "{channel}"')
                    self.connected = True
                    if failures:
                        log.info("%s listening again after %d failed attempts", self.name, failures)
                    failures = 0
                    self.on_wake(None)  # whatever was announced while nobody listened
                    while self._running:
                        for note in conn.notifies(timeout=5.0):
                            self.on_wake(note.payload)
            except Exception as exc:
                if not self._running:
                    break
                if failures == 0:  # once per outage, not once per retry
                    log.warning(
                        "%s lost its database connection (%s); polling until it is back",
                        self.name,
                        type(exc).__name__,
                    )
                failures += 1
                time.sleep(min(5.0, self.retry_seconds * failures))
            finally:
                self.connected = False
                self._conn = None


class Signal:
    """A generation counter waiters can sleep on: `wait(seen, timeout, relevant)` returns as
    soon as a wake-up after generation `seen` is relevant to the waiter (a wake-up it has not
    seen yet is never lost), or after the timeout. A wake-up names what changed (`key`), or
    None for "anything"; a waiter's `relevant(key)` picks what concerns it."""

    RECENT = 1000  # wake-ups kept to tell waiters what changed; an older `seen` wakes at once

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.generation = 0
        self._recent: deque[tuple[int, str | None]] = deque(maxlen=self.RECENT)

    def wake(self, key: str | None = None) -> None:
        with self._cond:
            self.generation += 1
            self._recent.append((self.generation, key))
            self._cond.notify_all()

    def _concerns(self, seen: int, relevant: Callable[[str], bool] | None) -> bool:
        if self.generation == seen:
            return False
        if relevant is None or not self._recent or self._recent[0][0] > seen + 1:
            return True
        for gen, key in reversed(self._recent):
            if gen <= seen:
                return False
            if key is None or relevant(key):
                return True
        return False

    def wait(
        self, seen: int, timeout: float, relevant: Callable[[str], bool] | None = None
    ) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._concerns(seen, relevant), timeout)
