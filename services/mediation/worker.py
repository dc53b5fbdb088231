"""Mediation's nameko worker: takes mediation requests from intake, withdraws them when the
complaint ends elsewhere, and sends session reminders."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from nameko.timer import timer
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import settings as settings_mod
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.mediation import domain, store
from services.mediation.models import OutboxMessage, ProcessedEvent, ReceivedCase

log = logging.getLogger(__name__)


def _at(envelope: Envelope, key: str) -> datetime:
    raw = envelope.payload.get(key)
    return datetime.fromisoformat(raw) if raw else envelope.occurred_at


def request_fields(p: dict) -> dict:
    """The request's columns from an intake.mediation_requested payload."""
    source = p.get("source") or "consumer"
    form = p.get("preferred_form") or "any"
    return {
        "case_no": p["case_no"],
        "source": source if source in ("consumer", "institution") else "consumer",
        "reason": str(p.get("reason") or ""),
        "preferred_form": form if form in domain.FORMS else "any",
        "institution_node_id": str(p.get("institution_node_id") or ""),
        "institution_name": str(p.get("institution_name") or p.get("institution_text") or "")[:200],
        "product": str(p.get("product") or ""),
        "business_type": str(p.get("business_type") or ""),
        "issue": str(p.get("issue") or ""),
        "amount_in_dispute_fen": int(p.get("amount_in_dispute_fen") or 0),
        "complainant_name": str(p.get("complainant_name") or ""),
        "complainant_phone": str(p.get("complainant_phone") or ""),
        "complainant_age": int(p.get("complainant_age") or 0),
        "region_code": str(p.get("region_code") or "")[:6],
    }


class MediationWorker:
    name = "mediation"

    db = Database("mediation", ProcessedEvent)
    relay = Relay("mediation", OutboxMessage)
    metrics = Metrics("mediation")

    @handles("intake", "case_received")
    def on_case_received(self, session: Session, envelope: Envelope) -> None:
        p = envelope.payload
        if session.scalar(select(ReceivedCase).where(ReceivedCase.case_no == p["case_no"])):
            return
        session.add(
            ReceivedCase(
                case_no=p["case_no"],
                kind=p["kind"],
                received_at=datetime.fromisoformat(p["received_at"]),
            )
        )

    @handles("intake", "mediation_requested")
    def on_mediation_requested(self, session: Session, envelope: Envelope) -> None:
        """A consumer's or an institution's request: open (idempotent per case and source)."""
        req, created = store.open_request(
            session, _at(envelope, "requested_at"), **request_fields(envelope.payload)
        )
        if created:
            log.info("mediation request %s opened for %s", req.id, req.case_no)

    @handles("intake", "case_closed")
    def on_case_closed(self, session: Session, envelope: Envelope) -> None:
        """A complaint closed or withdrawn elsewhere withdraws its open request (no-op if none)."""
        p = envelope.payload
        store.withdraw_for_case(
            session, p["case_no"], _at(envelope, "closed_at"), p.get("status", "closed")
        )

    @timer(interval=settings_mod.get().mediation_sweep_seconds, eager=True)
    def send_reminders(self) -> None:
        """mediation.reminder_due before sessions (once each), and expiry of overdue requests."""
        now = datetime.now(UTC)
        with self.db.session() as session:
            sent = store.send_due_reminders(session, now)
            expired = store.expire_overdue(session, now)
        if sent or expired:
            log.info("sent %d session reminders, expired %d requests", sent, expired)
