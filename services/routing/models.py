"""Routing's tables: the institution directory, assignments, outbox and processed events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime
from services.common.messaging import OutboxMixin, ProcessedEventMixin


class Base(DeclarativeBase):
    pass


class Node(Base):
    """机构节点: one office in an institution's tree."""

    __tablename__ = "node"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(24))
    region_code: Mapped[str] = mapped_column(String(6))
    product_lines: Mapped[list] = mapped_column(JSON, default=list)
    portal_contact: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    short_names: Mapped[list] = mapped_column(JSON, default=list)
    former_names: Mapped[list] = mapped_column(JSON, default=list)


class DirectoryVersion(Base):
    """One row: bumped by every import that changes the directory, so apis can cache it."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FeedCounter(Base):
    """One row: the sequence of assignment changes behind the portal's resumable stream.

    Every change takes the next value with an UPDATE, whose row lock is held to commit, so
    values become visible in the order they were taken and a reader never skips one.
    """

    __tablename__ = "feed_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Assignment(Base):
    """转办: a case handed to the responsible node, and what the institution did with it."""

    __tablename__ = "assignment"
    # The portal's stream reads one subtree's changes in feed order.
    __table_args__ = (Index("ix_assignment_node_feed", "node_id", "feed_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    node_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    case_kind: Mapped[str] = mapped_column(String(24))
    product: Mapped[str] = mapped_column(String(40), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    region_code: Mapped[str] = mapped_column(String(6), default="")
    institution_text: Mapped[str] = mapped_column(String(200), default="")
    # The institution calls the complainant back, so it gets the contact; listings mask it.
    complainant_name: Mapped[str] = mapped_column(String(100), default="")
    complainant_phone: Mapped[str] = mapped_column(String(32), default="")
    amount_in_dispute_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_day: Mapped[date | None] = mapped_column(Date)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    runner_up_id: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    relief_amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    contact: Mapped[dict] = mapped_column(JSON, default=dict)
    # The institution's clock: its policy name and its events (start, pause, resume, extend,
    # restart, stop) replayed by the clock engine; limit_days and deadline are derived copies
    # kept for queries, next_check_at is when the sweep next needs to look (a notice or breach).
    clock_name: Mapped[str] = mapped_column(String(40), default="")
    clock_events: Mapped[list] = mapped_column(JSON, default=list)
    limit_days: Mapped[int] = mapped_column(Integer, default=0)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Tiered assignment: what the case is, and why this level of the tree got it.
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    elderly: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_reason: Mapped[str] = mapped_column(String(400), default="")
    escalated_to_node_id: Mapped[str] = mapped_column(String(64), default="")
    # Misrouting: who returned it and why; after the policy's bounce limit a person routes it.
    returns: Mapped[int] = mapped_column(Integer, default=0)
    route_history: Mapped[list] = mapped_column(JSON, default=list)
    queue_reason: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feed_seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)


class ClockNotice(Base):
    """A 60%/80% notice or a breach, sent once per case, office, clock period and limit.

    The unique key is what stops two sweeping workers from notifying or escalating twice: the
    second insert fails and its event is never written.
    """

    __tablename__ = "clock_notice"
    __table_args__ = (
        UniqueConstraint("case_no", "node_id", "period_started_at", "limit_days", "stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(24))
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    # The clock period: a case handed back to an office restarts its clock, and that new
    # period's notices are new notices.
    period_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    limit_days: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(12))  # "60%", "80%", "breach"
    clock_name: Mapped[str] = mapped_column(String(40))
    escalated_to: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
