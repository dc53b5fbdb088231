"""Case classification (分类): the taxonomy file, a suggestion from the consumer's words, staff checks.

A case is classified by business type (业务类型), product (产品) and issue (投诉事由), each a code of the
versioned taxonomy file (data/taxonomy.yaml). Intake suggests a classification from the text it
receives; staff correct it, and the correction is checked here against the same file.

Keywords are matched as plain substrings: the project's preferred lexicon matcher (pyahocorasick)
is not a dependency, and a few hundred short keywords over a summary of at most 4,000 characters do
not need one.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.datafiles import at_line, load_yaml
from services.common.errors import InvalidArgument

DEFAULT_TAXONOMY_FILE = Path(__file__).parent / "data" / "taxonomy.yaml"
TAXONOMY_FILE_ENV = "XIAOBAO_TAXONOMY_FILE"
_log = logging.getLogger(__name__)

STAFF = "staff"
SUGGESTED = "suggested"
SOURCES = (STAFF, SUGGESTED)

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# The widths of the case columns the codes and the version are stored in.
MAX_CODE = 40
MAX_BUSINESS_TYPE = 24
MAX_VERSION = 24


@dataclass(frozen=True)
class BusinessType:
    """Bank, insurance or other; keywords are institution words (银行, 人寿 …)."""

    code: str
    label: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    """A product line of one business type; aliases are other spellings accepted as a hint."""

    code: str
    business_type: str
    label: str
    keywords: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Issue:
    """What the dispute is about, and the business types where it can arise (most common first)."""

    code: str
    label: str
    business_types: tuple[str, ...]
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """The versioned taxonomy file, validated. Entries keep the file's order (it breaks ties)."""

    version: str
    business_types: dict[str, BusinessType]
    products: dict[str, Product]
    issues: dict[str, Issue]


@dataclass(frozen=True)
class Classification:
    """A case's classification; empty strings where nothing is known yet.

    `source` says who chose it: "suggested" by intake from the text, or "staff" after a correction.
    """

    business_type: str
    product: str
    issue: str
    taxonomy_version: str
    source: str

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")


