"""A realistic day of the centre, driven through the public gRPC APIs of a running platform."""

from __future__ import annotations

import random
import signal
import statistics
import sys
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.table import Table

from services.common import auth, migrations
from services.common import settings as settings_mod
from services.common.clients import stub
from services.common.clock import SHANGHAI
from services.common.console import console
from services.common.protoconv import to_timestamp
from services.platform import BrokerUnreachable, Platform, PortsInUse, check_broker, check_ports
from xiaobao.intake.v1 import intake_pb2 as ipb
from xiaobao.routing.v1 import routing_pb2 as rpb

# (what the consumer said, region, product, summary): the way people name their bank or insurer.
COMPLAINTS = [
    ("工行河西支行", "120103", "credit_card", "信用卡年费未经同意扣收，要求退还"),
    ("天津平安人寿", "120104", "life", "保险销售时夸大收益，要求退保并返还保费"),
    ("建设银行天津分行", "120101", "loans", "房贷提前还款违约金计算不清"),
    ("中国银行南开支行", "120104", "deposits", "存款被搭售理财，到期无法支取"),
    ("农行西青支行", "120111", "loans", "经营贷利率与合同约定不一致"),
    ("交通银行天津分行", "120103", "credit_card", "催收电话骚扰家人"),
    ("天津银行河北支行", "120105", "wealth_management", "理财产品风险等级与评估不符"),
    ("招商银行天津分行", "120101", "credit_card", "分期手续费未明示"),
    ("中国人寿天津", "120113", "health", "重疾险理赔被拒，理由不充分"),
    ("人保财险天津分公司", "120116", "auto", "车险定损金额过低"),
    ("平安财险天津分公司", "120110", "auto", "车险理赔拖延超过一个月"),
    ("太平洋人寿天津分公司", "120102", "life", "保单现金价值与说明不符"),
    ("工商银行天津分行", "120104", "payments", "手机银行转账失败资金未退回"),
    ("建行南开支行", "120104", "deposits", "老年客户柜台办理业务等待过久"),
    ("天津平安人寿保险", "120103", "annuity", "年金险退保手续费过高"),
    (
        "某某小贷公司",
        "120101",
        "loans",
        "网贷平台暴力催收",
    ),  # not in the directory: a person routes it
    ("太平洋人寿河北支公司", "120105", "health", "意外险伤残等级认定有争议，要求重新评定"),
]
CONSULTATIONS = [
    ("如何查询个人征信报告", "credit_report"),
    ("保险犹豫期内退保需要什么材料", "life"),
    ("银行卡被冻结应向哪里申请解冻", "deposits"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def _person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    phone = "1" + rng.choice("3456789") + "".join(str(rng.randrange(10)) for _ in range(9))
    return name, phone


def _staff() -> tuple[tuple[str, str], ...]:
    return auth.bearer(auth.issue_token("hotline-desk", "operator"))


def drive_day(cases: int, seed: int = 12378, answer_timeout: float = 60.0) -> dict:
    """Cases arrive on several channels; institutions pull, acknowledge and answer theirs."""
    run_id = uuid.uuid4().hex[:8]  # each demo day adds its own cases
    # Each day its own complainants: yesterday's people again would be repeat complaints.
    rng = random.Random(f"{seed}-{run_id}")
    intake = stub("intake")
    portal = stub("portal")
    staff = _staff()
    now = datetime.now(UTC)
    submitted: list[ipb.Case] = []
    channels = [
        "hotline",
        "hotline",
        "web",
        "mini_program",
        "letter",
        "visit",
        "transfer",
    ]
    people: dict[str, tuple[str, str]] = {}
    for i in range(cases):
        name, phone = _person(rng)
        if i % 8 == 7:
            question, product = CONSULTATIONS[i % len(CONSULTATIONS)]
            kind, channel, text, region, summary = "consultation", "hotline", "", "120101", question
        else:
            text, region, product, summary = COMPLAINTS[i % len(COMPLAINTS)]
            kind, channel = "complaint", channels[i % len(channels)]
            if i == cases - 2:
                text = "某某小贷公司"  # not in the directory: a person routes it
        received = now
        if channel == "letter":
            received = now - timedelta(
                days=rng.choice((1, 2, 3)), hours=3
            )  # the letter's receipt date
        request = ipb.SubmitCaseRequest(
            kind=getattr(ipb, f"CASE_KIND_{kind.upper()}"),
            channel=getattr(ipb, f"CHANNEL_{channel.upper()}"),
            complainant=ipb.Complainant(name=name, phone=phone, region_code=region),
            institution_text=text,
            product=product,
            summary=summary,
            amount_in_dispute_fen=rng.choice((0, 50_000, 320_000, 1_580_000)),
            received_at=to_timestamp(received),
            request_id=f"demo-{run_id}-{i}",
        )
        if channel == "transfer":
            # Received first at the regulator, which forwards it with its reference.
            request.transfer.CopyFrom(
                ipb.Transfer(
                    regulator="国家金融监督管理总局天津监管局",
                    reference=f"津金监转〔2026〕{rng.randrange(100, 999)}号",
                    received_by_regulator_at=to_timestamp(now - timedelta(days=rng.choice((2, 4)))),
                )
            )
        if i == 3:
            # A proxy case: the complainant's daughter files with an authorisation letter.
            request.agent.CopyFrom(
                ipb.Agent(
                    name="张" + rng.choice(GIVEN),
                    id_number="12010419800512003" + "1",
                    phone="1" + rng.choice("3589") + f"{rng.randrange(10**9):09d}",
                    authorization_reference=f"授权委托书-{run_id}",
                    relationship="子女",
                )
            )
        if i == 5:
            request.people_count = 26  # a group of depositors together: a major complaint
        submitted.append(intake.SubmitCase(request, metadata=staff, timeout=10).case)
        people[submitted[-1].case_no] = (name, phone)
    # A complainant calls again about the same card fee with nothing new: linked, no new clock.
    first = next(c for c in submitted if c.institution_text == COMPLAINTS[0][0])
    again = intake.SubmitCase(
        ipb.SubmitCaseRequest(
            kind=ipb.CASE_KIND_COMPLAINT,
            channel=ipb.CHANNEL_HOTLINE,
            complainant=ipb.Complainant(
                name=people[first.case_no][0], phone=people[first.case_no][1], region_code="120103"
            ),
            institution_text=COMPLAINTS[0][0],
            product=COMPLAINTS[0][2],
            summary="再次反映：信用卡年费问题仍未解决",
            request_id=f"demo-{run_id}-again",
        ),
        metadata=staff,
        timeout=10,
    )
    console.print(
        f"[green]{len(submitted) + 1} cases recorded through intake's gRPC API[/green] "
        f"(one proxy case, one major complaint of 26 people, {again.case.case_no} a repeat "
        f"linked to {again.linked_to or '-'})"
    )

    # The hotline calls most complainants back; consultations are answered at the desk.
    for case in submitted:
        if case.kind == ipb.CASE_KIND_CONSULTATION:
            intake.RecordFirstContact(
                ipb.RecordFirstContactRequest(case_no=case.case_no), metadata=staff
            )
            intake.CloseCase(
                ipb.CloseCaseRequest(case_no=case.case_no, resolution="已电话答复咨询"),
                metadata=staff,
            )
        elif rng.random() < 0.8:
            intake.RecordFirstContact(
                ipb.RecordFirstContactRequest(case_no=case.case_no, note="已回访，告知转办机构"),
                metadata=staff,
            )

    # Institutions work their portal; one insurer is slow and only acknowledges today.
    institutions = [
        "icbc-tj",
        "ccb-tj",
        "boc-tj",
        "abc-tj",
        "bocom-tj",
        "bank-of-tianjin",
        "cmb-tj",
        "pingan-life-tj",
        "china-life-tj",
        "picc-pc-tj",
        "pingan-pc-tj",
        "cpic-life-tj",
        "bohai-bank-tj",
    ]
    slow = {"cpic-life-tj"}
    # The portal's other verbs, as a day brings them: the slow insurer extends a complex case
    # and pauses one for an outside evaluation; the Bank of Tianjin returns a case that is not
    # its customer's (it belongs to Bohai Bank), which routing re-resolves from the hint.
    portal_actions: dict[str, list[str]] = {"extended": [], "paused": [], "returned": []}
    outcomes = [
        rpb.ANSWER_OUTCOME_CLOSED_WITH_EXPLANATION,
        rpb.ANSWER_OUTCOME_MONETARY_RELIEF,
        rpb.ANSWER_OUTCOME_NON_MONETARY_RELIEF,
    ]
    answered: set[str] = set()
    held_back: set[str] = set()  # acknowledged by the slow insurer, not answered today
    tokens = {
        n: auth.bearer(auth.issue_token(f"portal-{n}", "institution", n)) for n in institutions
    }
    end = time.monotonic() + answer_timeout
    routed = _wait_routed(intake, staff, [c.case_no for c in submitted], end)
    with_institution = {no for no, node in routed.items() if node}
    # One complainant settles with the bank directly and withdraws: every clock stops today.
    withdrawn = sorted(no for no, node in routed.items() if node.startswith("ccb"))[:1]
    for case_no in withdrawn:
        intake.WithdrawCase(
            ipb.WithdrawCaseRequest(case_no=case_no, reason="已与银行协商解决，申请撤回投诉"),
            metadata=staff,
        )
    portal_actions["withdrawn"] = withdrawn
    with_institution -= set(withdrawn)
    while time.monotonic() < end and not with_institution <= answered | held_back:
        for node in institutions:
            page = portal.ListAssignedCases(
                rpb.ListAssignedCasesRequest(page_size=500), metadata=tokens[node]
            )
            for a in page.assignments:
                if a.case_no in withdrawn:
                    continue  # the centre closes it at the bank as the withdrawal arrives
                if (
                    node == "bank-of-tianjin"
                    and a.status == rpb.ASSIGNMENT_STATUS_ASSIGNED
                    and not portal_actions["returned"]
                ):
                    portal.ReturnCase(
                        rpb.ReturnCaseRequest(
                            case_no=a.case_no,
                            reason="经核查，客户理财产品系在渤海银行购买，非我行客户",
                            hint="渤海银行天津分行",
                        ),
                        metadata=tokens[node],
                    )
                    portal_actions["returned"].append(a.case_no)
                    continue
                if a.status == rpb.ASSIGNMENT_STATUS_ASSIGNED:
                    portal.AcknowledgeCase(
                        rpb.CaseRequest(case_no=a.case_no), metadata=tokens[node]
                    )
                    if node in slow:
                        held_back.add(a.case_no)
                        _slow_insurer(portal, tokens[node], a.case_no, portal_actions)
                if a.status in _OPEN and node not in slow:
                    outcome = rng.choice(outcomes)
                    relief = (
                        rng.randrange(200, 5000) * 100
                        if outcome == rpb.ANSWER_OUTCOME_MONETARY_RELIEF
                        else 0
                    )
                    contact = rpb.ContactRecord(
                        method=rpb.CONTACT_METHOD_PHONE, staff_name="客服专员"
                    )
                    contact.contacted_at.GetCurrentTime()
                    portal.AnswerCase(
                        rpb.AnswerCaseRequest(
                            case_no=a.case_no,
                            outcome=outcome,
                            relief_amount_fen=relief,
                            answer="经核实，已与客户电话沟通并书面告知处理结果。",
                            contact=contact,
                        ),
                        metadata=tokens[node],
                    )
                    answered.add(a.case_no)
        time.sleep(0.3)
    return {
        "submitted": submitted,
        "answered": answered & with_institution,
        "held_back": held_back,
        "portal": portal_actions,
    }


def _slow_insurer(portal, token, case_no: str, done: dict[str, list[str]]) -> None:
    """The first case it extends (complex: the sales recording must be retrieved), the second
    it pauses while an outside firm evaluates the policy's cash value."""
    if not done["extended"]:
        portal.RequestExtension(
            rpb.RequestExtensionRequest(
                case_no=case_no, to_days=30, reason="需调取投保时的录音录像并核对多份保单，情况复杂"
            ),
            metadata=token,
        )
        done["extended"].append(case_no)
    elif not done["paused"]:
        portal.PauseClock(
            rpb.PauseClockRequest(
                case_no=case_no,
                reason=rpb.PAUSE_REASON_EVALUATION,
                note="委托第三方评估机构核定保单现金价值",
            ),
            metadata=token,
        )
        done["paused"].append(case_no)


_OPEN = (rpb.ASSIGNMENT_STATUS_ASSIGNED, rpb.ASSIGNMENT_STATUS_ACKNOWLEDGED)


def _wait_routed(intake, staff, case_nos: list[str], end: float) -> dict[str, str]:
    """Waits until routing has decided every routed case of the day: node id, or "" for a person."""
    decided: dict[str, str] = {}
    while time.monotonic() < end:
        for case_no in case_nos:
            if case_no in decided:
                continue
            case = intake.GetCase(ipb.GetCaseRequest(case_no=case_no), metadata=staff)
            if case.kind not in (ipb.CASE_KIND_COMPLAINT, ipb.CASE_KIND_PETITION):
                decided[case_no] = ""
            elif case.assigned_node_id or case.status == ipb.CASE_STATUS_NEEDS_ROUTING:
                decided[case_no] = case.assigned_node_id
        if len(decided) == len(case_nos):
            break
        time.sleep(0.3)
    return decided


def wait_closed(case_nos: list[str], answered: set[str], timeout: float = 30.0) -> list[ipb.Case]:
    """The day's cases once intake has closed every answered one (or the timeout passed)."""
    intake = stub("intake")
    staff = _staff()
    end = time.monotonic() + timeout
    while True:
        cases = [intake.GetCase(ipb.GetCaseRequest(case_no=no), metadata=staff) for no in case_nos]
        closed = {c.case_no for c in cases if c.status == ipb.CASE_STATUS_CLOSED}
        if answered <= closed or time.monotonic() > end:
            return cases
        time.sleep(0.3)


def _limit_text(limit: int, unit: str) -> str:
    """0 working_days → "same working day"; 1 → "1 working day"; 15 calendar_days → "15 days"."""
    noun = "working day" if unit == "working_days" else "day"
    if limit == 0:
        return f"same {noun}"
    return f"{limit} {noun}{'' if limit == 1 else 's'}"


def summary(cases: list[ipb.Case]) -> dict:
    status = Counter(
        ipb.CaseStatus.Name(c.status).removeprefix("CASE_STATUS_").lower() for c in cases
    )
    channels = Counter(ipb.Channel.Name(c.channel).removeprefix("CHANNEL_").lower() for c in cases)
    clocks: dict[str, dict] = {}
    for case in cases:
        for clock in case.clocks:
            row = clocks.setdefault(
                clock.name,
                {
                    "limit": _limit_text(clock.limit, clock.unit),
                    "stopped": 0,
                    "within": 0,
                    "days": [],
                    "open": 0,
                    "at_risk": 0,
                    "overdue": 0,
                    "next_last_day": "",
                },
            )
            if clock.state == "stopped":
                row["stopped"] += 1
                row["within"] += clock.within_limit
                row["days"].append(clock.elapsed_days)
            else:
                row["open"] += 1
                row[clock.state] = row.get(clock.state, 0) + 1
                if clock.last_day and (
                    not row["next_last_day"] or clock.last_day < row["next_last_day"]
                ):
                    row["next_last_day"] = clock.last_day
    return {
        "received": len(cases),
        "assigned": sum(1 for c in cases if c.assigned_node_id),
        "needs_routing": status.get("needs_routing", 0),
        "answered": sum(
            1 for c in cases if any(e.type == "routing.case_answered" for e in c.timeline)
        ),
        "closed": status.get("closed", 0),
        "open": len(cases) - status.get("closed", 0),
        "channels": dict(channels),
        "clocks": clocks,
    }


def print_summary(s: dict) -> None:
    console.rule("[bold]Xiaobao — the day at the centre")
    console.print(
        f"cases received [bold]{s['received']}[/bold] ({', '.join(f'{k} {v}' for k, v in sorted(s['channels'].items()))}); "
        f"assigned to institutions [bold]{s['assigned']}[/bold]; waiting for a person to route "
        f"[bold]{s['needs_routing']}[/bold]; answered by institutions [bold]{s['answered']}[/bold]; "
        f"closed [bold]{s['closed']}[/bold]; still open [bold]{s['open']}[/bold]"
    )
    table = Table(
        "clock",
        "limit",
        "stopped",
        "within limit",
        "median days",
        "max days",
        "running",
        "at risk",
        "overdue",
        "earliest last day",
        title="Closure times against their limits",
    )
    for name, row in sorted(s["clocks"].items()):
        days = row["days"]
        table.add_row(
            name,
            row["limit"],
            str(row["stopped"]),
            f"{row['within']}/{row['stopped']}",
            f"{statistics.median(days):.2f}" if days else "-",
            f"{max(days):.2f}" if days else "-",
            str(row["open"]),
            str(row["at_risk"]),
            str(row["overdue"]),
            row["next_last_day"] or "-",
        )
    console.print(table)


def print_portal(actions: dict[str, list[str]]) -> None:
    """What institutions did beyond answering, and the quarter's scorecard so far."""
    labels = {
        "withdrawn": "withdrawn by the complainant",
        "extended": "extended to 30 days",
        "paused": "clock paused for evaluation",
        "returned": "returned as misrouted and re-routed",
    }
    console.print(
        "institution portal: "
        + "; ".join(f"{labels[k]} {', '.join(v) or '-'}" for k, v in actions.items()),
        highlight=False,
    )
    desk = stub("desk")
    now = datetime.now(UTC) + timedelta(hours=8)  # the quarter as Asia/Shanghai counts it
    quarter = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    card = desk.GetScorecard(rpb.ScorecardRequest(quarter=quarter), metadata=_staff())
    table = Table(
        "office",
        "cases",
        "answered",
        "within limit",
        "timely",
        "extended",
        "returned",
        "list",
        title=f"Institution scorecard {card.quarter} so far (per institution, rolled up)",
    )
    for line in card.lines:
        if not line.rolled_up or line.level != 0:
            continue
        table.add_row(
            line.node_name,
            str(line.cases),
            str(line.answered),
            str(line.answered_within_limit),
            "-" if line.timely_rate < 0 else f"{line.timely_rate:.0%}",
            "-" if line.extension_rate < 0 else f"{line.extension_rate:.0%}",
            str(line.returned),
            line.list or "",
        )
    console.print(table)


def education_day() -> None:
    """The education team logs a risk-warning campaign's activities (one reported twice, by its
    co-organiser too) and reads the month's report and the hot spots."""
    from xiaobao.education.v1 import education_pb2 as epb

    edu = stub("education")
    educator = auth.bearer(auth.issue_token("education-team", "educator"))
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    code = f"{today:%Y%m}-risk"
    edu.UpsertCampaign(
        epb.Campaign(
            code=code,
            theme="risk_warning",
            title="防范代理退保风险提示",
            starts_on=today.replace(day=1).isoformat(),
            ends_on=(today + timedelta(days=30)).isoformat(),
            organiser="天津市银行业保险业消费者权益保护中心",
            co_organisers=["中国平安人寿保险股份有限公司天津分公司"],
            target_groups=["elderly", "new_citizens"],
            regions=["120103", "120104"],
        ),
        metadata=educator,
    )
    activities = [
        ("120103", "community", "on_site", "消保中心", "社区讲座：识别代理退保骗局", 86, 61, 240),
        ("120104", "campus", "on_site", "消保中心", "校园行：远离不良校园贷", 210, 0, 400),
        (
            "120103",
            "community",
            "on_site",
            "平安人寿天津分公司",
            "社区讲座：识别代理退保骗局",
            86,
            61,
            240,
        ),
    ]
    duplicates = 0
    for region, place, fmt, reporter, title, people, elderly, materials in activities:
        got = edu.RecordActivity(
            epb.RecordActivityRequest(
                activity=epb.Activity(
                    campaign_code=code,
                    held_on=today.isoformat(),
                    place_type=place,
                    region_code=region,
                    format=fmt,
                    organiser="天津市银行业保险业消费者权益保护中心",
                    title=title,
                    reported_by=reporter,
                ),
                reach=epb.Reach(
                    participants=people,
                    by_group={"elderly": elderly} if elderly else {},
                    materials=materials,
                    reported_on=today.isoformat(),
                ),
            ),
            metadata=educator,
        )
        duplicates += got.duplicate
    report = edu.GetReport(
        epb.ReportRequest(**{"from": today.isoformat()}, to=today.isoformat(), by=["region"]),
        metadata=educator,
    )
    t = report.totals
    console.print(
        f"education today: {t.activities} activities ({duplicates} reported twice, counted once), "
        f"{t.participants} people reached, {t.materials} materials; by region: "
        + ", ".join(f"{r.keys['region']} {r.participants}" for r in report.rows),
        highlight=False,
    )
    spots = edu.GetHotspots(
        epb.HotspotsRequest(
            **{"from": (today - timedelta(days=6)).isoformat()}, to=today.isoformat()
        ),
        metadata=educator,
    )
    for spot in spots.hotspots[:3]:
        console.print(f"  hot spot: {spot.suggestion}", highlight=False)


AGENT_LETTER = (
    "投诉书：本人于{year}年在{inst}投保，保单号{policy}。业务员以存款名义推销保险，夸大收益、隐瞒免责条款，"
    "未进行双录，投保单非本人亲笔签名。根据退保新政，本人要求全额退保，退还全部保费{amount}元，"
    "维权不成功不收费，否则将向监管部门持续投诉并提起诉讼。"
)


def screening_day(run_id: str, timeout: float = 60.0) -> bool:
    """An agent (代理退保) files template letters for five policyholders against three insurers,
    with his own phone on every one; three honest policyholders complain about the same product.
    Screening flags the agent's five, not the three, and the investigators get one clue."""
    from xiaobao.blacklist.v1 import blacklist_pb2 as bpb

    rng = random.Random(f"screening-{run_id}")
    intake, staff = stub("intake"), _staff()
    investigator = auth.bearer(auth.issue_token("investigator-wang", "investigator"))
    insurers = ["天津平安人寿", "天津中国人寿", "天津泰康人寿"]
    agent_phone = "1" + rng.choice("3589") + f"{rng.randrange(10**9):09d}"

    def person() -> ipb.Complainant:
        name, phone = _person(rng)
        return ipb.Complainant(name=name, phone=phone, region_code="120103")

    ring, honest = [], []
    for i in range(5):
        inst = insurers[i % 3]
        letter = AGENT_LETTER.format(
            year=2016 + i, inst=inst, policy=f"P{rng.randrange(10**8):08d}", amount=8_000 + 37 * i
        )
        ring.append(
            intake.SubmitCase(
                ipb.SubmitCaseRequest(
                    kind=ipb.CASE_KIND_COMPLAINT,
                    channel=ipb.CHANNEL_LETTER,
                    complainant=person(),
                    institution_text=inst,
                    product="life",
                    summary=letter,
                    amount_in_dispute_fen=800_000 + 3_700 * i,
                    request_id=f"demo-{run_id}-agent-{i}",
                    agent=ipb.Agent(
                        name="刘维权",
                        id_number="120102197603185516",
                        phone=agent_phone,
                        authorization_reference=f"委托书-{run_id}-{i}",
                        relationship="其他",
                    ),
                ),
                metadata=staff,
                timeout=10,
            ).case.case_no
        )
    for i in range(3):
        inst = insurers[i]
        honest.append(
            intake.SubmitCase(
                ipb.SubmitCaseRequest(
                    kind=ipb.CASE_KIND_COMPLAINT,
                    channel=ipb.CHANNEL_HOTLINE,
                    complainant=person(),
                    institution_text=inst,
                    product="life",
                    summary=f"我母亲{2015 + i}年在{inst}买了年金保险，业务员说随时可以取出，现在退保只能"
                    f"拿回现金价值{3_000 + 11 * i}元，打了{i + 2}次客服电话没人处理，希望帮忙协调。",
                    amount_in_dispute_fen=500_000,
                    request_id=f"demo-{run_id}-honest-{i}",
                ),
                metadata=staff,
                timeout=10,
            ).case.case_no
        )
    end = time.monotonic() + timeout

    def flags() -> dict[str, bool]:
        return {
            n: intake.GetCase(ipb.GetCaseRequest(case_no=n), metadata=staff).screening_flagged
            for n in ring + honest
        }

    seen = flags()
    while time.monotonic() < end and not all(seen[n] for n in ring):
        time.sleep(0.3)
        seen = flags()
    flagged_ring = sum(seen[n] for n in ring)
    flagged_honest = sum(seen[n] for n in honest)
    screened = stub("blacklist").Query(
        bpb.QueryRequest(case_no=ring[-1]), metadata=investigator, timeout=10
    )
    reasons = [r.detail for c in screened.cases for r in c.reasons][:3]
    clue_ids = {c for c in screened.cases for c in c.clue_ids}
    console.print(
        f"screening: {flagged_ring} of {len(ring)} agent-filed letters flagged for staff to verify "
        f"with the consumer, {flagged_honest} of {len(honest)} honest look-alikes; "
        f"clue {', '.join(sorted(clue_ids)) or '-'} for the investigators",
        highlight=False,
    )
    for reason in reasons:
        console.print(f"  {reason}", highlight=False)
    return flagged_ring == len(ring) and flagged_honest == 0


def mediation_day(run_id: str, timeout: float = 60.0) -> bool:
    """A complainant disputes how Ping An Life handles her surrender and asks for mediation: both
    parties consent (the institution's clock pauses, Art 23), the desk plans an online session,
    both are present so the mediator holds it at once (当场调解), and the agreement closes the case.
    """
    from services.mediation import domain as mediation_domain
    from xiaobao.mediation.v1 import mediation_pb2 as mpb

    intake, mediation, staff = stub("intake"), stub("mediation"), _staff()
    desk = auth.bearer(auth.issue_token("mediation-desk", "operator"))
    mediator = auth.bearer(auth.issue_token("mediator-li", "mediator"))
    roster = Path(mediation_domain.__file__).parent / "data" / "demo_roster.yaml"
    mediation.ImportRoster(
        mpb.ImportRosterRequest(yaml=roster.read_text(encoding="utf-8")), metadata=desk, timeout=10
    )
    case = intake.SubmitCase(
        ipb.SubmitCaseRequest(
            kind=ipb.CASE_KIND_COMPLAINT,
            channel=ipb.CHANNEL_HOTLINE,
            complainant=ipb.Complainant(name="周淑兰", phone="13920265178", region_code="120104"),
            institution_text="天津平安人寿",
            product="life",
            summary="退保时被告知只能退现金价值，销售时未说明，要求全额退还保费",
            amount_in_dispute_fen=2_360_000,
            request_id=f"demo-{run_id}-mediation",
        ),
        metadata=staff,
        timeout=10,
    ).case
    end = time.monotonic() + timeout

    def until(check):
        while time.monotonic() < end:
            got = check()
            if got:
                return got
            time.sleep(0.3)
        raise TimeoutError("the mediation of the demo day did not finish in time")

    def current() -> ipb.Case:
        return intake.GetCase(ipb.GetCaseRequest(case_no=case.case_no), metadata=staff)

    until(lambda: current().status == ipb.CASE_STATUS_ASSIGNED)
    intake.RequestMediation(
        ipb.RequestMediationRequest(
            case_no=case.case_no,
            reason="对退保金额有异议，申请调解",
            preferred_form=ipb.MEDIATION_FORM_ONLINE,
        ),
        metadata=staff,
        timeout=10,
    )

    def request() -> mpb.MediationRequest | None:
        page = mediation.ListRequests(mpb.ListRequestsRequest(case_no=case.case_no), metadata=desk)
        return page.requests[0] if page.requests else None

    req = until(request)
    for party, by in (("consumer", "周淑兰"), ("institution", "平安人寿天津分公司客服部")):
        mediation.RecordConsent(
            mpb.RecordConsentRequest(request_id=req.id, party=party, consented=True, by=by),
            metadata=desk,
        )
    until(lambda: current().status == ipb.CASE_STATUS_IN_MEDIATION)
    plan = mediation.PlanSessions(
        mpb.PlanSessionsRequest(confirm=True, request_ids=[req.id], time_limit_seconds=5),
        metadata=desk,
        timeout=60,
    )
    if not plan.sessions:
        console.print(f"mediation: not planned ({plan.unscheduled[0].reason})", highlight=False)
        return False
    planned = plan.sessions[0]
    mediation.HoldSession(
        mpb.ChangeSessionRequest(session_id=planned.id, bring_forward=True), metadata=mediator
    )
    mediation.RecordOutcome(
        mpb.RecordOutcomeRequest(
            session_id=planned.id,
            outcome="agreement",
            amount_fen=1_800_000,
            terms="平安人寿退还保费人民币壹万捌仟元，双方再无争议",
        ),
        metadata=mediator,
    )
    final = until(lambda: (c := current()).status == ipb.CASE_STATUS_CLOSED and c)
    paused = next(e.detail for e in final.timeline if e.type == "mediation.started")
    console.print(
        f"mediation: {final.case_no} — {paused}; session planned "
        f"{planned.start.ToDatetime(tzinfo=UTC).astimezone(SHANGHAI):%m-%d %H:%M} with "
        f"{planned.mediator_id} ({planned.form}), held at once; agreement ¥18,000 closed the case",
        highlight=False,
    )
    return True


def scrape(url: str, prefix: str) -> dict[str, float]:
    """The samples of one metric family from a /metrics endpoint."""
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 - our own endpoint
            text = resp.read().decode()
    except OSError:
        return {}
    samples = {}
    for line in text.splitlines():
        if line.startswith(prefix + "{"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def run(once: bool, cases: int) -> int:
    cfg = settings_mod.get()
    try:
        check_broker(cfg.amqp_uri)
        check_ports(cfg, settings_mod.SERVICES, patience=10.0)
    except (BrokerUnreachable, PortsInUse) as exc:
        print(exc, file=sys.stderr)  # one line, never wrapped
        return 1
    for service in settings_mod.SERVICES:
        migrations.upgrade(service)
    from services.common import db
    from services.routing import store

    with db.session_scope(db.session_factory("routing")) as session:
        report = store.import_directory(
            session, store.read_directory_file(store.DEMO_DIRECTORY), source="demo"
        )
    console.print(
        f"demo directory loaded: {len(report.added)} added, {len(report.changed)} changed, "
        f"{report.unchanged} unchanged"
    )
    platform = Platform(log_dir=cfg.data_dir / "logs")

    def _interrupt(_signum, _frame):
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        console.print("starting 10 processes (a worker and an api per service)…")
        platform.start()
        day = drive_day(cases)
        final = wait_closed([c.case_no for c in day["submitted"]], day["answered"])
        s = summary(final)
        print_summary(s)
        print_portal(day["portal"])
        education_day()
        mediated = mediation_day(uuid.uuid4().hex[:8])
        screened = screening_day(uuid.uuid4().hex[:8])
        _service, _address, api_metrics, worker_metrics = platform.endpoints()[0]
        totals: dict[str, float] = {}
        for url in (api_metrics, worker_metrics):  # clocks stop in both intake processes
            for key, value in scrape(url, "xiaobao_clock_closed_total").items():
                totals[key] = totals.get(key, 0.0) + value
        if totals:
            console.print("SLI counters, intake api + worker /metrics:")
            for key, value in sorted(totals.items()):
                if value:  # every clock's series exists from the start, at zero
                    console.print(f"  {key} {value:g}", highlight=False)
        closed = {c.case_no for c in final if c.status == ipb.CASE_STATUS_CLOSED}
        ok = bool(day["answered"]) and day["answered"] <= closed and mediated and screened
        if once:
            return 0 if ok else 1
        table = Table(
            "service",
            "gRPC api",
            "api /metrics",
            "worker /metrics",
            title="The platform is running",
        )
        for row in platform.endpoints():
            table.add_row(*row)
        console.print(table)
        console.print(
            f"the consumer's page: {platform.consumer_url(platform.settings())}", highlight=False
        )
        console.print(
            f"logs in {platform.log_dir}; try `xiaobao intake list`. Ctrl-C stops everything."
        )
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("\nstopping…")
        return 0
    except Exception as exc:
        console.print(f"[red]demo failed: {type(exc).__name__}: {exc}[/red]", highlight=False)
        return 1
    finally:
        # A second Ctrl-C must not leave half the processes running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        platform.stop()
        console.print("all processes stopped")
