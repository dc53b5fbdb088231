"""Intake's tables: cases, their timeline, the clock projection, outbox and processed events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import UTCDateTime
from services.common.messaging import OutboxMixin, ProcessedEventMixin
from services.common.pii import Protected


class Base(DeclarativeBase):
    pass


class Case(Base):
    """案件: anything the centre records."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str | None] = mapped_column(String(24), unique=True)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24), index=True)
    # Personal data is stored encrypted (services/common/pii.py) and masked in listings.
    complainant_name: Mapped[str] = mapped_column(Protected())
    complainant_phone: Mapped[str] = mapped_column(Protected())
    complainant_id_number: Mapped[str] = mapped_column(Protected(), default="")
    complainant_region: Mapped[str] = mapped_column(String(6), default="")
    # Keyed hashes: matching (repeat complaints, screening) without the number in clear.
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    institution_text: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(40), default="")
    # Classification (taxonomy codes) and whether staff set it or intake suggested it.
    business_type: Mapped[str] = mapped_column(String(24), default="")
    issue: Mapped[str] = mapped_column(String(40), default="")
    taxonomy_version: Mapped[str] = mapped_column(String(24), default="")
    classified_by: Mapped[str] = mapped_column(String(24), default="")
    # A proxy (代理) case: the agent, protected like the complainant (Art 14).
    agent_name: Mapped[str] = mapped_column(Protected(), default="")
    agent_id_number: Mapped[str] = mapped_column(Protected(), default="")
    agent_phone: Mapped[str] = mapped_column(Protected(), default="")
    agent_phone_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    agent_id_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    agent_authorization_ref: Mapped[str] = mapped_column(String(64), default="")
    agent_relationship: Mapped[str] = mapped_column(String(40), default="")
    # Transferred from a regulator: its name, its reference, and when it received the case.
    regulator: Mapped[str] = mapped_column(String(100), default="")
    regulator_reference: Mapped[str] = mapped_column(String(64), default="")
    regulator_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Group and repeat complaints (Art 29, Art 15).
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_of: Mapped[str] = mapped_column(String(24), default="", index=True)
    new_facts: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text)
    amount_in_dispute_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_node_id: Mapped[str] = mapped_column(String(64), default="")
    assigned_node_name: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str] = mapped_column(Text, default="")
    # Blacklist screening flagged the case (blacklist.clue_raised): staff verify directly with the
    # consumer before acting on what an agent filed. The note holds the reasons, never personal data.
    screening_flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    screening_clue_id: Mapped[str] = mapped_column(String(40), default="")
    screening_note: Mapped[str] = mapped_column(Text, default="")
    # The status the case had when it went to mediation, to return it there if mediation fails.
    status_before_mediation: Mapped[str] = mapped_column(String(24), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    clocks: Mapped[list[ClockRecord]] = relationship(
        back_populates="case", order_by="ClockRecord.name", cascade="all, delete-orphan"
    )


class CaseEvent(Base):
    """One entry of a case's history; clocks are derived from these."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(80))
    actor: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class ClockRecord(Base):
    """The current state of one clock of a case: a projection of its events, recomputable."""

    __tablename__ = "clock"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    limit: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    last_day: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    within_limit: Mapped[bool | None] = mapped_column(Boolean)
    elapsed_days: Mapped[float] = mapped_column(Float, default=0.0)

    case: Mapped[Case] = relationship(back_populates="clocks")


class LookupAttempt(Base):
    """A consumer's attempt to look a case up by number and phone: wrong guesses are limited.

    `key` is a keyed hash (of the case number, or of the caller's address), never the value.
    """

    __tablename__ = "lookup_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
