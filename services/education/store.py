"""Education's storage: campaigns, activities counted once, reach with its correction history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument, NotFound
from services.education import domain
from services.education.models import Activity, Campaign, OnlineReach, ReachReport

SERVICE = "education"


def campaign_of(row: Campaign) -> domain.Campaign:
    return domain.Campaign(
        code=row.code,
        theme=row.theme,
        title=row.title,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        organiser=row.organiser,
        co_organisers=tuple(row.co_organisers or ()),
        target_groups=tuple(row.target_groups or ()),
        regions=tuple(row.regions or ()),
    )


def upsert_campaign(session: Session, c: domain.Campaign, now: datetime) -> tuple[Campaign, bool]:
    """Creates or updates a campaign by its code; (row, created)."""
    c = domain.validate_campaign(c)
    row = session.scalar(select(Campaign).where(Campaign.code == c.code))
    created = row is None
    if row is None:
        row = Campaign(code=c.code, created_at=now)
        session.add(row)
    row.theme, row.title, row.organiser = c.theme, c.title, c.organiser
    row.starts_on, row.ends_on = c.starts_on, c.ends_on
    row.co_organisers = list(c.co_organisers)
    row.target_groups = list(c.target_groups)
    row.regions = list(c.regions)
    session.flush()
    return row, created


def get_campaign(session: Session, code: str) -> Campaign:
    row = session.scalar(select(Campaign).where(Campaign.code == code))
    if row is None:
        raise NotFound(f"campaign {code} not found")
    return row


@dataclass(frozen=True)
class Recorded:
    activity: Activity
    duplicate: bool  # already reported (by a co-organiser): the activity counts once
    reach_version: int  # 0 when no reach was given


def record_activity(
    session: Session,
    a: domain.Activity,
    reported_by: str,
    now: datetime,
    reach: domain.Reach | None = None,
    note: str = "",
) -> Recorded:
    """Records an activity once (its natural key) and, if given, a new version of its reach.

    Raises InvalidArgument (domain.Inconsistent for contradictions) before anything is stored.
    """
    campaign = get_campaign(session, a.campaign_code)
    a = domain.validate_activity(a, campaign_of(campaign))
    reporter = domain.normalise_text(reported_by) and reported_by.strip()[:100]
    if not reporter:
        raise InvalidArgument("reported_by", "is required: who reports the activity")
    checked = domain.validate_reach(reach, a) if reach is not None else None
    key = domain.activity_key(a)
    row = session.scalar(select(Activity).where(Activity.key == key))
    duplicate = row is not None
    if row is None:
        row = Activity(
            key=key,
            campaign_id=campaign.id,
            held_on=a.held_on,
            place_type=a.place_type,
            region_code=a.region_code,
            grid_cell=a.grid_cell,
            format=a.format,
            organiser=a.organiser,
            title=a.title,
            reported_by=[reporter],
            created_at=now,
        )
        session.add(row)
        session.flush()
    elif reporter not in (row.reported_by or []):
        row.reported_by = [*(row.reported_by or []), reporter]
    version = 0
    if checked is not None:
        version = _record_reach(session, row, checked, reporter, now, note)
    return Recorded(row, duplicate, version)


def _record_reach(
    session: Session, activity: Activity, r: domain.Reach, reporter: str, now: datetime, note: str
) -> int:
    """A new version of the activity's reach; earlier versions stay, no longer current.

    The same figures reported again (a re-imported file, a co-organiser's copy) are not a
    correction: the current version stands and its number is returned.
    """
    same = session.scalar(
        select(ReachReport).where(
            ReachReport.activity_id == activity.id,
            ReachReport.current.is_(True),
            ReachReport.participants == r.participants,
            ReachReport.materials == r.materials,
        )
    )
    if (
        same is not None
        and (same.by_group or {}) == dict(r.by_group)
        and _online_unchanged(session, activity, r)
    ):
        return same.version
    latest = session.scalar(
        select(func.max(ReachReport.version)).where(ReachReport.activity_id == activity.id)
    )
    for old in session.scalars(
        select(ReachReport).where(
            ReachReport.activity_id == activity.id, ReachReport.current.is_(True)
        )
    ):
        old.current = False
    version = (latest or 0) + 1
    session.add(
        ReachReport(
            activity_id=activity.id,
            version=version,
            current=True,
            participants=r.participants,
            by_group=dict(r.by_group),
            materials=r.materials,
            reported_by=reporter,
            reported_on=r.reported_on,
            received_at=now,
            note=note[:500],
        )
    )
    # One figure per online work and platform, whichever activity re-posted it.
    for (work, platform), reads in r.online.items():
        for old in session.scalars(
            select(OnlineReach).where(
                OnlineReach.work_key == work,
                OnlineReach.platform == platform,
                OnlineReach.current.is_(True),
            )
        ):
            old.current = False
        session.add(
            OnlineReach(
                work_key=work,
                platform=platform,
                activity_id=activity.id,
                reads=reads,
                current=True,
                reported_by=reporter,
                received_at=now,
            )
        )
    session.flush()
    return version


def _online_unchanged(session: Session, activity: Activity, r: domain.Reach) -> bool:
    for (work, platform), reads in r.online.items():
        current = session.scalar(
            select(OnlineReach).where(
                OnlineReach.work_key == work,
                OnlineReach.platform == platform,
                OnlineReach.current.is_(True),
            )
        )
        if current is None or current.reads != reads:
            return False
    return True


def reach_history(session: Session, activity_id: int) -> list[ReachReport]:
    return list(
        session.scalars(
            select(ReachReport)
            .where(ReachReport.activity_id == activity_id)
            .order_by(ReachReport.version)
        )
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
