"""Routing's directory file and resolver as the centre uses them: messy hints in, one office out."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import services.routing.domain as routing_domain
from services.routing.domain import (
    AMBIGUITY_MARGIN,
    DirectoryError,
    DirectoryNode,
    Resolver,
    export_directory,
    load_directory_text,
    parse_directory,
    region_covers,
    subtree_ids,
)

DEMO_DIRECTORY = Path(routing_domain.__file__).parent / "data" / "demo_directory.yaml"


@pytest.fixture(scope="module")
def demo_text() -> str:
    return DEMO_DIRECTORY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nodes(demo_text: str) -> list[DirectoryNode]:
    return load_directory_text(demo_text, "demo_directory.yaml")


@pytest.fixture(scope="module")
def by_id(nodes: list[DirectoryNode]) -> dict[str, DirectoryNode]:
    return {n.id: n for n in nodes}


@pytest.fixture(scope="module")
def resolver(nodes: list[DirectoryNode]) -> Resolver:
    return Resolver(nodes)


# --- what consumers and hotline operators type -------------------------------------------------

ROUTED = [
    # (what was typed, consumer's region, product, the office that must get the case)
    # full legal names
    ("中国工商银行股份有限公司天津河西支行", "", "", "icbc-tj-hexi"),
    ("中国农业银行天津市津南支行", "", "", "abc-tj-jinnan"),
    ("中国人寿保险股份有限公司天津市和平区支公司", "", "", "china-life-tj-heping"),
    ("中国人民财产保险股份有限公司天津市滨海新区支公司", "", "", "picc-pc-tj-binhai"),
    ("中国建设银行天津分行营业部", "", "", "ccb-tj-yingyebu"),
    ("天津农村商业银行西青支行", "", "", "tianjin-rural-bank-xiqing"),
    ("中国邮政储蓄银行", "", "", "psbc"),
    ("平安人寿保险公司", "", "", "pingan-life"),
    ("中国人寿保险公司", "", "", "china-life"),
    # short names (简称) and what people call an office
    ("天津平安人寿", "", "", "pingan-life-tj"),
    ("工行河西支行", "", "", "icbc-tj-hexi"),
    ("建设银行天津分行", "", "", "ccb-tj"),
    ("工商银行天津市分行", "", "", "icbc-tj"),
    ("中行天津分行", "", "", "boc-tj"),
    ("邮储银行河北区支行", "", "", "psbc-tj-hebei"),
    ("津行河西支行", "", "", "bank-of-tianjin-hexi"),
    ("天津银行滨海分行", "", "", "bank-of-tianjin-binhai"),
    ("平安银行天津分行", "", "", "pingan-bank-tj"),
    ("平安寿险天津分公司", "", "", "pingan-life-tj"),
    ("平安产险西青支公司", "", "", "pingan-pc-tj-xiqing"),
    ("中国人寿天津分公司", "", "", "china-life-tj"),
    ("国寿北辰区支公司", "", "", "china-life-tj-beichen"),
    ("太平洋人寿河北支公司", "", "", "cpic-life-tj-hebei"),
    ("太保寿险滨海中支", "", "", "cpic-life-tj-binhai"),
    ("河北区建行", "", "", "ccb-tj-hebei"),
    ("渤海银行", "", "", "bohai-bank"),
    ("天津农商行", "", "", "tianjin-rural-bank"),
    ("建信人寿", "", "", "ccb-life"),
    ("中信保诚", "", "", "citic-prudential-life"),
    ("人保寿险", "", "", "picc-life"),
    # abbreviations
    ("工行", "", "", "icbc"),
    ("建行", "", "", "ccb"),
    ("农行", "", "", "abc"),
    ("中行", "", "", "boc"),
    ("中国银行", "", "", "boc"),
    ("交行", "", "", "bocom"),
    ("邮储", "", "", "psbc"),
    ("招行", "", "", "cmb"),
    ("国寿", "", "", "china-life"),
    # English abbreviations in any case, full-width letters
    ("icbc", "", "", "icbc"),
    ("ＢＯＣ", "", "", "boc"),
    ("bocom", "", "", "bocom"),
    ("Bank Of Communications", "", "", "bocom"),
    ("ping an bank", "", "", "pingan-bank"),
    ("ｐｉｎｇ ａｎ ｌｉｆｅ", "", "", "pingan-life"),
    ("CPIC Life", "", "", "cpic-life"),
    ("ＣＣＢ　天津分行", "", "", "ccb-tj"),
    # typos: a wrong or missing character, homophones of the level word
    ("建设银行天津分形", "", "", "ccb-tj"),
    ("建设银形天津分行", "", "", "ccb-tj"),
    ("工商银航河西支行", "", "", "icbc-tj-hexi"),
    ("平安人寿天津分工司", "", "", "pingan-life-tj"),
    ("工伤银行", "", "", "icbc"),
    ("深发展银行", "", "", "pingan-bank"),
    # level words written another way
    ("建行天津市分行营业室", "", "", "ccb-tj-yingyebu"),
    ("太平洋人寿滨海新区中心支公司", "", "", "cpic-life-tj-binhai"),
    # a fragment of a name, or the district in the text
    ("农行津南", "", "", "abc-tj-jinnan"),
    ("工商银行 河西", "", "", "icbc-tj-hexi"),
    ("河西区的工商银行", "", "", "icbc-tj-hexi"),
    ("交通银行北辰", "", "", "bocom-tj-beichen"),
    ("招行小白楼", "", "", "cmb-tj-xiaobailou"),
    ("人保财险南开", "", "", "picc-pc-tj-nankai"),
    ("太平洋财险东丽", "", "", "cpic-pc-tj-dongli"),
    ("太平人寿南开", "", "", "taiping-life-tj-nankai"),
    # extra words around the name
    ("我在工行办的信用卡", "", "", "icbc"),
    ("我是在建行南开支行办的房贷", "", "", "ccb-tj-nankai"),
    ("在中国银行河东支行存的钱", "", "", "boc-tj-hedong"),
    ("我在平安买的车险", "", "", "pingan-pc-tj"),
    # former names (曾用名)
    ("金盛人寿", "", "", "icbc-axa-life"),
    ("金盛人寿天津分公司", "", "", "icbc-axa-life-tj"),
    ("信诚人寿天津分公司", "", "", "citic-prudential-life-tj"),
    ("太平洋安泰人寿", "", "", "ccb-life"),
    ("深圳发展银行天津分行", "", "", "pingan-bank-tj"),
    ("天津市商业银行", "", "", "bank-of-tianjin"),
    ("天津农村合作银行", "", "", "tianjin-rural-bank"),
    ("中国人民建设银行", "", "", "ccb"),
    # the consumer's district takes a head-office match down to the office there
    ("我在工行办的信用卡", "120103", "", "icbc-tj-hexi"),
    ("工行", "120116", "", "icbc-tj"),  # no ICBC sub-branch in Binhai: the city branch
    ("邮储", "120112", "", "psbc-tj-jinnan"),
    ("渤海银行", "120103", "", "bohai-bank-tj-hexi"),
    ("平安银行", "120104", "", "pingan-bank-tj-nankai"),
    ("平安人寿", "120116", "", "pingan-life-tj-binhai"),
    ("中国人寿", "120113", "", "china-life-tj-beichen"),
    ("工银安盛", "120103", "", "icbc-axa-life-tj-hexi"),
    ("农商行", "120110", "", "tianjin-rural-bank-dongli"),
    ("工商银行河西支行", "120104", "", "icbc-tj-hexi"),  # the named office, not the home district
    # the product decides between a group's companies
    ("平安", "", "life", "pingan-life"),
    ("平安", "", "credit_cards", "pingan-bank"),
    ("平安", "", "auto", "pingan-pc"),
    ("人保", "", "auto", "picc-pc"),
    ("人保", "", "life", "picc-life"),
    ("人保", "120110", "auto", "picc-pc-tj-dongli"),
    ("太保", "", "auto", "cpic-pc"),
    ("太平洋保险", "", "auto", "cpic-pc"),
    ("PICC", "", "auto", "picc-pc"),
    ("招商银行信用卡", "", "credit_cards", "cmb"),
]


@pytest.mark.parametrize(("text", "region", "product", "node_id"), ROUTED)
def test_a_messy_hint_reaches_the_responsible_office(
    resolver: Resolver, text: str, region: str, product: str, node_id: str
) -> None:
    result = resolver.resolve(text, region, product)
    assert result.node is not None, result.reason
    assert (result.node.id, result.needs_human) == (node_id, False), result.reason
    assert resolver.min_confidence <= result.confidence <= 1.0
    assert result.matched and result.reason


GOES_TO_A_PERSON = [
    ("某某小贷", ""),  # not in the directory
    ("某某小贷公司", ""),
    ("支付宝", ""),
    ("京东金融", ""),
    ("平安", ""),  # Ping An Life, P&C or Bank?
    ("中国平安", ""),
    ("天津平安", ""),
    ("人保", ""),  # PICC P&C or PICC Life?
    ("picc", ""),
    ("太保", ""),  # CPIC Life or CPIC P&C?
    ("太平洋保险", ""),
    ("太平", ""),  # 太平人寿 or 太平洋?
    ("天津分行", ""),  # every bank has one
    ("银行", ""),
    ("保险公司", ""),
    ("", ""),
    ("  ", ""),
    ("我在", ""),
]


@pytest.mark.parametrize(("text", "product"), GOES_TO_A_PERSON)
def test_an_unknown_or_ambiguous_institution_goes_to_a_person(
    resolver: Resolver, text: str, product: str
) -> None:
    result = resolver.resolve(text, "", product)
    assert result.needs_human, result
    assert 0.0 <= result.confidence <= 1.0


# --- institution first: an abbreviation, a district and a level word ---------------------------

# What consumers write most: the institution's short form, a district, a level word. The
# institution part (农行 of 农行西青支行) decides the institution however alike the rest makes
# the text to another institution's office (建行西青支行); the district then picks its office
# there or, when it has none there, its office covering the district.
INSTITUTION_FIRST = [
    # (what was typed, consumer's region, product, the offices that may get the case)
    # the institution has no office in the district named: its Tianjin branch answers
    ("农行西青支行", "120111", "", {"abc-tj"}),  # not 建行西青支行, not 西青农商行
    ("农业银行西青支行", "120111", "", {"abc-tj"}),
    ("中行河西支行", "120111", "", {"boc-tj"}),  # not 津行河西支行, not 交行河西支行
    ("中行河西支行", "120103", "", {"boc-tj"}),
    ("交行河北支行", "120105", "", {"bocom-tj"}),  # not 津行河北支行, not 建行河北支行
    ("建行河东支行", "120102", "", {"ccb-tj"}),  # not 中行河东支行
    ("工行红桥支行", "", "", {"icbc-tj"}),  # not 中行红桥支行
    ("招行河西支行", "120103", "", {"cmb-tj"}),
    ("农行和平支行", "120101", "", {"abc-tj"}),  # not 工行和平支行, not 交行和平支行
    ("国寿滨海支公司", "", "", {"china-life-tj"}),
    ("天津农行西青支行", "", "", {"abc-tj"}),  # 天津农行, not 天津农商行西青支行
    ("津行河东支行", "", "", {"bank-of-tianjin"}),  # its district 支行 hang off the head office
    ("农商行河西", "", "", {"tianjin-rural-bank"}),
    ("渤海银行南开支行", "", "", {"bohai-bank-tj"}),
    ("平安财险东丽", "", "auto", {"pingan-pc-tj"}),
    ("太平人寿河北", "", "", {"taiping-life-tj"}),  # not 太平洋人寿河北支公司
    ("中国银行南开支行", "120104", "", {"boc-tj"}),
    ("我在中行河西支行办的信用卡", "120111", "", {"boc-tj"}),
    # the institution has an office in the district named
    ("工行南开支行", "", "", {"icbc-tj-nankai"}),
    ("建行南开支行", "120104", "", {"ccb-tj-nankai"}),
    ("招行南开", "", "", {"cmb-tj-nankai"}),
    ("国寿北辰", "", "", {"china-life-tj-beichen"}),
    ("人保财险滨海", "", "auto", {"picc-pc-tj-binhai"}),
    ("平安人寿宝坻", "", "life", {"pingan-life-tj-baodi"}),
    ("太平洋人寿河北支公司", "", "health", {"cpic-life-tj-hebei"}),
    ("太平人寿南开", "", "", {"taiping-life-tj-nankai"}),
    ("邮储津南", "", "", {"psbc-tj-jinnan"}),
    ("中行东丽", "", "", {"boc-tj-dongli"}),
    ("津行南开", "", "", {"bank-of-tianjin-nankai"}),
    ("农商行西青", "", "", {"tianjin-rural-bank-xiqing"}),
    ("人保南开", "", "", {"picc-pc-tj-nankai"}),  # the directory's own 南开人保
    ("天津市河西区工商银行", "", "", {"icbc-tj-hexi"}),
    ("招行和平", "", "", {"cmb-tj-xiaobailou"}),  # its one office in 和平 district
    ("建设银形西青支行", "", "", {"ccb-tj-xiqing"}),  # a typo in the institution part
    # a group's name with a district: the product decides the company
    ("平安河西", "", "life", {"pingan-life-tj"}),
    ("太保河西", "", "auto", {"cpic-pc-tj"}),
    # demo day
    ("工行河西支行", "120103", "", {"icbc-tj-hexi"}),
    ("天津平安人寿", "120104", "life", {"pingan-life-tj"}),
    ("交通银行天津分行", "120103", "", {"bocom-tj", "bocom-tj-hexi"}),
    ("天津银行河北支行", "120105", "", {"bank-of-tianjin-hebei"}),
    ("中国人寿天津", "120113", "", {"china-life-tj", "china-life-tj-beichen"}),
    ("人保财险天津分公司", "120116", "auto", {"picc-pc-tj", "picc-pc-tj-binhai"}),
    ("工商银行天津分行", "120104", "", {"icbc-tj", "icbc-tj-nankai"}),
]


@pytest.mark.parametrize(("text", "region", "product", "node_ids"), INSTITUTION_FIRST)
def test_the_institution_part_decides_the_institution(
    resolver: Resolver, text: str, region: str, product: str, node_ids: set[str]
) -> None:
    result = resolver.resolve(text, region, product)
    assert result.node is not None, result.reason
    assert result.node.id in node_ids, result.reason
    assert not result.needs_human, result.reason
    assert resolver.min_confidence <= result.confidence <= 1.0


# The districts the demo directory's office names teach.
DISTRICTS = {
    "和平": "120101",
    "河东": "120102",
    "河西": "120103",
    "南开": "120104",
    "河北": "120105",
    "红桥": "120106",
    "东丽": "120110",
    "西青": "120111",
    "津南": "120112",
    "北辰": "120113",
    "武清": "120114",
    "宝坻": "120115",
    "滨海": "120116",
}


def test_an_abbreviation_and_a_district_never_reach_another_institution(
    nodes: list[DirectoryNode], resolver: Resolver
) -> None:
    # Every head office's Chinese short name and alias with every district, with and without a
    # level word, from anywhere and from that district: its own office there, or its office
    # covering the district, and confidently.
    wrong = []
    for head in (n for n in nodes if n.parent_id is None):
        offices = [n for n in nodes if n.id in subtree_ids(nodes, head.id)]
        level = "支行" if head.kind == "bank" else "支公司"
        for brand in (b for b in (*head.short_names, *head.aliases) if not b.isascii()):
            for district, code in DISTRICTS.items():
                there = [o.id for o in offices if o.region_code == code]
                for text in (brand + district + level, brand + district):
                    for region in ("", code):
                        result = resolver.resolve(text, region)
                        node = result.node
                        if (
                            result.needs_human
                            or node is None
                            or node.id not in {o.id for o in offices}
                            or (there and [node.id] != there)
                            or not region_covers(node.region_code, code)
                        ):
                            wrong.append((text, region, node and node.id, result.reason))
    assert wrong == []


def test_an_institution_with_no_office_in_the_district_answers_from_its_branch(
    resolver: Resolver,
) -> None:
    result = resolver.resolve("农行西青支行", "120111")
    assert (result.node.id, result.matched) == ("abc-tj", "农行")
    assert result.reason == (
        "alias 农行 matched the institution exactly; "
        "it has no office for 西青 in the text (120111), so abc-tj answers"
    )
    # Another bank's office in 西青 is the runner-up, well behind.
    assert result.runner_up.id == "tianjin-rural-bank-xiqing"
    assert result.confidence - result.runner_up_confidence >= AMBIGUITY_MARGIN


def test_an_exact_office_name_still_wins_outright(resolver: Resolver) -> None:
    for text, node_id in [
        ("建行西青支行", "ccb-tj-xiqing"),
        ("津行河西支行", "bank-of-tianjin-hexi"),
        ("交行河西支行", "bocom-tj-hexi"),
        ("西青农商行", "tianjin-rural-bank-xiqing"),
        ("中国农业银行股份有限公司天津宝坻支行", "abc-tj-baodi"),
    ]:
        result = resolver.resolve(text, "120111")
        assert (result.node.id, result.confidence, result.needs_human) == (node_id, 1.0, False)
        assert result.reason.endswith("matched exactly"), result.reason


def test_an_office_inferred_from_the_district_is_less_sure_than_one_named(
    resolver: Resolver,
) -> None:
    named = resolver.resolve("建行南开支行")  # an alias
    there = resolver.resolve("建行南开")  # 建行, and its office in 南开
    none_there = resolver.resolve("建行河东支行")  # 建行, and no office of it in 河东
    assert [r.node.id for r in (named, there, none_there)] == [
        "ccb-tj-nankai",
        "ccb-tj-nankai",
        "ccb-tj",
    ]
    assert 1.0 == named.confidence > there.confidence > none_there.confidence
    assert none_there.confidence >= resolver.min_confidence


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("平安南开", ""),  # Ping An Bank's 南开支行, or Ping An Life or P&C in 南开?
        ("平安河西支行", ""),
        ("中国平安河西", ""),
        ("太保河西", ""),  # CPIC Life or CPIC P&C?
        ("太平南开", ""),  # 太平人寿 or 太平洋?
        ("人保南开", "life"),  # 南开人保 is PICC P&C, but the case is about life insurance
    ],
)
def test_a_group_name_with_a_district_still_goes_to_a_person(
    resolver: Resolver, text: str, product: str
) -> None:
    result = resolver.resolve(text, "", product)
    assert result.needs_human, result.reason
    assert result.runner_up is not None
    assert "so a person decides" in result.reason


def test_a_place_and_a_level_word_name_no_institution(resolver: Resolver) -> None:
    for text in ("南开支行", "天津分行", "河西区", "天津市滨海新区支公司"):
        result = resolver.resolve(text)
        assert (result.node, result.needs_human) == (None, True), text
        assert result.reason == "no institution was named, only a place or an office level"


def test_ambiguity_names_the_other_institution_as_runner_up(resolver: Resolver) -> None:
    result = resolver.resolve("平安")
    assert result.needs_human
    assert result.confidence >= resolver.min_confidence  # strong, but not alone
    assert result.runner_up is not None
    assert {result.node.id, result.runner_up.id} <= {"pingan-life", "pingan-pc", "pingan-bank"}
    assert result.node.id != result.runner_up.id
    assert result.confidence - result.runner_up_confidence < AMBIGUITY_MARGIN
    assert "a person decides" in result.reason


def test_a_branch_and_its_head_office_matching_alike_is_not_ambiguous(resolver: Resolver) -> None:
    # 天津平安人寿 and 平安人寿 both fit: one institution, so the more exact office is taken.
    result = resolver.resolve("天津平安人寿")
    assert result.node.id == "pingan-life-tj"
    assert not result.needs_human


def test_a_former_name_finds_the_renamed_insurer(resolver: Resolver) -> None:
    result = resolver.resolve("金盛人寿")
    assert result.node.id == "icbc-axa-life"
    assert result.matched == "金盛人寿"
    assert result.reason.startswith("former name 金盛人寿 matched exactly")


def test_china_taiping_is_not_mistaken_for_cpic(resolver: Resolver) -> None:
    # 太平人寿 differs from 太平洋人寿 by one character but is another group.
    result = resolver.resolve("太平人寿")
    assert result.node.id == "taiping-life"
    assert result.runner_up.id == "cpic-life"
    assert not result.needs_human


def test_bank_of_china_keeps_its_country_prefix_when_matching(resolver: Resolver) -> None:
    for text in ("中国银行", "中行", "Bank of China", "中国银行股份有限公司"):
        assert resolver.resolve(text).node.id == "boc", text
    assert resolver.resolve("中国工商银行").node.id == "icbc"


def test_an_exact_name_is_not_discarded_for_the_product(resolver: Resolver) -> None:
    # The consumer named Ping An Life; a case filed under "auto" does not send it to Ping An P&C.
    result = resolver.resolve("平安人寿", product="auto")
    assert result.node.id == "pingan-life"
    assert not result.needs_human
    assert "auto is not among its products" in result.reason


def test_a_product_named_in_the_text_counts_when_the_case_has_none(resolver: Resolver) -> None:
    assert resolver.resolve("平安车险").node.id.startswith("pingan-pc")
    assert resolver.resolve("我在人保买的寿险").node.id == "picc-life"


def test_the_decision_says_what_matched_and_how_it_got_down_to_the_office(
    resolver: Resolver,
) -> None:
    result = resolver.resolve("工行", region="120103")
    assert result.node.id == "icbc-tj-hexi"
    assert result.matched == "工行"
    assert (
        result.reason == "alias 工行 matched exactly; descended to icbc-tj-hexi for region 120103"
    )
    named = resolver.resolve("河西区的工商银行")
    assert "for 河西 in the text (120103)" in named.reason


def test_an_empty_hint_says_nothing_was_named(resolver: Resolver) -> None:
    result = resolver.resolve("  ")
    assert (result.node, result.needs_human, result.matched) == (None, True, "")
    assert result.reason == "no institution was named"


def test_the_runner_up_is_not_an_office_the_decision_went_through(resolver: Resolver) -> None:
    result = resolver.resolve("工商银行", region="120103")
    assert result.node.id == "icbc-tj-hexi"
    assert result.runner_up is not None
    assert result.runner_up.id not in {"icbc", "icbc-tj", "icbc-tj-hexi"}


def test_a_closed_office_is_never_chosen(nodes: list[DirectoryNode]) -> None:
    closed = [replace(n, active=False) if n.id == "icbc-tj-hexi" else n for n in nodes]
    result = Resolver(closed).resolve("工行河西支行", region="120103")
    assert result.node is not None
    assert result.node.id != "icbc-tj-hexi"


# --- the demo directory -------------------------------------------------------------------------


def test_every_name_string_appears_on_exactly_one_node(nodes: list[DirectoryNode]) -> None:
    counts = Counter(
        text for n in nodes for text in (n.name, *n.short_names, *n.aliases, *n.former_names)
    )
    assert [text for text, count in counts.items() if count > 1] == []


def test_the_demo_keeps_the_offices_other_services_name(by_id: dict[str, DirectoryNode]) -> None:
    assert {"pingan-life-tj", "icbc-tj-hexi", "ccb-tj", "cpic-life-tj", "icbc-tj"} <= set(by_id)


def test_renamed_institutions_carry_their_former_names(by_id: dict[str, DirectoryNode]) -> None:
    assert "金盛人寿保险有限公司" in by_id["icbc-axa-life"].former_names
    assert "太平洋安泰人寿保险有限公司" in by_id["ccb-life"].former_names
    assert "信诚人寿保险有限公司" in by_id["citic-prudential-life"].former_names
    assert "深圳发展银行股份有限公司" in by_id["pingan-bank"].former_names
    assert by_id["icbc"].short_names == ("工商银行",)


def test_each_node_remembers_its_line_in_the_file(
    demo_text: str, by_id: dict[str, DirectoryNode]
) -> None:
    lines = demo_text.splitlines()
    for node_id in ("icbc", "icbc-tj-hexi", "ccb-tj-yingyebu"):
        assert lines[by_id[node_id].line - 1].strip() == f"- id: {node_id}"


# --- reading a directory file: refusals name the line and the node ---------------------------

HEAD = """\
institutions:
  - id: tjbank
    name: 天津银行股份有限公司
    kind: bank
    region_code: "120000"
    product_lines: [deposits, loans]
    children:
      - id: tjbank-hexi
        name: 天津银行股份有限公司河西支行
        region_code: "120103"
