"""Routing's storage operations: importing the directory, assigning cases, institution actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common import settings as settings_mod
from services.common.clock import compute_deadline, in_force
from services.common.errors import CaseNotFound, FailedPrecondition, PermissionDenied
from services.common.messaging import emit
from services.routing import domain
from services.routing.models import Assignment, Node, OutboxMessage

SERVICE = "routing"
DEMO_DIRECTORY = Path(__file__).parent / "data" / "demo_directory.yaml"
ROUTED_KINDS = ("complaint", "petition")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    added: int
    changed: int
    deactivated: int
    unchanged: int


def read_directory_file(path: Path) -> list[domain.DirectoryNode]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise domain.DirectoryError(f"{path}: not valid YAML: {exc}") from None
    return domain.parse_directory(doc)


def import_directory(session: Session, nodes: list[domain.DirectoryNode]) -> ImportReport:
    """Loads or updates the directory: idempotent; nodes missing from the file are deactivated."""
    existing = {n.id: n for n in session.scalars(select(Node))}
    added = changed = unchanged = 0
    for item in nodes:
        values = {
            "parent_id": item.parent_id,
            "name": item.name,
            "aliases": list(item.aliases),
            "kind": item.kind,
            "region_code": item.region_code,
            "product_lines": list(item.product_lines),
            "portal_contact": item.portal_contact,
            "active": item.active,
            "level": item.level,
        }
        row = existing.pop(item.id, None)
        if row is None:
            session.add(Node(id=item.id, **values))
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            changed += 1
        else:
            unchanged += 1
    deactivated = 0
    for row in existing.values():
        if row.active:
            row.active = False
            deactivated += 1
    return ImportReport(added, changed, deactivated, unchanged)


def directory(session: Session) -> list[domain.DirectoryNode]:
    return [
        domain.DirectoryNode(
            id=n.id,
            parent_id=n.parent_id,
            name=n.name,
            aliases=tuple(n.aliases or ()),
            kind=n.kind,
            region_code=n.region_code,
            product_lines=tuple(n.product_lines or ()),
            portal_contact=n.portal_contact,
            active=n.active,
            level=n.level,
        )
        for n in session.scalars(select(Node).order_by(Node.id))
    ]


def resolver(session: Session) -> domain.Resolver:
    return domain.Resolver(directory(session), settings_mod.get().routing_min_confidence)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def assign_case(session: Session, payload: dict, now: datetime) -> Assignment | None:
    """Resolves the responsible node for a received case and hands the case to it."""
    if payload.get("kind") not in ROUTED_KINDS:
        return None
    case_no = payload["case_no"]
    if session.scalar(select(Assignment).where(Assignment.case_no == case_no)) is not None:
        return None
    decision = resolver(session).resolve(
        payload.get("institution_text", ""),
        payload.get("region_code", ""),
        payload.get("product", ""),
    )
    assignment = Assignment(
        case_no=case_no,
        case_kind=payload["kind"],
        product=payload.get("product", ""),
        summary=payload.get("summary", ""),
        region_code=payload.get("region_code", ""),
        institution_text=payload.get("institution_text", ""),
        complainant_name=payload.get("complainant_name", ""),
        complainant_phone=payload.get("complainant_phone", ""),
        amount_in_dispute_fen=int(payload.get("amount_in_dispute_fen", 0)),
        received_at=datetime.fromisoformat(payload["received_at"]),
        confidence=decision.confidence,
        runner_up_id=decision.runner_up.id if decision.runner_up else "",
    )
    session.add(assignment)
    if decision.node is None or decision.needs_human:
        assignment.status = "needs_routing"
        emit(
            session,
            OutboxMessage,
            "routing.case_needs_routing",
            {"case_no": case_no, "confidence": decision.confidence},
        )
        log.info(
            "case %s needs a person to route it (confidence %.2f)", case_no, decision.confidence
        )
        return assignment
    _hand_to(session, assignment, decision.node, now)
    log.info(
        "case %s assigned to %s (confidence %.2f)", case_no, decision.node.id, decision.confidence
    )
    return assignment


def _hand_to(
    session: Session, assignment: Assignment, node: domain.DirectoryNode, now: datetime
) -> None:
    calendar, policy = in_force()
    spec = policy.clock("institution_decision")
    deadline = compute_deadline(
        now,
        spec.limit,
        spec.unit,
        calendar,
        roll_to_working_day=policy.roll_calendar_deadlines_to_working_day,
    )
    assignment.node_id = node.id
    assignment.status = "assigned"
    assignment.assigned_at = now
    assignment.last_day = deadline.last_day
    assignment.deadline = deadline.deadline
    assignment.provisional = deadline.provisional
    emit(
        session,
        OutboxMessage,
        "routing.case_assigned",
        {
            "case_no": assignment.case_no,
            "node_id": node.id,
            "node_name": node.name,
            "assigned_at": now.isoformat(),
            "confidence": assignment.confidence,
            "last_day": deadline.last_day.isoformat(),
        },
    )


def visible_assignment(session: Session, case_no: str, allowed: set[str] | None) -> Assignment:
    """The assignment, if the caller's subtree holds it; otherwise as if it did not exist."""
    assignment = session.scalar(select(Assignment).where(Assignment.case_no == case_no))
    if assignment is None or (allowed is not None and assignment.node_id not in allowed):
        raise CaseNotFound(case_no)
    return assignment


def acknowledge(session: Session, assignment: Assignment, now: datetime) -> None:
    if assignment.status == "answered":
        raise FailedPrecondition(f"case {assignment.case_no} is already answered")
    if assignment.acknowledged_at is not None:
        return  # acknowledging twice is harmless
    assignment.acknowledged_at = now
    assignment.status = "acknowledged"
    emit(
        session,
        OutboxMessage,
        "routing.case_acknowledged",
        {
            "case_no": assignment.case_no,
            "node_id": assignment.node_id,
            "acknowledged_at": now.isoformat(),
        },
    )


def answer(
    session: Session, assignment: Assignment, outcome: str, text: str, now: datetime
) -> None:
    if assignment.status == "answered":
        raise FailedPrecondition(f"case {assignment.case_no} is already answered")
    if assignment.status == "needs_routing":
        raise PermissionDenied(f"case {assignment.case_no} is not assigned to you")
    log.info("case %s answered by %s: %s", assignment.case_no, assignment.node_id, outcome)
    assignment.status = "answered"
    assignment.answered_at = now
    assignment.outcome = outcome
    assignment.answer = text
    if assignment.acknowledged_at is None:
        assignment.acknowledged_at = now
    emit(
        session,
        OutboxMessage,
        "routing.case_answered",
        {
            "case_no": assignment.case_no,
            "node_id": assignment.node_id,
            "outcome": outcome,
            "answer": text,
            "answered_at": now.isoformat(),
            "within_limit": bool(assignment.deadline and now < _aware(assignment.deadline)),
        },
    )
