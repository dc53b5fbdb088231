"""Education's rules: campaigns, activities and their reach, counted once and consistently.

Regulators judge a centre's education work by activities held (场次), people reached (人次),
materials handed out (份) and online reads, by place (五进) and target group. Figures arrive from
many institutions; these rules make them add up: one activity however many co-organisers report
it, one figure per online work and platform, and no report that contradicts itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from services.common import validation
from services.common.errors import InvalidArgument

# 五进: into the countryside, communities, campuses, enterprises and business districts.
PLACE_TYPES = ("rural", "community", "campus", "enterprise", "business_district", "other")
FORMATS = ("on_site", "online", "article", "short_video", "broadcast")
TARGET_GROUPS = ("elderly", "young", "new_citizens", "migrant_workers", "disabled")
THEMES = (
    "consumer_rights_day",  # 3·15
    "education_month",  # 9月 金融教育宣传月
    "illegal_fundraising",  # 防范非法集资宣传月
    "risk_warning",  # 风险提示
    "other",
)
MAX_COUNT = 10_000_000  # people or copies in one report: anything larger is a typo
_REGION = re.compile(r"^\d{6}$", re.ASCII)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", re.ASCII)


class Inconsistent(InvalidArgument):
    """A report whose figures contradict each other or the activity; the message says why."""


@dataclass(frozen=True)
class Campaign:
    code: str
    theme: str
    title: str
    starts_on: date
    ends_on: date
    organiser: str
    co_organisers: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Activity:
    campaign_code: str
    held_on: date
    place_type: str
    region_code: str
    format: str
    organiser: str
    title: str
    grid_cell: str = ""  # 网格: the community grid the activity served


@dataclass(frozen=True)
class Reach:
    """What one report says an activity reached."""

    participants: int = 0  # 人次, everyone who took part
    by_group: dict[str, int] = field(default_factory=dict)  # of whom: elderly, young …
    materials: int = 0  # 份
    online: dict[tuple[str, str], int] = field(default_factory=dict)  # (work, platform) → reads
    reported_on: date | None = None


def normalise_text(text: str) -> str:
    """Full-width → half-width, no spaces or punctuation: how two reports of one thing compare."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s·・,，.。、()（）\-_/“”\"'《》<>【】\[\]]+", "", text)


def activity_key(a: Activity) -> str:
    """The same activity reported by several co-organisers has one key, so it counts once:
    the campaign, the day, the region and grid cell, the place and the title, normalised."""
    parts = (
        a.campaign_code,
        a.held_on.isoformat(),
        a.region_code,
        normalise_text(a.grid_cell),
        a.place_type,
        normalise_text(a.title),
    )
    return "|".join(parts)


def work_key(work: str) -> str:
    """An online work re-posted under another caption is still the same work."""
    return normalise_text(work)


def _choice(value: str, allowed: tuple[str, ...], field_name: str) -> str:
    if value not in allowed:
        raise InvalidArgument(field_name, f"must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _text(value: str, field_name: str, limit: int, required: bool = True) -> str:
    # Spreadsheets bring full-width letters and spaces: compared and stored half-width.
    return validation.text(unicodedata.normalize("NFKC", value), field_name, limit, required)


def _count(value: int, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(field_name, f"must be a whole number, not {value!r}")
    if not 0 <= value <= MAX_COUNT:
        raise InvalidArgument(field_name, f"must be between 0 and {MAX_COUNT}")
    return value


def validate_campaign(c: Campaign) -> Campaign:
    code = c.code.strip()
    if not _CODE.match(code):
        raise InvalidArgument("code", "must be letters, digits, '.', '_' or '-' (e.g. 2026-315)")
    if c.ends_on < c.starts_on:
        raise Inconsistent("ends_on", f"{c.ends_on} is before the campaign starts ({c.starts_on})")
    for group in c.target_groups:
        _choice(group, TARGET_GROUPS, "target_groups")
    for region in c.regions:
        if not _REGION.match(region):
            raise InvalidArgument("regions", f"{region!r} is not a 6-digit GB/T 2260 code")
    return Campaign(
        code=code,
        theme=_choice(c.theme, THEMES, "theme"),
        title=_text(c.title, "title", 200),
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        organiser=_text(c.organiser, "organiser", 100),
        co_organisers=tuple(_text(o, "co_organisers", 100) for o in c.co_organisers),
        target_groups=tuple(dict.fromkeys(c.target_groups)),
        regions=tuple(dict.fromkeys(c.regions)),
    )


def validate_activity(a: Activity, campaign: Campaign) -> Activity:
    if not _REGION.match(a.region_code):
        raise InvalidArgument("region_code", "must be a 6-digit GB/T 2260 code")
    if not campaign.starts_on <= a.held_on <= campaign.ends_on:
        raise Inconsistent(
            "held_on",
            f"{a.held_on} is outside campaign {campaign.code} "
            f"({campaign.starts_on} to {campaign.ends_on})",
        )
    return Activity(
        campaign_code=campaign.code,
        held_on=a.held_on,
        place_type=_choice(a.place_type, PLACE_TYPES, "place_type"),
        region_code=a.region_code,
        format=_choice(a.format, FORMATS, "format"),
        organiser=_text(a.organiser, "organiser", 100),
        title=_text(a.title, "title", 200),
        grid_cell=_text(a.grid_cell, "grid_cell", 64, required=False),
    )


def validate_reach(r: Reach, activity: Activity) -> Reach:
    """Refuses a report that makes the totals inconsistent, naming the reason."""
    total = _count(r.participants, "participants")
    groups: dict[str, int] = {}
    for group, n in r.by_group.items():
        _choice(group, TARGET_GROUPS, "by_group")
        groups[group] = _count(n, f"by_group.{group}")
        if n > total:
            # Groups overlap (an elderly person with a disability counts in both), but no group
            # can be larger than everyone who took part.
            raise Inconsistent(
                f"by_group.{group}", f"{n} {group} is more than the {total} participants in all"
            )
    online = {}
    for (work, platform), reads in r.online.items():
        w, p = work_key(work), normalise_text(platform)
        if not w or not p:
            raise InvalidArgument("online", "each online figure needs its work and platform")
        online[(w, p)] = max(online.get((w, p), 0), _count(reads, "online.reads"))
    if r.reported_on is not None and r.reported_on < activity.held_on:
        raise Inconsistent(
            "reported_on",
            f"reach reported on {r.reported_on}, before the activity was held ({activity.held_on})",
        )
    return Reach(
        participants=total,
        by_group=groups,
        materials=_count(r.materials, "materials"),
        online=online,
        reported_on=r.reported_on,
    )
