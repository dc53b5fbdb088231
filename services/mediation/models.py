"""Mediation's tables: requests and consents, mediators and venues, sessions, reminders, outbox."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import UTCDateTime
from services.common.messaging import OutboxMixin, ProcessedEventMixin
from services.common.pii import Protected


class Base(DeclarativeBase):
    pass


class ReceivedCase(Base):
    """A case intake announced (kept for the intake summary)."""

    __tablename__ = "received_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MediationRequest(Base):
    """A request for mediation (调解申请) from a consumer, an institution or a court (诉前委派调解).

    `open_key` is the case number (or "<court reference>|court" for a court referral without an
    intake case) while the request is open and NULL once it is closed: the unique index makes one
    open mediation per dispute, whoever asked for it.
    """

    __tablename__ = "mediation_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    case_no: Mapped[str] = mapped_column(String(24), index=True, default="")
    source: Mapped[str] = mapped_column(String(16))  # consumer | institution | court
    state: Mapped[str] = mapped_column(String(24), index=True)  # see domain.REQUEST_STATES
    outcome: Mapped[str] = mapped_column(String(24), default="")
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    preferred_form: Mapped[str] = mapped_column(String(8), default="any")
    institution_node_id: Mapped[str] = mapped_column(String(64), default="")
    institution_name: Mapped[str] = mapped_column(String(200), default="")
    product: Mapped[str] = mapped_column(String(40), default="")
    business_type: Mapped[str] = mapped_column(String(24), default="")
    issue: Mapped[str] = mapped_column(String(40), default="")
    amount_in_dispute_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    complainant_name: Mapped[str] = mapped_column(Protected(), default="")
    complainant_phone: Mapped[str] = mapped_column(Protected(), default="")
    complainant_age: Mapped[int] = mapped_column(Integer, default=0)
    region_code: Mapped[str] = mapped_column(String(6), default="")
    language: Mapped[str] = mapped_column(String(40), default="")
    court_name: Mapped[str] = mapped_column(String(200), default="")
    court_reference: Mapped[str] = mapped_column(String(64), default="")
    court_deadline: Mapped[date | None] = mapped_column(Date)
    fast_track: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The mediation clock: its policy name, limit and events, and the projection the engine gives.
    clock_name: Mapped[str] = mapped_column(String(64), default="")
    clock_limit: Mapped[int] = mapped_column(Integer, default=0)
    clock_events: Mapped[list] = mapped_column(JSON, default=list)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_day: Mapped[date | None] = mapped_column(Date)
    agreement_amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    agreement_terms: Mapped[str] = mapped_column(Text, default="")
    judicial_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    judicial_court: Mapped[str] = mapped_column(String(200), default="")
    judicial_reference: Mapped[str] = mapped_column(String(64), default="")
    judicial_confirmed_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    consents: Mapped[list[Consent]] = relationship(
        back_populates="request", order_by="Consent.id", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[MediationSession]] = relationship(
        back_populates="request", order_by="MediationSession.start"
    )


class Consent(Base):
    """One party's consent to mediation, or its refusal, with who recorded it and when."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("request_id", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_request.id", ondelete="CASCADE"), index=True
    )
    party: Mapped[str] = mapped_column(String(16))  # consumer | institution
    consented: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    # When the party can attend: [[start, end], ...] ISO with offset; empty: any working time.
    availability: Mapped[list] = mapped_column(JSON, default=list)

    request: Mapped[MediationRequest] = relationship(back_populates="consents")


class Mediator(Base):
    """A mediator (调解员) of the roster."""

    __tablename__ = "mediator"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Protected())
    specialities: Mapped[list] = mapped_column(JSON, default=list)
    languages: Mapped[list] = mapped_column(JSON, default=list)
    elderly_suitable: Mapped[bool] = mapped_column(Boolean, default=False)
    max_per_day: Mapped[int] = mapped_column(Integer, default=3)
    max_per_week: Mapped[int] = mapped_column(Integer, default=10)
    conflicts: Mapped[list] = mapped_column(JSON, default=list)  # institution ids or names
    works_from: Mapped[str] = mapped_column(String(5), default="09:00")
    works_until: Mapped[str] = mapped_column(String(5), default="17:30")
    # ISO weekdays worked (1 Monday .. 5 Friday), on the calendar's working days only.
    weekdays: Mapped[list] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5])
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    leaves: Mapped[list[MediatorLeave]] = relationship(
        back_populates="mediator", order_by="MediatorLeave.first_day", cascade="all, delete-orphan"
    )


class MediatorLeave(Base):
    """Days a mediator does not work (leave, sick leave), inclusive."""

    __tablename__ = "mediator_leave"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mediator_id: Mapped[str] = mapped_column(
        ForeignKey("mediator.id", ondelete="CASCADE"), index=True
    )
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(24), default="leave")  # leave | sick

    mediator: Mapped[Mediator] = relationship(back_populates="leaves")


class Venue(Base):
    """A mediation room (调解室): a centre room, a court's mediation room, or an online room."""

    __tablename__ = "venue"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # centre | court | online
    capacity: Mapped[int] = mapped_column(Integer, default=6)
    opens: Mapped[str] = mapped_column(String(5), default="09:00")
    closes: Mapped[str] = mapped_column(String(5), default="17:30")
    court_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def form(self) -> str:
        return "online" if self.kind == "online" else "onsite"


class MediationSession(Base):
    """A mediation session (调解会): one mediator, one venue, one time.

    `busy_until` is the end plus the buffer. On PostgreSQL an exclusion constraint (migration
    0002) refuses two active sessions of one mediator, or of one venue, whose [start, busy_until)
    overlap; on SQLite the booking code checks under a lock (store.book_session).
    """

    __tablename__ = "mediation_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("mediation_request.id"), index=True)
    mediator_id: Mapped[str] = mapped_column(ForeignKey("mediator.id"), index=True)
    venue_id: Mapped[str] = mapped_column(ForeignKey("venue.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    busy_until: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)  # see domain.SESSION_STATES
    form: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    request: Mapped[MediationRequest] = relationship(back_populates="sessions")


class SentReminder(Base):
    """A reminder sent before a session: the unique key makes each one go out once."""

    __tablename__ = "sent_reminder"
    __table_args__ = (UniqueConstraint("session_id", "hours_before"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_session.id", ondelete="CASCADE"), index=True
    )
    hours_before: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
