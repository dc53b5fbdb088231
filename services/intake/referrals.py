"""What other services tell intake about a case: mediation (Art 23) and blacklist screening.

Mediation: the complainant (or the institution, by its answer) asks for mediation; intake announces
`intake.mediation_requested`. Once both parties consent the mediation service sends
`mediation.started`, and every running clock that may pause is paused: mediation time does not count
against the complaint's limit. `mediation.closed` resumes them; an agreement closes the complaint with
its terms, any other outcome returns the complaint to where it was.

Screening: `blacklist.clue_raised` marks the case so staff verify directly with the consumer before
acting on what may be an agent's filing; `blacklist.clue_dismissed` clears the mark.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from services.common.clock import in_force, open_pause
from services.common.errors import FailedPrecondition
from services.intake import cases
from services.intake.models import Case

log = logging.getLogger(__name__)

ENDED = ("closed", "withdrawn", "linked")
MEDIATION = "mediation"
OUTCOMES = {
    "agreement": "an agreement",
    "no_agreement": "no agreement",
    "party_absent": "a party did not attend",
    "withdrawn": "the request was withdrawn",
    "refused": "a party refused mediation",
    "expired": "the mediation time ran out",
}


def request_mediation(
    session: Session,
    case: Case,
    at: datetime,
    actor: str,
    reason: str,
    form: str,
    source: str,
) -> None:
    """Records the request on the timeline and announces it; the case itself is unchanged until
    both parties consent (mediation.started)."""
    if case.kind not in ("complaint", "petition", "mediation_request"):
        raise FailedPrecondition(f"a {case.kind} cannot go to mediation: only a dispute can")
    if case.status in ("withdrawn", "linked"):
        raise FailedPrecondition(f"case {case.case_no} is {case.status}")
    if case.status == "in_mediation":
        raise FailedPrecondition(f"case {case.case_no} is already in mediation")
    cases.announce_mediation_request(session, case, at, actor, reason, form, source)


def _open_pauses(case: Case) -> dict[str, str]:
    """Clock name -> the reason of its pause still open, from the case's history."""
    per_clock: dict[str, list[dict]] = {}
    for event in sorted(case.events, key=lambda e: (e.at, e.id or 0)):
        for effect in event.data.get("clock_effects", []):
            per_clock.setdefault(effect.get("clock"), []).append(effect)
    return {
        name: pause.get("reason", "")
        for name, effects in per_clock.items()
        if (pause := open_pause(effects)) is not None
    }


def _pausable_running(case: Case) -> list[str]:
    """Running clocks the policy lets pause and that no other pause (an appraisal) holds."""
    specs = in_force()[1].clocks
    paused = _open_pauses(case)
    return [
        c.name
        for c in case.clocks
        if c.started_at is not None
        and c.stopped_at is None
        and c.name in specs
        and specs[c.name].pausable
        and c.name not in paused
    ]


def mediation_started(session: Session, case: Case, at: datetime, request_id: str) -> None:
    paused = _pausable_running(case)
    cases.record(
        session,
        case,
        "mediation.started",
        at,
        "mediation",
        "both parties accepted mediation"
        + (f"; {', '.join(paused)} paused for it (Art 23)" if paused else ""),
        data={"request_id": request_id},
        effects=[{"clock": n, "kind": "pause", "reason": MEDIATION} for n in paused],
    )
    if case.status not in ENDED and case.status != "in_mediation":
        case.status_before_mediation = case.status
        case.status = "in_mediation"
    log.info("case %s: mediation started, %d clocks paused", case.case_no, len(paused))


def session_scheduled(session: Session, case: Case, at: datetime, p: dict) -> None:
    form = "online" if p.get("form") == "online" else "at " + (p.get("venue_name") or "the centre")
    cases.record(
        session,
        case,
        "mediation.session_scheduled",
        at,
        "mediation",
        f"mediation session {p.get('start', '')} to {p.get('end', '')}, {form}",
        data={"request_id": p.get("request_id", ""), "session_id": p.get("session_id", "")},
    )


def mediation_closed(session: Session, case: Case, at: datetime, p: dict) -> None:
    """Resumes the paused clocks; an agreement closes the complaint, anything else returns it."""
    outcome = str(p.get("outcome", ""))
    said = OUTCOMES.get(outcome, outcome or "ended")
    detail = f"mediation ended: {said}"
    if outcome == "agreement":
        detail += _agreement_terms(p)
    paused = [n for n, why in _open_pauses(case).items() if why == MEDIATION]
    cases.record(
        session,
        case,
        "mediation.closed",
        at,
        "mediation",
        detail[:2000],
        data={"request_id": p.get("request_id", ""), "outcome": outcome},
        effects=[{"clock": n, "kind": "resume"} for n in paused],
    )
    log.info("case %s: mediation ended (%s)", case.case_no, outcome or "unknown")
    if case.status in ("withdrawn", "linked"):
        return
    if case.status == "closed":
        # The dispute went to mediation after the centre's case had closed (the complainant
        # disputed the answer): the closure stands; the resolution notes how mediation ended.
        case.resolution = f"{case.resolution}\n{detail}".strip()[:4000]
        return
    if outcome == "agreement":
        case.status_before_mediation = ""
        cases.close(session, case, at, "mediation", detail)
        return
    if case.status == "in_mediation":
        case.status = case.status_before_mediation or "assigned"
        case.status_before_mediation = ""
    if case.status in ("answered", "referred_to_mediation"):
        # The institution had decided already; mediation was the last step the centre offers.
        cases.close(session, case, at, "mediation", f"{detail}; the complainant may go to court")


def _agreement_terms(p: dict) -> str:
    parts = []
    amount = int(p.get("amount_fen") or 0)
    if amount:
        parts.append(f"¥{amount / 100:,.2f}")
    if p.get("terms"):
        parts.append(str(p["terms"]))
    if p.get("judicial_confirmation"):
        parts.append("to be judicially confirmed (司法确认)")
    return (": " + "; ".join(parts)) if parts else ""


def clue_raised(session: Session, case: Case, at: datetime, p: dict) -> None:
    reasons = [str(r.get("detail", "")) for r in p.get("reasons", []) if isinstance(r, dict)]
    note = "; ".join(r for r in reasons if r)[:1000]
    case.screening_flagged = True
    case.screening_clue_id = str(p.get("clue_id", ""))[:40]
    case.screening_note = note
    cases.record(
        session,
        case,
        "blacklist.clue_raised",
        at,
        "blacklist",
        f"possibly filed by a black/grey-industry agent (score {float(p.get('score', 0)):.2f}): "
        "verify directly with the consumer",
        data={"clue_id": case.screening_clue_id, "ring_id": str(p.get("ring_id", ""))},
    )


def clue_dismissed(session: Session, case: Case, at: datetime, p: dict) -> None:
    if not case.screening_flagged or case.screening_clue_id != str(p.get("clue_id", "")):
        return
    case.screening_flagged = False
    case.screening_note = ""
    cases.record(
        session,
        case,
        "blacklist.clue_dismissed",
        at,
        "blacklist",
        "screening flag cleared: the investigators dismissed the clue",
        data={"clue_id": case.screening_clue_id},
    )
