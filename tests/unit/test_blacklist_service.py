"""Blacklist as a service on SQLite: the worker's screening state, clues and their lifecycle,
dismissal weighting, known agents, masking and the append-only audit log."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from sqlalchemy import func, select, text

from services.blacklist import api, store
from services.blacklist.models import (
    AuditEntry,
    Clue,
    EvidenceWeight,
    OutboxMessage,
    ScreenedCase,
    ScreeningItem,
)
from services.blacklist.screening import KnownAgent, KnownAgents, Screener
from services.common import auth, db, migrations, pii
from services.common import settings as settings_mod
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from xiaobao.blacklist.v1 import blacklist_pb2 as pb

DAY = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
INSURERS = ["平安人寿", "中国人寿", "泰康人寿", "新华保险"]
AGENT_PHONE = "13700001111"
RING_LETTER = (
    "投诉书:本人于2019年在{inst}投保,保单号{policy}。业务员以存款名义推销保险,夸大收益、隐瞒免责条款,"
    "未进行双录,投保单非本人亲笔签名。根据退保新政,本人要求全额退保,退还全部保费{amount}元,"
    "否则将向监管部门持续投诉并提起诉讼。联系人微信 tuibao_helper88"
)


class Context:
    """What the servicer reads of a gRPC call: the caller's token."""

    def __init__(self, role: str, subject: str = "") -> None:
        node = "pingan-life" if role == "institution" else ""
        self.metadata = auth.bearer(auth.issue_token(subject or f"u-{role}", role, node))

    def invocation_metadata(self):
        return self.metadata


@pytest.fixture()
def factory(tmp_path, monkeypatch):
    cfg = settings_mod.load({"XIAOBAO_DATA_DIR": str(tmp_path)})
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()
    store.forget_lexicon()
    migrations.upgrade("blacklist", url=f"sqlite:///{tmp_path}/blacklist.db")
    yield db.session_factory("blacklist")
    db.engine_for("blacklist").dispose()
    db.engine_for.cache_clear()
    db.session_factory.cache_clear()


def payload(n: int, summary: str, inst: str = "平安人寿", **more) -> dict:
    phone = f"139{n:08d}"
    out = {
        "case_no": f"TJ2026{n:06d}",
        "kind": "complaint",
        "channel": "hotline",
        "institution_text": inst,
        "received_at": (DAY + timedelta(minutes=n)).isoformat(),
        "summary": summary,
        "complainant_name": f"王{n}明",
        "complainant_phone": phone,
        "phone_hash": pii.keyed_hash(phone),
        "id_hash": "",
        "agent_name": "",
        "agent_phone_hash": "",
        "agent_id_hash": "",
    }
    out.update(more)
    return out


def ring_payload(n: int) -> dict:
    inst = INSURERS[n % len(INSURERS)]
    return payload(
        100 + n,
        RING_LETTER.format(inst=inst, policy=f"P{n:08d}", amount=10000 + n * 37),
        inst,
        agent_name="刘代理",
        agent_phone_hash=pii.keyed_hash(AGENT_PHONE),
        proxy=True,
    )


def honest_payload(n: int) -> dict:
    return payload(
        500 + n,
        f"我在{INSURERS[n % 4]}买的重疾险第{n}年理赔被拒,理由是既往症,投保时没有问过我,"
        f"希望帮忙协调,要求全额退保。我打了{n + 2}次客服电话都没有结果。",
        INSURERS[n % 4],
    )


def screen(factory, state: store.ScreeningState, payloads) -> list:
    out = []
    for p in payloads:
        with db.session_scope(factory) as session:
            out.append(state.screen(session, p))
    return out


def outbox(factory, event_type: str) -> list[dict]:
    with db.session_scope(factory) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type == event_type))
        return [r.body["payload"] for r in rows]


