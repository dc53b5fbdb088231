"""Education reports: activities, people reached, materials and online reads over a period, broken
down by region, place, target group, organiser, campaign, month or week; as a table, CSV or charts.

Figures are the current ones: a corrected reach report replaces the old figure (the history stays
in reach_report), and an online work counts once per platform, with its current figure, under the
activity that reported it.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument
from services.education.models import Activity, Campaign, OnlineReach, ReachReport

DIMENSIONS = ("region", "place_type", "target_group", "organiser", "campaign", "month", "week")
FORMATS = ("png", "svg")

# Column headers: Chinese for the centre's staff, English for everyone else.
HEADERS = {
    "region": "地区 region",
    "place_type": "场所 place",
    "target_group": "人群 group",
    "organiser": "主办 organiser",
    "campaign": "活动 campaign",
    "month": "月 month",
    "week": "周 week",
    "activities": "场次 activities",
    "participants": "人次 participants",
    "materials": "资料 materials",
    "online_reads": "线上阅读 online reads",
}

# GB/T 2260 names of the districts the demo centre (Tianjin) serves; other codes show as codes.
REGION_NAMES = {
    "120000": "天津市",
    "120101": "和平区",
    "120102": "河东区",
    "120103": "河西区",
    "120104": "南开区",
    "120105": "河北区",
    "120106": "红桥区",
    "120110": "东丽区",
    "120111": "西青区",
    "120112": "津南区",
    "120113": "北辰区",
    "120114": "武清区",
    "120115": "宝坻区",
    "120116": "滨海新区",
    "120117": "宁河区",
    "120118": "静海区",
    "120119": "蓟州区",
}

# Fonts that can draw Chinese labels, best first; without one the charts use ASCII labels only.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)


class ReportRefused(InvalidArgument, ValueError):
    """A report request that cannot be answered (unknown dimension, reversed period); a
    ValueError for callers in Python, INVALID_ARGUMENT over gRPC. The message names the field."""


def region_name(code: str) -> str:
    return REGION_NAMES.get(code, code)


@dataclass(frozen=True)
class Row:
    keys: dict[str, str]  # dimension → value, in the order asked for; empty for the totals
    activities: int  # 场次
    participants: int  # 人次
    materials: int  # 份
    online_reads: int


@dataclass(frozen=True)
class ReportResult:
    start: date
    end: date
    by: tuple[str, ...]
    totals: Row
    rows: list[Row] = field(default_factory=list)


def parse_by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """'region,target_group' or a sequence → the dimensions, checked, duplicates dropped."""
    if by is None:
        return ()
    items = by.split(",") if isinstance(by, str) else list(by)
    dims = tuple(dict.fromkeys(d.strip() for d in items if d.strip()))
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise ReportRefused(
            "by", f"unknown dimension {unknown[0]!r}; expected some of {', '.join(DIMENSIONS)}"
        )
    return dims


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class _Fact:
    """One activity in the period with its current figures."""

    values: dict[str, str]
    participants: int
    by_group: dict[str, int]
    materials: int
    online_reads: int


def _facts(session: Session, start: date, end: date) -> list[_Fact]:
    rows = session.execute(
        select(Activity, Campaign.code, ReachReport)
        .join(Campaign, Campaign.id == Activity.campaign_id)
        .outerjoin(
            ReachReport,
            (ReachReport.activity_id == Activity.id) & ReachReport.current.is_(True),
        )
        .where(Activity.held_on >= start, Activity.held_on <= end)
        .order_by(Activity.id, ReachReport.version.desc())
    ).all()
    ids = {a.id for a, _, _ in rows}
    reads: dict[int, int] = defaultdict(int)
    if ids:
        # One current figure per (work, platform); should two ever be current, the newest wins.
        latest: dict[tuple[str, str], OnlineReach] = {}
        for o in session.scalars(
            select(OnlineReach)
            .where(OnlineReach.current.is_(True), OnlineReach.activity_id.in_(ids))
            .order_by(OnlineReach.id)
        ):
            latest[(o.work_key, o.platform)] = o
        for o in latest.values():
            reads[o.activity_id] += o.reads
    facts: dict[int, _Fact] = {}
    for a, campaign_code, reach in rows:
        if a.id in facts:  # a second "current" version would be a storage fault: take the newest
            continue
        facts[a.id] = _Fact(
            values={
                "region": a.region_code,
                "place_type": a.place_type,
                "organiser": a.organiser,
                "campaign": campaign_code,
                "month": a.held_on.strftime("%Y-%m"),
                "week": iso_week(a.held_on),
            },
            participants=reach.participants if reach else 0,
            by_group=dict(reach.by_group or {}) if reach else {},
            materials=reach.materials if reach else 0,
            online_reads=reads.get(a.id, 0),
        )
    return list(facts.values())


def report(session: Session, start: date, end: date, by: Sequence[str] = ()) -> ReportResult:
    """Totals and rows over activities held from start to end (both included).

    Each activity counts once (场次) with its current reach. Broken down by `target_group`, a row
    counts the participants of that group (by_group) and the activities that reached anyone of
    it; their materials and online reads are those of those activities. Groups overlap (an elderly
    disabled person is in both), so target-group rows need not add up to the totals.
    """
    dims = parse_by(by)
    if start > end:
        raise ReportRefused("from", f"{start} is after the end of the period ({end})")
    facts = _facts(session, start, end)
    totals = Row(
        keys={},
        activities=len(facts),
        participants=sum(f.participants for f in facts),
        materials=sum(f.materials for f in facts),
        online_reads=sum(f.online_reads for f in facts),
    )
    if not dims:
        return ReportResult(start, end, dims, totals, [])
    sums: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for f in facts:
        if "target_group" in dims:
            groups = [(g, n) for g, n in sorted(f.by_group.items()) if n > 0]
        else:
            groups = [("", f.participants)]
        for group, participants in groups:
            key = tuple(group if d == "target_group" else f.values[d] for d in dims)
            s = sums[key]
            s[0] += 1
            s[1] += participants
            s[2] += f.materials
            s[3] += f.online_reads
    rows = [
        Row(dict(zip(dims, key, strict=True)), *s)
        for key, s in sorted(sums.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]
    return ReportResult(start, end, dims, totals, rows)


# --- output -------------------------------------------------------------------------------------

_FIGURES = ("activities", "participants", "materials", "online_reads")


def _lines(result: ReportResult) -> Iterable[tuple[list[str], Row]]:
    for row in result.rows:
        yield [row.keys[d] for d in result.by], row
    yield ["total"] + [""] * (len(result.by) - 1) if result.by else [], result.totals


def write_csv(result: ReportResult, fp: IO[str]) -> None:
    """One line per row, then the totals (keyed 'total'); header of plain English column names."""
    writer = csv.writer(fp, lineterminator="\n")
    writer.writerow([*result.by, *_FIGURES])
    for keys, row in _lines(result):
        writer.writerow([*keys, *(getattr(row, f) for f in _FIGURES)])


def render(result: ReportResult) -> Table:
    table = Table(title=f"宣教报表 education report {result.start} – {result.end}")
    for d in result.by:
        table.add_column(HEADERS[d])
    for f in _FIGURES:
        table.add_column(HEADERS[f], justify="right")
    for keys, row in _lines(result):
        shown = [
            f"{k} {region_name(k)}" if d == "region" and k in REGION_NAMES else k
            for d, k in zip(result.by, keys, strict=True)
        ]
        if not row.keys and result.by:
            table.add_section()
            shown[0] = "合计 total"
        table.add_row(*shown, *(f"{getattr(row, f):,}" for f in _FIGURES))
    return table


# --- charts -------------------------------------------------------------------------------------


def cjk_font() -> str | None:
    """The family name of an installed font that draws Chinese, or None."""
    from matplotlib import font_manager

    for family in CJK_FONTS:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return family
    return None


def _weeks(start: date, end: date) -> list[str]:
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(iso_week(monday))
        monday += timedelta(days=7)
    return weeks


def plot(
    result_by_region: ReportResult, weekly: ReportResult, directory: Path, fmt: str = "png"
) -> list[Path]:
    """Writes reach-by-region.<fmt> (participants per region) and weekly-trend.<fmt>
    (participants and activities per ISO week) into directory; returns their paths."""
    if fmt not in FORMATS:
        raise ReportRefused("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if result_by_region.by != ("region",):
        raise ReportRefused("by", "the region chart needs a report by region")
    if weekly.by != ("week",):
        raise ReportRefused("by", "the trend chart needs a report by week")
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window; the Figure API keeps no global state
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    directory.mkdir(parents=True, exist_ok=True)
    font = cjk_font()
    rc = {"axes.unicode_minus": False, "svg.hashsalt": "xiaobao", "svg.fonttype": "path"}
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]

    def text(zh: str, en: str) -> str:
        return f"{zh} {en}" if font else en

    period = f"{result_by_region.start} – {result_by_region.end}"
    paths = []
    with matplotlib.rc_context(rc):
        rows = sorted(result_by_region.rows, key=lambda r: r.keys["region"])
        codes = [r.keys["region"] for r in rows]
        labels = [f"{c}\n{region_name(c)}" if font and c in REGION_NAMES else c for c in codes]
        fig = Figure(figsize=(max(6.0, 0.8 * len(codes) + 2), 4.5), layout="constrained")
        ax = fig.subplots()
        bars = ax.bar(range(len(codes)), [r.participants for r in rows], color="#3a7ca5")
        ax.bar_label(bars, fmt="{:,.0f}", fontsize=8)
        ax.set_xticks(range(len(codes)), labels, fontsize=8)
        ax.set_ylabel(text("人次", "participants"))
        ax.set_title(text("各地区宣教覆盖", "Reach by region") + f"  {period}")
        if not codes:
            ax.text(0.5, 0.5, "no activities", ha="center", va="center", transform=ax.transAxes)
        path = directory / f"reach-by-region.{fmt}"
        fig.savefig(path, format=fmt, dpi=120)
        paths.append(path)

        by_week = {r.keys["week"]: r for r in weekly.rows}
        weeks = _weeks(weekly.start, weekly.end)
        people = [by_week[w].participants if w in by_week else 0 for w in weeks]
        held = [by_week[w].activities if w in by_week else 0 for w in weeks]
        fig = Figure(figsize=(max(6.0, 0.4 * len(weeks) + 2), 4.5), layout="constrained")
        ax = fig.subplots()
        ax.plot(weeks, people, marker="o", color="#3a7ca5", label=text("人次", "participants"))
        ax.set_ylabel(text("人次", "participants"))
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax2 = ax.twinx()
        ax2.plot(weeks, held, marker="s", color="#d1495b", label=text("场次", "activities"))
        ax2.set_ylabel(text("场次", "activities"))
        # Headroom for the legend; activities are whole numbers.
        ax.set_ylim(0, max(people, default=0) * 1.25 or 1)
        ax2.set_ylim(0, max(held, default=0) * 1.25 or 1)
        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper left", fontsize=8)
        ax.set_title(text("每周宣教趋势", "Weekly trend") + f"  {period}")
        path = directory / f"weekly-trend.{fmt}"
        fig.savefig(path, format=fmt, dpi=120)
        paths.append(path)
    return paths
