"""Education reports on a small seeded database: activities count once, corrections replace,
online works count once per platform; CSV, refusals and the charts."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.education import domain, reports, store
from services.education.models import Base

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
HEXI, NANKAI = "120103", "120104"


def activity(day: int, region: str, place: str, title: str, organiser: str = "滨城银行"):
    return domain.Activity(
        campaign_code="2026-315",
        held_on=date(2026, 3, day),
        place_type=place,
        region_code=region,
        format="on_site",
        organiser=organiser,
        title=title,
    )


@pytest.fixture()
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        store.upsert_campaign(
            s,
            domain.Campaign(
                code="2026-315",
                theme="consumer_rights_day",
                title="3·15 金融消费者权益保护教育宣传周",
                starts_on=date(2026, 3, 1),
                ends_on=date(2026, 3, 31),
                organiser="天津金融消费纠纷调解中心",
                co_organisers=("滨城银行", "津门人寿"),
            ),
            NOW,
        )
        # Hexi community talk, reported by both co-organisers: one activity.
        talk = activity(9, HEXI, "community", "防范非法集资讲座")
        store.record_activity(
            s,
            talk,
            "滨城银行",
            NOW,
            domain.Reach(participants=80, by_group={"elderly": 50}, materials=100),
        )
        store.record_activity(s, talk, "津门人寿", NOW)
        # Nankai campus session, first reported 300 then corrected to 200.
        campus = activity(10, NANKAI, "campus", "校园贷风险提示", organiser="津门人寿")
        store.record_activity(
            s, campus, "津门人寿", NOW, domain.Reach(participants=300, by_group={"young": 300})
        )
        store.record_activity(
            s,
            campus,
            "津门人寿",
            NOW,
            domain.Reach(participants=200, by_group={"young": 180}, materials=50),
        )
        # A short video re-posted by two activities: one figure per platform, the newest.
        store.record_activity(
            s,
            activity(16, HEXI, "business_district", "商圈快闪"),
            "滨城银行",
            NOW,
            domain.Reach(participants=40, online={("反诈短视频", "douyin"): 1000}),
        )
        store.record_activity(
            s,
            activity(17, NANKAI, "enterprise", "进企业宣讲", organiser="津门人寿"),
            "津门人寿",
            NOW,
            domain.Reach(
                participants=30,
                by_group={"elderly": 5, "new_citizens": 20},
                online={("反诈短视频", "douyin"): 1500, ("反诈短视频", "wechat"): 200},
            ),
        )
        # Outside the period asked for.
        store.record_activity(
            s,
            activity(30, HEXI, "rural", "进乡村"),
            "滨城银行",
            NOW,
            domain.Reach(participants=999),
        )
        s.commit()
        yield s
    engine.dispose()


MARCH = (date(2026, 3, 1), date(2026, 3, 20))


def test_totals_count_each_activity_once_with_its_current_figures(session):
    result = reports.report(session, *MARCH, ())
    t = result.totals
    assert (t.activities, t.participants, t.materials) == (4, 80 + 200 + 40 + 30, 150)
    # The re-posted video counts once on douyin (its newest figure) and once on wechat.
    assert t.online_reads == 1500 + 200
    assert result.rows == []


def test_breakdown_by_region_sorted_by_participants(session):
    result = reports.report(session, *MARCH, ["region"])
    assert [(r.keys, r.activities, r.participants) for r in result.rows] == [
        ({"region": NANKAI}, 2, 230),
        ({"region": HEXI}, 2, 120),
    ]
    assert sum(r.online_reads for r in result.rows) == result.totals.online_reads


def test_by_target_group_counts_that_groups_participants(session):
    result = reports.report(session, *MARCH, reports.parse_by("region,target_group"))
    rows = {(r.keys["region"], r.keys["target_group"]): r for r in result.rows}
    assert rows[(NANKAI, "young")].participants == 180  # the corrected figure
    assert rows[(HEXI, "elderly")].participants == 50
    assert rows[(NANKAI, "elderly")].activities == 1
    assert (HEXI, "young") not in rows


def test_breakdowns_by_place_organiser_campaign_and_week(session):
    place = reports.report(session, *MARCH, ["place_type"])
    assert {r.keys["place_type"] for r in place.rows} == {
        "community",
        "campus",
        "business_district",
        "enterprise",
    }
    org = reports.report(session, *MARCH, ["organiser", "campaign"])
    assert org.rows[0].keys == {"organiser": "津门人寿", "campaign": "2026-315"}
    week = reports.report(session, *MARCH, ["week"])
    assert [r.keys["week"] for r in sorted(week.rows, key=lambda r: r.keys["week"])] == [
        "2026-W11",
        "2026-W12",
    ]


def test_csv_has_a_header_and_a_total(session):
    fp = io.StringIO()
    reports.write_csv(reports.report(session, *MARCH, ["region"]), fp)
    lines = fp.getvalue().splitlines()
    assert lines[0] == "region,activities,participants,materials,online_reads"
    assert lines[-1] == "total,4,350,150,1700"


def test_unknown_dimension_is_refused(session):
    with pytest.raises(ValueError, match=r"^by: unknown dimension 'district'"):
        reports.report(session, *MARCH, ["district"])


def test_reversed_period_is_refused(session):
    with pytest.raises(ValueError, match=r"^from: "):
        reports.report(session, date(2026, 3, 31), date(2026, 3, 1), ())


def test_render_shows_the_total(session):
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(reports.render(reports.report(session, *MARCH, ["region"])))
    text = console.export_text()
    assert "河西区" in text
    assert "合计 total" in text


def test_plot_writes_two_non_empty_png_files(session, tmp_path):
    paths = reports.plot(
        reports.report(session, *MARCH, ["region"]),
        reports.report(session, *MARCH, ["week"]),
        tmp_path / "charts",
    )
    assert [p.name for p in paths] == ["reach-by-region.png", "weekly-trend.png"]
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 1000
        assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_writes_svg(session, tmp_path):
    paths = reports.plot(
        reports.report(session, *MARCH, ["region"]),
        reports.report(session, *MARCH, ["week"]),
        tmp_path,
        fmt="svg",
    )
    for p in paths:
        head = p.read_text(encoding="utf-8")[:100].lstrip()
        assert head.startswith(("<?xml", "<svg"))
        assert p.stat().st_size > 1000


def test_plot_of_an_empty_period_still_draws(session, tmp_path):
    empty = (date(2025, 1, 1), date(2025, 1, 31))
    paths = reports.plot(
        reports.report(session, *empty, ["region"]),
        reports.report(session, *empty, ["week"]),
        tmp_path,
    )
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    """An education database migrated in a temporary XIAOBAO_DATA_DIR, used by the commands."""
    from services.common import db, migrations
    from services.common import settings as settings_mod

    cfg = settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path / "data")})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    migrations.upgrade("education")
    yield tmp_path
    db.engine_for("education").dispose()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()


def test_cli_report_csv_and_charts(data_dir):
    from typer.testing import CliRunner

    from services.cli import app

    period = ["--from", "2026-03-01", "--to", "2026-03-31"]
    charts = ["--plot", str(data_dir / "charts"), "--format", "svg"]
    result = CliRunner().invoke(
        app, ["education", "report", *period, "--by", "region", "--csv", *charts]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "region,activities,participants,materials,online_reads"
    assert (data_dir / "charts" / "weekly-trend.svg").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-30", "--to", "2026-03-31"], "--from: '2026-02-30' is not a date"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--by", "district"], "--by: unknown"),
        (["--from", "2026-04-01", "--to", "2026-03-31"], "--from: 2026-04-01 is after"),
    ],
)
def test_cli_refuses_bad_dates_and_dimensions_with_exit_2(data_dir, args, message):
    from typer.testing import CliRunner

    from services.cli import app

    result = CliRunner().invoke(app, ["education", "report", *args])
    assert result.exit_code == 2
    assert message in result.output
