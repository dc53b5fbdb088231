"""Activity reports from the spreadsheets institutions send (.csv, .xlsx): all rows or none.

The column template is docs/education-import.md. A file is read whole, every row parsed and
checked against its campaign before anything is stored; one bad row refuses the file, naming
every bad row and column as the sender sees them in the spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from services.common.errors import InvalidArgument, NotFound
from services.education import domain, store

Cell = str | int | float | date | datetime | None
Progress = Callable[[int, int], None]

# Each field with the headers accepted for it: the template's Chinese header first.
HEADERS: dict[str, tuple[str, ...]] = {
    "campaign_code": ("活动编号", "活动代码", "campaign_code", "campaign"),
    "held_on": ("活动日期", "举办日期", "日期", "held_on", "date"),
    "place_type": ("场所类型", "场所", "place_type"),
    "region_code": ("行政区划代码", "区划代码", "region_code"),
    "grid_cell": ("网格", "网格编号", "grid_cell"),
    "format": ("形式", "活动形式", "format"),
    "organiser": ("主办机构", "主办单位", "organiser", "organizer"),
    "title": ("活动名称", "title"),
    "reported_by": ("报送单位", "报送机构", "reported_by"),
    "participants": ("参与人次", "participants"),
    "elderly": ("老年人", "elderly"),
    "young": ("青少年", "young"),
    "new_citizens": ("新市民", "new_citizens"),
    "migrant_workers": ("务工人员", "migrant_workers"),
    "disabled": ("残障人士", "残疾人", "disabled"),
    "materials": ("发放资料(份)", "发放资料", "materials"),
    "platform": ("平台", "发布平台", "platform"),
    "work": ("作品", "作品名称", "work"),
    "reads": ("阅读量", "阅读播放量", "浏览量", "reads"),
    "reported_on": ("报送日期", "reported_on"),
    "note": ("备注", "note"),
}
REQUIRED = ("campaign_code", "held_on", "place_type", "region_code", "format", "organiser", "title")
# A sub-header meaning "the parent's own figure" (参与人次 spanning 合计 | 老年人 | …).
TOTAL_WORDS = ("合计", "小计", "总计", "总数", "total")
# A parent header that only groups its children (其中：).
GROUPING_WORDS = ("其中", "ofwhich")

PLACE_LABELS = {
    "农村": "rural",
    "乡村": "rural",
    "社区": "community",
    "校园": "campus",
    "学校": "campus",
    "企业": "enterprise",
    "商圈": "business_district",
    "其他": "other",
}
FORMAT_LABELS = {
    "线下": "on_site",
    "现场": "on_site",
    "线上": "online",
    "文章": "article",
    "短视频": "short_video",
    "视频": "short_video",
    "广播": "broadcast",
}
LARGE_FILE_ROWS = 200  # the command shows progress above this


def _key(text: str) -> str:
    """How a header or a label compares: half-width, lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


_FIELD_OF = {_key(h): f for f, names in HEADERS.items() for h in names}
_TOTALS = {_key(w) for w in TOTAL_WORDS}
_GROUPING = {_key(w) for w in GROUPING_WORDS}


@dataclass(frozen=True)
class SourceRow:
    number: int  # as the spreadsheet numbers it (1-based, blank rows counted)
    cells: tuple[Cell, ...]

    def blank(self) -> bool:
        return all(_text(c) == "" for c in self.cells)


@dataclass(frozen=True)
class Column:
    index: int
    header: str  # as in the file: 参与人次, or 参与人次/合计 under a merged parent


class RowError(Exception):
    """One bad row: its number and the column's header as in the file, and what is wrong."""

    def __init__(self, row: int, column: str, message: str) -> None:
        self.row, self.column, self.message = row, column, message
        where = f"row {row}, column {column}" if column else f"row {row}"
        super().__init__(f"{where}: {message}")

    def __repr__(self) -> str:
        return f"RowError({self.row!r}, {self.column!r}, {self.message!r})"


