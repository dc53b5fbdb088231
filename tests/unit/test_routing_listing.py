"""The portal's listings come from caches; these tests prove a cached page never shows a case
other than as it is now: after a change, after the clock crosses a mark, during a pause."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.common import auth, db, migrations
from services.common import settings as settings_mod
from services.routing import api, store
from services.routing.models import Assignment
from xiaobao.routing.v1 import routing_pb2 as pb

SH = ZoneInfo("Asia/Shanghai")


class Context:
    """What the servicer reads of a gRPC call: the caller's token."""

    def __init__(self, node_id: str) -> None:
        self.metadata = auth.bearer(auth.issue_token("bank", "institution", node_id))

    def invocation_metadata(self):
        return self.metadata


@pytest.fixture()
def portal(tmp_path, monkeypatch):
    cfg = settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path)})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    store.DIRECTORY.clear()
    api.LISTINGS._entries.clear()
    api.PAGES._entries.clear()
    migrations.upgrade("routing")
    factory = db.session_factory("routing")
    with db.session_scope(factory) as session:
        store.import_directory(session, store.read_directory_file(store.DEMO_DIRECTORY))
    now = datetime.now(UTC)
    for i in range(3):
        with db.session_scope(factory) as session:
            store.assign_case(
                session,
                {
                    "case_no": f"XB2026112100000{i}",
                    "kind": "complaint",
                    "institution_text": "工行河西支行",
                    "region_code": "120103",
                    "complainant_name": "王秀英",
                    "complainant_phone": "13912345678",
                    "received_at": now.isoformat(),
                },
                now,
            )
    yield api.InstitutionPortal(), factory
    store.DIRECTORY.clear()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()


def listed(portal) -> dict[str, pb.Assignment]:
    page = portal.ListAssignedCases(pb.ListAssignedCasesRequest(), Context("icbc-tj"))
    return {a.case_no: a for a in page.assignments}


def test_a_change_to_a_case_shows_in_the_next_listing_though_the_page_was_cached(portal):
    servicer, factory = portal
    before = listed(servicer)
    assert listed(servicer) == before  # the second call is served from the page cache
    assert api.PAGES._entries
    with db.session_scope(factory) as session:
        a = session.scalar(select(Assignment).where(Assignment.case_no == "XB20261121000001"))
        store.acknowledge(session, a, "bank", datetime.now(UTC))
    after = listed(servicer)
    assert after["XB20261121000001"].status == pb.ASSIGNMENT_STATUS_ACKNOWLEDGED
    assert after["XB20261121000000"] == before["XB20261121000000"]


def test_listings_mask_the_complainant_even_from_the_cache(portal):
    servicer, _ = portal
    listed(servicer)
    row = listed(servicer)["XB20261121000000"]
    assert (row.complainant_name, row.complainant_phone) == ("王**", "139****5678")


def _blobs(factory, now):
    with db.session_scope(factory) as session:
        rows = session.execute(select(*api._KEY_COLUMNS).order_by(Assignment.id)).all()
        return api.listing_blobs(session, rows, store.current_directory(session), now)


def test_a_cached_listing_expires_when_the_clock_reaches_its_at_risk_mark(portal):
    _, factory = portal
    now = datetime.now(UTC)
    blobs, until = _blobs(factory, now)
    first = pb.Assignment.FromString(blobs[0])
    assert first.clock.state == pb.CLOCK_STATE_OK
    # The last fifth of the time is at risk; the cache must not outlive that mark.
    deadline = first.clock.deadline.ToDatetime(tzinfo=UTC)
    started = first.clock.started_at.ToDatetime(tzinfo=UTC)
    assert until == deadline - (deadline - started) * 0.2
    later = until + timedelta(minutes=1)
    blobs, until_later = _blobs(factory, later)
    assert pb.Assignment.FromString(blobs[0]).clock.state == pb.CLOCK_STATE_AT_RISK
    assert until_later == deadline
    blobs, none = _blobs(factory, deadline + timedelta(minutes=1))
    assert pb.Assignment.FromString(blobs[0]).clock.state == pb.CLOCK_STATE_OVERDUE
    assert none is None  # overdue stays overdue


def test_a_paused_clock_is_listed_afresh_each_day(portal):
    _, factory = portal
    now = datetime.now(UTC)
    with db.session_scope(factory) as session:
        a = session.scalar(select(Assignment).where(Assignment.case_no == "XB20261121000002"))
        store.pause_clock(session, a, "appraisal", "笔迹鉴定", "bank", now)
    blobs, until = _blobs(factory, now)
    local = now.astimezone(SH)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), SH)
    assert until is not None and until <= midnight
    tomorrow = midnight + timedelta(hours=1)
    first = pb.Assignment.FromString(blobs[2])
    later = pb.Assignment.FromString(_blobs(factory, tomorrow)[0][2])
    assert first.clock.paused and later.clock.paused
    assert later.clock.last_day > first.clock.last_day  # the pause moved the deadline


def test_a_renamed_office_shows_under_its_new_name_after_an_import(portal):
    servicer, factory = portal
    assert listed(servicer)["XB20261121000000"].node_name.endswith("河西支行")
    with db.session_scope(factory) as session:
        nodes = [
            replace(n, name="中国工商银行股份有限公司天津河西区支行")
            if n.id == "icbc-tj-hexi"
            else n
            for n in store.directory(session)
        ]
        assert store.import_directory(session, nodes).changed == ("icbc-tj-hexi",)
    store.DIRECTORY.clear()  # as the api's directory check does within seconds
    assert (
        listed(servicer)["XB20261121000000"].node_name == "中国工商银行股份有限公司天津河西区支行"
    )


def test_a_stale_stored_deadline_is_rederived_and_streamed_again(portal):
    # After a holiday-table or policy edit the worker re-derives every open deadline; a case
    # whose deadline moved takes a new place in the feed, so streams and caches see it.
    _, factory = portal
    with db.session_scope(factory) as session:
        a = session.scalar(select(Assignment).where(Assignment.case_no == "XB20261121000000"))
        right, seq = a.deadline, a.feed_seq
        a.deadline = right - timedelta(days=5)  # as if computed under an older holiday table
    with db.session_scope(factory) as session:
        assert store.recompute_open(session, datetime.now(UTC)) == 1
        assert store.recompute_open(session, datetime.now(UTC)) == 0
    with db.session_scope(factory) as session:
        a = session.scalar(select(Assignment).where(Assignment.case_no == "XB20261121000000"))
        assert a.deadline == right and a.feed_seq > seq


def test_stale_deadlines_are_rederived_a_batch_at_a_time(portal):
    # The worker re-derives open deadlines in batches (a large centre's open cases do not fit in
    # its memory at once): with batches of one, every stale one is still found, and only once.
    _, factory = portal
    with db.session_scope(factory) as session:
        stale = session.scalars(select(Assignment).order_by(Assignment.id)).all()
        assert len(stale) >= 3
        right = {a.case_no: a.deadline for a in stale if a.deadline is not None}
        for a in stale:
            if a.deadline is not None:
                a.deadline -= timedelta(days=3)
    with db.session_scope(factory) as session:
        assert store.recompute_open(session, datetime.now(UTC), batch_size=1) == len(right)
        assert store.recompute_open(session, datetime.now(UTC), batch_size=1) == 0
    with db.session_scope(factory) as session:
        now_stored = {a.case_no: a.deadline for a in session.scalars(select(Assignment))}
        assert {k: now_stored[k] for k in right} == right