"""


def refusal(text: str) -> str:
    with pytest.raises(DirectoryError) as caught:
        load_directory_text(text, "update.yaml")
    return str(caught.value)


def test_a_duplicate_id_is_refused_naming_both_lines() -> None:
    message = refusal(
        HEAD
        + """\
  - id: tjbank-hexi
    name: 天津银行河西支行
    kind: bank
    region_code: "120103"
"""
    )
    assert message == "update.yaml:11: node tjbank-hexi: duplicate id (also at line 8)"


def test_an_unknown_parent_is_refused_naming_its_line() -> None:
    message = refusal(
        HEAD
        + """\
  - id: tjbank-nankai
    parent: tjbank-nk
    name: 天津银行南开支行
    region_code: "120104"
"""
    )
    assert message == "update.yaml:12: node tjbank-nankai: parent tjbank-nk is not in the directory"


def test_a_cycle_of_parent_links_is_refused_naming_its_members() -> None:
    message = refusal(
        """\
institutions:
  - id: bank-a
    parent: bank-c
    name: 甲银行
    kind: bank
    region_code: "120000"
  - id: bank-b
    parent: bank-a
    name: 乙银行
    region_code: "120000"
  - id: bank-c
    parent: bank-b
    name: 丙银行
    region_code: "120000"