# --- loading -------------------------------------------------------------------------------------


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load the taxonomy at `path`, else $XIAOBAO_TAXONOMY_FILE, else the packaged file."""
    if path is None:
        path = os.environ.get(TAXONOMY_FILE_ENV) or DEFAULT_TAXONOMY_FILE
    return load_yaml(path, parse_taxonomy, "taxonomy")


_last_good: dict[str, Taxonomy] = {}
_last_error: dict[str, str] = {}


def taxonomy_in_force() -> Taxonomy:
    """The taxonomy file in force ($XIAOBAO_TAXONOMY_FILE, else the packaged one).

    Staff edit it without a release; a broken edit must not stop intake, so the last good copy
    read from the same path stays in force and the refusal is logged once per edit.
    """
    path = str(Path(os.environ.get(TAXONOMY_FILE_ENV) or DEFAULT_TAXONOMY_FILE).resolve())
    try:
        found = load_taxonomy(path)
    except (OSError, ValueError) as exc:
        if path not in _last_good:
            raise
        if _last_error.get(path) != str(exc):
            _log.error("taxonomy file rejected, the previous one stays in force: %s", exc)
            _last_error[path] = str(exc)
        return _last_good[path]
    _last_good[path] = found
    _last_error.pop(path, None)
    return found


_TOP_KEYS = {"version", "business_types", "products", "issues"}
_BUSINESS_TYPE_KEYS = {"code", "label", "keywords"}
_PRODUCT_KEYS = {"code", "business_type", "label", "keywords", "aliases"}
_ISSUE_KEYS = {"code", "label", "business_types", "keywords"}


def parse_taxonomy(raw: object) -> Taxonomy:
    """Validate a parsed taxonomy document; ValueError names the entry and field at fault."""
    if not isinstance(raw, Mapping):
        raise ValueError(at_line("the taxonomy must be a mapping", raw))
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ValueError(at_line(f"unknown keys {sorted(unknown)}", raw, min(unknown, key=str)))
    version = raw.get("version")
    # A number would lose digits on the way in (2026.10 reads as 2026.1), so it must be quoted.
    if not isinstance(version, str) or not version.strip():
        raise ValueError(
            at_line(
                f'version: must be a quoted string such as "2026.1", not {version!r}',
                raw,
                "version",
            )
        )
    if len(version.strip()) > MAX_VERSION:
        raise ValueError(
            at_line(f"version: must be at most {MAX_VERSION} characters", raw, "version")
        )

    seen: dict[str, str] = {}  # code -> the entry that took it; codes share one namespace
    business_types: dict[str, BusinessType] = {}
    for where, body in _entries(raw, "business_types", required=True):
        code, shown = _code_and_label(where, body, _BUSINESS_TYPE_KEYS, seen, MAX_BUSINESS_TYPE)
        business_types[code] = BusinessType(
            code=code, label=shown, keywords=_keywords(where, body, "keywords")
        )

    products: dict[str, Product] = {}
    for where, body in _entries(raw, "products"):
        code, shown = _code_and_label(where, body, _PRODUCT_KEYS, seen, MAX_CODE)
        business_type = body.get("business_type")
        if business_type not in business_types:
            raise ValueError(
                at_line(
                    f"{where}: business_type: {business_type!r} is not one of "
                    f"{', '.join(business_types)}",
                    body,
                    "business_type",
                )
            )
        products[code] = Product(
            code=code,
            business_type=business_type,
            label=shown,
            keywords=_keywords(where, body, "keywords"),
            aliases=_aliases(where, body),
        )
    _check_unique_labels("products", products.values(), raw)
    _check_aliases(products, raw)

    issues: dict[str, Issue] = {}
    for where, body in _entries(raw, "issues"):
        code, shown = _code_and_label(where, body, _ISSUE_KEYS, seen, MAX_CODE)
        applies = body.get("business_types")
        if not isinstance(applies, list) or not applies:
            raise ValueError(
                at_line(
                    f"{where}: business_types: must be a non-empty list of business types",
                    body,
                    "business_types",
                )
            )
        for j, bt in enumerate(applies):
            if bt not in business_types:
                raise ValueError(
                    at_line(
                        f"{where}: business_types: {bt!r} is not one of {', '.join(business_types)}",
                        applies,
                        j,
                    )
                )
        if len(set(applies)) != len(applies):
            raise ValueError(
                at_line(
                    f"{where}: business_types: lists a business type twice", body, "business_types"
                )
            )
        issues[code] = Issue(
            code=code,
            label=shown,
            business_types=tuple(applies),
            keywords=_keywords(where, body, "keywords"),
        )
    _check_unique_labels("issues", issues.values(), raw)

    return Taxonomy(
        version=version.strip(),
        business_types=business_types,
        products=products,
        issues=issues,
    )


def _entries(
    raw: Mapping[str, object], section: str, *, required: bool = False
) -> Iterable[tuple[str, Mapping[str, object]]]:
    entries = raw.get(section)
    if entries is None and not required:
        entries = []
    if not isinstance(entries, list) or (required and not entries):
        need = "a non-empty list" if required else "a list"
        raise ValueError(
            at_line(f"{section}: must be {need} of entries with a code and a label", raw, section)
            if section in raw
            else f"{section}: must be {need} of entries with a code and a label"
        )
    for i, body in enumerate(entries):
        if not isinstance(body, Mapping):
            raise ValueError(
                at_line(f"{section}[{i}]: must be a mapping with a code and a label", entries, i)
            )
        code = body.get("code")
        yield (f"{section}[{i}] {code}" if isinstance(code, str) else f"{section}[{i}]"), body


def _code_and_label(
    where: str, body: Mapping[str, object], keys: set[str], seen: dict[str, str], max_len: int
) -> tuple[str, str]:
    unknown = set(body) - keys
    if unknown:
        raise ValueError(
            at_line(f"{where}: unknown keys {sorted(unknown)}", body, min(unknown, key=str))
        )
    code = body.get("code")
    if not isinstance(code, str) or not CODE_PATTERN.match(code) or len(code) > max_len:
        raise ValueError(
            at_line(
                f"{where}: code: must be lowercase ascii, digits and '_', at most {max_len} "
                f"characters, not {code!r}",
                body,
                "code",
            )
        )
    if code in seen:
        raise ValueError(
            at_line(f"{where}: code: {code!r} is already used by {seen[code]}", body, "code")
        )
    seen[code] = where
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValueError(at_line(f"{where}: label: must be a non-empty string", body, "label"))
    return code, label.strip()


def _keywords(where: str, body: Mapping[str, object], key: str) -> tuple[str, ...]:
    """The entry's keywords, folded as they are matched; a missing or empty list means none."""
    items = body.get(key)
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValueError(
            at_line(f"{where}: {key}: must be a list of strings (it may be empty)", body, key)
        )
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(
                at_line(f"{where}: {key}[{i}]: must be a non-empty string, not {item!r}", items, i)
            )
        folded = " ".join(_fold(item).split())
        if folded in out:
            raise ValueError(at_line(f"{where}: {key}[{i}]: {item!r} is listed twice", items, i))
        out.append(folded)
    return tuple(out)


