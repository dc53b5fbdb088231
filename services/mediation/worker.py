"""Mediation's nameko worker: notes every case intake receives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.mediation.models import OutboxMessage, ProcessedEvent, ReceivedCase


class MediationWorker:
    name = "mediation"

    db = Database("mediation", ProcessedEvent)
    relay = Relay("mediation", OutboxMessage)
    metrics = Metrics("mediation")

    @handles("intake", "case_received")
    def on_case_received(self, session: Session, envelope: Envelope) -> None:
        p = envelope.payload
        session.add(
            ReceivedCase(
                case_no=p["case_no"],
                kind=p["kind"],
                received_at=datetime.fromisoformat(p["received_at"]),
            )
        )
