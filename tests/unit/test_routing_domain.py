"""Routing's rules: the institution directory, and finding the responsible office from free text."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import services.routing.domain as routing_domain
from services.routing.domain import (
    DirectoryError,
    DirectoryNode,
    Resolver,
    normalise,
    parse_directory,
    region_covers,
    subtree_ids,
)

DEMO_DIRECTORY = Path(routing_domain.__file__).parent / "data" / "demo_directory.yaml"


@pytest.fixture(scope="module")
def demo_doc() -> dict:
    return yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def nodes(demo_doc: dict) -> list[DirectoryNode]:
    return parse_directory(demo_doc)


@pytest.fixture(scope="module")
def by_id(nodes: list[DirectoryNode]) -> dict[str, DirectoryNode]:
    return {n.id: n for n in nodes}


@pytest.fixture(scope="module")
def resolver(nodes: list[DirectoryNode]) -> Resolver:
    return Resolver(nodes)


# --- normalise ----------------------------------------------------------------------------------


def test_full_width_letters_and_digits_become_half_width() -> None:
    assert normalise("ＩＣＢＣ１２３") == "icbc123"


def test_the_legal_form_suffix_is_dropped() -> None:
    assert normalise("天津银行股份有限公司") == "天津银行"


def test_the_country_prefix_is_dropped_when_a_name_remains() -> None:
    assert normalise("中国工商银行股份有限公司") == "工商银行"


def test_bank_of_china_keeps_its_country_prefix() -> None:
    # Without 中国, 中国银行 would become just 银行 and match every bank.
    assert normalise("中国银行") == "中国银行"
    assert normalise("中国银行股份有限公司") == "中国银行"


def test_spaces_and_punctuation_are_ignored() -> None:
    assert normalise(" 工行 · 河西（支行）") == "工行河西支行"


# --- region_covers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_region", "region", "covered"),
    [
        ("120000", "120103", True),  # Tianjin covers Hexi district
        ("120000", "120000", True),
        ("120000", "110105", False),  # not Beijing's Chaoyang
        ("120100", "120103", True),  # a city covers its districts
        ("120100", "120203", False),
        ("120103", "120103", True),  # a district only itself
        ("120103", "120104", False),
        ("120000", "", False),
        ("", "120103", False),
    ],
)
def test_a_province_covers_its_cities_and_a_city_its_districts(
    node_region: str, region: str, covered: bool
) -> None:
    assert region_covers(node_region, region) is covered


# --- parse_directory ----------------------------------------------------------------------------


def test_the_demo_directory_loads_with_unique_ids(nodes: list[DirectoryNode]) -> None:
    ids = [n.id for n in nodes]
    assert len(ids) == len(set(ids))
    assert {"icbc", "icbc-tj", "icbc-tj-hexi", "ccb-tj", "pingan-life-tj"} <= set(ids)


def test_branches_inherit_the_kind_and_products_of_their_head_office(
    by_id: dict[str, DirectoryNode],
) -> None:
    assert by_id["icbc-tj-hexi"].kind == "bank"
    assert by_id["pingan-life-tj-binhai"].kind == "life_insurer"
    assert by_id["pingan-life-tj-binhai"].product_lines == ("life", "health", "annuity")
    assert by_id["icbc-tj"].parent_id == "icbc"
    assert by_id["icbc"].parent_id is None


def test_head_office_branch_and_sub_branch_sit_on_levels_0_1_2(
    by_id: dict[str, DirectoryNode],
) -> None:
    assert [by_id[i].level for i in ("icbc", "icbc-tj", "icbc-tj-hexi")] == [0, 1, 2]
    assert by_id["bank-of-tianjin-binhai"].level == 1


def test_a_directory_without_institutions_is_refused() -> None:
    with pytest.raises(DirectoryError):
        parse_directory({"version": "x"})


def _branch(demo_doc: dict) -> tuple[dict, dict]:
    """A copy of the demo document and its ICBC Tianjin branch node, for breaking."""
    doc = copy.deepcopy(demo_doc)
    return doc, doc["institutions"][0]["children"][0]


def test_a_duplicate_id_is_refused_naming_the_node(demo_doc: dict) -> None:
    doc, branch = _branch(demo_doc)
    branch["children"].append(dict(branch["children"][0]))
    with pytest.raises(DirectoryError, match=r"node icbc-tj-hexi: duplicate id"):
        parse_directory(doc)


def test_a_bad_region_code_is_refused_naming_the_node(demo_doc: dict) -> None:
    doc, branch = _branch(demo_doc)
    branch["region_code"] = "1200"
    with pytest.raises(DirectoryError, match=r"node icbc-tj: region_code"):
        parse_directory(doc)


def test_an_unknown_kind_is_refused_naming_the_node(demo_doc: dict) -> None:
    doc, branch = _branch(demo_doc)
    branch["kind"] = "pawnshop"
    with pytest.raises(DirectoryError, match=r"node icbc-tj: kind"):
        parse_directory(doc)


def test_a_node_without_a_name_is_refused_naming_it(demo_doc: dict) -> None:
    doc, branch = _branch(demo_doc)
    del branch["children"][1]["name"]
    with pytest.raises(DirectoryError, match=r"node icbc-tj-heping: name is required"):
        parse_directory(doc)


def test_an_id_with_capitals_is_refused(demo_doc: dict) -> None:
    doc, branch = _branch(demo_doc)
    branch["id"] = "ICBC-TJ"
    with pytest.raises(DirectoryError, match=r"node ICBC-TJ: id"):
        parse_directory(doc)


# --- Resolver -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "node_id"),
    [
        ("天津平安人寿", "pingan-life-tj"),
        ("工行河西支行", "icbc-tj-hexi"),
        ("建设银行天津分行", "ccb-tj"),
        ("中国银行", "boc"),
        ("ＩＣＢＣ", "icbc"),
    ],
)
def test_a_named_office_is_found(resolver: Resolver, text: str, node_id: str) -> None:
    result = resolver.resolve(text)
    assert result.node is not None
    assert result.node.id == node_id
    assert not result.needs_human


def test_a_typo_in_the_branch_name_still_finds_the_branch(resolver: Resolver) -> None:
    # 分形 for 分行: the nearly exact branch alias must beat the head office's short alias
    # (建设银行) that happens to be contained in the text.
    result = resolver.resolve("建设银行天津分形")
    assert result.node is not None
    assert result.node.id == "ccb-tj"
    assert not result.needs_human


def test_an_unknown_lender_goes_to_a_person(resolver: Resolver) -> None:
    result = resolver.resolve("某某小贷公司")
    assert result.needs_human
    assert result.confidence < resolver.min_confidence


def test_empty_text_goes_to_a_person(resolver: Resolver) -> None:
    result = resolver.resolve("  ")
    assert result.node is None
    assert result.needs_human


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("建设银行天津分行", ""),
        ("工商银行", "120103"),  # descends from the head office to the Hexi sub-branch
        ("平安人寿", "120000"),
    ],
)
def test_the_runner_up_is_a_different_office(resolver: Resolver, text: str, region: str) -> None:
    result = resolver.resolve(text, region=region)
    assert result.node is not None
    assert result.runner_up is not None
    assert result.runner_up.id != result.node.id


def test_the_consumers_district_takes_a_head_office_match_down_to_the_sub_branch(
    resolver: Resolver, by_id: dict[str, DirectoryNode]
) -> None:
    assert resolver._descend(by_id["icbc"], "120103").id == "icbc-tj-hexi"


def test_without_a_region_the_matched_office_is_kept(
    resolver: Resolver, by_id: dict[str, DirectoryNode]
) -> None:
    assert resolver._descend(by_id["icbc"], "").id == "icbc"


def test_a_district_with_no_sub_branch_stops_at_the_city_branch(
    resolver: Resolver, by_id: dict[str, DirectoryNode]
) -> None:
    # ICBC has no sub-branch in Binhai (120116).
    assert resolver._descend(by_id["icbc"], "120116").id == "icbc-tj"


def test_two_offices_covering_the_district_stop_the_descent() -> None:
    def node(node_id: str, parent: str | None, region: str, level: int) -> DirectoryNode:
        return DirectoryNode(node_id, parent, node_id, (), "bank", region, (), level=level)

    nodes = [
        node("bank", None, "110000", 0),
        node("bank-tj-a", "bank", "120000", 1),
        node("bank-tj-b", "bank", "120000", 1),
    ]
    resolver = Resolver(nodes)
    assert resolver._descend(nodes[0], "120103").id == "bank"


def test_a_closed_office_is_not_descended_into() -> None:
    head = DirectoryNode("bank", None, "某银行", (), "bank", "110000", ())
    closed = DirectoryNode(
        "bank-tj", "bank", "某银行天津分行", (), "bank", "120000", (), active=False, level=1
    )
    assert Resolver([head, closed])._descend(head, "120103").id == "bank"


def test_an_institutions_subtree_holds_its_branches_and_sub_branches(
    nodes: list[DirectoryNode],
) -> None:
    assert subtree_ids(nodes, "icbc") == {
        "icbc",
        "icbc-tj",
        "icbc-tj-hexi",
        "icbc-tj-heping",
        "icbc-tj-nankai",
    }
    assert subtree_ids(nodes, "icbc-tj-hexi") == {"icbc-tj-hexi"}
    assert "ccb" not in subtree_ids(nodes, "icbc")


# --- institution first --------------------------------------------------------------------------


def _bank(node_id: str, name: str, aliases: list[str], region: str, children=()) -> dict:
    return {
        "id": node_id,
        "name": name,
        "aliases": aliases,
        "region_code": region,
        "children": list(children),
    }


@pytest.fixture(scope="module")
def two_banks() -> Resolver:
    # 甲行 and 乙行 differ by one character; only 乙行 has an office in 河西. 天津丙银行 carries
    # the city in its own name.
    doc = {
        "institutions": [
            {
                **_bank(
                    "jia",
                    "甲银行股份有限公司",
                    ["甲行"],
                    "110000",
                    [_bank("jia-tj", "甲银行股份有限公司天津分行", [], "120000")],
                ),
                "kind": "bank",
            },
            {
                **_bank(
                    "yi",
                    "乙银行股份有限公司",
                    ["乙行"],
                    "110000",
                    [
                        _bank(
                            "yi-tj",
                            "乙银行股份有限公司天津分行",
                            [],
                            "120000",
                            [
                                _bank(
                                    "yi-tj-hexi",
                                    "乙银行股份有限公司天津河西支行",
                                    ["乙行河西支行"],
                                    "120103",
                                )
                            ],
                        )
                    ],
                ),
                "kind": "bank",
            },
            {
                **_bank(
                    "bing",
                    "天津丙银行股份有限公司",
                    [],
                    "120000",
                    [_bank("bing-hexi", "天津丙银行股份有限公司河西支行", [], "120103")],
                ),
                "kind": "bank",
            },
        ]
    }
    return Resolver(parse_directory(doc))


@pytest.mark.parametrize(
    ("text", "node_id"),
    [
        ("乙行河西支行", "yi-tj-hexi"),  # its own alias
        ("甲行河西支行", "jia-tj"),  # one character from 乙行河西支行, but 甲行 has no 河西 office
        ("甲行天津", "jia-tj"),  # the consumer in 河西: 甲行 has no office there
        ("乙行河西", "yi-tj-hexi"),
        ("天津丙银行河西", "bing-hexi"),  # 天津 belongs to the name, 河西 is the place
    ],
)
def test_the_institution_part_outweighs_the_district_and_level_words(
    two_banks: Resolver, text: str, node_id: str
) -> None:
    result = two_banks.resolve(text, "120103")
    assert (result.node.id, result.needs_human) == (node_id, False), result.reason
    assert two_banks.min_confidence <= result.confidence <= 1.0
    # Only a name matched exactly is certain; an office inferred from a district is not.
    assert (result.confidence == 1.0) == (text == "乙行河西支行")