"""
    )
    assert message.startswith("update.yaml:3: node bank-a: parent links form a cycle")
    assert "bank-a -> bank-c -> bank-b -> bank-a" in message


def test_a_node_that_is_its_own_parent_is_a_cycle() -> None:
    message = refusal(
        """\
institutions:
  - id: loop
    parent: loop
    name: 环银行
    kind: bank
    region_code: "120000"
"""
    )
    assert message == "update.yaml:3: node loop: parent links form a cycle: loop -> loop"


def test_a_nested_node_naming_another_parent_is_refused() -> None:
    message = refusal(
        HEAD
        + """\
        parent: tjbank-hexi
"""
    )
    assert (
        message
        == "update.yaml:11: node tjbank-hexi: nested under tjbank but says parent: tjbank-hexi"
    )


@pytest.mark.parametrize(
    ("line", "replacement", "where", "problem"),
    [
        ("    kind: bank\n", "    kind: pawnshop\n", "update.yaml:4: node tjbank", "kind must be"),
        (
            '    region_code: "120000"\n',
            '    region_code: "1200"\n',
            ":5: node tjbank",
            "region_code",
        ),
        (
            '    region_code: "120000"\n',
            "    region_code: 120000\n",
            ":5: node tjbank",
            "in quotes",
        ),
        ("  - id: tjbank\n", "  - id: TJBank\n", ":2: node TJBank", "id must be lowercase"),
        ("    kind: bank\n", "    alias: [津行]\n", ":4: node tjbank", "unknown key 'alias'"),
        (
            "    kind: bank\n",
            "    kind: bank\n    aliases: 津行\n",
            ":5: node tjbank",
            "aliases must",
        ),
        (
            "    kind: bank\n",
            "    kind: bank\n    active: maybe\n",
            ":5: node tjbank",
            "active must",
        ),
        ("    kind: bank\n", "    kind: bank\n    name: 又一个\n", "update.yaml:5", "given twice"),
        ("    kind: bank\n", "    kind: [bank\n", "update.yaml:5", "not valid YAML"),
        ("    kind: bank\n", "", ":2: node tjbank", "kind must be one of"),
        (
            "        name: 天津银行股份有限公司河西支行\n",
            "",
            ":8: node tjbank-hexi",
            "name is required",
        ),
    ],
)
def test_a_broken_node_is_refused_naming_its_line(
    line: str, replacement: str, where: str, problem: str
) -> None:
    assert line in HEAD
    message = refusal(HEAD.replace(line, replacement, 1))
    assert where in message
    assert problem in message


def test_the_unknown_key_refusal_suggests_the_right_one() -> None:
    message = refusal(HEAD.replace("    kind: bank\n", "    kind: bank\n    short_name: [津行]\n"))
    assert "did you mean 'short_names'?" in message


def test_a_parsed_document_is_refused_without_a_line_number() -> None:
    doc = yaml.safe_load(HEAD)
    doc["institutions"][0]["children"][0]["id"] = "tjbank"
    with pytest.raises(DirectoryError, match=r"^node tjbank: duplicate id$"):
        parse_directory(doc)


def test_an_update_file_attaches_outlets_under_an_existing_branch(demo_text: str) -> None:
    update = (
        demo_text
        + """
  - id: icbc-tj-binhai
    parent: icbc-tj
    name: 中国工商银行股份有限公司天津滨海分行
    aliases: [工行滨海分行]
    region_code: "120116"
