"""Intake's rules: validating a new case, and deriving its clocks from its history."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from services.common.calendar import WorkingCalendar
from services.common.clock import SHANGHAI, ClockEvent, ClockStatus, Policy, evaluate
from services.common.errors import InvalidArgument
from services.common.validation import text as _text

KINDS = ("complaint", "consultation", "mediation_request", "report", "petition")
CHANNELS = ("hotline", "web", "mini_program", "letter", "visit", "email", "transfer")
# Kinds the centre hands to an institution; the others it answers itself.
ROUTED_KINDS = ("complaint", "petition")

# re.ASCII: \d must not accept full-width or other Unicode digits (１３９…).
MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$", re.ASCII)
REGION = re.compile(r"^\d{6}$", re.ASCII)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
MAX_SUMMARY = 4000
MAX_AMOUNT_FEN = 10**13  # ¥100 billion: anything larger is a typo


MAX_PEOPLE = 100_000


@dataclass(frozen=True)
class Agent:
    """代理人: files for the complainant with an authorisation letter (Art 14)."""

    name: str
    id_number: str
    phone: str
    authorization_reference: str
    relationship: str = ""


@dataclass(frozen=True)
class Transfer:
    """Transferred from a regulator: the regulator's own receipt starts its forwarding clock."""

    regulator: str
    reference: str
    received_by_regulator_at: datetime | None


@dataclass(frozen=True)
class NewCase:
    kind: str
    channel: str
    name: str
    phone: str
    id_number: str
    region_code: str
    institution_text: str
    product: str
    summary: str
    amount_in_dispute_fen: int
    received_at: datetime | None
    agent: Agent | None = None
    transfer: Transfer | None = None
    people_count: int = 1
    new_facts: bool = False


def id_number_valid(value: str) -> bool:
    """GB 11643 resident ID: 17 digits and an ISO 7064 MOD 11-2 check character."""
    if not re.fullmatch(r"\d{17}[\dX]", value, re.ASCII):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == value[17]


def age_from_id_number(id_number: str, on: date) -> int | None:
    """Whole years of age on `on` from a resident ID's birth date (positions 7-14); None if unknown."""
    if not id_number_valid(id_number):
        return None
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years if 0 <= years < 150 else None