def test_a_ring_is_flagged_its_cases_share_one_clue_and_honest_cases_are_spared(factory):
    state = store.ScreeningState()
    screen(factory, state, [honest_payload(i) for i in range(6)])
    screen(factory, state, [ring_payload(i) for i in range(6)])
    with db.session_scope(factory) as session:
        flagged = {r.case_no: r for r in session.scalars(select(ScreenedCase))}
        ring = [flagged[ring_payload(i)["case_no"]] for i in range(6)]
        honest = [flagged[honest_payload(i)["case_no"]] for i in range(6)]
        assert all(r.flagged for r in ring), [(r.case_no, r.score) for r in ring]
        assert not any(r.flagged for r in honest)
        clues = list(session.scalars(select(Clue)))
        assert len(clues) == 1
        assert {c.case_no for c in clues[0].cases} == {r.case_no for r in ring}
        # Nothing in clear: the letter is not stored, numbers only as keyed hashes.
        stored = session.execute(text("SELECT * FROM screened_case")).mappings().all()
        dump = repr([dict(r) for r in stored])
        assert AGENT_PHONE not in dump and "13900000100" not in dump and "投诉书" not in dump
    raised = outbox(factory, "blacklist.clue_raised")
    assert sorted(p["case_no"] for p in raised) == sorted(r.case_no for r in ring)
    assert {p["clue_id"] for p in raised} == {clues[0].clue_id}
    details = " ".join(r["detail"] for p in raised for r in p["reasons"])
    assert "agent phone shared with" in details and AGENT_PHONE not in details


def test_a_restored_state_scores_as_the_live_one_and_a_second_replica_catches_up(factory):
    live = store.ScreeningState()
    screen(factory, live, [ring_payload(i) for i in range(3)])
    other = store.ScreeningState()
    with db.session_scope(factory) as session:
        assert other.restore(session) == 3
    # The other replica screens the rest; the first one then catches up from the database.
    screen(factory, other, [ring_payload(i) for i in range(3, 5)])
    last = screen(factory, live, [ring_payload(5)])[0]
    assert last.result.flagged and last.result.ring_id
    assert any(r.signal == "contact_point" and "5 other" in r.detail for r in last.result.reasons)


def test_screening_is_idempotent_per_case(factory):
    state = store.ScreeningState()
    first = screen(factory, state, [ring_payload(0)])[0]
    again = screen(factory, state, [ring_payload(0)])[0]
    assert first is not None and again is None
    with db.session_scope(factory) as session:
        assert session.scalar(select(func.count()).select_from(ScreenedCase)) == 1


def test_clue_lifecycle_moves_one_step_at_a_time_and_refuses_the_rest(factory):
    state = store.ScreeningState()
    screen(factory, state, [ring_payload(i) for i in range(5)])
    now = datetime.now(UTC)
    with db.session_scope(factory) as session:
        clue = session.scalars(select(Clue)).one()
        with pytest.raises(FailedPrecondition):
            store.transition(session, clue, "confirmed", "inv", "", now)
        for status in ("triaged", "investigating", "confirmed", "referred_to_police", "closed"):
            store.transition(session, clue, status, "inv", "", now)
            assert clue.status == status
        with pytest.raises(FailedPrecondition):
            store.transition(session, clue, "dismissed", "inv", "too late", now)
        with pytest.raises(FailedPrecondition):
            store.assign(session, clue, "inv2", "sup", now)
        assert [n.kind for n in clue.notes].count("transition") == 5


def test_a_dismissal_lowers_the_weight_of_its_evidence_and_later_scoring_uses_it(factory):
    state = store.ScreeningState()
    screen(factory, state, [ring_payload(i) for i in range(5)])
    with db.session_scope(factory) as session:
        clue = session.scalars(select(Clue)).one()
        with pytest.raises(InvalidArgument):
            store.transition(session, clue, "dismissed", "inv", "  ", datetime.now(UTC))
        store.transition(session, clue, "dismissed", "inv", "家属代办,已核实", datetime.now(UTC))
    with db.session_scope(factory) as session:
        keys = {w.key: w.factor for w in session.scalars(select(EvidenceWeight))}
    agent_point = "point:" + pii.keyed_hash(AGENT_PHONE)[:16]
    assert keys[agent_point] == store.DISMISSAL_FACTOR
    assert "phrase:全额退保" in keys and any(k.startswith("template:") for k in keys)
    dismissed = outbox(factory, "blacklist.clue_dismissed")
    assert len(dismissed) == 1 and len(dismissed[0]["case_nos"]) == 5
    # The same evidence on a new case now scores lower than it did before the dismissal.
    fresh = store.ScreeningState()
    sixth = screen(factory, fresh, [ring_payload(5)])[0]
    undiscounted = Screener()
    for i in range(6):
        last = undiscounted.screen(store.case_input(ring_payload(i)))
    assert sixth.result.score < last.score
    assert any("lowered by dismissed clues" in r.detail for r in sixth.result.reasons)


