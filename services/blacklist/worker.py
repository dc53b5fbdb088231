"""Blacklist's nameko worker: records every received case for screening."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.blacklist.models import OutboxMessage, ProcessedEvent, ScreeningItem
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles


class BlacklistWorker:
    name = "blacklist"

    db = Database("blacklist", ProcessedEvent)
    relay = Relay("blacklist", OutboxMessage)
    metrics = Metrics("blacklist")

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