class ImportRefused(Exception):
    """The file is refused whole; errors names every bad row and column."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.row)
        rows = len({e.row for e in self.errors})
        super().__init__(f"{rows} bad row{'s' if rows != 1 else ''}; nothing imported")


class UnreadableFile(Exception):
    """Not a spreadsheet this importer reads (wrong type, corrupt, no header)."""


@dataclass
class ImportReport:
    rows: int = 0  # data rows read
    activities_new: int = 0
    activities_duplicate: int = 0  # reported again (a co-organiser): counted once
    reach_versions: int = 0  # new versions of reach stored
    skipped_blank: int = 0  # blank rows between the header and the last data row
    skipped_totals: int = 0  # 合计 rows the sender added at the bottom
    dry_run: bool = False
    campaigns: list[str] = field(default_factory=list)


# -- reading ---------------------------------------------------------------------------------


def _text(value: Cell) -> str:
    """A cell as text: full-width digits and spaces half-width (NFKC), trimmed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def read_rows(path: Path) -> list[SourceRow]:
    """The non-blank rows of a .csv or .xlsx file, with their spreadsheet row numbers.

    In .xlsx every cell of a merged range carries the range's value. CSV is UTF-8 (with or
    without BOM), else GB18030 (what Excel writes on a Chinese Windows).
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            rows = _csv_rows(path.read_bytes())
        except UnreadableFile as exc:
            raise UnreadableFile(f"{path.name}: {exc}") from None
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        raise UnreadableFile(f"{path.name}: expected a .csv or .xlsx file (save .xls as .xlsx)")
    return [r for r in rows if not r.blank()]


def _csv_rows(data: bytes) -> list[SourceRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[SourceRow] = []
    try:
        for cells in reader:
            rows.append(SourceRow(len(rows) + 1, tuple(cells)))
    except csv.Error as exc:  # a cell over the csv module's limit (131,072 characters) …
        raise UnreadableFile(f"row {len(rows) + 1}: not readable as CSV ({exc})") from None
    return rows


def _xlsx_rows(path: Path) -> list[SourceRow]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # Not read-only: merged ranges are only known in the normal mode.
        book = load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise UnreadableFile(f"{path.name}: not a readable .xlsx file ({exc})") from None
    try:
        # The active sheet, else the first one with the template's header (after a 填表说明).
        sheets = [book.active, *(ws for ws in book.worksheets if ws is not book.active)]
        candidates = [_sheet_rows(ws) for ws in sheets if ws is not None]
        for rows in candidates:
            if _header_at(rows) is not None:
                return rows
        return candidates[0] if candidates else []
    finally:
        book.close()


def _sheet_rows(ws) -> list[SourceRow]:
    fill: dict[tuple[int, int], Cell] = {}
    for rng in ws.merged_cells.ranges:
        value = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                fill[(r, c)] = value
    rows = []
    width = ws.max_column
    for r, values in enumerate(
        ws.iter_rows(min_row=1, max_row=ws.max_row, min_col=1, max_col=width, values_only=True),
        start=1,
    ):
        cells = tuple(fill.get((r, c), v) for c, v in enumerate(values, start=1))
        rows.append(SourceRow(r, cells))
    return rows


# -- the header ------------------------------------------------------------------------------


def _header_at(rows: Sequence[SourceRow]) -> int | None:
    """The index of the header row: the first (of the first 20) with three known headers."""
    for i, row in enumerate(rows[:20]):
        if sum(_key(_text(c)) in _FIELD_OF for c in row.cells) >= 3:
            return i
    return None


def find_columns(rows: Sequence[SourceRow]) -> tuple[dict[str, Column], int]:
    """The columns by field, and the index in rows of the first data row.

    A two-row header is understood: a merged parent (其中：, or 参与人次 spanning 合计 | 老年人 …)
    over sub-headers. Raises ImportRefused naming the header row when a required column is
    missing or a field appears twice.
    """
    at = _header_at(rows)
    if at is None:
        first = rows[0].number if rows else 1
        raise ImportRefused(
            [RowError(first, "", "no header row found: expected 活动编号, 活动日期, 场所类型 …")]
        )
    top = rows[at]
    sub = rows[at + 1] if at + 1 < len(rows) else None
    if sub is None or sub.number != top.number + 1 or not _is_sub_header(sub):
        sub = None
    width = max(len(top.cells), len(sub.cells) if sub else 0)
    columns: dict[str, Column] = {}
    errors: list[RowError] = []
    parent = ""
    for j in range(width):
        # Headers stay as the sender wrote them (发放资料（份）), for the errors to name.
        p = str(top.cells[j] or "").strip() if j < len(top.cells) else ""
        c = str(sub.cells[j] or "").strip() if sub and j < len(sub.cells) else ""
        # In a CSV saved from a merged header only the first cell of the span holds the parent.
        parent = p or (parent if c else "")
        resolved = _resolve(parent, c)
        if resolved is None:
            continue  # 序号 and other columns of the sender's own
        name, header = resolved
        if name in columns:
            errors.append(
                RowError(top.number, header, f"appears twice (also {columns[name].header})")
            )
            continue
        columns[name] = Column(j, header)
    for name in REQUIRED:
        if name not in columns:
            errors.append(RowError(top.number, HEADERS[name][0], "column is missing"))
    if errors:
        raise ImportRefused(errors)
    return columns, at + (2 if sub else 1)


def _is_sub_header(row: SourceRow) -> bool:
    return any(
        (k := _key(_text(c))) and (k in _FIELD_OF or k in _TOTALS) for c in row.cells
    ) and not any(isinstance(c, int | float | date) for c in row.cells)


def _resolve(parent: str, child: str) -> tuple[str, str] | None:
    """(field, header as in the file) of one column under parent and child header cells."""
    p, c = _key(parent), _key(child)
    if c and c != p and c in _FIELD_OF:
        header = child if not p or p in _GROUPING or p not in _FIELD_OF else f"{parent}/{child}"
        return _FIELD_OF[c], header
    if c in _TOTALS and p in _FIELD_OF:
        return _FIELD_OF[p], f"{parent}/{child}"
    if p in _FIELD_OF and (not c or c == p):
        return _FIELD_OF[p], parent
    if p and c and _key(parent + child) in _FIELD_OF:
        return _FIELD_OF[_key(parent + child)], parent + child
    return None


# -- one row ---------------------------------------------------------------------------------


def _cell(row: SourceRow, columns: dict[str, Column], name: str) -> Cell:
    col = columns.get(name)
    if col is None or col.index >= len(row.cells):
        return None
    return row.cells[col.index]


def _header(columns: dict[str, Column], name: str) -> str:
    col = columns.get(name)
    return col.header if col else HEADERS[name][0]


_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[T\s]+\d{1,2}:\d{2}(?::\d{2})?)?$"
)


def parse_date(value: Cell) -> date | None:
    """2026-09-15, 2026/9/15, 2026.9.15, 2026年9月15日, 20260915, or an Excel date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel serial date (1954 to 2119) that lost its format
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date()
        value = _text(value)
    text = _text(value)
    if not text:
        return None
    m = _DATE.match(text) or re.match(r"^(\d{4})(\d{2})(\d{2})$", text)
    if not m:
        raise ValueError(f"{text!r} is not a date: write it as 2026-09-15")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValueError(f"{text!r} is not a date of the calendar") from None


