"""Classification: the taxonomy file, suggestions from the consumer's words, staff corrections."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from services.common.errors import InvalidArgument
from services.intake.taxonomy import (
    DEFAULT_TAXONOMY_FILE,
    STAFF,
    SUGGESTED,
    Classification,
    Taxonomy,
    correct,
    label,
    load_taxonomy,
    parse_taxonomy,
    resolve_product_hint,
    suggest,
    validate,
)


@pytest.fixture
def taxonomy(monkeypatch: pytest.MonkeyPatch) -> Taxonomy:
    monkeypatch.delenv("XIAOBAO_TAXONOMY_FILE", raising=False)
    return load_taxonomy()


@pytest.fixture
def doc() -> dict:
    """The packaged file as a plain document, for tests that break it."""
    return yaml.safe_load(DEFAULT_TAXONOMY_FILE.read_text(encoding="utf-8"))


def _entry(doc: dict, section: str, code: str) -> dict:
    return next(e for e in doc[section] if e["code"] == code)


# --- the packaged file -------------------------------------------------------------------------


def test_the_packaged_taxonomy_loads_with_its_version(taxonomy: Taxonomy) -> None:
    assert taxonomy.version == "2026.1"
    assert list(taxonomy.business_types) == ["bank", "insurance", "other"]
    for code in ("deposits", "loans", "credit_cards", "wealth_management", "payments", "mortgages"):
        assert taxonomy.products[code].business_type == "bank"
    for code in ("life", "health", "accident", "property", "auto", "annuity", "agriculture"):
        assert taxonomy.products[code].business_type == "insurance"
    for code in (
        "sales_misrepresentation",
        "claims",
        "fees",
        "debt_collection",
        "service_attitude",
        "contract_terms",
        "interest_rates",
        "account_freeze",
        "fraud",
        "personal_information",
        "surrender",
        "mortgage_prepayment",
        "credit_reporting",
    ):
        assert code in taxonomy.issues


def test_every_code_in_the_packaged_file_is_unique(doc: dict) -> None:
    codes = [
        e["code"] for section in ("business_types", "products", "issues") for e in doc[section]
    ]
    assert len(codes) == len(set(codes))


def test_every_entry_has_a_chinese_label_and_keywords(taxonomy: Taxonomy) -> None:
    entries = [*taxonomy.business_types.values(), *taxonomy.products.values()]
    for entry in [*entries, *taxonomy.issues.values()]:
        assert entry.label and not entry.label.isascii(), entry.code
        assert entry.keywords, entry.code


def test_insurance_only_issues_do_not_apply_to_banks(taxonomy: Taxonomy) -> None:
    for code in ("claims", "surrender", "underwriting", "policy_service"):
        assert taxonomy.issues[code].business_types == ("insurance",)
    for code in ("mortgage_prepayment", "account_freeze", "interest_rates"):
        assert taxonomy.issues[code].business_types == ("bank",)


def test_the_packaged_file_is_found_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict
) -> None:
    doc["version"] = "2026.2-test"
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("XIAOBAO_TAXONOMY_FILE", str(path))
    assert load_taxonomy().version == "2026.2-test"


def test_a_staff_edit_is_picked_up_without_a_restart(tmp_path: Path, doc: dict) -> None:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert suggest(load_taxonomy(path), "被人拉进群荐股").issue == ""
    _entry(doc, "issues", "fraud")["keywords"].append("荐股")
    doc["version"] = "2026.1.1"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    edited = load_taxonomy(path)
    assert edited.version == "2026.1.1"
    assert suggest(edited, "被人拉进群荐股").issue == "fraud"


# --- suggesting from the consumer's words ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("信用卡年费未经同意扣收", ("bank", "credit_cards", "fees")),
        # The cause (misselling) is the issue, not the remedy asked for (surrender): the regulator
        # counts such a complaint as a sales dispute (销售纠纷). "保险 … 收益" makes it life business.
        ("保险销售时夸大收益，要求退保", ("insurance", "life", "sales_misrepresentation")),
        ("车险理赔拖延", ("insurance", "auto", "claims")),
        # Neither product nor institution: the issue decides, and collection is mostly bank work.
        ("催收电话骚扰家人", ("bank", "", "debt_collection")),
        ("房贷提前还款违约金", ("bank", "mortgages", "mortgage_prepayment")),
        (
            "XX银行信用卡中心：信用卡逾期后暴力催收，爆通讯录",
            ("bank", "credit_cards", "debt_collection"),
        ),
        # Bank and insurer are both named; only an insurance issue fits, so insurance it is.
        ("在银行买的保险，现在要求退保", ("insurance", "", "surrender")),
        ("银行卡被冻结，无法转账", ("bank", "debit_cards", "account_freeze")),
        ("手机银行转账失败，钱没有到账", ("bank", "payments", "transaction_errors")),
        (
            "理财产品亏损，购买时没做风险测评",
            ("bank", "wealth_management", "sales_misrepresentation"),
        ),
        ("重疾险拒赔，说我没有健康告知", ("insurance", "health", "claims")),
        ("百万医疗险停售不续保", ("insurance", "health", "policy_service")),
        ("意外险骨折住院不给赔付", ("insurance", "accident", "claims")),
        ("存款利息少算", ("bank", "deposits", "interest_rates")),
        ("申请贷款时被强制搭售保险", ("bank", "loans", "tied_selling")),
        ("征信上有逾期记录，要求征信异议处理", ("bank", "", "credit_reporting")),
        ("信用卡被盗刷", ("bank", "credit_cards", "fraud")),
        ("XX银行网点排队两个小时，工作人员态度恶劣", ("bank", "", "service_attitude")),
        ("XX人寿客服态度恶劣，电话打不通", ("insurance", "life", "service_attitude")),
        ("个人信息泄露，天天接到营销电话", ("bank", "", "personal_information")),
        ("信用卡欠款还不上，申请停息挂账被拒", ("bank", "credit_cards", "repayment_negotiation")),
        ("家财险：房子漏水，保险公司拒赔", ("insurance", "property", "claims")),
        ("玉米受灾，农业保险理赔金额太少", ("insurance", "agriculture", "claims")),
        ("借款保证保险，保险公司天天催收", ("insurance", "guarantee", "debt_collection")),
        ("房贷利率 LPR 下调后利率没降", ("bank", "mortgages", "interest_rates")),
        ("年金险犹豫期内退保被扣钱", ("insurance", "annuity", "surrender")),
        ("经营贷利息太高，还有砍头息", ("bank", "loans", "interest_rates")),
        ("ＡＴＭ吞卡", ("bank", "debit_cards", "transaction_errors")),
        ("交强险：车辆被撞，定损金额太低", ("insurance", "auto", "claims")),
        ("保险合同的免责条款没有解释", ("insurance", "", "contract_terms")),
        ("XX信托产品到期不兑付", ("other", "", "")),
        ("我想问一下", ("", "", "")),
    ],
)
def test_a_suggestion_reads_the_consumers_words(
    taxonomy: Taxonomy, text: str, expected: tuple[str, str, str]
) -> None:
    suggestion = suggest(taxonomy, text)
    assert (suggestion.business_type, suggestion.product, suggestion.issue) == expected
    assert suggestion.source == SUGGESTED
    assert suggestion.taxonomy_version == taxonomy.version


def test_a_suggestion_is_always_a_valid_classification(taxonomy: Taxonomy) -> None:
    for text in ("车险理赔拖延", "催收电话骚扰家人", "在银行买的保险，现在要求退保", ""):
        s = suggest(taxonomy, text)
        validate(taxonomy, s.business_type, s.product, s.issue)


def test_a_claim_about_a_car_needs_both_words(taxonomy: Taxonomy) -> None:
    # "理赔 车" in the file: a keyword with a space matches only when every part occurs.
    assert suggest(taxonomy, "保险公司理赔太慢，车还在修理厂").product == "auto"
    assert suggest(taxonomy, "保险公司理赔太慢").product == ""


def test_a_tie_goes_to_the_entry_listed_first(taxonomy: Taxonomy) -> None:
    # One hit each for health (重疾) and life (人寿): health is listed first, as the more specific.
    assert suggest(taxonomy, "中国人寿的重疾").product == "health"


def test_an_issue_outside_the_products_business_type_is_not_suggested(
    taxonomy: Taxonomy,
) -> None:
    # 退保 is an insurance issue; a credit card cannot have it.
    suggestion = suggest(taxonomy, "信用卡 退保")
    assert (suggestion.business_type, suggestion.product, suggestion.issue) == (
        "bank",
        "credit_cards",
        "",
    )


# --- the product hint --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "product"),
    [
        ("credit_cards", "credit_cards"),
        ("credit_card", "credit_cards"),
        ("Credit-Card", "credit_cards"),
        ("life", "life"),
        ("mortgage", "mortgages"),
        ("car", "auto"),
        ("信用卡", "credit_cards"),
        ("健康险", "health"),
        ("", ""),
        ("gold", ""),
    ],
)
def test_a_product_hint_is_read_by_code_alias_or_label(
    taxonomy: Taxonomy, hint: str, product: str
) -> None:
    assert resolve_product_hint(taxonomy, hint) == product


def test_a_valid_hint_outweighs_the_text(taxonomy: Taxonomy) -> None:
    suggestion = suggest(taxonomy, "信用卡年费未经同意扣收", product_hint="credit_card")
    assert (suggestion.business_type, suggestion.product, suggestion.issue) == (
        "bank",
        "credit_cards",
        "fees",
    )
    # The hint wins even where the text suggests another product.
    assert suggest(taxonomy, "房贷提前还款", product_hint="loans").product == "loans"


def test_a_free_text_hint_is_read_with_the_summary(taxonomy: Taxonomy) -> None:
    suggestion = suggest(taxonomy, "要求退保", product_hint="鑫享年金保险")
    assert (suggestion.business_type, suggestion.product, suggestion.issue) == (
        "insurance",
        "annuity",
        "surrender",
    )


# --- a staff correction ------------------------------------------------------------------------


def test_a_staff_correction_is_checked_and_marked_as_staffs(taxonomy: Taxonomy) -> None:
    corrected = correct(taxonomy, "insurance", "life", " surrender ")
    assert corrected == Classification("insurance", "life", "surrender", "2026.1", STAFF)


def test_an_unclassified_case_is_valid(taxonomy: Taxonomy) -> None:
    validate(taxonomy, "", "", "")
    validate(taxonomy, "bank", "", "")


@pytest.mark.parametrize(
    ("business_type", "product", "issue", "field", "message"),
    [
        ("banking", "", "", "classification.business_type", "not a business type"),
        ("bank", "credit_card", "", "classification.product", "not a product"),
        ("bank", "credit_cards", "late_fees", "classification.issue", "not an issue"),
        ("", "credit_cards", "", "classification.business_type", "is required"),
        ("", "", "fees", "classification.business_type", "is required"),
        ("insurance", "credit_cards", "fees", "classification.product", "is a bank product"),
        ("bank", "credit_cards", "claims", "classification.issue", "does not apply to bank"),
        ("insurance", "", "account_freeze", "classification.issue", "does not apply to insurance"),
    ],
)
def test_a_wrong_correction_is_refused_naming_the_field(
    taxonomy: Taxonomy, business_type: str, product: str, issue: str, field: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        validate(taxonomy, business_type, product, issue)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_a_classification_comes_from_staff_or_a_suggestion() -> None:
    with pytest.raises(ValueError, match="source"):
        Classification("bank", "", "", "2026.1", "model")


# --- labels ------------------------------------------------------------------------------------


def test_a_code_is_shown_by_its_chinese_label(taxonomy: Taxonomy) -> None:
    assert label(taxonomy, "bank") == "银行业"
    assert label(taxonomy, "credit_cards") == "信用卡"
    assert label(taxonomy, "debt_collection") == "催收"
    assert label(taxonomy, "") == ""
    # A code retired since the case was classified still shows, as itself.
    assert label(taxonomy, "retired_code") == "retired_code"


# --- refusing a malformed file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version=2026.1), r"version: must be a quoted string"),
        (lambda d: d.update(version=""), r"version"),
        (lambda d: d.update(version="2026.1-" + "x" * 20), r"version: must be at most 24"),
        (
            lambda d: _entry(d, "business_types", "other").update(code="other_" + "x" * 20),
            r"business_types\[2\] other_x+: code: .* at most 24 characters",
        ),
        (
            lambda d: _entry(d, "issues", "fees").update(code="fees_" + "x" * 40),
            r"issues\[\d+\] fees_x+: code: .* at most 40 characters",
        ),
        (lambda d: d.update(categories=[]), r"unknown keys \['categories'\]"),
        (lambda d: d.update(business_types=[]), r"business_types: must be a non-empty list"),
        (lambda d: d.update(products={"auto": {}}), r"products: must be a list"),
        (
            lambda d: d["products"].append(copy.deepcopy(d["products"][0])),
            r"products\[\d+\] mortgages: code: 'mortgages' is already used by products\[0\]",
        ),
        (
            lambda d: _entry(d, "issues", "fees").update(code="auto"),
            r"issues\[\d+\] auto: code: 'auto' is already used by products\[\d+\] auto",
        ),
        (
            lambda d: _entry(d, "products", "loans").update(code="Loans"),
            r"products\[\d+\] Loans: code: must be lowercase",
        ),
        (
            lambda d: _entry(d, "products", "auto").update(business_type="motor"),
            r"products\[\d+\] auto: business_type: 'motor' is not one of bank, insurance, other",
        ),
        (
            lambda d: _entry(d, "products", "auto").update(keywords="车险"),
            r"products\[\d+\] auto: keywords: must be a list",
        ),
        (
            lambda d: _entry(d, "products", "auto")["keywords"].append(12378),
            r"products\[\d+\] auto: keywords\[\d+\]: must be a non-empty string",
        ),
        (
            lambda d: _entry(d, "products", "auto")["keywords"].append("车险"),
            r"products\[\d+\] auto: keywords\[\d+\]: '车险' is listed twice",
        ),
        (
            lambda d: _entry(d, "products", "auto").update(label=""),
            r"products\[\d+\] auto: label",
        ),
        (
            lambda d: _entry(d, "products", "auto").update(lable="车险"),
            r"products\[\d+\] auto: unknown keys \['lable'\]",
        ),
        (
            lambda d: _entry(d, "products", "auto").update(label="寿险"),
            r"products life: label: '寿险' is already the label of auto",
        ),
        (
            lambda d: _entry(d, "products", "life").update(aliases=["credit_card"]),
            r"products life: aliases: 'credit_card' already names credit_cards",
        ),
        (
            lambda d: _entry(d, "products", "life").update(aliases=["loans"]),
            r"products life: aliases: 'loans' already names loans",
        ),
        (
            lambda d: _entry(d, "issues", "claims").update(business_types=["insurer"]),
            r"issues\[\d+\] claims: business_types: 'insurer' is not one of",
        ),
        (
            lambda d: _entry(d, "issues", "claims").update(business_types=[]),
            r"issues\[\d+\] claims: business_types: must be a non-empty list",
        ),
        (
            lambda d: _entry(d, "issues", "claims").update(business_types=["bank", "bank"]),
            r"issues\[\d+\] claims: business_types: lists a business type twice",
        ),
        (lambda d: d["issues"].append("fees"), r"issues\[\d+\]: must be a mapping"),
    ],
)
def test_a_malformed_taxonomy_is_refused_naming_the_entry_and_field(
    doc: dict, edit, message: str
) -> None:
    edit(doc)
    with pytest.raises(ValueError, match=message):
        parse_taxonomy(doc)


def test_an_entry_with_no_keywords_is_allowed_but_never_suggested(doc: dict) -> None:
    _entry(doc, "products", "agriculture")["keywords"] = []
    del _entry(doc, "issues", "fraud")["keywords"]
    taxonomy = parse_taxonomy(doc)
    assert taxonomy.products["agriculture"].keywords == ()
    assert suggest(taxonomy, "农业保险").product == ""
    assert suggest(taxonomy, "信用卡被盗刷").issue == ""
    validate(taxonomy, "insurance", "agriculture", "claims")


def test_a_malformed_file_is_refused_naming_the_file(tmp_path: Path, doc: dict) -> None:
    _entry(doc, "products", "auto")["business_type"] = "motor"
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=r"taxonomy .*taxonomy\.yaml: products\[\d+\] auto"):
        load_taxonomy(path)
    path.write_text("products: [\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"taxonomy\.yaml: not valid YAML"):
        load_taxonomy(path)
