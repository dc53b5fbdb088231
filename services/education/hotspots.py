"""Hot spots: districts and topics where complaints rose while education reached few people there,
as suggested campaign topics (e.g. a surge of proxy surrender complaints in one district)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO

from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.education.models import Activity, CaseSeen, ReachReport
from services.education.reports import ReportRefused, region_name

# Policy, not physics: when a rise in complaints is worth a campaign. The centre may tune them.
MIN_COMPLAINTS = 3  # fewer complaints in the period are noise, however steep the rise
MIN_RISE = 1.5  # complaints at least this many times the previous period's (or 1, if none)
THIN_REACH = 100  # education reached fewer people (人次) than this in the district: thin
PROXY = "proxy:"  # topic prefix of complaints filed through a paid agent (代理维权)


@dataclass(frozen=True)
class Hotspot:
    region_code: str
    topic: str  # issue code, else product code; "proxy:<code>" for proxy complaints
    topic_label: str
    complaints: int  # in the period
    previous: int  # in the equally long period just before
    rise: float  # complaints / max(previous, 1)
    participants: int  # education reach in the district, the previous period and this one
    suggestion: str


def _labeller():
    """Chinese labels from intake's taxonomy; a code it does not know shows as itself."""
    from services.intake import taxonomy

    try:
        tax = taxonomy.load_taxonomy()
    except Exception:  # a broken taxonomy file must not stop the report: codes are readable
        return lambda code: code
    return lambda code: taxonomy.label(tax, code)


def topic_of(case) -> str:
    """Issue code, else product code; proxy complaints are a topic of their own, because they
    call for a different warning (代理退保 scams) than the same issue raised by consumers.
    `case`: a CaseSeen, or any row with its issue, product and proxy."""
    code = case.issue or case.product
    if not code:
        return ""
    return f"{PROXY}{code}" if case.proxy else code


def is_district(region_code: str) -> bool:
    """A six-digit county-level code; a city or province code (…00) names no place to hold an
    activity in, so its complaints cannot become a hot spot."""
    return len(region_code) == 6 and region_code.isdigit() and not region_code.endswith("00")


def _suggestion(region: str, label: str, proxy: bool, n: int, before: int, reached: int) -> str:
    advice = f"防范{label}风险提示" if proxy else f"{label}相关知识宣传"
    return (
        f"{region_name(region)} {label} 投诉 {n} 件（前期 {before} 件），"
        f"近期宣教 {reached} 人次：建议开展{advice}"
    )


def find(
    session: Session,
    start: date,
    end: date,
    min_complaints: int = MIN_COMPLAINTS,
    min_rise: float = MIN_RISE,
    thin_reach: int = THIN_REACH,
    label=None,
) -> list[Hotspot]:
    """Hot spots of the period start..end (both included), steepest rise first."""
    if start > end:
        raise ReportRefused("from", f"{start} is after the end of the period ({end})")
    days = (end - start).days + 1
    before = start - timedelta(days=days)
    now: Counter[tuple[str, str]] = Counter()
    prev: Counter[tuple[str, str]] = Counter()
    # Counted in the database: two years of a centre's cases do not fit in an api's memory.
    current = (CaseSeen.received_on >= start).label("current")
    grouped = (CaseSeen.region_code, CaseSeen.issue, CaseSeen.product, CaseSeen.proxy, current)
    for group in session.execute(
        select(*grouped, func.count().label("n"))
        .where(CaseSeen.received_on >= before, CaseSeen.received_on <= end)
        .group_by(*grouped)
    ):
        topic = topic_of(group)
        if not topic or not is_district(group.region_code):
            continue
        (now if group.current else prev)[(group.region_code, topic)] += group.n
    rising = [
        key for key, n in now.items() if n >= min_complaints and n >= min_rise * max(prev[key], 1)
    ]
    if not rising:
        return []
    regions = {region for region, _ in rising}
    reached = dict(
        session.execute(
            select(Activity.region_code, func.coalesce(func.sum(ReachReport.participants), 0))
            .join(ReachReport, ReachReport.activity_id == Activity.id)
            .where(
                ReachReport.current.is_(True),
                Activity.region_code.in_(regions),
                Activity.held_on >= before,
                Activity.held_on <= end,
            )
            .group_by(Activity.region_code)
        ).all()
    )
    label = label or _labeller()
    spots = []
    for region, topic in rising:
        people = int(reached.get(region, 0))
        if people >= thin_reach:
            continue
        proxy = topic.startswith(PROXY)
        code = topic.removeprefix(PROXY)
        shown = ("代理" if proxy else "") + label(code)
        n, p = now[(region, topic)], prev[(region, topic)]
        spots.append(
            Hotspot(
                region_code=region,
                topic=topic,
                topic_label=shown,
                complaints=n,
                previous=p,
                rise=round(n / max(p, 1), 2),
                participants=people,
                suggestion=_suggestion(region, shown, proxy, n, p, people),
            )
        )
    spots.sort(key=lambda h: (-h.rise, -h.complaints, h.region_code, h.topic))
    return spots


CSV_COLUMNS = (
    "region_code",
    "topic",
    "topic_label",
    "complaints",
    "previous",
    "rise",
    "participants",
    "suggestion",
)


def write_csv(spots: list[Hotspot], fp: IO[str]) -> None:
    writer = csv.writer(fp, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for h in spots:
        writer.writerow([getattr(h, c) for c in CSV_COLUMNS])


def render(spots: list[Hotspot], start: date, end: date) -> Table:
    table = Table(title=f"宣教热点 education hot spots {start} – {end}")
    table.add_column("地区 region")
    table.add_column("主题 topic")
    table.add_column("投诉 complaints", justify="right")
    table.add_column("前期 previous", justify="right")
    table.add_column("增幅 rise", justify="right")
    table.add_column("宣教人次 reached", justify="right")
    table.add_column("建议 suggestion")
    for h in spots:
        table.add_row(
            f"{h.region_code} {region_name(h.region_code)}",
            h.topic_label,
            str(h.complaints),
            str(h.previous),
            f"×{h.rise:g}",
            str(h.participants),
            h.suggestion,
        )
    return table
