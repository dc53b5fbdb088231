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
    complainant_name: Mapped[str] = mapped_column(String(100))
    complainant_phone: Mapped[str] = mapped_column(String(32))
    complainant_id_number: Mapped[str] = mapped_column(String(18), default="")
    complainant_region: Mapped[str] = mapped_column(String(6), default="")
    # Keyed hash of the phone: matching (repeat complaints, screening) without the number.
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    institution_text: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(40), default="")
    summary: Mapped[str] = mapped_column(Text)
    amount_in_dispute_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_node_id: Mapped[str] = mapped_column(String(64), default="")
    assigned_node_name: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str] = mapped_column(Text, default="")
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


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