"""
    )
    nodes = load_directory_text(update, "update.yaml")
    outlet = next(n for n in nodes if n.id == "icbc-tj-binhai")
    assert (outlet.parent_id, outlet.level, outlet.kind) == ("icbc-tj", 2, "bank")
    assert "credit_cards" in outlet.product_lines  # inherited through the link
    # Parents come before their children, and the outlet sits with its siblings.
    ids = [n.id for n in nodes]
    assert ids.index("icbc-tj") < ids.index("icbc-tj-binhai") < ids.index("ccb")
    # The consumer in Binhai who names ICBC now reaches the new outlet.
    assert Resolver(nodes).resolve("工行", "120116").node.id == "icbc-tj-binhai"


def test_a_flat_entry_may_repeat_its_nested_parent() -> None:
    nodes = load_directory_text(HEAD + "        parent: tjbank\n")
    assert [(n.id, n.parent_id, n.level) for n in nodes] == [
        ("tjbank", None, 0),
        ("tjbank-hexi", "tjbank", 1),
    ]


def test_a_parent_defined_later_in_the_file_is_found() -> None:
    text = """\
institutions:
  - id: tjbank-hexi
    parent: tjbank
    name: 天津银行河西支行
    region_code: "120103"
  - id: tjbank
    name: 天津银行股份有限公司
    kind: bank
    region_code: "120000"