def test_known_agents_match_exactly_on_hashes_and_fuzzily_on_names():
    known = KnownAgents(
        [
            KnownAgent(
                1, "police-2026-11", name="张德帅", phone_hash=pii.keyed_hash("13600002222")
            ),
            KnownAgent(2, "police-2026-11", name="欧阳维权工作室"),
        ]
    )
    screener = Screener()
    screener.known_agents = known
    by_phone = screener.screen(
        store.case_input(payload(1, "要求退保", agent_phone_hash=pii.keyed_hash("13600002222")))
    )
    assert by_phone.flagged
    assert any(r.signal == "known_agent" and "agent phone" in r.detail for r in by_phone.reasons)
    assert "13600002222" not in repr(by_phone.reasons)
    fuzzy = screener.screen(store.case_input(payload(2, "要求退保", agent_name="欧阳维权工作室 ")))
    assert fuzzy.flagged and any("similar to a known agent" in r.detail for r in fuzzy.reasons)
    near = screener.screen(store.case_input(payload(3, "要求退保", agent_name="欧阳维权工做室")))
    assert any(r.signal == "known_agent" for r in near.reasons)
    other = screener.screen(store.case_input(payload(4, "要求退保", agent_name="李明")))
    assert not other.flagged and not any(r.signal == "known_agent" for r in other.reasons)


def test_an_imported_list_is_used_by_the_worker_and_stored_as_hashes(factory):
    with db.session_scope(factory) as session:
        store.import_known_agents(
            session,
            [store.AgentRecord(name="张德帅", phone="136-0000-2222", id_number="")],
            "police-2026-11",
            "sup",
            datetime.now(UTC),
        )
    state = store.ScreeningState()
    hit = screen(
        factory, state, [payload(9, "要求退保", agent_phone_hash=pii.keyed_hash("13600002222"))]
    )[0]
    assert hit.result.flagged
    with db.session_scope(factory) as session:
        raw = session.execute(text("SELECT phone, name FROM known_agent")).one()
        assert "13600002222" not in raw.phone and "张德帅" not in raw.name
        with pytest.raises(InvalidArgument):
            store.import_known_agents(session, [store.AgentRecord()], "x", "sup", datetime.now(UTC))


@pytest.fixture()
def service(factory):
    state = store.ScreeningState()
    screen(factory, state, [ring_payload(i) for i in range(5)])
    screen(factory, state, [honest_payload(i) for i in range(3)])
    return api.BlacklistService()


def audit_rows(factory) -> list[AuditEntry]:
    with db.session_scope(factory) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_queries_are_masked_unless_the_clue_is_assigned_to_the_caller(factory, service):
    inv = Context("investigator", "inv-li")
    found = service.Query(pb.QueryRequest(phone="139 0000 0100"), inv).cases
    assert [c.case_no for c in found] == [ring_payload(0)["case_no"]]
    assert found[0].complainant_phone == "139****0100" and not found[0].unmasked
    assert found[0].complainant_name == "王****"
    clue_id = found[0].clue_ids[0]
    service.AssignClue(pb.AssignClueRequest(clue_id=clue_id, assignee="inv-li"), inv)
    mine = service.Query(pb.QueryRequest(phone="13900000100"), inv).cases[0]
    assert mine.unmasked and mine.complainant_phone == "13900000100"
    # A supervisor sees it masked: the clue is not theirs.
    sup = service.Query(pb.QueryRequest(name="王100明"), Context("supervisor", "sup-wang")).cases
    assert sup[0].complainant_name == "王****" and not sup[0].unmasked
    by_ring = service.Query(pb.QueryRequest(ring_id=found[0].ring_id), inv).cases
    assert len(by_ring) == 5
    hood = service.Expand(pb.ExpandRequest(case_no=ring_payload(0)["case_no"]), inv)
    assert len(hood.cases) == 5 and len(hood.complainants) == 5
    assert any(p.kind == "phone" and p.complainants == 5 for p in hood.points)


