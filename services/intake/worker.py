"""Intake's nameko worker: follows routing's events onto the case and its clocks."""

from __future__ import annotations

import logging
from datetime import datetime

from nameko.timer import timer
from sqlalchemy.orm import Session

from services.common import settings as settings_mod
from services.common.clock import in_force
from services.common.messaging import Envelope
from services.common.worker import Database, Metrics, Relay, handles
from services.intake import cases, referrals
from services.intake.models import Case, OutboxMessage, ProcessedEvent

log = logging.getLogger(__name__)


def _at(envelope: Envelope, key: str) -> datetime:
    raw = envelope.payload.get(key)
    return datetime.fromisoformat(raw) if raw else envelope.occurred_at


class IntakeWorker:
    name = "intake"

    db = Database("intake", ProcessedEvent)
    relay = Relay("intake", OutboxMessage)
    metrics = Metrics("intake")

    _in_force: tuple | None = None  # class-level: survives nameko's per-call worker instances

    @timer(interval=settings_mod.get().clock_sweep_seconds, eager=True)
    def recompute_clocks_on_reference_change(self) -> None:
        """A corrected holiday table or policy recomputes every running clock (at start too)."""
        current = in_force()
        if IntakeWorker._in_force == current:
            return
        count = cases.recompute_open_clocks(self.db.factory)
        IntakeWorker._in_force = current
        log.info("holiday table or policy in force changed: recomputed %d open cases", count)

    def _case(self, session: Session, envelope: Envelope) -> Case:
        # Locked: a repeat complaint linked to this case may be writing its timeline now.
        return cases.get_case(session, envelope.payload["case_no"], lock=True)

    @handles("routing", "case_assigned")
    def on_case_assigned(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        at = _at(envelope, "assigned_at")
        # Routing's events travel on separate queues: an assignment overtaken by a later routing
        # decision (the desk queue after a third return) goes on the timeline only.
        if not cases.overtaken(case, at):
            if case.status in ("received", "needs_routing"):
                case.status = "assigned"
            case.assigned_node_id = p["node_id"]
            case.assigned_node_name = p.get("node_name", "")
        detail = f"assigned to {case.assigned_node_name} (confidence {p.get('confidence', 0):.2f})"
        if p.get("tier_reason"):
            detail += f"; {p['tier_reason']}"
        # A reassigned case: the new institution's limit runs from its own receipt.
        effects = [{"clock": p["clock"], "kind": "restart"}] if p.get("reassigned") else []
        cases.record(
            session,
            case,
            "routing.case_assigned",
            at,
            "routing",
            detail,
            effects=effects if p.get("clock") else [],
        )

    @handles("routing", "case_needs_routing")
    def on_case_needs_routing(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        if case.status in ("received", "assigned") and not cases.overtaken(
            case, envelope.occurred_at
        ):
            case.status = "needs_routing"
            # Returned by every office it went to: with no one until a person routes it.
            case.assigned_node_id = ""
            case.assigned_node_name = ""
        why = envelope.payload.get("why") or "no confident match in the directory"
        cases.record(
            session,
            case,
            "routing.case_needs_routing",
            envelope.occurred_at,
            "routing",
            f"{why}: waiting for a person to route it",
        )

    @handles("routing", "case_returned")
    def on_case_returned(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        cases.record(
            session,
            case,
            "routing.case_returned",
            _at(envelope, "at"),
            p.get("node_id", "institution"),
            f"returned as misrouted: {p.get('reason', '')}",
            effects=[{"clock": p["clock"], "kind": "stop"}] if p.get("clock") else [],
        )

    @handles("routing", "case_extended")
    def on_case_extended(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        approver = f", approved by {p['approver']}" if p.get("approver") else ""
        cases.record(
            session,
            case,
            "routing.case_extended",
            _at(envelope, "at"),
            p.get("node_id", "institution"),
            f"deadline extended to {p['to_days']} days ({p.get('article', '')}){approver}",
            effects=[
                {
                    "clock": p["clock"],
                    "kind": "extend",
                    "limit": p["to_days"],
                    "reason": p.get("reason", ""),
                    "approver": p.get("approver", ""),
                }
            ],
        )

    @handles("routing", "clock_paused")
    def on_clock_paused(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        cases.record(
            session,
            case,
            "routing.clock_paused",
            _at(envelope, "at"),
            p.get("node_id", "institution"),
            f"institution clock paused for {p.get('reason', '')}",
            effects=[{"clock": p["clock"], "kind": "pause", "reason": p.get("reason", "")}],
        )

    @handles("routing", "clock_resumed")
    def on_clock_resumed(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        cases.record(
            session,
            case,
            "routing.clock_resumed",
            _at(envelope, "at"),
            p.get("node_id", "institution"),
            "institution clock resumed",
            effects=[{"clock": p["clock"], "kind": "resume"}],
        )

    @handles("routing", "deadline_approaching")
    def on_deadline_approaching(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        cases.record(
            session,
            case,
            "routing.deadline_approaching",
            _at(envelope, "at"),
            "routing",
            f"{p.get('threshold', '')} of the {p.get('clock', '')} time used; "
            f"last day {p.get('last_day', '')}",
        )

    @handles("routing", "deadline_breached")
    def on_deadline_breached(self, session: Session, envelope: Envelope) -> None:
        case = self._case(session, envelope)
        p = envelope.payload
        to = p.get("escalated_to") or "no parent office"
        cases.record(
            session,
            case,
            "routing.deadline_breached",
            _at(envelope, "at"),
            "routing",
            f"{p.get('node_id', '')} missed the {p.get('clock', '')} deadline "
            f"{p.get('last_day', '')}; escalated to {to}",
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
        if p.get("outcome") == "referred_to_mediation":
            # The dispute continues in mediation; the case stays open until it ends there.
            case.status = "referred_to_mediation"
            cases.announce_mediation_request(
                session,
                case,
                at,
                p.get("node_id", "institution"),
                p.get("answer", "")[:500],
                "any",
                "institution",
            )
            return
        # The institution told the complainant its decision (Art 18): the centre's case closes.
        cases.close(session, case, at, p.get("node_id", "institution"), p.get("answer", "")[:2000])

    def _intake_case(self, session: Session, envelope: Envelope) -> Case | None:
        """The case a mediation or screening event is about; a court-referred mediation has none."""
        if not envelope.payload.get("case_no"):
            return None
        return self._case(session, envelope)

    @handles("mediation", "started")
    def on_mediation_started(self, session: Session, envelope: Envelope) -> None:
        case = self._intake_case(session, envelope)
        if case is not None:
            referrals.mediation_started(
                session, case, _at(envelope, "at"), envelope.payload.get("request_id", "")
            )

    @handles("mediation", "session_scheduled")
    def on_mediation_session_scheduled(self, session: Session, envelope: Envelope) -> None:
        case = self._intake_case(session, envelope)
        if case is not None:
            referrals.session_scheduled(session, case, envelope.occurred_at, envelope.payload)

    @handles("mediation", "closed")
    def on_mediation_closed(self, session: Session, envelope: Envelope) -> None:
        case = self._intake_case(session, envelope)
        if case is not None:
            referrals.mediation_closed(session, case, _at(envelope, "at"), envelope.payload)

    @handles("blacklist", "clue_raised")
    def on_clue_raised(self, session: Session, envelope: Envelope) -> None:
        case = self._intake_case(session, envelope)
        if case is not None:
            referrals.clue_raised(session, case, envelope.occurred_at, envelope.payload)

    @handles("blacklist", "clue_dismissed")
    def on_clue_dismissed(self, session: Session, envelope: Envelope) -> None:
        for case_no in envelope.payload.get("case_nos", []):
            case = cases.get_case(session, case_no, lock=True)
            referrals.clue_dismissed(session, case, envelope.occurred_at, envelope.payload)
