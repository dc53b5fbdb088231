"""Blacklist through the real processes: a planted ring submitted through intake is flagged and
gets a clue, innocent look-alikes are not; the audit log is append-only; roles are enforced."""

from __future__ import annotations

import json
import random
import uuid

import grpc
import psycopg
import pytest

from services.common import auth
from services.common.clients import stub
from tests.integration.conftest import TEST_SECRET, eventually, xiaobao
from xiaobao.blacklist.v1 import blacklist_pb2 as bpb
from xiaobao.intake.v1 import intake_pb2 as ipb

pytestmark = pytest.mark.integration

INSTITUTIONS = ["天津平安人寿", "天津中国人寿", "天津泰康人寿"]
LETTER = (
    "投诉书:本人于2019年在{inst}投保,保单号{policy}。业务员以存款名义推销保险,夸大收益、隐瞒免责条款,"
    "未进行双录,投保单非本人亲笔签名。根据退保新政,本人要求全额退保,退还全部保费{amount}元,"
    "维权不成功不收费,否则将向监管部门持续投诉并提起诉讼。"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def token(role: str, subject: str = "") -> tuple[tuple[str, str], ...]:
    node = "pingan-life" if role == "institution" else ""
    return auth.bearer(auth.issue_token(subject or f"it-{role}", role, node, secret=TEST_SECRET))


def phone() -> str:
    return f"13{random.randrange(3, 10)}{random.randrange(10**8):08d}"


def id_number() -> str:
    body = f"120101{random.randrange(1960, 2000)}0101{random.randrange(1000):03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


def submit(request: ipb.SubmitCaseRequest) -> str:
    staff = token("operator", "it-desk")
    return stub("intake").SubmitCase(request, metadata=staff, timeout=10).case.case_no


def ring_case(i: int, agent_phone: str, agent_id: str) -> ipb.SubmitCaseRequest:
    inst = INSTITUTIONS[i % len(INSTITUTIONS)]
    return ipb.SubmitCaseRequest(
        kind=ipb.CASE_KIND_COMPLAINT,
        channel=ipb.CHANNEL_LETTER,
        complainant=ipb.Complainant(name=f"王{'秀芳桂英建国'[i % 6]}", phone=phone()),
        institution_text=inst,
        product="life",
        summary=LETTER.format(inst=inst, policy=f"P{random.randrange(10**8):08d}", amount=8000 + i),
        amount_in_dispute_fen=1_000_000 + i,
        request_id=uuid.uuid4().hex,
        agent=ipb.Agent(
            name="刘维权",
            id_number=agent_id,
            phone=agent_phone,
            authorization_reference=f"WT-{i}",
            relationship="其他",
        ),
    )


def honest_case(i: int) -> ipb.SubmitCaseRequest:
    inst = INSTITUTIONS[i % len(INSTITUTIONS)]
    return ipb.SubmitCaseRequest(
        kind=ipb.CASE_KIND_COMPLAINT,
        channel=ipb.CHANNEL_HOTLINE,
        complainant=ipb.Complainant(name="李秀英", phone=phone()),
        institution_text=inst,
        product="life",
        summary=(
            f"我母亲{2015 + i}年在{inst}买了一份年金保险,业务员说随时可以取出,现在想退保只能拿回"
            f"现金价值{3000 + i * 11}元,我要求全额退保。打了{i + 2}次客服电话都没人处理,希望帮忙协调。"
        ),
        amount_in_dispute_fen=500_000,
        request_id=uuid.uuid4().hex,
    )


def query(**asked) -> list:
    return list(
        stub("blacklist")
        .Query(bpb.QueryRequest(**asked), metadata=token("investigator", "it-inv"), timeout=10)
        .cases
    )


@pytest.fixture(scope="module")
def planted(platform):
    agent_phone, agent_id = phone(), id_number()
    honest = [submit(honest_case(i)) for i in range(4)]
    ring = [submit(ring_case(i, agent_phone, agent_id)) for i in range(6)]
    return {"agent_phone": agent_phone, "ring": ring, "honest": honest}


def test_a_planted_ring_is_flagged_with_one_clue_and_innocents_are_not(planted):
    ring = planted["ring"]

    def all_flagged():
        cases = {c.case_no: c for c in query(phone=planted["agent_phone"])}
        assert set(cases) == set(ring), sorted(cases)
        assert all(c.flagged and c.clue_ids for c in cases.values()), [
            (c.case_no, c.score) for c in cases.values()
        ]
        return cases

    cases = eventually(all_flagged)
    assert len({tuple(c.clue_ids) for c in cases.values()}) == 1
    assert all(c.ring_id for c in cases.values())
    reasons = {r.signal for c in cases.values() for r in c.reasons}
    assert {"contact_point", "template", "ring", "lexicon"} <= reasons
    # Masked: the clue is not assigned to the caller.
    assert all("*" in c.complainant_phone for c in cases.values())
    for case_no in planted["honest"]:
        screened = eventually(lambda n=case_no: query(case_no=n))
        assert not screened[0].flagged, (case_no, screened[0].score, screened[0].reasons)

    clue_id = next(iter(cases.values())).clue_ids[0]
    clue = stub("blacklist").GetClue(
        bpb.GetClueRequest(clue_id=clue_id), metadata=token("investigator", "it-inv"), timeout=10
    )
    assert set(clue.case_nos) == set(ring) and clue.status == "new"

    # Intake marks the cases so staff verify directly with the consumer.
    staff = token("operator", "it-desk")

    def marked():
        got = [
            stub("intake").GetCase(ipb.GetCaseRequest(case_no=n), metadata=staff, timeout=10)
            for n in ring
        ]
        assert all(c.screening_flagged for c in got)
        return got

    eventually(marked)
    for case_no in planted["honest"]:
        got = stub("intake").GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
        assert not got.screening_flagged


def test_clue_lifecycle_assignment_unmasks_and_dismissal_clears_intake(planted):
    blacklist = stub("blacklist")
    inv = token("investigator", "it-inv-zhao")
    cases = eventually(lambda: [c for c in query(case_no=planted["ring"][0]) if c.clue_ids])
    clue_id = cases[0].clue_ids[0]
    blacklist.AssignClue(
        bpb.AssignClueRequest(clue_id=clue_id, assignee="it-inv-zhao"), metadata=inv
    )
    mine = blacklist.GetClue(bpb.GetClueRequest(clue_id=clue_id), metadata=inv)
    assert all(c.unmasked and "*" not in c.complainant_phone for c in mine.cases)
    with pytest.raises(grpc.RpcError) as refused:
        blacklist.TransitionClue(
            bpb.TransitionClueRequest(clue_id=clue_id, to="confirmed"), metadata=inv
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    blacklist.TransitionClue(bpb.TransitionClueRequest(clue_id=clue_id, to="triaged"), metadata=inv)
    blacklist.AddClueNote(
        bpb.AddClueNoteRequest(clue_id=clue_id, text="已电话回访本人"), metadata=inv
    )
    done = blacklist.TransitionClue(
        bpb.TransitionClueRequest(clue_id=clue_id, to="dismissed", reason="核实为家属代办"),
        metadata=inv,
    )
    assert done.status == "dismissed"
    staff = token("operator", "it-desk")

    def cleared():
        got = stub("intake").GetCase(
            ipb.GetCaseRequest(case_no=planted["ring"][0]), metadata=staff, timeout=10
        )
        return not got.screening_flagged

    eventually(cleared)


def test_every_query_is_audited_and_the_log_cannot_be_changed(platform, platform_env, planted):
    subject = f"it-audit-{uuid.uuid4().hex[:6]}"
    inv = token("investigator", subject)
    stub("blacklist").Query(bpb.QueryRequest(phone=planted["agent_phone"]), metadata=inv)
    stub("blacklist").Expand(bpb.ExpandRequest(case_no=planted["ring"][0]), metadata=inv)
    stub("blacklist").ListClues(bpb.ListCluesRequest(status="new"), metadata=inv)
    log = stub("blacklist").ReadAuditLog(
        bpb.ReadAuditLogRequest(subject=subject), metadata=token("supervisor", "it-sup")
    )
    assert [e.method for e in log.entries] == ["ListClues", "Expand", "Query"]
    asked = json.loads(log.entries[-1].query_json)
    assert planted["agent_phone"] not in log.entries[-1].query_json
    assert asked["phone"].startswith(planted["agent_phone"][:3]) and "phone_hash" in asked
    assert json.loads(log.entries[-1].result_json)["cases"]["count"] >= 6
    assert all(e.role == "investigator" for e in log.entries)

    url = platform_env["XIAOBAO_DATABASE_URL"]
    for sql in (
        "UPDATE blacklist.audit_entry SET subject = 'someone-else'",
        "DELETE FROM blacklist.audit_entry",
        "TRUNCATE blacklist.audit_entry",
    ):
        with pytest.raises(psycopg.Error, match="append-only"), psycopg.connect(url) as conn:
            conn.execute(sql)
    with psycopg.connect(url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM blacklist.audit_entry WHERE subject = %s", (subject,)
        ).fetchone()[0]
    assert count == 3


METHODS = [
    ("Query", bpb.QueryRequest(case_no="TJ0")),
    ("Expand", bpb.ExpandRequest(case_no="TJ0")),
    ("ListClues", bpb.ListCluesRequest()),
    ("GetClue", bpb.GetClueRequest(clue_id="CL000001")),
    ("TransitionClue", bpb.TransitionClueRequest(clue_id="CL000001", to="triaged")),
    ("AssignClue", bpb.AssignClueRequest(clue_id="CL000001", assignee="x")),
    ("AddClueNote", bpb.AddClueNoteRequest(clue_id="CL000001", text="x")),
    ("ImportKnownAgents", bpb.ImportKnownAgentsRequest(source="x")),
    ("ReadAuditLog", bpb.ReadAuditLogRequest()),
]


@pytest.mark.parametrize("role", ["operator", "institution", "mediator", "educator"])
def test_other_roles_are_refused_every_investigator_method(platform, role):
    for method, request in METHODS:
        with pytest.raises(grpc.RpcError) as refused:
            getattr(stub("blacklist"), method)(request, metadata=token(role), timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, method
    # Each refused attempt is on record for the supervisors, with nothing it could have read.
    log = stub("blacklist").ReadAuditLog(
        bpb.ReadAuditLogRequest(subject=f"it-{role}"), metadata=token("supervisor", "it-sup")
    )
    assert sorted(e.method for e in log.entries) == sorted(m for m, _ in METHODS)
    assert all(e.role == role for e in log.entries)
    assert all(json.loads(e.result_json) == {"refused": "PERMISSION_DENIED"} for e in log.entries)


def test_investigators_cli_queries_and_refuses_a_malformed_agents_file(
    platform_env, planted, tmp_path
):
    done = xiaobao(
        platform_env, "blacklist", "--user", "it-cli", "query", "--case", planted["ring"][1]
    )
    assert done.returncode == 0, done.stderr
    assert planted["ring"][1] in done.stdout
    bad = tmp_path / "agents.yaml"
    bad.write_text(
        "source: 测试通报\nagents:\n  - name: 张德帅\n    phone: '13600002222'\n  - phone: '123'\n",
        encoding="utf-8",
    )
    refused = xiaobao(platform_env, "blacklist", "import-agents", str(bad))
    assert refused.returncode == 2
    assert "line 5" in refused.stderr and "Traceback" not in refused.stderr
    good = tmp_path / "agents.csv"
    good.write_text("name,phone,org\n张德帅,13600002222,某维权工作室\n", encoding="utf-8")
    imported = xiaobao(
        platform_env, "blacklist", "import-agents", str(good), "--source", "测试通报"
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported 1 known agents" in imported.stdout
    audit = xiaobao(
        platform_env, "blacklist", "--role", "supervisor", "audit", "--subject", "it-cli"
    )
    assert audit.returncode == 0, audit.stderr
    assert "Query" in audit.stdout
