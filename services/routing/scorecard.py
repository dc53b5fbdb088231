"""The quarterly institution scorecard (正负面清单): each office's record on the cases assigned to it.

Semantics, fixed here so every reader of a scorecard reads the same figures:

- A row is one assignment of a case to an office. A case returned as misrouted and assigned again
  gives one row for each office; `returned` marks the row of the office that sent it back.
- The cohort is the rows assigned within the quarter (Asia/Shanghai) and not after `now`. Their
  state is taken as of `now`, not as of the quarter's end: a case assigned late in September is
  judged on its October answer, and one still open after the quarter whose deadline has passed by
  `now` counts as not timely. An answer recorded after `now` is treated as not yet given, so a
  scorecard for a past `now` can be reproduced. Until every case of the cohort is answered or past
  its deadline, the quarter's figures are provisional; `pending` says how many are still running.
- A returned row counts in `cases` and `returned` of the office that sent it back, and its recorded
  breach (if any) in `breaches`, but in no other figure: the answer is owed by the next office.
- Of the other rows: an answer before the deadline (the instant the limit runs out) is within the
  limit; a row with no deadline (no clock applied) is within the limit whenever it is answered. An
  open row is overdue once `now` reaches its deadline, unless its clock is paused (appraisal,
  mediation: the deadline moves with the pause, Art 18, 23), in which case it is pending.
- timely_rate = answered_within_limit / (answered + overdue_open); extension_rate, repeat_rate over
  the handled (not returned) rows; return_rate over all rows. A rate with nothing to count is None.
- `cases` counts distinct case numbers, so a case that bounced between two branches counts once in
  their head office's roll-up.
- Each office gets its own figures and figures rolled up over its subtree (itself and every office
  under it). The lists are decided on the rolled-up figures: a branch answers for its sub-branches.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO

from rich.table import Table
from rich.text import Text

from services.common.clock import SHANGHAI
from services.routing.domain import DirectoryNode
from services.routing.tiers import ScorecardThresholds

OUTCOMES = (
    "closed_with_explanation",
    "monetary_relief",
    "non_monetary_relief",
    "referred_to_mediation",
)
POSITIVE, NEGATIVE = "positive", "negative"
_QUARTER = re.compile(r"^(\d{4})-?[Qq](\d+)$")


# --- quarters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter in Asia/Shanghai time: [start, end), midnight to midnight."""

    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise ValueError(f"quarter {self.year}Q{self.q}: the quarter must be 1 to 4")
        if not 1 <= self.year <= 9998:
            raise ValueError(f"quarter {self.year}Q{self.q}: the year is out of range")

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """'2026Q3' (or '2026-Q3', '2026q3')."""
        match = _QUARTER.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not a quarter; write it like 2026Q3")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def containing(cls, moment: datetime) -> Quarter:
        """The quarter an aware moment falls in, in Shanghai time."""
        local = moment.astimezone(SHANGHAI)
        return cls(local.year, (local.month - 1) // 3 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.q - 2, 1, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter (midnight starting the next quarter's first day)."""
        if self.q == 4:
            return datetime(self.year + 1, 1, 1, tzinfo=SHANGHAI)
        return datetime(self.year, 3 * self.q + 1, 1, tzinfo=SHANGHAI)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.q}"

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


# --- input and figures ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # slots: a quarter of a large centre is many rows
class ScoreRow:
    """One assignment of a case to an office, as the caller read it from the database.

    paused: the clock is paused now (an open pause); only read for unanswered rows.
    breached: the worker recorded a deadline breach on this assignment.
    returned: this office returned the case as misrouted.
    """

    case_no: str
    node_id: str
    assigned_at: datetime
    answered_at: datetime | None
    deadline: datetime | None
    extended: bool = False
    paused: bool = False
    outcome: str = ""
    relief_fen: int = 0
    repeat: bool = False
    breached: bool = False
    returned: bool = False


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Figures:
    """One office's figures for a quarter (its own cases, or its subtree's)."""

    cases: int = 0
    returned: int = 0
    handled: int = 0
    answered: int = 0
    answered_within_limit: int = 0
    overdue_open: int = 0
    pending: int = 0
    paused: int = 0
    extended: int = 0
    repeat: int = 0
    breaches: int = 0
    relief_fen: int = 0
    outcomes: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def timely_rate(self) -> float | None:
        return _rate(self.answered_within_limit, self.answered + self.overdue_open)

    @property
    def extension_rate(self) -> float | None:
        return _rate(self.extended, self.handled)

    @property
    def repeat_rate(self) -> float | None:
        return _rate(self.repeat, self.handled)

    @property
    def return_rate(self) -> float | None:
        return _rate(self.returned, self.handled + self.returned)

    @property
    def relief_yuan(self) -> Decimal:
        return Decimal(self.relief_fen) / 100

    @classmethod
    def of(cls, rows: Iterable[ScoreRow], now: datetime) -> Figures:
        rows = list(rows)
        counts = dict.fromkeys(OUTCOMES, 0)
        answered = within = overdue = pending = paused = 0
        extended = repeat = relief = handled = 0
        for row in rows:
            if row.returned:
                continue
            handled += 1
            extended += row.extended
            repeat += row.repeat
            if row.answered_at is not None and row.answered_at <= now:
                answered += 1
                within += row.deadline is None or row.answered_at < row.deadline
                if row.outcome:
                    counts[row.outcome] += 1
                relief += row.relief_fen
            elif row.paused:
                pending += 1
                paused += 1
            elif row.deadline is not None and now >= row.deadline:
                overdue += 1
            else:
                pending += 1
        return cls(
            cases=len({r.case_no for r in rows}),
            returned=sum(r.returned for r in rows),
            handled=handled,
            answered=answered,
            answered_within_limit=within,
            overdue_open=overdue,
            pending=pending,
            paused=paused,
            extended=extended,
            repeat=repeat,
            breaches=sum(r.breached for r in rows),
            relief_fen=relief,
            outcomes=counts,
        )