def normalise_phone(phone: str) -> str:
    """One spelling per number, so its keyed hash matches however it was written:
    022-23456789, (022) 23456789 and 02223456789 are the same landline."""
    digits = re.sub(r"[\s()\-]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits


def validate(new: NewCase, now: datetime) -> NewCase:
    """Returns the cleaned case or raises InvalidArgument naming the first bad field."""
    if new.kind not in KINDS:
        raise InvalidArgument("kind", f"must be one of {', '.join(KINDS)}")
    if new.channel not in CHANNELS:
        raise InvalidArgument("channel", f"must be one of {', '.join(CHANNELS)}")
    name = new.name.strip()
    if not name:
        raise InvalidArgument("complainant.name", "is required")
    if len(name) > 50:
        raise InvalidArgument("complainant.name", "is longer than 50 characters")
    phone = normalise_phone(new.phone)
    if not (MOBILE.match(phone) or LANDLINE.match(phone)):
        raise InvalidArgument(
            "complainant.phone",
            "must be a mainland mobile (11 digits) or a landline with area code",
        )
    id_number = new.id_number.strip().upper()
    if id_number and not id_number_valid(id_number):
        raise InvalidArgument("complainant.id_number", "is not a valid resident ID number")
    region = new.region_code.strip()
    if region and not REGION.match(region):
        raise InvalidArgument("complainant.region_code", "must be a 6-digit GB/T 2260 code")
    institution = new.institution_text.strip()
    if new.kind in ROUTED_KINDS and not institution:
        raise InvalidArgument("institution_text", "is required for a complaint or petition")
    if len(institution) > 200:
        raise InvalidArgument("institution_text", "is longer than 200 characters")
    summary = new.summary.strip()
    if not summary:
        raise InvalidArgument("summary", "is required")
    if len(summary) > MAX_SUMMARY:
        raise InvalidArgument("summary", f"is longer than {MAX_SUMMARY} characters")
    if len(new.product) > 40:
        raise InvalidArgument("product", "is longer than 40 characters")
    if not 0 <= new.amount_in_dispute_fen <= MAX_AMOUNT_FEN:
        raise InvalidArgument("amount_in_dispute_fen", "must be between 0 and 10^13 fen")
    received = _moment(new.received_at or now, "received_at", now)
    people = new.people_count or 1
    if not 1 <= people <= MAX_PEOPLE:
        raise InvalidArgument("people_count", f"must be between 1 and {MAX_PEOPLE}")
    return NewCase(
        kind=new.kind,
        channel=new.channel,
        name=name,
        phone=phone,
        id_number=id_number,
        region_code=region,
        institution_text=institution,
        product=new.product.strip(),
        summary=summary,
        amount_in_dispute_fen=new.amount_in_dispute_fen,
        received_at=received,
        agent=_agent(new.agent),
        transfer=_transfer(new.transfer, new.channel, received, now),
        people_count=people,
        new_facts=new.new_facts,
    )


def _moment(value: datetime, field: str, now: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidArgument(field, "must carry a UTC offset")
    if value > now + timedelta(minutes=5):
        raise InvalidArgument(field, "is in the future")
    if value < EARLIEST:
        raise InvalidArgument(field, "is before 1990")
    return value


def _agent(agent: Agent | None) -> Agent | None:
    """A proxy needs the agent's identity, contact and authorisation letter (Art 14)."""
    if agent is None:
        return None
    name = _text(agent.name, "agent.name", 50)
    phone = normalise_phone(agent.phone)
    if not (MOBILE.match(phone) or LANDLINE.match(phone)):
        raise InvalidArgument(
            "agent.phone", "must be a mainland mobile (11 digits) or a landline with area code"
        )
    id_number = agent.id_number.strip().upper()
    if not id_number_valid(id_number):
        raise InvalidArgument("agent.id_number", "is not a valid resident ID number")
    return Agent(
        name=name,
        id_number=id_number,
        phone=phone,
        authorization_reference=_text(
            agent.authorization_reference, "agent.authorization_reference", 64
        ),
        relationship=_text(agent.relationship, "agent.relationship", 40, required=False),
    )


def _transfer(
    transfer: Transfer | None, channel: str, received: datetime, now: datetime
) -> Transfer | None:
    """Only a transferred case has a regulator, and it received the case before the centre."""
    if channel != "transfer":
        if transfer is not None:
            raise InvalidArgument("transfer", "is only for the transfer channel")
        return None
    if transfer is None:
        raise InvalidArgument("transfer", "is required for a case transferred from a regulator")
    if transfer.received_by_regulator_at is None:
        raise InvalidArgument("transfer.received_by_regulator_at", "is required")
    at = _moment(transfer.received_by_regulator_at, "transfer.received_by_regulator_at", now)
    if at > received:
        raise InvalidArgument(
            "transfer.received_by_regulator_at", "is after the centre received the case"
        )
    return Transfer(
        regulator=_text(transfer.regulator, "transfer.regulator", 100),
        reference=_text(transfer.reference, "transfer.reference", 64),
        received_by_regulator_at=at,
    )


def case_number(received_at: datetime, serial: int) -> str:
    """XB + the Shanghai date of receipt + a serial: XB20261121000042."""
    local = received_at.astimezone(SHANGHAI)
    return f"XB{local:%Y%m%d}{serial:06d}"


@dataclass(frozen=True)
class HistoryItem:
    """What the clock engine needs of one timeline entry."""

    type: str
    at: datetime
    clock_effects: Sequence[dict]


# A party's own windows bind no one at the centre or the institution, so they are not SLIs: the
# complainant's windows to ask for a review, and the receiving unit's window to object to a
# wrongly transferred petition (most petitions are never objected to; closing one would count a
# "late" objection that never was). Intake does not run them.
COMPLAINANT_WINDOWS = frozenset(
    {
        "review_request",
        "petition_recheck_request",
        "petition_review_request",
        "petition_transfer_objection",
    }
)


def clock_effects(
    policy: Policy, kind: str, event_type: str, open_clocks: Iterable[str]
) -> list[dict]:
    """Which clocks an event starts or stops for a case of this kind, as the policy says.

    Closing a case stops every clock still running.
    """
    effects: list[dict] = []
    open_set = set(open_clocks)
    for name, spec in policy.clocks.items():
        if kind not in spec.applies_to or name in COMPLAINANT_WINDOWS:
            continue
        if spec.start_event == event_type and name not in open_set:
            effects.append({"clock": name, "kind": "start"})
        elif name in open_set and (
            spec.stop_event == event_type or event_type == "intake.case_closed"
        ):
            effects.append({"clock": name, "kind": "stop"})
    return effects


def derive_clocks(
    policy: Policy, history: Sequence[HistoryItem], calendar: WorkingCalendar, now: datetime
) -> list[ClockStatus]:
    """Every clock the history touched, evaluated afresh (a calendar fix recomputes them all)."""
    per_clock: dict[str, list[ClockEvent]] = {}
    for item in history:
        for effect in item.clock_effects:
            per_clock.setdefault(effect["clock"], []).append(
                ClockEvent(
                    kind=effect["kind"],
                    at=item.at,
                    limit=effect.get("limit"),
                    reason=effect.get("reason", ""),
                    approver=effect.get("approver", ""),
                )
            )
    return [
        evaluate(policy.clock(name), events, calendar, now, policy)
        for name, events in sorted(per_clock.items())
        if name in policy.clocks
    ]
