"""Education's rules: one activity however many co-organisers report it, one figure per online
work and platform, and no report that contradicts itself or the activity."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.common import db
from services.common.errors import InvalidArgument, NotFound
from services.education import domain, store
from services.education.domain import Inconsistent
from services.education.models import Base, OnlineReach, ReachReport

NOW = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)
MONTH = domain.Campaign(
    code="2026-09-edu",
    theme="education_month",
    title="2026年金融教育宣传月",
    starts_on=date(2026, 9, 1),
    ends_on=date(2026, 9, 30),
    organiser="天津市银行业保险业消费者权益保护中心",
    co_organisers=("工行天津分行", "平安人寿天津分公司"),
    target_groups=("elderly", "young"),
    regions=("120103", "120104"),
)


def activity(**changes) -> domain.Activity:
    base = dict(
        campaign_code="2026-09-edu",
        held_on=date(2026, 9, 15),
        place_type="community",
        region_code="120103",
        format="on_site",
        organiser="工行天津分行",
        title="守住钱袋子 护好养老钱",
        grid_cell="友谊路街第3网格",
    )
    return domain.Activity(**{**base, **changes})


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("education", f"sqlite:///{tmp_path}/education.db")
    Base.metadata.create_all(engine)
    made = sessionmaker(engine, expire_on_commit=False)
    with db.session_scope(made) as session:
        store.upsert_campaign(session, MONTH, NOW)
    yield made
    engine.dispose()


def record(factory, a=None, reporter="工行天津分行", reach=None, note=""):
    with db.session_scope(factory) as session:
        return store.record_activity(session, a or activity(), reporter, NOW, reach, note)


def test_an_activity_reported_by_two_co_organisers_counts_once(factory):
    first = record(factory)
    # The co-organiser writes the title with full-width punctuation and spaces.
    second = record(
        factory, activity(title="守住钱袋子，护好养老钱 "), reporter="平安人寿天津分公司"
    )
    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.activity.id == second.activity.id
    assert second.activity.reported_by == ["工行天津分行", "平安人寿天津分公司"]


def test_a_correction_replaces_the_figure_and_keeps_the_history(factory):
    record(factory, reach=domain.Reach(participants=120, by_group={"elderly": 80}))
    fixed = record(
        factory,
        reach=domain.Reach(participants=150, by_group={"elderly": 95}),
        note="补录签到表",
    )
    assert fixed.reach_version == 2
    with db.session_scope(factory) as session:
        history = store.reach_history(session, fixed.activity.id)
        assert [(r.version, r.current, r.participants) for r in history] == [
            (1, False, 120),
            (2, True, 150),
        ]


def test_an_online_work_reposted_counts_once_per_platform(factory):
    article = ("《警惕代理退保陷阱》", "微信公众号")
    record(factory, reach=domain.Reach(online={article: 3000}))
    record(
        factory,
        activity(title="线上推送", format="article", held_on=date(2026, 9, 16)),
        reach=domain.Reach(
            online={("警惕代理退保陷阱", "微信公众号"): 3400, ("警惕代理退保陷阱", "抖音"): 900}
        ),
    )
    with db.session_scope(factory) as session:
        current = session.scalars(select(OnlineReach).where(OnlineReach.current.is_(True))).all()
        assert sorted((r.platform, r.reads) for r in current) == [
            ("微信公众号", 3400),
            ("抖音", 900),
        ]


@pytest.mark.parametrize(
    ("reach", "field", "why"),
    [
        (domain.Reach(participants=50, by_group={"elderly": 60}), "by_group.elderly", "more than"),
        (domain.Reach(participants=50, reported_on=date(2026, 9, 10)), "reported_on", "before"),
        (domain.Reach(participants=-1), "participants", "between"),
        (domain.Reach(participants=5, by_group={"pensioners": 1}), "by_group", "one of"),
    ],
)
def test_a_report_that_makes_the_totals_inconsistent_is_refused_with_the_reason(
    factory, reach, field, why
):
    with pytest.raises(InvalidArgument) as err:
        record(factory, reach=reach)
    assert err.value.field == field and why in err.value.message
    with db.session_scope(factory) as session:  # nothing stored, not even the activity
        assert session.scalars(select(ReachReport)).all() == []


def test_an_activity_outside_its_campaign_or_of_an_unknown_campaign_is_refused(factory):
    with pytest.raises(Inconsistent) as err:
        record(factory, activity(held_on=date(2026, 10, 8)))
    assert err.value.field == "held_on"
    with pytest.raises(NotFound):
        record(factory, activity(campaign_code="no-such"))
    with pytest.raises(InvalidArgument) as err:
        record(factory, activity(place_type="market"))
    assert err.value.field == "place_type"


def test_a_campaign_that_ends_before_it_starts_is_refused():
    bad = domain.Campaign(**{**MONTH.__dict__, "ends_on": date(2026, 8, 1)})
    with pytest.raises(Inconsistent) as err:
        domain.validate_campaign(bad)
    assert err.value.field == "ends_on"


def test_the_same_figures_reported_again_are_not_a_correction(factory):
    reach = domain.Reach(participants=120, by_group={"elderly": 80}, materials=300)
    assert record(factory, reach=reach).reach_version == 1
    again = record(factory, reporter="平安人寿天津分公司", reach=reach)
    assert again.reach_version == 1
    with db.session_scope(factory) as session:
        assert len(store.reach_history(session, again.activity.id)) == 1