def _aliases(where: str, body: Mapping[str, object]) -> tuple[str, ...]:
    items = body.get("aliases")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValueError(
            at_line(
                f"{where}: aliases: must be a list of strings (it may be empty)", body, "aliases"
            )
        )
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not _hint_key(item):
            raise ValueError(
                at_line(
                    f"{where}: aliases[{i}]: must be a non-empty string, not {item!r}", items, i
                )
            )
        out.append(_hint_key(item))
    return tuple(out)


def _entry_line(raw: object, section: str, code: str, key: str) -> tuple[object, str]:
    """(the file's entry with this code, key) for at_line(); the section when not found."""
    entries = raw.get(section) if isinstance(raw, Mapping) else None
    for body in entries if isinstance(entries, list) else ():
        if isinstance(body, Mapping) and body.get("code") == code:
            return body, key
    return raw, section


def _check_aliases(products: Mapping[str, Product], raw: object = None) -> None:
    """A hint must lead to one product: no alias may be a code, or another product's alias."""
    taken: dict[str, str] = {code: code for code in products}
    for product in products.values():
        for alias in product.aliases:
            if alias in taken:
                raise ValueError(
                    at_line(
                        f"products {product.code}: aliases: {alias!r} already names {taken[alias]}",
                        *_entry_line(raw, "products", product.code, "aliases"),
                    )
                )
            taken[alias] = product.code


def _check_unique_labels(
    section: str, entries: Iterable[Product | Issue], raw: object = None
) -> None:
    # Staff pick from labels, and a product hint may be a label: two entries must not share one.
    labels: dict[str, str] = {}
    for entry in entries:
        if entry.label in labels:
            raise ValueError(
                at_line(
                    f"{section} {entry.code}: label: {entry.label!r} is already the label of "
                    f"{labels[entry.label]}",
                    *_entry_line(raw, section, entry.code, "label"),
                )
            )
        labels[entry.label] = entry.code


# --- suggesting ----------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Full-width letters and digits folded to ASCII, Latin letters lower-cased."""
    return unicodedata.normalize("NFKC", text).lower()


def _hint_key(hint: str) -> str:
    return re.sub(r"[\s\-]+", "_", _fold(hint).strip())


def _hits(keywords: tuple[str, ...], folded_text: str) -> int:
    """How many distinct keywords occur; a keyword with spaces needs every part to occur."""
    return sum(1 for k in keywords if all(part in folded_text for part in k.split()))


def _best(entries: Iterable[Product | Issue], folded_text: str) -> Product | Issue | None:
    """The entry with the most hits; a tie goes to the one listed first; None if none hit."""
    best, best_hits = None, 0
    for entry in entries:
        hits = _hits(entry.keywords, folded_text)
        if hits > best_hits:
            best, best_hits = entry, hits
    return best


def resolve_product_hint(taxonomy: Taxonomy, hint: str) -> str:
    """The product a hint names, by code, alias or label; "" if it names none."""
    key = _hint_key(hint)
    if not key:
        return ""
    if key in taxonomy.products:
        return key
    for product in taxonomy.products.values():
        if key in product.aliases or hint.strip() == product.label:
            return product.code
    return ""


