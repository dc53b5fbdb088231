"""Hot spots: a surge of proxy surrender complaints in a district education has not reached is
suggested as a campaign topic; a well-reached district or a steady topic is not."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from services.education import domain, hotspots, store
from services.education.models import Base, CaseSeen

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
HEXI, NANKAI, HEPING = "120103", "120104", "120101"
START, END = date(2026, 3, 1), date(2026, 3, 31)  # the previous period: 29 Jan – 28 Feb


@pytest.fixture()
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def cases(s: Session, region: str, day: date, n: int, issue: str, proxy: bool = False) -> None:
    for _ in range(n):
        number = f"TJ{len(s.new) + s.query(CaseSeen).count():08d}"
        s.add(
            CaseSeen(
                case_no=number,
                received_on=day,
                region_code=region,
                business_type="insurance",
                product="life_insurance",
                issue=issue,
                proxy=proxy,
            )
        )
        s.flush()


def reached(s: Session, region: str, day: date, participants: int) -> None:
    store.upsert_campaign(
        s,
        domain.Campaign(
            code="2026-q1",
            theme="risk_warning",
            title="防范代理退保风险提示",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 3, 31),
            organiser="天津金融消费纠纷调解中心",
        ),
        NOW,
    )
    store.record_activity(
        s,
        domain.Activity(
            campaign_code="2026-q1",
            held_on=day,
            place_type="community",
            region_code=region,
            format="on_site",
            organiser="津门人寿",
            title=f"{region} 社区讲座",
        ),
        "津门人寿",
        NOW,
        domain.Reach(participants=participants),
    )


def test_surge_of_proxy_surrender_complaints_with_no_activity_is_a_hot_spot(session):
    cases(session, HEXI, START - timedelta(days=10), 2, "surrender", proxy=True)
    cases(session, HEXI, START + timedelta(days=5), 12, "surrender", proxy=True)
    spots = hotspots.find(session, START, END)
    assert len(spots) == 1
    h = spots[0]
    assert (h.region_code, h.topic, h.complaints, h.previous, h.participants) == (
        HEXI,
        "proxy:surrender",
        12,
        2,
        0,
    )
    assert h.rise == 6.0
    assert h.topic_label == "代理退保"
    assert h.suggestion == (
        "河西区 代理退保 投诉 12 件（前期 2 件），近期宣教 0 人次：建议开展防范代理退保风险提示"
    )


def test_district_education_reached_well_is_not_flagged(session):
    cases(session, NANKAI, START + timedelta(days=3), 8, "surrender", proxy=True)
    reached(session, NANKAI, START - timedelta(days=20), 500)  # in the previous period: counts
    assert hotspots.find(session, START, END) == []


def test_complaints_that_did_not_rise_are_not_flagged(session):
    cases(session, HEPING, START - timedelta(days=5), 6, "claims")
    cases(session, HEPING, START + timedelta(days=5), 7, "claims")  # 7 < 1.5 × 6
    assert hotspots.find(session, START, END) == []


def test_a_handful_of_complaints_is_noise(session):
    cases(session, HEXI, START + timedelta(days=1), hotspots.MIN_COMPLAINTS - 1, "surrender")
    assert hotspots.find(session, START, END) == []


def test_thin_reach_and_rising_topics_sorted_by_rise(session):
    cases(session, HEXI, START + timedelta(days=1), 12, "surrender", proxy=True)
    cases(session, HEPING, START - timedelta(days=3), 2, "claims")
    cases(session, HEPING, START + timedelta(days=3), 5, "claims")
    reached(session, HEPING, START + timedelta(days=2), 30)  # thin: still flagged
    spots = hotspots.find(session, START, END)
    assert [(h.region_code, h.topic) for h in spots] == [
        (HEXI, "proxy:surrender"),
        (HEPING, "claims"),
    ]
    assert spots[1].participants == 30
    assert spots[1].suggestion.startswith("和平区 理赔 投诉 5 件（前期 2 件），近期宣教 30 人次")


def test_proxy_and_own_complaints_are_separate_topics(session):
    cases(session, HEXI, START + timedelta(days=1), 3, "surrender", proxy=True)
    cases(session, HEXI, START + timedelta(days=1), 3, "surrender")
    assert {h.topic for h in hotspots.find(session, START, END)} == {
        "surrender",
        "proxy:surrender",
    }


def test_csv_header(session):
    cases(session, HEXI, START, 4, "surrender", proxy=True)
    fp = io.StringIO()
    hotspots.write_csv(hotspots.find(session, START, END), fp)
    lines = fp.getvalue().splitlines()
    assert lines[0] == ",".join(hotspots.CSV_COLUMNS)
    assert lines[1].startswith("120103,proxy:surrender,代理退保,4,0,4.0,0,")