def parse_count(value: Cell) -> int | None:
    """A whole number: 1234, "1,234", "１２３４", "1 234", "120人"; empty is None (not reported)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    text = _text(value)
    if not text:
        return None
    digits = re.sub(r"[,\s]", "", text)
    digits = re.sub(r"(人次|人|份|次)$", "", digits)
    if re.fullmatch(r"\d+(\.0+)?", digits, re.ASCII):
        return int(digits.split(".")[0])
    raise ValueError(f"{text!r} is not a whole number")


def _choice(text: str, labels: dict[str, str], codes: tuple[str, ...], what: str) -> str:
    k = _key(text)
    for code in codes:
        if _key(code) == k:
            return code
    # 五进: "进社区" is how the campaign names a place.
    label = labels.get(k) or labels.get(k.removeprefix("进"))
    if label:
        return label
    first_label = {code: label for label, code in reversed(labels.items())}
    expected = "、".join(first_label[c] for c in codes if c in first_label)
    raise ValueError(f"{text!r} is not a {what}: expected {expected} (or {', '.join(codes)})")


def parse_row(
    row: SourceRow, columns: dict[str, Column]
) -> tuple[domain.Activity, domain.Reach, str]:
    """One data row as (activity, reach, reported_by). Raises RowError naming the column.

    Empty group cells are not reported; an empty 报送单位 means the organiser reports itself;
    an online figure with no 作品 is for the activity's own title.
    """

    def fail(name: str, message: str) -> RowError:
        return RowError(row.number, _header(columns, name), message)

    def text(name: str, required: bool = False) -> str:
        value = _text(_cell(row, columns, name))
        if required and not value:
            raise fail(name, "is empty")
        return value

    def count(name: str) -> int | None:
        try:
            return parse_count(_cell(row, columns, name))
        except ValueError as exc:
            raise fail(name, str(exc)) from None

    def day(name: str) -> date | None:
        try:
            return parse_date(_cell(row, columns, name))
        except ValueError as exc:
            raise fail(name, str(exc)) from None

    campaign_code = text("campaign_code", required=True)
    held_on = day("held_on")
    if held_on is None:
        raise fail("held_on", "is empty")
    try:
        place_type = _choice(
            text("place_type", required=True), PLACE_LABELS, domain.PLACE_TYPES, "place type"
        )
    except ValueError as exc:
        raise fail("place_type", str(exc)) from None
    try:
        fmt = _choice(text("format", required=True), FORMAT_LABELS, domain.FORMATS, "format")
    except ValueError as exc:
        raise fail("format", str(exc)) from None
    region = text("region_code", required=True)
    if not re.fullmatch(r"\d{6}", region, re.ASCII):
        raise fail("region_code", f"{region!r} is not a 6-digit 行政区划代码 (e.g. 120104)")
    activity = domain.Activity(
        campaign_code=campaign_code,
        held_on=held_on,
        place_type=place_type,
        region_code=region,
        format=fmt,
        organiser=text("organiser", required=True),
        title=text("title", required=True),
        grid_cell=text("grid_cell"),
    )
    groups = {g: n for g in domain.TARGET_GROUPS if (n := count(g)) is not None}
    online: dict[tuple[str, str], int] = {}
    reads = count("reads")
    if reads is not None:
        platform = text("platform")
        if not platform:
            raise fail("platform", f"is empty, but {_header(columns, 'reads')} is {reads}")
        online[(text("work") or activity.title, platform)] = reads
    reach = domain.Reach(
        participants=count("participants") or 0,
        by_group=groups,
        materials=count("materials") or 0,
        online=online,
        reported_on=day("reported_on"),
    )
    return activity, reach, text("reported_by") or activity.organiser


# -- the import ------------------------------------------------------------------------------

# A domain field named in an error → the template column it came from.
_FIELD_COLUMN = {
    "by_group": "participants",
    "online": "reads",
    "online.reads": "reads",
    "code": "campaign_code",
    "campaign": "campaign_code",
}


def _domain_error(row: SourceRow, columns: dict[str, Column], exc: Exception) -> RowError:
    if isinstance(exc, InvalidArgument):
        name = exc.field.removeprefix("by_group.")
        name = _FIELD_COLUMN.get(name, name)
        message = exc.message.removeprefix(f"{exc.field}: ")
        header = _header(columns, name) if name in HEADERS else exc.field
        return RowError(row.number, header, message)
    return RowError(row.number, _header(columns, "campaign_code"), str(exc))


def import_file(
    session: Session,
    path: Path,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports every row of the file, or none.

    All rows are recorded inside a savepoint of the caller's transaction. On ImportRefused, and
    always in a dry run, the savepoint is rolled back before returning: the caller's commit
    then stores nothing of this file, and the report of a dry run is what a real import would
    have said.
    """
    rows = read_rows(path)
    columns, first = find_columns(rows)
    body = rows[first:]
    report = ImportReport(dry_run=dry_run)
    if body:
        header_row = rows[first - 1].number
        report.skipped_blank = body[-1].number - header_row - len(body)
    parsed: list[tuple[SourceRow, domain.Activity, domain.Reach, str]] = []
    errors: list[RowError] = []
    campaigns: dict[str, domain.Campaign | None] = {}
    for row in body:
        first_cell = next((_key(_text(c)) for c in row.cells if _text(c)), "")
        if first_cell in _TOTALS:
            report.skipped_totals += 1
            continue
        try:
            activity, reach, reporter = parse_row(row, columns)
        except RowError as exc:
            errors.append(exc)
            continue
        # Checked against the campaign now, so that a refusal lists every bad row.
        code = activity.campaign_code
        if code not in campaigns:
            try:
                campaigns[code] = store.campaign_of(store.get_campaign(session, code))
            except NotFound:
                campaigns[code] = None
        campaign = campaigns[code]
        if campaign is None:
            errors.append(
                RowError(
                    row.number,
                    _header(columns, "campaign_code"),
                    f"no campaign {code!r}: create the campaign first",
                )
            )
            continue
        try:
            checked = domain.validate_activity(activity, campaign)
            domain.validate_reach(reach, checked)
        except InvalidArgument as exc:
            errors.append(_domain_error(row, columns, exc))
            continue
        parsed.append((row, activity, reach, reporter))
    report.rows = len(parsed) + len(errors)
    report.campaigns = sorted(c for c, v in campaigns.items() if v is not None)
    if errors:
        raise ImportRefused(errors)

    savepoint = session.begin_nested()
    try:
        note = f"imported from {path.name}"
        for done, (row, activity, reach, reporter) in enumerate(parsed, start=1):
            remark = _text(_cell(row, columns, "note"))
            try:
                recorded = store.record_activity(
                    session,
                    activity,
                    reporter,
                    now,
                    reach=reach,
                    note=f"{note}, row {row.number}" + (f": {remark}" if remark else ""),
                )
            except (InvalidArgument, NotFound) as exc:
                errors.append(_domain_error(row, columns, exc))
                continue
            if recorded.duplicate:
                report.activities_duplicate += 1
            else:
                report.activities_new += 1
            report.reach_versions += recorded.reach_version > 0
            if progress is not None:
                progress(done, len(parsed))
        if errors:
            raise ImportRefused(errors)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return report


