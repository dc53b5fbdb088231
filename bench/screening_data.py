"""Synthetic cases for blacklist screening, with ground truth: planted rings among look-alikes.

Seeded, so a figure can be reproduced. What is in a set of `n` cases:

- honest complaints about the same products at the same institutions, varied texts, own phones
  and ID numbers; some ask for a full surrender (全额退保) in their own words, some couples share
  a phone, some complainants write twice;
- a mass incident: 300 short, similar complaints against one bank on one day, no agents;
- a care home: 10 elderly complainants at one address, honest texts, separate complaints;
- rings: agents filing for many complainants across several insurers, with a few agent phones
  and WeChat ids (in the agent field, put in place of the complainant's phone, or written in the
  letter) and one or two template letters with small edits (names, numbers, dates, a sentence).

`generate(n)` returns (case dicts in the batch input format, {case_no: is ring member}).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BANKS = ["工商银行", "建设银行", "招商银行", "交通银行", "平安银行", "浦发银行", "中信银行"]
INSURERS = ["平安人寿", "中国人寿", "太平洋人寿", "新华保险", "泰康人寿", "太平人寿", "友邦人寿"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍建国建华志强淑珍"
DISTRICTS = ["和平区", "河西区", "南开区", "河北区", "红桥区", "东丽区", "西青区", "津南区"]
STREETS = ["解放路", "南京路", "卫津路", "黄河道", "友谊路", "中山路", "红旗路", "复康路"]
START = datetime(2026, 3, 1, 8, 0)
DAYS = 90

BANK_OPENINGS = [
    "我在{inst}办理了一张信用卡,",
    "本人于{year}年在{inst}网点购买了一款理财产品,",
    "我的房贷在{inst},",
    "{month}月{day}日我去{inst}柜台办理转账,",
    "去年我在{inst}申请了一笔消费贷,",
]
BANK_ISSUES = [
    "近期被收取了{amount}元年费,事先没有任何告知。",
    "客户经理当时说是保本的,现在亏损了{amount}元。",
    "提前还款时被要求支付{amount}元违约金,合同里没有写清楚。",
    "柜员操作失误导致钱款迟迟未到账,已经等了{days}天。",
    "账户被莫名冻结,打客服电话一直没人处理。",
    "分期手续费实际年化远高于宣传的利率,差额约{amount}元。",
]
INSURER_OPENINGS = [
    "我于{year}年在{inst}投保了一份重疾险,",
    "{year}年业务员上门推销{inst}的分红险,",
    "我母亲在{inst}买了一份年金保险,",
    "我在{inst}有一份医疗险,",
    "{month}月我在{inst}的APP上买了意外险,",
]
INSURER_ISSUES = [
    "住院花了{amount}元,理赔申请提交{days}天了还没有结果。",
    "当时业务员承诺收益率很高,实际分红只有{amount}元。",
    "理赔被拒,理由是既往症,但投保时并没有问过我。",
    "我想退保,可是只能拿回现金价值{amount}元,损失太大。",
    "续期保费被自动扣款{amount}元,我并没有同意续保。",
    "业务员已经离职,保单服务没人跟进,电话也打不通。",
]
HONEST_ASKS = [
    "希望贵中心帮忙协调处理。",
    "请求退还相关费用。",
    "要求对方给个合理解释。",
    "希望尽快解决,谢谢。",
    "我要求全额退保,退还已交的保费。",
    "请帮我维护合法权益。",
    "家里老人看不懂合同,希望能妥善处理。",
]
HONEST_DETAILS = [
    "我多次联系客服,对方只说会反馈,一直没有下文。",
    "网点经理态度也不好,说这是总行的规定。",
    "相关的聊天记录和录音我都保存着,可以提供。",
    "我年纪大了,来回跑了好几趟,实在没有办法。",
    "当时签字很匆忙,很多条款没有解释。",
    "{month}月{day}日{hour}点左右我打了客服电话,工号{staff}的客服说三个工作日内回复,到现在也没人联系我。",
    "我孩子在外地上学,每个月都要用钱,这笔钱对我们家很重要。",
    "同一个网点的{staff}号柜员前后说法不一致。",
    "我在网上查了一下,好像不少人都遇到类似的问题。",
    "后来我又去了{street}的网点,工作人员让我等通知。",
    "我是做小生意的,平时很忙,实在没时间一趟趟跑。",
    "对方给我发了短信,内容和当初说的完全不一样。",
    "我爱人身体不好,住院花了不少钱,家里经济压力很大。",
    "我不懂这些金融产品,当初完全是相信了工作人员。",
    "合同我翻出来看了,第{day}条写得模模糊糊。",
    "前后一共损失了大概{amount}元。",
    "我已经在{year}年底向他们总部写过信,没有回音。",
    "客户经理姓{surname},现在电话不接,微信也不回。",
]
INCIDENT_TEXTS = [
    "{inst}手机银行APP登录不上,转账失败。",
    "{inst}APP一直闪退,没法还信用卡。",
    "今天{inst}手机银行无法转账,急用钱。",
    "{inst}APP转账显示系统繁忙,钱扣了没到账。",
    "{inst}网银登录失败,提示系统维护。",
]
CARE_HOME_TEXTS = [
    "我今年{age}岁,住在养老院,{inst}的人来推销保险,说是存款,其实是保险,我要求{ask}。",
    "我{age}岁了,{inst}业务员到养老院给我们讲课,让我买了一份理财型保险,现在取不出钱,{ask}。",
    "我是养老院的老人,{age}岁,在{inst}买的保险每年扣{amount}元,子女不知道,{ask}。",
]
RING_TEMPLATES = [
    "尊敬的监管部门:本人{name},于{year}年{month}月在{inst}投保,保单号{policy},"
    "已交保费{amount}元。业务员在销售时存在严重的销售误导,夸大收益、隐瞒免责条款,"
    "未进行双录,投保单非本人亲笔签名。根据退保新政,本人要求全额退保,退还全部保费。"
    "如贵司不予处理,本人将向监管部门持续投诉并提起诉讼。联系电话{phone}。",
    "投诉书:投诉人{name},身份证号{id_number}。{year}年{inst}业务员以存款名义向我推销保险,"
    "保单号{policy},我当时并不知道是保险产品,合同中的犹豫期、现金价值均未告知。"
    "我已交葆费{amount}元,现依据监管规定要求{inst}全额退葆,退还全部葆费,否则将逐级上访。"
    "有事请联系我的代理人微信{wechat}。",
    "致{inst}:我叫{name},{year}年{month}月办理的信用卡分期和贷款出现逾期,"
    "贵行暴力催收,严重影响我的生活。现要求停息挂账、个性化分期,只还本金,并修复征信,"
    "删除不良记录。本人已委托专业团队维权,不成功不收费,请与代理人联系{phone}。"
    "若十日内未答复,将向金融监管局投诉。",
]


# A ring writes its own letters: clauses of the circulating templates, in its own choice and order.
RING_CLAUSES = [c + "。" for t in RING_TEMPLATES for c in t.split("。") if c]


def _ring_template(rng: random.Random) -> str:
    head = "投诉人{name},身份证号{id_number},投诉{inst}。"
    return head + "".join(rng.sample(RING_CLAUSES, 5))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def _id_number(rng: random.Random, age: int | None = None) -> str:
    year = 2026 - (age if age is not None else rng.randint(22, 80))
    body = f"12010{rng.randint(1, 9)}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += "".join(rng.choice("0123456789") for _ in range(3))
    return body + rng.choice("0123456789X")


def _address(rng: random.Random) -> str:
    return (
        f"天津市{rng.choice(DISTRICTS)}{rng.choice(STREETS)}{rng.randint(1, 300)}号"
        f"{rng.randint(1, 30)}-{rng.randint(1, 6)}-{rng.randint(101, 2802)}"
    )


def _when(rng: random.Random, day: int | None = None) -> str:
    d = rng.randrange(DAYS) if day is None else day
    return (START + timedelta(days=d, minutes=rng.randrange(10 * 60))).isoformat()


def _fill(template: str, rng: random.Random, **known: object) -> str:
    values = {
        "year": rng.randint(2015, 2025),
        "month": rng.randint(1, 12),
        "day": rng.randint(1, 28),
        "amount": rng.choice((rng.randint(2, 90) * 100, rng.randint(1000, 60000))),
        "days": rng.randint(10, 90),
        "age": rng.randint(72, 93),
        "policy": "".join(rng.choice("0123456789") for _ in range(12)),
        "ask": rng.choice(("退钱", "解除合同", "退还保费", "给个说法")),
    }
    values.update(known)
    return template.format(**values)


def _person(rng: random.Random, **override: str) -> dict:
    person = {
        "name": _name(rng),
        "phone": _phone(rng),
        "id_number": _id_number(rng),
        "address": _address(rng),
    }
    person.update(override)
    return person


def _honest_text(rng: random.Random, inst: str) -> str:
    if inst in BANKS:
        opening, issue = rng.choice(BANK_OPENINGS), rng.choice(BANK_ISSUES)
    else:
        opening, issue = rng.choice(INSURER_OPENINGS), rng.choice(INSURER_ISSUES)
    details = rng.sample(HONEST_DETAILS, rng.randint(2, 4))
    parts = [opening, issue, *details, rng.choice(HONEST_ASKS)]
    return _fill(
        "".join(parts),
        rng,
        inst=inst,
        hour=rng.randint(8, 20),
        staff=rng.randint(1000, 9999),
        street=rng.choice(STREETS),
        surname=rng.choice(SURNAMES),
    )


def generate(n: int = 5000, seed: int = 20261121) -> tuple[list[dict], dict[str, bool]]:
    """About `n` cases (rings and look-alikes scaled with n) and whether each is a ring's."""
    rng = random.Random(seed)
    cases: list[dict] = []
    truth: dict[str, bool] = {}

    def add(case: dict, ring: bool) -> None:
        case["case_no"] = f"BX{len(cases) + 1:08d}"
        cases.append(case)
        truth[case["case_no"]] = ring

    # Rings: about 6 % of the cases, in rings of 15-60 complainants.
    ring_budget = max(40, n * 6 // 100)
    while ring_budget > 0:
        size = min(ring_budget, rng.randint(15, 60))
        ring_budget -= size
        agent_phones = [_phone(rng) for _ in range(rng.randint(1, 3))]
        wechat = f"tb{rng.randint(100, 999)}{rng.choice(('kefu', 'weiquan', 'fuwu'))}"
        agent = {"name": _name(rng), "org": rng.choice(("维权服务部", "法律咨询中心", ""))}
        insurers = rng.sample(INSURERS, rng.randint(3, 6))
        templates = [_ring_template(rng) for _ in range(rng.randint(1, 2))]
        first_day = rng.randrange(DAYS - 20)
        for _ in range(size):
            inst = rng.choice(insurers)
            phone = rng.choice(agent_phones)
            complainant = _person(rng)
            tactic = rng.random()
            case_agent = None
            if tactic < 0.4:
                case_agent = dict(agent, phone=phone, id_number="")
            elif tactic < 0.7:
                complainant["phone"] = phone  # the agent's phone given as the complainant's
            text = _fill(
                rng.choice(templates),
                rng,
                inst=inst,
                name=complainant["name"],
                id_number=complainant["id_number"],
                phone=phone,
                wechat=wechat,
            )
            if rng.random() < 0.3:  # a small edit of the template
                text = text.replace("本人", "我", 1).replace("严重", "非常", 1)
            add(
                {
                    "received_at": _when(rng, first_day + rng.randrange(20)),
                    "institution": inst,
                    "text": text,
                    "complainant": complainant,
                    "agent": case_agent,
                },
                True,
            )

    # A mass incident: an app outage, 300 short similar complaints against one bank in a day.
    outage_bank, outage_day = rng.choice(BANKS), rng.randrange(DAYS)
    for _ in range(300):
        add(
            {
                "received_at": _when(rng, outage_day),
                "institution": outage_bank,
                "text": _fill(rng.choice(INCIDENT_TEXTS), rng, inst=outage_bank),
                "complainant": _person(rng),
                "agent": None,
            },
            False,
        )

    # A care home: 10 elderly residents at one address complain separately.
    home = f"天津市{rng.choice(DISTRICTS)}幸福里养老院"
    for _ in range(10):
        inst = rng.choice(INSURERS)
        add(
            {
                "received_at": _when(rng),
                "institution": inst,
                "text": _fill(rng.choice(CARE_HOME_TEXTS), rng, inst=inst),
                "complainant": _person(rng, address=home, id_number=_id_number(rng, 85)),
                "agent": None,
            },
            False,
        )

    # Honest complaints fill the rest: couples sharing a phone, repeat complainants.
    repeaters: list[dict] = []
    lenders: list[dict] = []
    while len(cases) < n:
        inst = rng.choice(BANKS + INSURERS)
        roll = rng.random()
        if roll < 0.03 and repeaters:
            complainant = rng.choice(repeaters)
        elif roll < 0.06 and lenders:
            complainant = _person(rng, phone=lenders.pop()["phone"])  # a spouse, once
        else:
            complainant = _person(rng)
            if len(repeaters) < 1000:
                repeaters.append(complainant)
                lenders.append(complainant)
        add(
            {
                "received_at": _when(rng),
                "institution": inst,
                "text": _honest_text(rng, inst),
                "complainant": complainant,
                "agent": None,
            },
            False,
        )

    order = list(range(len(cases)))
    rng.shuffle(order)
    cases = [cases[i] for i in order]
    cases.sort(key=lambda c: c["received_at"])
    return cases, truth
