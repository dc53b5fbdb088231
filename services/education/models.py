"""Education's tables: campaigns, activities, reach reports with their history, online reads,
the complaints seen (for hot spots), outbox and processed events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
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


class ComplaintTopic(Base):
    """Complaints seen per product and region: the raw material of hot-spot topics."""

    __tablename__ = "complaint_topic"
    __table_args__ = (UniqueConstraint("product", "region_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6))
    cases: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)


class CaseSeen(Base):
    """One received complaint as education needs it for hot spots: when, where, what."""

    __tablename__ = "case_seen"

    case_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    region_code: Mapped[str] = mapped_column(String(6), default="", index=True)
    business_type: Mapped[str] = mapped_column(String(24), default="")
    product: Mapped[str] = mapped_column(String(40), default="")
    issue: Mapped[str] = mapped_column(String(40), default="")
    proxy: Mapped[bool] = mapped_column(Boolean, default=False)


class Campaign(Base):
    """宣传活动: a theme over a period, with its organisers, target groups and regions."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    theme: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    organiser: Mapped[str] = mapped_column(String(100))
    co_organisers: Mapped[list] = mapped_column(JSON, default=list)
    target_groups: Mapped[list] = mapped_column(JSON, default=list)
    regions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Activity(Base):
    """One activity (场次), once however many co-organisers report it (its natural key)."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    held_on: Mapped[date] = mapped_column(Date, index=True)
    place_type: Mapped[str] = mapped_column(String(24))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    grid_cell: Mapped[str] = mapped_column(String(64), default="")
    format: Mapped[str] = mapped_column(String(24))
    organiser: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    reported_by: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReachReport(Base):
    """What an activity reached, as reported; a correction is a new version, the old kept."""

    __tablename__ = "reach_report"
    __table_args__ = (UniqueConstraint("activity_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    by_group: Mapped[dict] = mapped_column(JSON, default=dict)
    materials: Mapped[int] = mapped_column(Integer, default=0)
    reported_by: Mapped[str] = mapped_column(String(100), default="")
    reported_on: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class OnlineReach(Base):
    """Reads or views of one online work on one platform: counted once, however many
    activities re-post it; a newer figure replaces the older, which is kept."""

    __tablename__ = "online_reach"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_key: Mapped[str] = mapped_column(String(200), index=True)
    platform: Mapped[str] = mapped_column(String(40))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    reads: Mapped[int] = mapped_column(Integer, default=0)
    current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    reported_by: Mapped[str] = mapped_column(String(100), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(ProcessedEventMixin, Base):
    __tablename__ = "processed_event"
