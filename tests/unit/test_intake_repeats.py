"""Repeat complaints (Art 15) and withdrawal on a real SQLite database: who counts as the same
complainant, institution and matter, and what a repeat does to clocks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from services.common import db
from services.intake import cases, domain
from services.intake.models import Base

RECEIVED = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("intake", f"sqlite:///{tmp_path}/intake.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def complaint(**changes) -> domain.NewCase:
    base = domain.NewCase(
        kind="complaint",
        channel="hotline",
        name="孙秀兰",
        phone="13722223333",
        id_number="",
        region_code="120105",
        institution_text="中国人寿天津分公司",
        product="health",
        summary="重疾险理赔被拒，理由不充分",
        amount_in_dispute_fen=0,
        received_at=RECEIVED,
    )
    return replace(base, **changes)


def submit(factory, new: domain.NewCase):
    with db.session_scope(factory) as session:
        case, _ = cases.submit(session, new, "", new.received_at)
        return case.case_no, case.status, case.repeat_of, {c.name for c in case.clocks}


def test_the_same_complainant_institution_and_matter_is_linked_without_a_clock(factory):
    first, *_ = submit(factory, complaint())
    _, status, repeat_of, clocks = submit(
        factory,
        complaint(
            institution_text="中国人寿保险股份有限公司天津市分公司",
            received_at=RECEIVED + timedelta(days=30),
        ),
    )
    assert (status, repeat_of) == ("linked", first)
    assert clocks == set()


def test_new_facts_make_a_new_case_with_its_own_clock(factory):
    first, *_ = submit(factory, complaint())
    _, status, repeat_of, clocks = submit(
        factory, complaint(new_facts=True, received_at=RECEIVED + timedelta(days=30))
    )
    assert (status, repeat_of) == ("received", first)
    assert "first_contact" in clocks


@pytest.mark.parametrize(
    "changes",
    [
        {"phone": "13800001111"},  # someone else
        {"institution_text": "平安人寿天津分公司"},  # another institution
        {"summary": "保单贷款利息计算有误", "product": "life"},  # another product
        {"received_at": RECEIVED + timedelta(days=181)},  # beyond the policy window
    ],
)
def test_anything_else_is_a_new_case(factory, changes):
    submit(factory, complaint())
    _, status, repeat_of, _ = submit(factory, complaint(**changes))
    assert (status, repeat_of) == ("received", "")


def test_a_repeat_of_a_repeat_points_at_the_original(factory):
    first, *_ = submit(factory, complaint())
    submit(factory, complaint(received_at=RECEIVED + timedelta(days=5)))
    _, status, repeat_of, _ = submit(factory, complaint(received_at=RECEIVED + timedelta(days=9)))
    assert (status, repeat_of) == ("linked", first)


def test_the_same_id_number_is_the_same_complainant_on_another_phone(factory):
    person = "120104198005120031"
    first, *_ = submit(factory, complaint(id_number=person))
    _, status, repeat_of, _ = submit(
        factory,
        complaint(id_number=person, phone="13955556666", received_at=RECEIVED + timedelta(days=3)),
    )
    assert (status, repeat_of) == ("linked", first)


def test_a_withdrawal_stops_every_clock_the_day_it_came_in(factory):
    case_no, *_ = submit(factory, complaint())
    withdrawn_at = RECEIVED + timedelta(hours=5)
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        cases.withdraw(session, case, withdrawn_at, "desk", "已自行和解")
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert case.status == "withdrawn"
        assert case.clocks and all(c.stopped_at == withdrawn_at for c in case.clocks)
