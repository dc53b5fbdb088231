"""Routing's nameko worker: assigns every received case, and sweeps clocks for notices and breaches."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from nameko.timer import timer
from sqlalchemy.orm import Session

from services.common import metrics
from services.common import settings as settings_mod
from services.common.clock import in_force
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.routing import store
from services.routing.models import OutboxMessage, ProcessedEvent

log = logging.getLogger(__name__)


def _at(envelope: Envelope) -> datetime:
    raw = envelope.payload.get("at")
    return datetime.fromisoformat(raw) if raw else envelope.occurred_at


class RoutingWorker:
    name = "routing"

    db = Database("routing", ProcessedEvent)
    relay = Relay("routing", OutboxMessage)
    metrics = Metrics("routing")

    @handles("intake", "case_received")
    def on_case_received(self, session: Session, envelope: Envelope) -> None:
        store.assign_case(session, envelope.payload, datetime.now(UTC))

    @handles("intake", "case_closed")
    def on_case_closed(self, session: Session, envelope: Envelope) -> None:
        store.close_by_centre(session, envelope.payload["case_no"], datetime.now(UTC))

    @handles("mediation", "started")
    def on_mediation_started(self, session: Session, envelope: Envelope) -> None:
        if envelope.payload.get("case_no"):
            store.mediation_started(
                session, envelope.payload["case_no"], _at(envelope), datetime.now(UTC)
            )

    @handles("mediation", "closed")
    def on_mediation_closed(self, session: Session, envelope: Envelope) -> None:
        if envelope.payload.get("case_no") and envelope.payload.get("started", True):
            store.mediation_closed(
                session, envelope.payload["case_no"], _at(envelope), datetime.now(UTC)
            )

    _in_force: tuple | None = None  # class-level: survives nameko's per-call worker instances

    @timer(interval=settings_mod.get().routing_sweep_seconds, eager=True)
    def sweep_clocks(self) -> None:
        """60% and 80% notices and breach escalations; other workers may sweep at the same time.

        A corrected holiday table or policy first re-derives every open deadline (and at start).
        """
        try:
            current = in_force()
            if RoutingWorker._in_force != current:
                with self.db.session() as session:
                    moved = store.recompute_open(session, datetime.now(UTC))
                RoutingWorker._in_force = current
                log.info("holiday table or policy in force changed: %d deadlines moved", moved)
            while True:
                with self.db.session() as session:
                    sent = store.sweep(session, datetime.now(UTC))
                for notice in sent:
                    metrics.ROUTING_NOTICES.labels(notice.clock, notice.stage).inc()
                if len(sent) < store.SWEEP_BATCH:
                    return
        except Exception:  # the next tick tries again; a failed sweep must not kill the timer
            log.exception("clock sweep failed")
