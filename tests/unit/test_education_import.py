"""Importing the activity spreadsheets institutions send, on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from services.common import db
from services.common import settings as settings_mod
from services.education import domain, importer, store
from services.education.models import Activity, Base, OnlineReach, ReachReport

NOW = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
CAMPAIGN = "2026-09-JYY"

HEADER = [
    "活动编号",
    "活动日期",
    "场所类型",
    "行政区划代码",
    "网格",
    "形式",
    "主办机构",
    "活动名称",
    "报送单位",
    "参与人次",
    "其中：",
    None,
    None,
    None,
    None,
    "发放资料（份）",
    "平台",
    "作品",
    "阅读量",
    "报送日期",
]
SUB_HEADER = [None] * 10 + ["老年人", "青少年", "新市民", "务工人员", "残障人士"] + [None] * 5


def campaign() -> domain.Campaign:
    return domain.Campaign(
        code=CAMPAIGN,
        theme="education_month",
        title="2026年金融教育宣传月",
        starts_on=date(2026, 9, 1),
        ends_on=date(2026, 9, 30),
        organiser="天津金融消费者权益保护中心",
        co_organisers=("天津银行", "渤海银行"),
        regions=("120104", "120116"),
    )


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("education", f"sqlite:///{tmp_path}/education.db")
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    with db.session_scope(factory) as session:
        store.upsert_campaign(session, campaign(), NOW)
    yield factory
    engine.dispose()


def row(
    held_on,
    title,
    *,
    place="社区",
    fmt="线下",
    organiser="天津银行",
    reported_by="天津银行",
    participants=None,
    groups=(None,) * 5,
    materials=None,
    platform=None,
    work=None,
    reads=None,
    reported_on="2026/10/8",
    code=CAMPAIGN,
    region=120104,
    grid="南营门街道3号网格",
) -> list:
    return [
        code,
        held_on,
        place,
        region,
        grid,
        fmt,
        organiser,
        title,
        reported_by,
        participants,
        *groups,
        materials,
        platform,
        work,
        reads,
        reported_on,
    ]


def messy_workbook(path: Path, data: list[list | None], merge_down: str = "") -> Path:
    """As banks send it: a title above a two-row header with merged cells, blank rows between."""
    book = Workbook()
    ws = book.active
    ws.title = "活动统计"
    ws.append(["2026年“金融教育宣传月”活动情况统计表"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(HEADER)
    ws.append(SUB_HEADER)
    ws.merge_cells("K2:O2")  # 其中： over the target groups
    for col, name in enumerate(HEADER, start=1):
        if name and name != "其中：":
            ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    for values in data:
        ws.append(values if values is not None else [])
    if merge_down:  # one 活动编号 merged over a block of rows
        ws.merge_cells(merge_down)
    book.save(path)
    return path


def messy_rows() -> list[list | None]:
    return [
        # Row 4: an afternoon talk in a community, figures in full-width digits.
        row(
            "2026年9月15日",
            "防范电信网络诈骗（老年人专场）",
            participants="１２０",
            groups=("８０", None, "12", None, "3"),
            materials="1,500",
        ),
        None,  # row 5
        # Row 6: the co-organiser reports the same talk again, title spaced its own way.
        row(
            "2026-09-15",
            "防范电信网络诈骗 (老年人专场)",
            organiser="天津银行",
            reported_by="渤海银行",
            participants=126,
            groups=(82, None, None, None, None),
        ),
        # Row 7: into the countryside, the date an Excel date.
        row(
            datetime(2026, 9, 16),
            "金融知识进万家",
            place="进农村",
            region="１２０１１６",
            grid="",
            participants=60,
            groups=(20, 5, None, 30, None),
            materials=200,
        ),
        None,  # row 8
        None,  # row 9
        # Rows 10 and 11: one article, re-posted on the same platform by a second activity.
        row(
            "2026/9/18",
            "守护好您的钱袋子",
            fmt="文章",
            place="其他",
            platform="微信公众号",
            work="守护好您的钱袋子",
            reads="3,200",
        ),
        row(
            "2026/9/20",
            "金融消费者权益日线上答题",
            fmt="线上",
            place="other",
            participants=400,
            groups=(None, 300, None, None, None),
            platform="微信公众号",
            work="守护好您的“钱袋子”",
            reads=3500,
        ),
    ]


def count(factory, model, *where) -> int:
    with db.session_scope(factory) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_messy_workbook_is_read_as_the_sender_sees_it(tmp_path):
    path = messy_workbook(tmp_path / "天津银行.xlsx", messy_rows())
    rows = importer.read_rows(path)
    assert [r.number for r in rows] == [1, 2, 3, 4, 6, 7, 10, 11]  # blank rows skipped
    columns, first = importer.find_columns(rows)
    assert first == 3  # after the title and both header rows
    assert columns["participants"].header == "参与人次"
    assert columns["elderly"].header == "老年人"
    assert columns["disabled"].index == 14
    assert columns["materials"].header == "发放资料（份）"

    activity, reach, reporter = importer.parse_row(rows[3], columns)
    assert activity.held_on == date(2026, 9, 15)
    assert activity.place_type == "community" and activity.format == "on_site"
    assert activity.region_code == "120104"
    assert reach.participants == 120 and reach.materials == 1500
    assert reach.by_group == {"elderly": 80, "new_citizens": 12, "disabled": 3}  # blanks: none
    assert reach.reported_on == date(2026, 10, 8)
    assert reporter == "天津银行"

    activity, _, _ = importer.parse_row(rows[5], columns)
    assert activity.place_type == "rural" and activity.region_code == "120116"
    assert activity.held_on == date(2026, 9, 16)


def test_an_activity_reported_by_two_co_organisers_counts_once(factory, tmp_path):
    path = messy_workbook(tmp_path / "report.xlsx", messy_rows(), merge_down="A10:A11")
    seen = []
    with db.session_scope(factory) as session:
        report = importer.import_file(
            session, path, NOW, progress=lambda done, total: seen.append((done, total))
        )
    assert report.rows == 5
    assert report.activities_new == 4
    assert report.activities_duplicate == 1
    assert report.reach_versions == 5
    assert report.skipped_blank == 3
    assert seen[-1] == (5, 5)

    assert count(factory, Activity) == 4
    assert count(factory, ReachReport, ReachReport.current.is_(True)) == 4
    with db.session_scope(factory) as session:
        talk = session.scalar(select(Activity).where(Activity.held_on == date(2026, 9, 15)))
        assert talk.reported_by == ["天津银行", "渤海银行"]
        latest = session.scalar(
            select(ReachReport).where(
                ReachReport.activity_id == talk.id, ReachReport.current.is_(True)
            )
        )
        assert (latest.version, latest.participants) == (2, 126)
        assert "report.xlsx, row 6" in latest.note
        # The article's reads count once on its platform: the later figure, the earlier kept.
        online = session.scalars(select(OnlineReach).where(OnlineReach.current.is_(True))).all()
        assert [(o.platform, o.reads) for o in online] == [("微信公众号", 3500)]
    assert count(factory, OnlineReach) == 2


def test_importing_the_same_file_again_adds_versions_not_activities(factory, tmp_path):
    path = messy_workbook(tmp_path / "report.xlsx", messy_rows())
    for _ in range(2):
        with db.session_scope(factory) as session:
            report = importer.import_file(session, path, NOW)
    assert (report.activities_new, report.activities_duplicate) == (0, 5)
    assert count(factory, Activity) == 4


def test_a_dry_run_reports_the_same_and_stores_nothing(factory, tmp_path):
    path = messy_workbook(tmp_path / "report.xlsx", messy_rows())
    with db.session_scope(factory) as session:
        report = importer.import_file(session, path, NOW, dry_run=True)
    assert report.dry_run
    assert (report.activities_new, report.activities_duplicate, report.reach_versions) == (4, 1, 5)
    assert count(factory, Activity) == 0
    assert count(factory, ReachReport) == 0
    assert count(factory, OnlineReach) == 0


def write_csv(path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


CSV = (
    "campaign_code,held_on,place_type,region_code,grid_cell,format,organiser,title,reported_by,"
    "participants,elderly,young,new_citizens,migrant_workers,disabled,materials,platform,work,"
    "reads,reported_on,序号\n"
    f'{CAMPAIGN},2026-09-21,campus,120104,,on_site,天津银行,开学第一课,天津银行,"1,234",,900,,,,'
    "300,,,,2026-09-22,1\n"
    ",,,,,,,,,,,,,,,,,,,,\n"
    f"{CAMPAIGN},2026/9/22,企业,120116,,短视频,渤海银行,识破养老诈骗,,,,,,,,,抖音,,"
    "１２０００,,2\n"
    "合计,,,,,,,,,1234,,900,,,,300,,,12000,,\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_with_english_headers_in_any_encoding_excel_writes(factory, tmp_path, encoding):
    path = write_csv(tmp_path / "report.csv", CSV, encoding)
    with db.session_scope(factory) as session:
        report = importer.import_file(session, path, NOW)
    assert (report.rows, report.activities_new, report.skipped_blank) == (2, 2, 1)
    assert report.skipped_totals == 1
    with db.session_scope(factory) as session:
        video = session.scalar(select(Activity).where(Activity.format == "short_video"))
        assert video.place_type == "enterprise"
        assert video.reported_by == ["渤海银行"]  # no 报送单位: the organiser reports itself
        reads = session.scalar(select(OnlineReach.reads))
        assert reads == 12000
        assert session.scalar(select(func.max(ReachReport.participants))) == 1234


def broken_rows() -> list[list | None]:
    return [
        row("2026-09-15", "反诈讲座", participants=50, groups=(None, None, None, 70, None)),  # 4
        row("2026-09-16", "存款保险宣传", participants=30),  # row 5: good
        None,  # row 6
        row("2026-09-17", "菜市场宣传", place="菜市场", participants=30),  # row 7
        row("2026-08-20", "提前开讲", participants=10),  # row 8: before the campaign
        row("2026-09-18", "别的活动", code="2025-315", participants=10),  # row 9
    ]


def test_a_broken_file_is_refused_naming_every_bad_row_and_column(factory, tmp_path):
    path = messy_workbook(tmp_path / "broken.xlsx", broken_rows())
    with pytest.raises(importer.ImportRefused) as refused, db.session_scope(factory) as session:
        importer.import_file(session, path, NOW)
    where = [(e.row, e.column) for e in refused.value.errors]
    assert where == [(4, "务工人员"), (7, "场所类型"), (8, "活动日期"), (9, "活动编号")]
    messages = [str(e) for e in refused.value.errors]
    assert messages[0].startswith("row 4, column 务工人员: 70 migrant_workers is more than")
    assert "'菜市场' is not a place type" in messages[1]
    assert "outside campaign" in messages[2]
    assert count(factory, Activity) == 0
    assert count(factory, ReachReport) == 0


def test_a_refusal_caught_by_the_caller_still_stores_nothing(factory, tmp_path):
    good = messy_workbook(tmp_path / "good.xlsx", messy_rows())
    with db.session_scope(factory) as session:
        importer.import_file(session, good, NOW, dry_run=True)
        with pytest.raises(importer.ImportRefused):
            importer.import_file(session, messy_workbook(tmp_path / "b.xlsx", broken_rows()), NOW)
    assert count(factory, Activity) == 0


def test_a_row_refused_while_storing_undoes_the_rows_stored_before_it(factory, tmp_path):
    # A reporter named only by punctuation passes parsing but not the store: rows 4 to 7 are
    # recorded first, inside the import's savepoint, and must go with the refusal.
    rows = [*messy_rows(), row("2026-09-21", "最后一场", reported_by="、", participants=5)]
    path = messy_workbook(tmp_path / "late.xlsx", rows)
    with db.session_scope(factory) as session:
        with pytest.raises(importer.ImportRefused) as refused:
            importer.import_file(session, path, NOW)
        assert [(e.row, e.column) for e in refused.value.errors] == [(12, "报送单位")]
    assert count(factory, Activity) == 0
    assert count(factory, OnlineReach) == 0


def test_a_file_without_the_required_columns_names_them(tmp_path):
    path = write_csv(
        tmp_path / "short.csv", "活动编号,活动日期,形式,主办机构\nx,2026-09-15,线下,甲\n"
    )
    with pytest.raises(importer.ImportRefused) as refused:
        importer.find_columns(importer.read_rows(path))
    assert [(e.row, e.column) for e in refused.value.errors] == [
        (1, "场所类型"),
        (1, "行政区划代码"),
        (1, "活动名称"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-15", date(2026, 9, 15)),
        ("2026/9/5", date(2026, 9, 5)),
        ("２０２６年９月１５日", date(2026, 9, 15)),
        ("2026.9.15", date(2026, 9, 15)),
        ("2026-09-15 00:00:00", date(2026, 9, 15)),
        (46280, date(2026, 9, 15)),  # an Excel serial date that lost its format
        (datetime(2026, 9, 15, 14, 30), date(2026, 9, 15)),
        ("", None),
    ],
)
def test_dates_in_the_ways_people_write_them(text, expected):
    assert importer.parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,234", 1234), ("１２３４", 1234), ("1 234", 1234), ("120人", 120), (12.0, 12), ("", None)],
)
def test_counts_in_the_ways_people_write_them(text, expected):
    assert importer.parse_count(text) == expected


@pytest.mark.parametrize("text", ["约100", "12.5", "-3"])
def test_a_count_that_is_not_a_whole_number_is_refused(text):
    with pytest.raises(ValueError, match="not a whole number"):
        importer.parse_count(text)


# -- the command ------------------------------------------------------------------------------


@pytest.fixture()
def education_db(tmp_path, monkeypatch):
    """The command's own database: a temporary XIAOBAO_DATA_DIR, with the campaign."""
    cfg = settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path / "data")})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    Base.metadata.create_all(db.engine_for("education"))
    factory = db.session_factory("education")
    with db.session_scope(factory) as session:
        store.upsert_campaign(session, campaign(), NOW)
    yield factory
    db.engine_for("education").dispose()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()