"""
    nodes = load_directory_text(text)
    assert [(n.id, n.level, n.kind, n.line) for n in nodes] == [
        ("tjbank", 0, "bank", 6),
        ("tjbank-hexi", 1, "bank", 2),
    ]


# --- exporting ----------------------------------------------------------------------------------


def _round_trip(nodes: list[DirectoryNode], version: str = "") -> list[DirectoryNode]:
    text = yaml.safe_dump(export_directory(nodes, version), allow_unicode=True, sort_keys=False)
    return load_directory_text(text, "exported.yaml")


def test_the_demo_directory_survives_export_and_reload(nodes: list[DirectoryNode]) -> None:
    assert _round_trip(nodes, "2026-11-01") == nodes


def test_the_export_writes_only_what_differs_from_the_parent(nodes: list[DirectoryNode]) -> None:
    doc = export_directory(nodes, "2026-11-01")
    assert doc["version"] == "2026-11-01"
    icbc = doc["institutions"][0]
    branch = icbc["children"][0]
    assert icbc["kind"] == "bank" and "product_lines" in icbc
    assert "kind" not in branch and "product_lines" not in branch
    assert "former_names" not in icbc and "active" not in icbc  # empty lists, defaults left out
    ccb_tj = doc["institutions"][1]["children"][0]
    outlet = next(c for c in ccb_tj["children"] if c["id"] == "ccb-tj-yingyebu")
    assert "parent" not in outlet  # written flat in the demo, nested by the export


def test_a_closed_office_and_an_emptier_product_list_survive_the_round_trip(
    nodes: list[DirectoryNode],
) -> None:
    changed = [
        replace(n, active=False)
        if n.id == "icbc-tj-hexi"
        else replace(n, product_lines=())
        if n.id == "icbc-tj-nankai"
        else n
        for n in nodes
    ]
    doc = export_directory(changed)
    hexi, _, nankai = doc["institutions"][0]["children"][0]["children"]
    assert hexi["active"] is False
    assert nankai["product_lines"] == []
    assert _round_trip(changed) == changed


def test_exporting_an_office_without_its_parent_is_refused(nodes: list[DirectoryNode]) -> None:
    orphans = [n for n in nodes if n.id != "icbc-tj"]
    with pytest.raises(DirectoryError, match=r"node icbc-tj-hexi: parent icbc-tj"):
        export_directory(orphans)
