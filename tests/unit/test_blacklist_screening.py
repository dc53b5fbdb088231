"""Blacklist screening: each signal, rings with their evidence, and the look-alikes it must spare."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from bench.screening_data import generate
from services.blacklist.batch import app
from services.blacklist.screening import (
    FLAG_THRESHOLD,
    CaseInput,
    Party,
    Screener,
    extract_points,
    load_lexicon,
    parse_lexicon,
)

KEY = "test pii key"
DAY = datetime(2026, 5, 6, 9, 0)
LETTER = (
    "投诉书:本人于2019年在{inst}投保,保单号{policy}。业务员以存款名义推销保险,夸大收益、隐瞒免责条款,"
    "未进行双录,投保单非本人亲笔签名。犹豫期和现金价值均未告知,本人现要求{inst}依法处理,"
    "并退还已交的全部费用{amount}元,否则将向监管部门持续投诉并提起诉讼。"
)


def _case(
    n: int, text: str, inst: str = "平安人寿", agent: Party | None = None, **who
) -> CaseInput:
    person = {
        "name": f"投诉人{n}",
        "phone": f"139{n:08d}",
        "id_number": f"12010119600101{n:04d}",
        "address": f"天津市河西区友谊路{n}号",
    }
    person.update(who)
    return CaseInput(
        case_no=f"BX{n:06d}",
        received_at=DAY + timedelta(days=n % 20, minutes=n),
        institution=inst,
        text=text,
        complainant=Party(**person),
        agent=agent,
    )


def _honest(n: int) -> str:
    return f"我在招商银行的信用卡第{n}期账单多收了{n * 7}元年费,联系客服{n}次没有结果。"


def _reasons(result) -> dict[str, str]:
    """The first (strongest) reason of each signal."""
    out: dict[str, str] = {}
    for r in result.reasons:
        out.setdefault(r.signal, r.detail)
    return out


def test_lexicon_finds_slogans_and_their_variant_spellings():
    lexicon = load_lexicon()
    found = lexicon.find("根据退葆新政,我要求全 额 退 保,并且停息挂账")
    assert set(found) == {"退保新政", "全额退保", "停息挂账"}
    assert found["退保新政"][1] == "退葆新政"

    result = Screener(pii_key=KEY).screen(_case(1, "根据退葆新政,本人要求全额退保。"))
    assert "退葆新政 (= 退保新政, 代理退保)" in _reasons(result)["lexicon"]
    assert not result.flagged  # wording alone never flags: honest people ask for a refund too


def test_an_edited_lexicon_is_picked_up_without_a_release(tmp_path):
    path = tmp_path / "lexicon.yaml"
    path.write_text(
        'version: "1"\ncategories:\n  credit_repair:\n    weight: 0.1\n'
        "    phrases:\n      - phrase: 修复征信\n",
        encoding="utf-8",
    )
    assert load_lexicon(path).version == "1"
    text = path.read_text(encoding="utf-8").replace('"1"', '"2"') + "        variants: [征信洗白]\n"
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))
    lexicon = load_lexicon(path)
    assert lexicon.version == "2" and "修复征信" in lexicon.find("可以帮你征信洗白")


def test_lexicon_is_versioned_and_refuses_a_broken_file():
    assert load_lexicon().version
    with pytest.raises(ValueError):
        parse_lexicon({"categories": {}})


def test_contact_points_come_from_fields_and_free_text_normalised():
    case = _case(
        1,
        "请联系代理人 +86 138-1234-5678,微信 tbKefu888,QQ号:12345678,收款账号 6222 0212 3456 7890",
        phone="139 0000 0001",
    )
    points = {(kind, value) for kind, value, _ in extract_points(case)}
    assert {
        ("phone", "13900000001"),
        ("phone", "13812345678"),
        ("wechat", "tbkefu888"),
        ("qq", "12345678"),
        ("account", "6222021234567890"),
    } <= points


def test_agent_phone_shared_across_complainants_and_insurers_is_a_signal():
    screener = Screener(pii_key=KEY)
    agent = Party(name="李四", phone="13712345678", org="维权服务部")
    insurers = ["平安人寿", "中国人寿", "新华保险"]
    results = list(
        screener.screen_all(
            _case(n, _honest(n), inst=insurers[n % 3], agent=agent) for n in range(1, 6)
        )
    )
    detail = _reasons(results[0])["contact_point"]
    assert detail == "agent phone shared with 4 other complainants across 3 institutions"
    assert all(r.flagged for r in results)


def test_near_duplicate_letters_of_different_complainants_are_a_template():
    screener = Screener(pii_key=KEY)
    cases = [
        _case(n, LETTER.format(inst=inst, policy=f"88{n:010d}", amount=1000 + n), inst=inst)
        for n, inst in enumerate(["平安人寿", "中国人寿", "太平人寿", "泰康人寿"], start=1)
    ]
    results = list(screener.screen_all(cases))
    detail = _reasons(results[1])["template"]
    assert (
        detail.startswith("letter ")
        and "% similar to the letters of 3 other complainants" in detail
    )
    assert detail.endswith("across 4 institutions")
    # A template without any shared contact point is a look-alike, not a ring.
    assert all(r.ring_id is None and not r.flagged for r in results)


def test_a_ring_has_an_id_its_members_and_the_evidence_linking_them():
    screener = Screener(pii_key=KEY)
    agent = Party(name="王五", phone="13612345678", org="法律咨询中心")
    insurers = ["平安人寿", "中国人寿", "太平人寿"]
    cases = [
        _case(
            n,
            "依据退保新政要求全额退保。" + LETTER.format(inst=insurers[n % 3], policy=n, amount=n),
            inst=insurers[n % 3],
            agent=agent if n % 2 else None,
            # The other half give the agent's phone as their own.
            **({} if n % 2 else {"phone": "13612345678"}),
        )
        for n in range(1, 9)
    ]
    results = list(screener.screen_all(cases))
    assert all(r.flagged and r.score >= FLAG_THRESHOLD for r in results)
    assert len({r.ring_id for r in results}) == 1 and results[0].ring_id.startswith("R-")
    ring = _reasons(results[0])["ring"]
    assert "8 complainants linked by" in ring and "across 3 institutions" in ring
    assert "1 letter template" in ring


def test_incremental_screening_flags_a_ring_once_it_shows():
    screener = Screener(pii_key=KEY)
    agent = Party(name="王五", phone="13612345678")
    results = [screener.screen(_case(n, _honest(n), agent=agent)) for n in range(1, 6)]
    assert not results[0].flagged
    assert results[-1].flagged and results[-1].ring_id


def test_a_mass_incident_is_shown_as_an_incident_and_flags_nobody():
    screener = Screener(pii_key=KEY)
    outage = datetime(2026, 5, 6, 10, 0)
    quiet = [_case(n, _honest(n), inst="工商银行") for n in range(1, 40)]
    burst = [
        CaseInput(
            case_no=f"OUT{n}",
            received_at=outage + timedelta(seconds=n * 30),
            institution="工商银行",
            text="工商银行手机银行APP登录不上,转账失败。"
            if n % 2
            else "工商银行APP一直闪退,没法转账。",
            complainant=Party(name=f"客户{n}", phone=f"158{n:08d}", id_number=f"1201011970{n:08d}"),
        )
        for n in range(300)
    ]
    results = list(screener.screen_all(quiet + burst))
    assert not any(r.flagged for r in results)
    [incident] = screener.incidents()
    assert incident.institution == "工商银行" and incident.complaints >= 300
    detail = _reasons(results[-1])["incident"]
    assert "against 工商银行 on 2026-05-06" in detail and detail.endswith("an incident, not a ring")


def test_care_home_residents_complaining_separately_are_not_flagged():
    screener = Screener(pii_key=KEY)
    home = "天津市南开区幸福里养老院"
    cases = [
        _case(
            n,
            f"我今年{80 + n}岁,住在养老院,业务员来推销保险说是存款,我要求退还{n}千元。",
            address=home,
        )
        for n in range(1, 11)
    ]
    results = list(screener.screen_all(cases))
    assert not any(r.flagged or r.ring_id for r in results)
    assert _reasons(results[0])["address"].startswith("address shared with 9 other complainants")


def test_generated_set_is_screened_with_precision_and_recall_above_09():
    cases, truth = generate(3000)
    screener = Screener(pii_key=KEY)
    results = list(screener.screen_all(CaseInput.from_dict(c) for c in cases))
    tp = sum(r.flagged and truth[r.case_no] for r in results)
    flagged = sum(r.flagged for r in results)
    planted = sum(truth.values())
    assert tp / flagged >= 0.9 and tp / planted >= 0.9


def test_batch_skips_a_malformed_line_with_its_number(tmp_path):
    cases, _ = generate(400)
    lines = [json.dumps(c, ensure_ascii=False) for c in cases[:20]]
    lines.insert(3, json.dumps({"case_no": "BX-nodate", "institution": "x"}))  # line 4
    lines.insert(16, '{"case_no": "BX-broken", "text": ')  # line 17
    source, target = tmp_path / "cases.jsonl", tmp_path / "results.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = CliRunner().invoke(app, ["screen-batch", "--input", str(source), "--output", str(target)])

    assert run.exit_code == 0, run.output
    assert (
        "line 17: skipped: not JSON" in run.stderr
        and "line 4: skipped: missing received_at" in run.stderr
    )
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 20
    assert set(rows[0]) == {"case_no", "score", "flagged", "ring_id", "reasons"}
