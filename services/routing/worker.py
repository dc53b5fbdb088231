"""Routing's nameko worker: assigns every received case to its responsible node."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.routing import store
from services.routing.models import Assignment, OutboxMessage, ProcessedEvent


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
        # Closed by the centre (withdrawn, answered at the desk): nothing left for the institution.
        assignment = session.scalar(
            select(Assignment).where(Assignment.case_no == envelope.payload["case_no"])
        )
        if assignment is not None and assignment.status in (
            "assigned",
            "acknowledged",
            "needs_routing",
        ):
            assignment.status = "closed"
