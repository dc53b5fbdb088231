"""Intake's storage operations on a real SQLite database: clocks, SLI counters, gauges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import sessionmaker

from services.common import db, metrics
from services.common.calendar import DEFAULT_HOLIDAYS_FILE
from services.intake import cases, domain
from services.intake.metrics import OpenClocksCollector
from services.intake.models import Base, Case, OutboxMessage


@pytest.fixture()
def factory(tmp_path):
    engine = db.make_engine("intake", f"sqlite:///{tmp_path}/intake.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def new_case(
    received_at: datetime, kind: str = "complaint", phone: str = "13812345678"
) -> domain.NewCase:
    return domain.NewCase(
        kind=kind,
        channel="letter",
        name="赵桂英",
        phone=phone,
        id_number="",
        region_code="120104",
        institution_text="天津平安人寿",
        product="life",
        summary="保单退保金额与合同不符",
        amount_in_dispute_fen=0,
        received_at=received_at,
    )


def submit(factory, received_at: datetime, request_id: str = "", phone: str = "13812345678") -> str:
    with db.session_scope(factory) as session:
        case, _ = cases.submit(
            session, new_case(received_at, phone=phone), request_id, datetime.now(UTC)
        )
        return case.case_no


def test_a_case_received_late_in_december_has_a_provisional_forwarding_deadline(factory):
    before = metrics.CLOCK_PROVISIONAL_COMPUTED.labels("regulator_forwarding")._value.get()
    # Received Monday 2026-12-28: 7 working days end in January 2027, a year the table lacks.
    case_no = submit(factory, datetime(2026, 12, 28, 2, 0, tzinfo=UTC))
    with db.session_scope(factory) as session:
        clocks = {c.name: c for c in cases.get_case(session, case_no).clocks}
    assert clocks["regulator_forwarding"].provisional
    assert clocks["regulator_forwarding"].last_day.isoformat() == "2027-01-06"  # weekends only
    assert not clocks["centre_transfer"].provisional  # same day, inside 2026
    after = metrics.CLOCK_PROVISIONAL_COMPUTED.labels("regulator_forwarding")._value.get()
    assert after == before + 1

    registry = CollectorRegistry()
    registry.register(OpenClocksCollector(factory))
    assert (
        registry.get_sample_value(
            "xiaobao_clock_open_provisional", {"clock": "regulator_forwarding"}
        )
        == 1
    )


def test_open_clocks_are_counted_by_state_at_scrape_time(factory):
    submit(factory, datetime(2026, 9, 1, 2, 0, tzinfo=UTC))  # long overdue by now
    # Another complainant: the same one on the same matter would be a linked repeat.
    submit(factory, datetime.now(UTC), phone="13987654321")
    registry = CollectorRegistry()
    registry.register(OpenClocksCollector(factory))

    def value(clock: str, state: str) -> float:
        return registry.get_sample_value(
            "xiaobao_clock_open_cases", {"clock": clock, "state": state}
        )

    assert value("regulator_forwarding", "overdue") == 1
    assert value("regulator_forwarding", "ok") + value("regulator_forwarding", "at_risk") == 1
    assert value("institution_decision", "ok") == 0  # not started before assignment


def test_closing_a_case_stops_every_clock_once_and_counts_it_after_commit(factory):
    case_no = submit(factory, datetime.now(UTC))
    key = metrics.CLOCK_CLOSED.labels("first_contact", "true")._value
    before = key.get()
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        cases.close(session, case, datetime.now(UTC), "desk", "已答复")
        assert key.get() == before  # not yet: the transaction could still roll back
    assert key.get() == before + 1
    with db.session_scope(factory) as session:
        case = cases.get_case(session, case_no)
        assert all(c.stopped_at is not None for c in case.clocks)
        cases.refresh_clocks(session, case)  # a calendar correction recomputes; no second count
    assert key.get() == before + 1


def test_a_rolled_back_close_counts_nothing(factory):
    case_no = submit(factory, datetime.now(UTC))
    key = metrics.CLOCK_CLOSED.labels("centre_transfer", "true")._value
    before = key.get()
    with pytest.raises(RuntimeError), db.session_scope(factory) as session:
        cases.close(session, cases.get_case(session, case_no), datetime.now(UTC), "desk", "x")
        raise RuntimeError("the database went away")
    assert key.get() == before
    with db.session_scope(factory) as session:
        assert cases.get_case(session, case_no).status == "received"


def test_a_retried_request_returns_the_same_case_and_one_event(factory):
    first = submit(factory, datetime.now(UTC), request_id="hotline-42")
    second = submit(factory, datetime.now(UTC), request_id="hotline-42")
    assert first == second
    with db.session_scope(factory) as session:
        assert session.query(Case).count() == 1
        assert (
            session.query(OutboxMessage).filter_by(event_type="intake.case_received").count() == 1
        )


def test_publishing_the_2027_holidays_recomputes_the_provisional_deadline(
    factory, tmp_path, monkeypatch
):
    case_no = submit(factory, datetime(2026, 12, 28, 2, 0, tzinfo=UTC))
    table = yaml.safe_load(DEFAULT_HOLIDAYS_FILE.read_text(encoding="utf-8"))
    # As the State Council's notice would: New Year's Day 2027 is a Friday off.
    table["years"][2027] = {"holidays": ["2027-01-01"], "workdays": []}
    edited = tmp_path / "holidays.yaml"
    edited.write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("XIAOBAO_HOLIDAYS_FILE", str(edited))

    assert cases.recompute_open_clocks(factory) == 1
    with db.session_scope(factory) as session:
        clocks = {c.name: c for c in cases.get_case(session, case_no).clocks}
    forwarding = clocks["regulator_forwarding"]
    assert not forwarding.provisional
    assert forwarding.last_day.isoformat() == "2027-01-07"  # one day later: 1 January is off


def test_a_broken_holiday_file_keeps_the_previous_table_in_force(factory, tmp_path, monkeypatch):
    submit(factory, datetime.now(UTC))  # the good table is now in force
    broken = tmp_path / "holidays.yaml"
    broken.write_text("years:\n  2026:\n    holidays: [2026-13-45]\n", encoding="utf-8")
    monkeypatch.setenv("XIAOBAO_HOLIDAYS_FILE", str(broken))
    case_no = submit(factory, datetime(2026, 9, 28, 2, 0, tzinfo=UTC))
    with db.session_scope(factory) as session:
        clocks = {c.name: c for c in cases.get_case(session, case_no).clocks}
    # 7 working days from Monday 28 September 2026 skip the National Day week: 13 October.
    assert clocks["regulator_forwarding"].last_day.isoformat() == "2026-10-13"
