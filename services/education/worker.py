"""Education's nameko worker: counts complaints by topic for hot-spot suggestions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.clock import SHANGHAI
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.education.models import CaseSeen, ComplaintTopic, OutboxMessage, ProcessedEvent


def _topic(session: Session, payload: dict) -> ComplaintTopic:
    product = payload.get("product") or "unspecified"
    region = payload.get("region_code") or ""
    row = session.scalar(
        select(ComplaintTopic).where(
            ComplaintTopic.product == product, ComplaintTopic.region_code == region
        )
    )
    if row is None:
        row = ComplaintTopic(product=product, region_code=region, cases=0, closed=0)
        session.add(row)
    return row


class EducationWorker:
    name = "education"

    db = Database("education", ProcessedEvent)
    relay = Relay("education", OutboxMessage)
    metrics = Metrics("education")

    @handles("intake", "case_received")
    def on_case_received(self, session: Session, envelope: Envelope) -> None:
        p = envelope.payload
        if p.get("kind") != "complaint":
            return
        _topic(session, p).cases += 1
        # Hot spots compare complaints by district and topic over time.
        if session.get(CaseSeen, p["case_no"]) is None:
            received = datetime.fromisoformat(p["received_at"]).astimezone(SHANGHAI).date()
            session.add(
                CaseSeen(
                    case_no=p["case_no"],
                    received_on=received,
                    region_code=p.get("region_code", ""),
                    business_type=p.get("business_type", ""),
                    product=p.get("product", ""),
                    issue=p.get("issue", ""),
                    proxy=bool(p.get("proxy")),
                )
            )

    @handles("intake", "case_closed")
    def on_case_closed(self, session: Session, envelope: Envelope) -> None:
        if envelope.payload.get("kind") == "complaint":
            _topic(session, envelope.payload).closed += 1