def suggest(taxonomy: Taxonomy, text: str, product_hint: str = "") -> Classification:
    """A classification suggested from the consumer's words; staff confirm or correct it.

    `text` is what the consumer gave: the summary and the institution's name, run together. The
    product is the hint when the hint names one (code, alias or label), else the product with the
    most keyword hits in the text (and in a hint that named none). The business type is the
    product's; without a product it is the one the institution words point to. The issue is the one
    with the most hits among those that apply to that business type. When the text points to no
    single business type the issue decides it (its first listed type). Empty where nothing matches.
    """
    product_code = resolve_product_hint(taxonomy, product_hint)
    folded = _fold(text if product_code else f"{product_hint} {text}")
    if not product_code:
        found = _best(taxonomy.products.values(), folded)
        product_code = found.code if found else ""

    if product_code:
        candidates: tuple[str, ...] = (taxonomy.products[product_code].business_type,)
    else:
        candidates = _institution_types(taxonomy, folded) or tuple(taxonomy.business_types)

    issue = _best(
        (i for i in taxonomy.issues.values() if any(bt in candidates for bt in i.business_types)),
        folded,
    )
    if len(candidates) == 1:
        business_type = candidates[0]
    elif isinstance(issue, Issue):
        business_type = next(bt for bt in issue.business_types if bt in candidates)
    else:
        business_type = ""
    return Classification(
        business_type=business_type,
        product=product_code,
        issue=issue.code if issue else "",
        taxonomy_version=taxonomy.version,
        source=SUGGESTED,
    )


def _institution_types(taxonomy: Taxonomy, folded_text: str) -> tuple[str, ...]:
    """The business types whose institution words hit most (several on a tie); () if none hit."""
    hits = {bt.code: _hits(bt.keywords, folded_text) for bt in taxonomy.business_types.values()}
    most = max(hits.values(), default=0)
    return tuple(code for code, n in hits.items() if n and n == most)


# --- checking a correction -----------------------------------------------------------------------


def validate(taxonomy: Taxonomy, business_type: str, product: str, issue: str) -> None:
    """Raise InvalidArgument naming the field when the codes do not make one classification.

    Each code may be empty (not classified yet), but a product or an issue needs a business type;
    the product must be of that business type and the issue must apply to it.
    """
    version = taxonomy.version
    if business_type and business_type not in taxonomy.business_types:
        raise InvalidArgument(
            "classification.business_type",
            f"{business_type!r} is not a business type of taxonomy {version} "
            f"(known: {', '.join(taxonomy.business_types)})",
        )
    if product and product not in taxonomy.products:
        raise InvalidArgument(
            "classification.product", f"{product!r} is not a product of taxonomy {version}"
        )
    if issue and issue not in taxonomy.issues:
        raise InvalidArgument(
            "classification.issue", f"{issue!r} is not an issue of taxonomy {version}"
        )
    if (product or issue) and not business_type:
        raise InvalidArgument(
            "classification.business_type", "is required when a product or an issue is given"
        )
    if product and taxonomy.products[product].business_type != business_type:
        raise InvalidArgument(
            "classification.product",
            f"{product} is a {taxonomy.products[product].business_type} product, "
            f"not {business_type}",
        )
    if issue and business_type not in taxonomy.issues[issue].business_types:
        raise InvalidArgument(
            "classification.issue",
            f"{issue} does not apply to {business_type} "
            f"(only to {', '.join(taxonomy.issues[issue].business_types)})",
        )


def correct(taxonomy: Taxonomy, business_type: str, product: str, issue: str) -> Classification:
    """A staff correction, checked against the taxonomy."""
    business_type, product, issue = business_type.strip(), product.strip(), issue.strip()
    validate(taxonomy, business_type, product, issue)
    return Classification(
        business_type=business_type,
        product=product,
        issue=issue,
        taxonomy_version=taxonomy.version,
        source=STAFF,
    )


def label(taxonomy: Taxonomy, code: str) -> str:
    """The Chinese label of a business type, product or issue code, for display.

    A code the taxonomy no longer has (a case classified under an older version) shows as itself.
    """
    for entries in (taxonomy.business_types, taxonomy.products, taxonomy.issues):
        if code in entries:
            return entries[code].label
    return code