def test_every_query_writes_an_audit_row_with_personal_data_hashed(factory, service):
    inv = Context("investigator", "inv-li")
    service.Query(pb.QueryRequest(phone="13900000100"), inv)
    service.ListClues(pb.ListCluesRequest(status="new"), inv)
    rows = audit_rows(factory)
    assert [(r.subject, r.role, r.method) for r in rows] == [
        ("inv-li", "investigator", "Query"),
        ("inv-li", "investigator", "ListClues"),
    ]
    assert "13900000100" not in repr(rows[0].query) and rows[0].query["phone"] == "139****0100"
    assert rows[0].result["cases"]["ids"] == [ring_payload(0)["case_no"]]
    with pytest.raises(PermissionDenied):
        service.ReadAuditLog(pb.ReadAuditLogRequest(), inv)
    log = service.ReadAuditLog(pb.ReadAuditLogRequest(), Context("supervisor", "sup"))
    # Newest first: the investigator's refused attempt to read the log is on it too.
    assert [(e.method, e.subject) for e in log.entries] == [
        ("ReadAuditLog", "inv-li"),
        ("ListClues", "inv-li"),
        ("Query", "inv-li"),
    ]
    assert json.loads(log.entries[0].result_json) == {"refused": "PERMISSION_DENIED"}
    # Append-only in the database itself.
    engine = db.engine_for("blacklist")
    for sql in ("UPDATE audit_entry SET subject = 'x'", "DELETE FROM audit_entry"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert len(audit_rows(factory)) == 4  # and the supervisor's read


def test_a_refused_call_is_audited_as_a_refusal_and_bad_input_names_the_field(factory, service):
    inv = Context("investigator")
    with pytest.raises(InvalidArgument, match="phone"):
        service.Query(pb.QueryRequest(phone="13900000100", name="王"), inv)
    with pytest.raises(InvalidArgument, match="clue_id"):
        service.GetClue(pb.GetClueRequest(clue_id="nope"), inv)
    clue = service.ListClues(pb.ListCluesRequest(), inv).clues[0]
    with pytest.raises(FailedPrecondition):
        service.TransitionClue(pb.TransitionClueRequest(clue_id=clue.clue_id, to="closed"), inv)
    moved = service.TransitionClue(
        pb.TransitionClueRequest(clue_id=clue.clue_id, to="triaged"), inv
    )
    assert moved.status == "triaged"
    noted = service.AddClueNote(pb.AddClueNoteRequest(clue_id=clue.clue_id, text="电话核实"), inv)
    assert [n.kind for n in noted.notes] == ["transition", "note"]
    # A refusal read nothing: on record is only that it was refused, why, and the field.
    rows = audit_rows(factory)
    assert [(r.method, r.result.get("refused")) for r in rows] == [
        ("Query", "INVALID_ARGUMENT"),
        ("GetClue", "INVALID_ARGUMENT"),
        ("ListClues", None),
        ("TransitionClue", "FAILED_PRECONDITION"),
        ("TransitionClue", None),
        ("AddClueNote", None),
    ]
    assert [r.query for r in rows if "refused" in r.result] == [
        {"field": "phone"},
        {"field": "clue_id"},
        {},
    ]


@pytest.mark.parametrize("role", ["operator", "institution", "mediator", "educator"])
def test_other_roles_are_refused_every_investigation_method(factory, service, role):
    ctx = Context(role)
    calls = [
        ("Query", pb.QueryRequest(case_no="x")),
        ("Expand", pb.ExpandRequest(case_no="x")),
        ("ListClues", pb.ListCluesRequest()),
        ("GetClue", pb.GetClueRequest(clue_id="CL000001")),
        ("TransitionClue", pb.TransitionClueRequest(clue_id="CL000001", to="triaged")),
        ("AssignClue", pb.AssignClueRequest(clue_id="CL000001", assignee="x")),
        ("AddClueNote", pb.AddClueNoteRequest(clue_id="CL000001", text="x")),
        ("ImportKnownAgents", pb.ImportKnownAgentsRequest(source="x")),
        ("ReadAuditLog", pb.ReadAuditLogRequest()),
    ]
    for method, request in calls:
        with pytest.raises(PermissionDenied) as refused:
            getattr(service, method)(request, ctx)
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    # Every attempt is on record, and nothing it could have read is.
    rows = audit_rows(factory)
    assert sorted(r.method for r in rows) == sorted(m for m, _ in calls)
    assert all(r.role == role and r.result == {"refused": "PERMISSION_DENIED"} for r in rows)
    assert all(r.query == {} for r in rows)


def test_the_worker_picks_up_an_edited_lexicon_file_and_keeps_the_last_good_one(
    factory, tmp_path, monkeypatch
):
    lexicon = tmp_path / "lexicon.yaml"
    lexicon.write_text(
        'version: "t1"\ncategories:\n  x:\n    label: 测试\n    weight: 0.1\n'
        "    phrases:\n      - phrase: 快速下款\n",
        encoding="utf-8",
    )
    cfg = settings_mod.load(
        {"XIAOBAO_DATA_DIR": str(tmp_path), "XIAOBAO_BLACKLIST_LEXICON_FILE": str(lexicon)}
    )
    monkeypatch.setattr(settings_mod, "get", lambda: cfg)
    store.forget_lexicon()
    state = store.ScreeningState()
    first = screen(factory, state, [payload(1, "他们说可以快速下款")])[0]
    assert "lexicon t1" in first.result.reasons[0].detail
    lexicon.write_text(
        'version: "t2"\ncategories:\n  x:\n    label: 测试\n    weight: 0.1\n'
        "    phrases:\n      - phrase: 包过\n",
        encoding="utf-8",
    )
    os.utime(lexicon, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    store.forget_lexicon()
    second = screen(factory, state, [payload(2, "保证包过")])[0]
    assert "lexicon t2" in second.result.reasons[0].detail
    lexicon.write_text("version: [broken", encoding="utf-8")
    os.utime(lexicon, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    store.forget_lexicon()
    third = screen(factory, state, [payload(3, "保证包过")])[0]
    assert "lexicon t2" in third.result.reasons[0].detail


def test_a_known_agents_file_is_refused_with_its_line_and_csv_is_read(tmp_path):
    from services.blacklist.cli import AgentFileError, parse_agents_file

    good = tmp_path / "agents.yaml"
    good.write_text(
        "source: 公安通报\nagents:\n  - name: 张德帅\n    phone: '136-0000-2222'\n"
        "  - id_number: '12010119800101123x'\n",
        encoding="utf-8",
    )
    source, entries = parse_agents_file(good)
    assert source == "公安通报" and entries[0]["phone"] == "13600002222"
    assert entries[1]["id_number"] == "12010119800101123X"
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents:\n  - name: 张三\n  - phone: '12'\n", encoding="utf-8")
    with pytest.raises(AgentFileError, match="line 3: phone"):
        parse_agents_file(bad)
    bad.write_text("agents:\n  - name: 张三\n    nickname: 三哥\n", encoding="utf-8")
    with pytest.raises(AgentFileError, match="line 2: unknown field"):
        parse_agents_file(bad)
    bad.write_text("agents: [\n", encoding="utf-8")
    with pytest.raises(AgentFileError, match="not valid YAML"):
        parse_agents_file(bad)
    table = tmp_path / "agents.csv"
    table.write_text("name,phone,org\n张德帅,13600002222,某工作室\n李四,,\n", encoding="utf-8")
    assert [e["name"] for e in parse_agents_file(table)[1]] == ["张德帅", "李四"]
    table.write_text("name,phone\n张德帅,1360000\n", encoding="utf-8")
    with pytest.raises(AgentFileError, match="line 2: phone"):
        parse_agents_file(table)


def test_operators_still_read_the_screening_backlog_and_it_is_audited(factory, service):
    with db.session_scope(factory) as session:
        store_item = ScreeningItem(
            case_no=ring_payload(0)["case_no"],
            case_kind="complaint",
            channel="letter",
            received_at=DAY,
            institution_text="平安人寿",
            summary="",
            phone_hash="",
            status="screened",
        )
        session.add(store_item)
    backlog = service.GetScreeningBacklog(pb.GetScreeningBacklogRequest(), Context("operator"))
    assert backlog.total == 1 and backlog.pending == 0
    assert [(r.role, r.method) for r in audit_rows(factory)] == [
        ("operator", "GetScreeningBacklog")
    ]