def xiaobao(*args: str):
    app = typer.Typer()
    app.command("import")(importer.import_command)
    app.command("other")(lambda: None)  # two commands: "import" stays a subcommand
    return CliRunner().invoke(app, ["import", *args])


def test_the_command_imports_and_prints_the_report(education_db, tmp_path):
    path = messy_workbook(tmp_path / "report.xlsx", messy_rows())
    run = xiaobao(str(path), "--dry-run")
    assert run.exit_code == 0, run.output
    assert "would import 5 rows: 4 new activities, 1 reported again" in run.stdout
    assert count(education_db, Activity) == 0
    run = xiaobao(str(path))
    assert run.exit_code == 0, run.output
    assert count(education_db, Activity) == 4


def test_the_command_lists_the_bad_rows_without_a_traceback(education_db, tmp_path):
    path = messy_workbook(tmp_path / "broken.xlsx", broken_rows())
    run = xiaobao(str(path))
    assert run.exit_code == 2
    assert "row 4, column 务工人员: 70 migrant_workers is more than" in run.stderr
    assert "row 7, column 场所类型:" in run.stderr
    assert "row 8, column 活动日期:" in run.stderr
    assert "Traceback" not in run.output
    assert count(education_db, Activity) == 0


def test_the_command_refuses_a_missing_file_in_one_line(education_db, tmp_path):
    run = xiaobao(str(tmp_path / "nowhere.xlsx"))
    assert run.exit_code == 2
    assert run.stderr.strip().count("\n") == 0 and "no such file" in run.stderr


def test_the_command_shows_progress_on_a_large_file(education_db, tmp_path):
    large = importer.LARGE_FILE_ROWS + 1
    rows = [row("2026-09-15", f"社区讲座第{i}场", participants=i % 50 + 10) for i in range(large)]
    run = xiaobao(str(messy_workbook(tmp_path / "large.xlsx", rows)))
    assert run.exit_code == 0, run.output
    assert f"imported {large} rows: {large} new activities" in run.stdout
