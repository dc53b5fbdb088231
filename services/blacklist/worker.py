"""Blacklist's nameko worker: screens every received case within seconds.

The process keeps one screener in memory (`store.ScreeningState`), restored from the database
when the worker starts and kept in step with cases other replicas stored (see store's doc).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy.orm import Session

from services.blacklist import store
from services.blacklist.models import OutboxMessage, ProcessedEvent, ScreeningItem
from services.common import db
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles

log = logging.getLogger(__name__)

SCREENED = Counter(
    "xiaobao_blacklist_screened_total", "Cases screened by the blacklist worker.", ["flagged"]
)
CLUES_RAISED = Counter(
    "xiaobao_blacklist_clue_raised_total", "blacklist.clue_raised events emitted (flagged cases)."
)


class Screening(DependencyProvider):
    """The worker's screener, shared by its green threads one case at a time."""

    def setup(self) -> None:
        self.state = store.ScreeningState()
        self.lock = Semaphore(1)

    def start(self) -> None:
        # Held while restoring: nameko starts the event consumers alongside, and a database
        # query yields to them (eventlet); a case waits (unacknowledged, so never lost) until
        # the screener is whole instead of being applied to a half-restored one.
        with self.lock:
            try:
                t = time.monotonic()
                with db.session_scope(db.session_factory("blacklist")) as session:
                    n = self.state.restore(session)
                log.info(
                    "screener restored: %d stored cases in %.1f s (%s)",
                    n,
                    time.monotonic() - t,
                    self.state.screener.size(),
                )
            except Exception:  # the database may come up later: the first case restores it
                log.exception("screener not restored at start; restoring on the first case")
                self.state.screener = None

    def get_dependency(self, worker_ctx) -> Screening:
        return self


class BlacklistWorker:
    name = "blacklist"

    db = Database("blacklist", ProcessedEvent)
    relay = Relay("blacklist", OutboxMessage)
    metrics = Metrics("blacklist")
    screening = Screening()

    @handles("intake", "case_received")
    def on_case_received(self, session: Session, envelope: Envelope) -> None:
        p = envelope.payload
        session.add(
            ScreeningItem(
                case_no=p["case_no"],
                case_kind=p["kind"],
                channel=p["channel"],
                received_at=datetime.fromisoformat(p["received_at"]),
                institution_text=p.get("institution_text", ""),
                summary=p.get("summary", ""),
                phone_hash=p.get("phone_hash", ""),
                status="pending",
            )
        )
        session.flush()
        with self.screening.lock:
            try:
                screened = self.screening.state.screen(session, p)
                session.flush()
            except Exception:
                # The transaction rolls back but the screener may hold the case: rebuild it.
                self.screening.state.screener = None
                raise
        if screened is None:
            return
        flagged, raised = screened.result.flagged, len(screened.events)

        def count() -> None:  # after the commit: a rolled-back, redelivered case counts once
            SCREENED.labels("true" if flagged else "false").inc()
            CLUES_RAISED.inc(raised)

        db.on_commit(session, count)
        if screened.result.flagged:
            log.info(
                "case %s flagged (score %.2f, %d clue events)",
                p["case_no"],
                screened.result.score,
                len(screened.events),
            )