@dataclass(frozen=True)
class ScoreLine:
    """One office on the scorecard: its own figures, its subtree's, and the list it is on."""

    quarter: str
    node_id: str
    parent_id: str | None
    name: str
    level: int
    depth: int  # how far below the top line of its tree on this scorecard (for indenting)
    own: Figures
    subtree: Figures
    list: str = ""  # "positive", "negative" or ""


def classify(figures: Figures, thresholds: ScorecardThresholds) -> str:
    """The list an office's (rolled-up) figures put it on: "negative", "positive" or ""."""
    t = thresholds
    rate = figures.timely_rate
    decided = figures.answered + figures.overdue_open
    if figures.breaches >= t.negative_breaches_at_least:
        return NEGATIVE
    if (
        rate is not None
        and decided >= t.negative_min_cases_for_rate
        and rate < t.negative_timely_rate_below
    ):
        return NEGATIVE
    extension_rate = figures.extension_rate
    return_rate = figures.return_rate
    if (
        figures.cases >= t.positive_min_cases
        and rate is not None
        and rate >= t.positive_min_timely_rate
        and figures.breaches <= t.positive_max_breaches
        and extension_rate is not None
        and extension_rate <= t.positive_max_extension_rate
        and return_rate is not None
        and return_rate <= t.positive_max_return_rate
    ):
        return POSITIVE
    return ""


def _check(row: ScoreRow) -> None:
    where = f"case {row.case_no} at {row.node_id}"
    for name in ("assigned_at", "answered_at", "deadline"):
        value = getattr(row, name)
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError(f"{where}: {name} needs a UTC offset")
    if row.outcome and row.outcome not in OUTCOMES:
        raise ValueError(
            f"{where}: outcome {row.outcome!r} is not one of {', '.join(OUTCOMES)} (or '')"
        )
    if row.relief_fen < 0:
        raise ValueError(f"{where}: relief_fen cannot be negative")


