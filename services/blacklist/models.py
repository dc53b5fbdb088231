"""Blacklist's tables: screened cases and their contact points, clues, known agents, audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.db import UTCDateTime
from services.common.messaging import OutboxMixin, ProcessedEventMixin
from services.common.pii import Protected


class Base(DeclarativeBase):
    pass


class ScreeningItem(Base):
    """待筛查: a received case recorded for black/grey-industry screening."""

    __tablename__ = "screening_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    case_kind: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(24))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    institution_text: Mapped[str] = mapped_column(String(200), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    # Keyed hash only: screening matches contact points without holding the number.
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")


class ScreenedCase(Base):
    """A screened case: what the screener needs to restore its state (keyed hashes, the letter's
    MinHash signature, lexicon hits; never the letter nor a number in clear), its score, flag
    and reasons, and the personal data investigators may see, encrypted."""

    __tablename__ = "screened_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    institution: Mapped[str] = mapped_column(String(200), default="")
    # Keyed hashes (first 16 hex digits) of the complainant's identity and of names.
    complainant_key: Mapped[str] = mapped_column(String(16), index=True)
    complainant_name_hash: Mapped[str] = mapped_column(String(16), index=True, default="")
    agent_name_hash: Mapped[str] = mapped_column(String(16), index=True, default="")
    complainant_name: Mapped[str] = mapped_column(Protected(), default="")
    complainant_phone: Mapped[str] = mapped_column(Protected(), default="")
    agent_name: Mapped[str] = mapped_column(Protected(), default="")
    # [[hash, kind, role], ...]; also one CasePoint row each, for lookups.
    points: Mapped[list] = mapped_column(JSON, default=list)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # [[canonical, category, label, weight, spelling], ...]
    lexicon: Mapped[list] = mapped_column(JSON, default=list)
    template_key: Mapped[str] = mapped_column(String(24), default="")
    similarity: Mapped[float] = mapped_column(Float, default=0.0)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    ring_id: Mapped[str] = mapped_column(String(16), index=True, default="")
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    lexicon_version: Mapped[str] = mapped_column(String(40), default="")
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CasePoint(Base):
    """A contact point of a screened case, by keyed hash: phone and ID queries, neighbours."""

    __tablename__ = "case_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    point_hash: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int] = mapped_column(ForeignKey("screened_case.id"), index=True)


CLUE_STATUSES = (
    "new",
    "triaged",
    "investigating",
    "confirmed",
    "referred_to_police",
    "closed",
    "dismissed",
)
OPEN_CLUE_STATUSES = CLUE_STATUSES[:5]


class Clue(Base):
    """线索: flagged cases (a ring's together) for investigators to work."""

    __tablename__ = "clue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(24), index=True, default="new")
    ring_id: Mapped[str] = mapped_column(String(16), index=True, default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    assignee: Mapped[str] = mapped_column(String(80), index=True, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dismissal_reason: Mapped[str] = mapped_column(Text, default="")

    cases: Mapped[list[ClueCase]] = relationship(
        back_populates="clue", order_by="ClueCase.added_at", cascade="all, delete-orphan"
    )
    notes: Mapped[list[ClueNote]] = relationship(
        back_populates="clue", order_by="ClueNote.id", cascade="all, delete-orphan"
    )

    @property
    def clue_id(self) -> str:
        return clue_id(self.id)


def clue_id(number: int) -> str:
    return f"CL{number:06d}"


class ClueCase(Base):
    __tablename__ = "clue_case"

    clue_pk: Mapped[int] = mapped_column(ForeignKey("clue.id"), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(24), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    clue: Mapped[Clue] = relationship(back_populates="cases")


class ClueNote(Base):
    """Append-only: notes, transitions and assignments of a clue."""

    __tablename__ = "clue_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    clue_pk: Mapped[int] = mapped_column(ForeignKey("clue.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # note | transition | assignment
    text: Mapped[str] = mapped_column(Text)

    clue: Mapped[Clue] = relationship(back_populates="notes")


class EvidenceWeight(Base):
    """A dismissal's down-weighting of the evidence that raised the clue; scoring reads it.

    key: "point:<hash>", "template:<case_no of the template's first letter>" or
    "phrase:<canonical lexicon phrase>"."""

    __tablename__ = "evidence_weight"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    factor: Mapped[float] = mapped_column(Float)
    dismissals: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KnownAgentList(Base):
    """One import of a known-agents list; the newest is in force."""

    __tablename__ = "known_agent_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(200))
    entries: Mapped[int] = mapped_column(Integer)


class KnownAgentEntry(Base):
    """A known agent: identifiers as keyed hashes, originals encrypted for investigators."""

    __tablename__ = "known_agent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("known_agent_list.id"), index=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    org: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(Protected(), default="")
    phone: Mapped[str] = mapped_column(Protected(), default="")
    id_number: Mapped[str] = mapped_column(Protected(), default="")
    name_hash: Mapped[str] = mapped_column(String(16), index=True, default="")
    phone_hash: Mapped[str] = mapped_column(String(64), index=True, default="")
    id_hash: Mapped[str] = mapped_column(String(64), index=True, default="")


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): every investigator call."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    role: Mapped[str] = mapped_column(String(24))
    method: Mapped[str] = mapped_column(String(60))
    # What was asked, personal data hashed or masked; what was returned: ids and counts.
    query: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
