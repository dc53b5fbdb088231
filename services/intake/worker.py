"""Intake's nameko worker: follows routing's events onto the case and its clocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.intake import cases
from services.intake.models import Case, OutboxMessage, ProcessedEvent


def _at(envelope: Envelope, key: str) -> datetime:
    raw = envelope.payload.get(key)
    return datetime.fromisoformat(raw) if raw else envelope.occurred_at


class IntakeWorker:
    name = "intake"

    db = Database("intake", ProcessedEvent)
    relay = Relay("intake", OutboxMessage)
    metrics = Metrics("intake")

    def _case(self, session: Session, envelope: Envelope) -> Case:
        return cases.get_case(session, envelope.payload["case_no"])

    @handles("routing", "case_assigned")
    def on_case_assigned(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        case.status = "assigned" if case.status in ("received", "needs_routing") else case.status
        case.assigned_node_id = p["node_id"]
        case.assigned_node_name = p.get("node_name", "")
        cases.record(
            session,
            case,
            "routing.case_assigned",
            _at(envelope, "assigned_at"),
            "routing",
            f"assigned to {case.assigned_node_name} (confidence {p.get('confidence', 0):.2f})",
        )

    @handles("routing", "case_needs_routing")
    def on_case_needs_routing(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        if case.status == "received":
            case.status = "needs_routing"
        cases.record(
            session,
            case,
            "routing.case_needs_routing",
            envelope.occurred_at,
            "routing",
            "no confident match in the directory: waiting for a person to route it",
        )

    @handles("routing", "case_acknowledged")
    def on_case_acknowledged(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        cases.record(
            session,
            case,
            "routing.case_acknowledged",
            _at(envelope, "acknowledged_at"),
            envelope.payload.get("node_id", "institution"),
            "institution acknowledged receipt",
        )

    @handles("routing", "case_answered")
    def on_case_answered(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        if case.status == "closed":
            return
        p = envelope.payload
        at = _at(envelope, "answered_at")
        case.status = "answered"
        cases.record(
            session,
            case,
            "routing.case_answered",
            at,
            p.get("node_id", "institution"),
            f"institution decided: {p.get('outcome', '')}",
        )
        # The institution told the complainant its decision (Art 18): the centre's case closes.
        cases.close(session, case, at, p.get("node_id", "institution"), p.get("answer", "")[:2000])