def compute(
    rows: Iterable[ScoreRow],
    nodes: Iterable[DirectoryNode],
    quarter: Quarter,
    now: datetime,
    thresholds: ScorecardThresholds,
    root: str | None = None,
) -> list[ScoreLine]:
    """The scorecard lines of a quarter as of `now`, in directory order, parents before children.

    One line per office with cases in its subtree. `nodes` must be the whole directory, inactive
    offices included; a row naming an office that is not there is refused (ValueError) rather than
    left out of every total. `thresholds` is `RoutingPolicy.scorecard`. With `root`, only that
    office and the offices under it get lines, indented from it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now: needs a UTC offset")
    nodes = list(nodes)
    by_id = {n.id: n for n in nodes}
    cohort: list[ScoreRow] = []
    for row in rows:
        _check(row)
        if row.assigned_at in quarter and row.assigned_at <= now:
            cohort.append(row)
    unknown = sorted({r.node_id for r in cohort} - set(by_id))
    if unknown:
        raise ValueError(
            f"rows name offices not in the directory: {', '.join(unknown)}; pass every node, "
            "inactive ones included"
        )

    own: dict[str, list[ScoreRow]] = {}
    under: dict[str, list[ScoreRow]] = {}
    for row in cohort:
        own.setdefault(row.node_id, []).append(row)
        seen: set[str] = set()
        current: DirectoryNode | None = by_id[row.node_id]
        while current is not None and current.id not in seen:
            seen.add(current.id)
            under.setdefault(current.id, []).append(row)
            current = by_id.get(current.parent_id) if current.parent_id else None

    children: dict[str | None, list[DirectoryNode]] = {}
    for node in nodes:
        parent = node.parent_id if node.parent_id in by_id else None
        children.setdefault(parent, []).append(node)

    lines: list[ScoreLine] = []
    visited: set[str] = set()

    def visit(node: DirectoryNode, depth: int) -> None:
        if node.id in visited or node.id not in under:
            return
        visited.add(node.id)
        subtree = Figures.of(under[node.id], now)
        lines.append(
            ScoreLine(
                quarter=quarter.label,
                node_id=node.id,
                parent_id=node.parent_id,
                name=node.name,
                level=node.level,
                depth=depth,
                own=Figures.of(own.get(node.id, []), now),
                subtree=subtree,
                list=classify(subtree, thresholds),
            )
        )
        for child in children.get(node.id, []):
            visit(child, depth + 1)

    if root is not None:
        if root not in by_id:
            raise ValueError(f"root: no office {root!r} in the directory")
        visit(by_id[root], 0)
        return lines
    for top in children.get(None, []):
        visit(top, 0)
    return lines


# --- output --------------------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


_LIST_LABEL = {POSITIVE: "正面 positive", NEGATIVE: "负面 negative", "": ""}
_LIST_STYLE = {POSITIVE: "green", NEGATIVE: "bold red", "": ""}


def render(lines: Sequence[ScoreLine], title: str | None = None) -> Table:
    """The scorecard as a terminal table: subtree figures, offices indented under their parents."""
    quarter = lines[0].quarter if lines else ""
    table = Table(title=title or f"机构正负面清单 Institution scorecard {quarter}".rstrip())
    table.add_column("机构 Office", no_wrap=True)
    for header in (
        "案件 Cases",
        "本级 Own",
        "已答复 Answered",
        "按时 Timely",
        "超期未结 Overdue open",
        "办理中 Pending",
        "按时率 Timely rate",
        "延期率 Extension rate",
        "重复率 Repeat rate",
        "超时 Breaches",
        "退回 Returned",
        "赔付 Relief ¥",
    ):
        table.add_column(header, justify="right")
    table.add_column("清单 List")
    for line in lines:
        f = line.subtree
        table.add_row(
            Text("  " * line.depth + line.name),
            str(f.cases),
            str(line.own.cases),
            str(f.answered),
            str(f.answered_within_limit),
            str(f.overdue_open),
            str(f.pending),
            _percent(f.timely_rate),
            _percent(f.extension_rate),
            _percent(f.repeat_rate),
            str(f.breaches),
            str(f.returned),
            f"{f.relief_yuan:,.2f}",
            Text(_LIST_LABEL[line.list], style=_LIST_STYLE[line.list]),
        )
    return table


# Stable: new columns are only ever added at the end.
CSV_COLUMNS = (
    "quarter",
    "node_id",
    "parent_id",
    "level",
    "name",
    "scope",  # "subtree": the office and every office under it (the list is decided on it); "own"
    "cases",
    "returned",
    "handled",
    "answered",
    "answered_within_limit",
    "overdue_open",
    "pending",
    "paused",
    "timely_rate",
    "extended",
    "extension_rate",
    "repeat",
    "repeat_rate",
    "breaches",
    "return_rate",
    *(f"outcome_{o}" for o in OUTCOMES),
    "relief_yuan",
    "list",
)


def _csv_rate(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"


def write_csv(lines: Iterable[ScoreLine], fp: IO[str]) -> None:
    """CSV_COLUMNS with a header row; two rows per office, scope "subtree" then "own".

    Rates are fractions to four places (empty when there is nothing to count), relief is yuan to
    the fen, and `list` is the office's list on both of its rows.
    """
    writer = csv.writer(fp, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        for scope, f in (("subtree", line.subtree), ("own", line.own)):
            writer.writerow(
                (
                    line.quarter,
                    line.node_id,
                    line.parent_id or "",
                    line.level,
                    line.name,
                    scope,
                    f.cases,
                    f.returned,
                    f.handled,
                    f.answered,
                    f.answered_within_limit,
                    f.overdue_open,
                    f.pending,
                    f.paused,
                    _csv_rate(f.timely_rate),
                    f.extended,
                    _csv_rate(f.extension_rate),
                    f.repeat,
                    _csv_rate(f.repeat_rate),
                    f.breaches,
                    _csv_rate(f.return_rate),
                    *(f.outcomes.get(o, 0) for o in OUTCOMES),
                    f"{f.relief_yuan:.2f}",
                    line.list,
                )
            )