# -- the command -----------------------------------------------------------------------------


class _RichProgress:
    """A progress bar on stderr, shown only for files over LARGE_FILE_ROWS rows."""

    def __init__(self) -> None:
        self.bar = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if total <= LARGE_FILE_ROWS:
            return
        if self.bar is None:
            from rich.progress import Progress as Bar

            from services.common.console import err

            self.bar = Bar(console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("importing", total=total)
        self.bar.update(self.task, completed=done)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def import_command(
    file: Path = typer.Argument(
        ...,
        help="A .csv or .xlsx report, one row per activity (columns: docs/education-import.md).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be imported; store nothing."
    ),
) -> None:
    """Imports activity reports from a spreadsheet: every row, or none when a row is wrong."""
    from services.common import db
    from services.common.console import console, err

    if not file.is_file():
        err.print(f"[red]error:[/red] {file}: no such file", highlight=False)
        raise typer.Exit(2)
    bar = _RichProgress()
    try:
        with db.session_scope(db.session_factory(store.SERVICE)) as session:
            report = import_file(session, file, store.now_utc(), dry_run=dry_run, progress=bar)
    except UnreadableFile as exc:
        bar.stop()
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except ImportRefused as exc:
        bar.stop()
        for e in exc.errors:
            err.print(str(e), highlight=False, markup=False)
        err.print(f"[red]refused:[/red] {file.name}: {exc}", highlight=False)
        raise typer.Exit(2) from None
    bar.stop()
    verb = "would import" if dry_run else "imported"
    console.print(
        f"{file.name}: {verb} {report.rows} rows: {report.activities_new} new activities, "
        f"{report.activities_duplicate} reported again (counted once), "
        f"{report.reach_versions} reach versions; skipped {report.skipped_blank} blank rows"
        + (f" and {report.skipped_totals} total rows" if report.skipped_totals else "")
        + ("; dry run, nothing stored" if dry_run else ""),
        highlight=False,
    )
