"""Routing's rules: reading the directory file, and resolving the responsible node from free text."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import yaml
from rapidfuzz import fuzz, process

KINDS = ("bank", "life_insurer", "property_insurer", "other")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REGION_PATTERN = re.compile(r"^\d{6}$")

# Resolution, in score points (0-100; confidence is score / 100).
REGION_BONUS = 2.0  # an office covering the consumer's region: a tie-breaker, never a reason
PRODUCT_BONUS = 3.0  # an office selling the product the case is about
PRODUCT_PENALTY = 15.0  # one that does not (never to a name, or institution part, matched exactly)
# The two institutions the text fits best closer than this (score / 100) is ambiguous: "平安"
# alone fits Ping An Life, Ping An P&C and Ping An Bank equally, and a person decides.
AMBIGUITY_MARGIN = 0.05
# A former name (曾用名) is slightly weaker evidence than a current one, and a name form the
# resolver composed itself (brand + the office's own part) weaker still.
_FORMER_WEIGHT = 0.99
_COMPOSED_WEIGHT = 0.98
_CUTOFF = 60.0  # texts less alike than this are not worth ranking
_TIE = 1.0  # offices of one institution scoring within this many points fit the text equally
# Institution first: the text's institution part is its match key without place words (the
# directory's districts, and the city), the 区/县/新区 after them, and level words.
_CORE_LEVELS = re.compile("分公司|支公司|分行|支行|营业部|总行|总公司|总部|分理处")
_PLACE_SUFFIXES = "新区|区|县|市"
_CITY = ("天津", "120000")  # a place word even in a directory whose office names do not teach it
# An office inferred from more than the institution's name (a place, a level word) rather than
# matched by its own: the one for the place named is nearly certain, the institution's office
# covering that place (it has none there) a little less.
_AT_PLACE = 0.95
_NOT_THERE = 0.9

# Legal forms and the country prefix carry no information about which office is meant.
_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "股份公司")
_TRAILING_COMPANY = re.compile(r"(?<![分支总])公司$")
_CHINA_IN_BRACKETS = re.compile(r"[(（]中国[)）]")
# 中国 stays when what follows is generic: 中国银行 is Bank of China, 中国人寿 is China Life.
_GENERIC_AFTER_CHINA = ("银行", "人寿", "保险", "财产", "信托", "证券")
_PUNCT = re.compile(r"[\s·・,，.。()（）\-_/、:：;；\"'“”‘’]+")

# Level words (机构层级) written several ways; the match key uses one spelling. Homophone typos of
# the level word itself (分形 for 分行) are common enough in hotline notes to fix outright.
_LEVEL_TYPOS = (
    ("分形", "分行"),
    ("分航", "分行"),
    ("支形", "支行"),
    ("支航", "支行"),
    ("分工司", "分公司"),
    ("支工司", "支公司"),
    ("营业厅", "营业部"),
    ("营业室", "营业部"),
    ("中心支公司", "支公司"),
)
_LEVEL = "分行|支行|分公司|支公司|营业部"
_CENTRE_SHORT = re.compile(r"中支$")  # 滨海中支 = 滨海中心支公司
_CITY_WORD = re.compile(rf"市(?=.{{0,4}}?(?:区|县|{_LEVEL}))")  # 天津市分行, 天津市和平区支公司
_DISTRICT_WORD = re.compile(rf"区(?={_LEVEL})")  # 和平区支公司
_LEVEL_WORDS = re.compile(_LEVEL)

# What consumers and operators write around the institution's name. A word is only stripped when
# no name in the directory contains it (checked when the resolver is built).
_FILLERS = (
    "我之前在",
    "之前在",
    "我是在",
    "我在",
    "我从",
    "我于",
    "在",
    "办理的",
    "办的",
    "办了",
    "开户的",
    "开的户",
    "开的",
    "购买的",
    "买的",
    "买了",
    "投保的",
    "签的",
    "信用卡",
    "储蓄卡",
    "借记卡",
    "银行卡",
    "存折",
    "房贷",
    "车贷",
    "贷款",
    "理财产品",
    "理财",
    "保险单",
    "保单",
    "车险",
    "网点",
    "柜台",
    "客户经理",
    "理财经理",
    "业务员",
    "营销员",
    "代理人",
    "工作人员",
    "客服",
    "的",
    "了",
    "卡",
    "我",
)
# A product named in the text, used when the case does not say which product it is about.
_PRODUCT_WORDS = (
    ("信用卡", "credit_cards"),
    ("车险", "auto"),
    ("交强险", "auto"),
    ("房贷", "loans"),
    ("车贷", "loans"),
    ("贷款", "loans"),
    ("理财", "wealth_management"),
    ("存款", "deposits"),
    ("寿险", "life"),
    ("重疾险", "health"),
    ("医疗险", "health"),
    ("年金", "annuity"),
)


@dataclass(frozen=True)
class DirectoryNode:
    """机构节点: one office. `short_names` are the official 简称, `former_names` the 曾用名,
    `aliases` what people call it; `line` is where the directory file defines it (0 unknown)."""

    id: str
    parent_id: str | None
    name: str
    aliases: tuple[str, ...]
    kind: str
    region_code: str
    product_lines: tuple[str, ...]
    portal_contact: str = ""
    active: bool = True
    level: int = 0
    short_names: tuple[str, ...] = ()
    former_names: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)


class DirectoryError(ValueError):
    """A directory file that cannot be loaded; the message names the line, the node and field."""


# --- reading the directory ----------------------------------------------------------------------

# Keys the line-keeping loader adds to every mapping: objects, so no YAML key can collide.
_LINE = object()  # the mapping's first line
_KEY_LINES = object()  # {key: its line}

_NODE_KEYS = (
    "id",
    "name",
    "parent",
    "short_names",
    "former_names",
    "aliases",
    "kind",
    "region_code",
    "product_lines",
    "portal_contact",
    "active",
    "children",
)
_LIST_KEYS = ("short_names", "former_names", "aliases", "product_lines")


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when installed
    """Safe YAML that remembers where each mapping and key is, and refuses a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        lines: dict = {}
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key_node.value in lines:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key_node.value!r} given twice (first at line {lines[key_node.value]})",
                        key_node.start_mark,
                    )
                lines[key_node.value] = line
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        mapping[_KEY_LINES] = lines
        return mapping


def load_directory_text(text: str, source: str = "<directory>") -> list[DirectoryNode]:
    """Parses a directory file; every refusal says `{source}:{line}: node {id}: {problem}`."""
    loader = _LineLoader(text)
    try:
        doc = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise DirectoryError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
    return _build(doc, source)


def parse_directory(doc: dict) -> list[DirectoryNode]:
    """The nodes of an already-parsed directory document (line numbers unknown)."""
    return _build(doc, "")


@dataclass
class _Entry:
    item: dict
    id: str
    nested_parent: str | None
    line: int
    parent: str | None = None


def _where(source: str, line: int, node_id: str | None, problem: str) -> str:
    parts = []
    if source and line:
        parts.append(f"{source}:{line}")
    elif source:
        parts.append(source)
    elif line:
        parts.append(f"line {line}")
    if node_id is not None:
        parts.append(f"node {node_id or '(no id)'}")
    parts.append(problem)
    return ": ".join(parts)


def _line_of(item: dict, key: str | None = None) -> int:
    if key is not None:
        line = item.get(_KEY_LINES, {}).get(key)
        if line:
            return line
    return item.get(_LINE, 0)


def _build(doc: object, source: str) -> list[DirectoryNode]:
    if not isinstance(doc, dict) or not isinstance(doc.get("institutions"), list):
        line = (_line_of(doc, "institutions") if isinstance(doc, dict) else 0) or 1
        raise DirectoryError(
            _where(source, line, None, "the file must have a list under 'institutions'")
        )
    if not doc["institutions"]:
        # Offices missing from a file are deactivated: an empty list would close every one.
        raise DirectoryError(
            _where(source, _line_of(doc, "institutions"), None, "the file lists no institutions")
        )
    entries: dict[str, _Entry] = {}
    order: list[_Entry] = []

    def fail(item: dict, node_id: str | None, problem: str, key: str | None = None) -> None:
        raise DirectoryError(_where(source, _line_of(item, key), node_id, problem))

    def collect(item: object, nested_parent: _Entry | None, holder: dict | None) -> None:
        if not isinstance(item, dict):
            under = nested_parent.id if nested_parent else "the top"
            line = _line_of(holder, "children") if holder else _line_of(doc, "institutions")
            raise DirectoryError(
                _where(source, line, None, f"a node under {under} is not a mapping")
            )
        raw_id = item.get("id", "")
        node_id = raw_id if isinstance(raw_id, str) else str(raw_id)
        if not isinstance(raw_id, str):
            fail(item, node_id, "id must be text", "id")
        if not ID_PATTERN.match(node_id):
            fail(item, node_id, "id must be lowercase ascii, digits and '-'", "id")
        if node_id in entries:
            first = entries[node_id].line
            also = f" (also at line {first})" if first else ""
            fail(item, node_id, f"duplicate id{also}")
        _check_fields(item, node_id, fail)
        entry = _Entry(item, node_id, nested_parent.id if nested_parent else None, _line_of(item))
        entries[node_id] = entry
        order.append(entry)
        for child in item.get("children") or []:
            collect(child, entry, item)

    for top in doc["institutions"]:
        collect(top, None, None)

    for entry in order:
        declared = entry.item.get("parent")
        if declared is None:
            entry.parent = entry.nested_parent
            continue
        if declared not in entries:
            fail(entry.item, entry.id, f"parent {declared} is not in the directory", "parent")
        if entry.nested_parent and declared != entry.nested_parent:
            fail(
                entry.item,
                entry.id,
                f"nested under {entry.nested_parent} but says parent: {declared}",
                "parent",
            )
        entry.parent = declared
    _refuse_cycles(order, entries, source)

    children: dict[str | None, list[_Entry]] = {}
    for entry in order:
        children.setdefault(entry.parent, []).append(entry)
    nodes: list[DirectoryNode] = []

    def emit(entry: _Entry, parent: DirectoryNode | None, level: int) -> None:
        item = entry.item
        kind = item.get("kind") or (parent.kind if parent else "")
        if kind not in KINDS:
            fail(item, entry.id, f"kind must be one of {', '.join(KINDS)}", "kind")
        products = item.get("product_lines")
        if products is None:
            products = parent.product_lines if parent else ()
        node = DirectoryNode(
            id=entry.id,
            parent_id=parent.id if parent else None,
            name=item["name"].strip(),
            aliases=tuple(item.get("aliases") or ()),
            kind=kind,
            region_code=item["region_code"],
            product_lines=tuple(products),
            portal_contact=item.get("portal_contact") or "",
            active=item.get("active", True),
            level=level,
            short_names=tuple(item.get("short_names") or ()),
            former_names=tuple(item.get("former_names") or ()),
            line=entry.line,
        )
        nodes.append(node)
        for child in children.get(entry.id, []):
            emit(child, node, level + 1)

    for root in children.get(None, []):
        emit(root, None, 0)
    return nodes


def _check_fields(item: dict, node_id: str, fail) -> None:
    """Keys, types and formats of one node, before it is linked into the tree."""
    for key in item:
        if key is _LINE or key is _KEY_LINES:
            continue
        if key not in _NODE_KEYS:
            close = difflib.get_close_matches(str(key), _NODE_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            fail(item, node_id, f"unknown key {key!r}{hint}", key)
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        fail(item, node_id, "name must be text", "name")
    if not (name or "").strip():
        fail(item, node_id, "name is required", "name" if "name" in item else None)
    parent = item.get("parent")
    if parent is not None and not isinstance(parent, str):
        fail(item, node_id, "parent must be the id of another node", "parent")
    kind = item.get("kind")
    if kind is not None and kind not in KINDS:
        fail(item, node_id, f"kind must be one of {', '.join(KINDS)}", "kind")
    region = item.get("region_code")
    if not isinstance(region, str) or not REGION_PATTERN.match(region):
        problem = "region_code must be 6 digits (GB/T 2260)"
        if isinstance(region, int):
            problem = "region_code must be 6 digits in quotes (GB/T 2260), not a number"
        fail(item, node_id, problem, "region_code" if "region_code" in item else None)
    for key in _LIST_KEYS:
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            fail(item, node_id, f"{key} must be a list of non-empty text", key)
    contact = item.get("portal_contact")
    if contact is not None and not isinstance(contact, str):
        fail(item, node_id, "portal_contact must be text", "portal_contact")
    if not isinstance(item.get("active", True), bool):
        fail(item, node_id, "active must be true or false", "active")
    kids = item.get("children")
    if kids is not None and not isinstance(kids, list):
        fail(item, node_id, "children must be a list of nodes", "children")


def _refuse_cycles(order: list[_Entry], entries: dict[str, _Entry], source: str) -> None:
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for start in order:
        path: list[str] = []
        current: str | None = start.id
        while current is not None and state.get(current) is None:
            state[current] = 1
            path.append(current)
            current = entries[current].parent
        if current is not None and state[current] == 1:
            cycle = path[path.index(current) :]
            # Only `parent:` can close a loop; point at the first such line in the file.
            declared = [entries[i] for i in cycle if entries[i].item.get("parent") is not None]
            at = min(declared or [entries[current]], key=lambda e: _line_of(e.item, "parent"))
            loop = " -> ".join([*cycle, cycle[0]])
            raise DirectoryError(
                _where(
                    source,
                    _line_of(at.item, "parent"),
                    at.id,
                    f"parent links form a cycle: {loop}",
                )
            )
        for node_id in path:
            state[node_id] = 2


def export_directory(nodes: Sequence[DirectoryNode], version: str = "") -> dict:
    """The nested directory document for these nodes; `load_directory_text` reads it back equal.

    Kind and product lines are written only where they differ from the parent's, empty lists not
    at all (except product lines emptier than the parent's), inactive nodes with `active: false`.
    """
    by_id: dict[str, DirectoryNode] = {}
    children: dict[str | None, list[DirectoryNode]] = {}
    for node in nodes:
        if node.id in by_id:
            raise DirectoryError(f"node {node.id}: duplicate id")
        by_id[node.id] = node
    for node in nodes:
        if node.parent_id is not None and node.parent_id not in by_id:
            raise DirectoryError(f"node {node.id}: parent {node.parent_id} is not being exported")
        children.setdefault(node.parent_id, []).append(node)
    written = 0

    def item(node: DirectoryNode, parent: DirectoryNode | None) -> dict:
        nonlocal written
        written += 1
        out: dict = {"id": node.id, "name": node.name}
        for key in ("short_names", "former_names", "aliases"):
            if getattr(node, key):
                out[key] = list(getattr(node, key))
        if parent is None or node.kind != parent.kind:
            out["kind"] = node.kind
        out["region_code"] = node.region_code
        inherited = parent.product_lines if parent else ()
        if node.product_lines != inherited:
            out["product_lines"] = list(node.product_lines)
        if node.portal_contact:
            out["portal_contact"] = node.portal_contact
        if not node.active:
            out["active"] = False
        kids = [item(child, node) for child in children.get(node.id, [])]
        if kids:
            out["children"] = kids
        return out

    doc: dict = {"version": version} if version else {}
    doc["institutions"] = [item(root, None) for root in children.get(None, [])]
    if written != len(nodes):
        raise DirectoryError("some nodes' parent links form a cycle; they cannot be nested")
    return doc


# --- matching text ------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Full-width → half-width, lower case, no punctuation, no legal-form suffix or 中国 prefix."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CHINA_IN_BRACKETS.sub("", text)
    text = _PUNCT.sub("", text)
    for form in _LEGAL_FORMS:
        text = text.replace(form, "")
    text = _TRAILING_COMPANY.sub("", text)
    if text.startswith("中国") and len(text) >= 4 and not text[2:].startswith(_GENERIC_AFTER_CHINA):
        text = text[2:]
    return text


def _match_key(text: str) -> str:
    """normalise() plus one spelling of each level word: 天津市分行 = 天津分行, 中心支公司 = 支公司."""
    text = normalise(text)
    for wrong, right in _LEVEL_TYPOS:
        text = text.replace(wrong, right)
    text = _CENTRE_SHORT.sub("支公司", text)
    text = _CITY_WORD.sub("", text)
    return _DISTRICT_WORD.sub("", text)


def region_covers(node_region: str, region: str) -> bool:
    """A province code (12xxxx with 0000) covers its cities and districts, a city its districts."""
    if not region or not node_region:
        return False
    if node_region.endswith("0000"):
        return region[:2] == node_region[:2]
    if node_region.endswith("00"):
        return region[:4] == node_region[:4]
    return region == node_region


@dataclass(frozen=True)
class Resolution:
    node: DirectoryNode | None
    confidence: float
    runner_up: DirectoryNode | None
    runner_up_confidence: float
    needs_human: bool
    matched: str = ""  # the name, short name, alias or former name that matched
    reason: str = ""  # one English sentence explaining the decision


@dataclass(frozen=True)
class _Key:
    text: str  # the match key
    shown: str  # as written in the directory (or composed)
    source: str  # "name", "short name", "alias", "former name", "name form"
    node: DirectoryNode
    weight: float


@dataclass(frozen=True)
class _Brand:
    """An institution part: one of an office's names with its place and level words taken out
    (工行 of 工行河西支行, 工商银行 of 中国工商银行股份有限公司天津市分行, 天津银行 of 天津银行滨海分行)."""

    text: str
    shown: str  # the name as written in the directory
    source: str  # "name", "short name", "alias", "former name"
    node: DirectoryNode
    weight: float
    tree: str  # the institution (head office id)
    placed: bool  # the institution's names only use it beside a place (天津人保, 西青农商行)


@dataclass(frozen=True)
class _Institution:
    """How well the text's institution part fits one institution, in score points with bonuses."""

    score: float
    brand: _Brand
    how: str
    offices: tuple[DirectoryNode, ...]  # whose names fit that well
    core: str  # the text's institution part, as this institution reads the text


@dataclass(frozen=True)
class _Place:
    """Where to look inside an institution: a place the text names, else the consumer's region."""

    where: str
    why: str
    word: str = ""  # the place word when the text names one


@dataclass
class _Choice:
    """One institution's answer to the text."""

    score: float  # the institution's score points (ambiguity is judged on these)
    confidence: float  # for the office reached
    plain: float  # the same from the institution part alone, without the whole text's help
    path: list[DirectoryNode]
    matched: str
    reason: list[str]

    @property
    def node(self) -> DirectoryNode:
        return self.path[-1]


def _named(node: DirectoryNode) -> Iterator[tuple[str, str, float]]:
    """(what kind of name, the name, its weight) for every name a node answers to."""
    for source, texts, weight in (
        ("name", (node.name,), 1.0),
        ("short name", node.short_names, 1.0),
        ("alias", node.aliases, 1.0),
        ("former name", node.former_names, _FORMER_WEIGHT),
    ):
        for text in texts:
            yield source, text, weight


@dataclass
class Resolver:
    """Institution first, office second. The text's institution part (the text without place and
    level words: 农行 of 农行西青支行) picks the institution, compared with its names reduced the
    same way, so 农行 and 建行 differ however alike 农行西青支行 and 建行西青支行 look. Within the
    institution an exact name picks the office, else the place the text names, else the consumer's
    region (down the tree); fuzzy matching of the whole text only helps inside the institution
    chosen. Indexes are built once per directory, so resolve() stays cheap."""

    nodes: Sequence[DirectoryNode]
    min_confidence: float = 0.72
    _keys: list[_Key] = field(init=False, default_factory=list)
    _texts: list[str] = field(init=False, default_factory=list)
    _exact: dict[str, list[int]] = field(init=False, default_factory=dict)
    _children: dict[str, list[DirectoryNode]] = field(init=False, default_factory=dict)
    _by_id: dict[str, DirectoryNode] = field(init=False, default_factory=dict)
    _institution: dict[str, str] = field(init=False, default_factory=dict)
    _places: list[tuple[str, str]] = field(init=False, default_factory=list)
    _fillers: tuple[str, ...] = field(init=False, default=())
    _own_place: dict[str, str] = field(init=False, default_factory=dict)
    _place_pattern: re.Pattern | None = field(init=False, default=None)
    _place_codes: dict[str, str] = field(init=False, default_factory=dict)
    _protect: dict[str, frozenset[str]] = field(init=False, default_factory=dict)
    _brands: dict[str, list[_Brand]] = field(init=False, default_factory=dict)
    _brand_texts: list[str] = field(init=False, default_factory=list)
    _regions: dict[str, tuple[set[str], set[str], set[str]]] = field(
        init=False, default_factory=dict
    )
    _tree_keys: dict[str, tuple[list[int], list[str]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_id = self._by_id = {n.id: n for n in self.nodes}
        for node in self.nodes:
            root = node
            seen = {root.id}
            while root.parent_id in by_id and root.parent_id not in seen:
                root = by_id[root.parent_id]
                seen.add(root.id)
            self._institution[node.id] = root.id
            if node.active and node.parent_id:
                self._children.setdefault(node.parent_id, []).append(node)
        active = [n for n in self.nodes if n.active]
        for node in active:
            for source, text, weight in _named(node):
                self._add(_Key(_match_key(text), text, source, node, weight))
        self._places = self._place_words(by_id)
        explicit = set(self._exact)
        for node in active:
            self._compose(node, by_id, explicit)
        self._texts = [k.text for k in self._keys]
        for index, key in enumerate(self._keys):
            indexes, texts = self._tree_keys.setdefault(self._institution[key.node.id], ([], []))
            indexes.append(index)
            texts.append(key.text)
        self._fillers = tuple(f for f in _FILLERS if not any(f in t for t in self._texts))
        self._index_brands(active)

    def _add(self, key: _Key) -> None:
        if not key.text:
            return
        same = self._exact.setdefault(key.text, [])
        if any(self._keys[i].node.id == key.node.id for i in same):
            return  # 工商银行 as the normalised name and as the short name: one key
        same.append(len(self._keys))
        self._keys.append(key)

    def _own_part(self, node: DirectoryNode, by_id: dict[str, DirectoryNode]) -> str:
        """What the office's name adds to its institution's: 天津河西支行 of 工商银行天津河西支行."""
        root = by_id[self._institution[node.id]]
        whole, head = _match_key(node.name), _match_key(root.name)
        return whole[len(head) :] if root is not node and whole.startswith(head) else ""

    def _place_words(self, by_id: dict[str, DirectoryNode]) -> list[tuple[str, str]]:
        """Place names the directory's own office names teach (河西 → 120103), longest first."""
        found: dict[str, set[str]] = {}

        def place(node: DirectoryNode, depth: int = 0) -> str:
            word = _LEVEL_WORDS.sub("", self._own_part(node, by_id))
            parent = by_id.get(node.parent_id or "")
            if parent is not None and parent.parent_id is not None and depth < len(by_id):
                above = place(parent, depth + 1)
                if above and word.startswith(above):
                    word = word[len(above) :]
            return word

        for node in self.nodes:
            word = place(node) if node.parent_id in by_id else ""
            if len(word) >= 2 and not word.isascii():
                found.setdefault(word, set()).add(node.region_code)
                self._own_place[node.id] = word
        words = [(w, codes.pop()) for w, codes in found.items() if len(codes) == 1]
        return sorted(words, key=lambda wc: -len(wc[0]))

    def _compose(self, node: DirectoryNode, by_id: dict[str, DirectoryNode], taken: set) -> None:
        """Each of the institution's names with this office's own part: 工行 + 天津河西支行."""
        own = self._own_part(node, by_id)
        if not own:
            return
        parts = {own}
        parent = by_id.get(node.parent_id or "")
        if parent is not None and parent.parent_id is not None:
            above = _LEVEL_WORDS.sub("", self._own_part(parent, by_id))
            if above and own.startswith(above) and len(own) > len(above) + 2:
                parts.add(own[len(above) :])  # 工行河西支行 as well as 工行天津河西支行
        root = by_id[self._institution[node.id]]
        for source, texts, weight in (
            ("name form", (root.name, *root.short_names, *root.aliases), _COMPOSED_WEIGHT),
            ("former name form", root.former_names, _COMPOSED_WEIGHT * _FORMER_WEIGHT),
        ):
            for text in texts:
                brand = _match_key(text)
                for part in sorted(parts):
                    composed = brand + part
                    if brand and composed not in taken:
                        self._add(_Key(composed, text + part, source, node, weight))

    # --- the institution part ---------------------------------------------------------------

    def _index_brands(self, active: list[DirectoryNode]) -> None:
        """Every name's institution part, by institution. A place word inside a head office's own
        name (天津 of 天津银行) belongs to that institution's names and is kept there."""
        self._place_codes = dict(self._places)
        self._place_codes.setdefault(*_CITY)
        words = sorted(self._place_codes, key=lambda w: -len(w))
        alternatives = "|".join(re.escape(w) for w in words)
        self._place_pattern = re.compile(f"({alternatives})({_PLACE_SUFFIXES})?")
        for node in self.nodes:
            if node.parent_id is None or node.parent_id not in self._by_id:
                names = [_match_key(t) for t in (node.name, *node.short_names, *node.aliases)]
                names += [_match_key(t) for t in node.former_names]
                inside = frozenset(w for w in words if any(w in name for name in names))
                self._protect[node.id] = inside
        brands: list[_Brand] = []
        for node in active:
            tree = self._institution[node.id]
            provinces, cities, districts = self._regions.setdefault(tree, (set(), set(), set()))
            code = node.region_code
            if code.endswith("0000"):
                provinces.add(code[:2])
            elif code.endswith("00"):
                cities.add(code[:4])
            else:
                districts.add(code)
            protect = self._protect.get(tree, frozenset())
            for source, text, weight in _named(node):
                core, places = self._split(_match_key(text), protect)
                if core:
                    brands.append(_Brand(core, text, source, node, weight, tree, bool(places)))
        bare = {(b.text, b.tree) for b in brands if not b.placed}
        seen: set[tuple[str, str, str]] = set()
        for brand in brands:
            if brand.placed and (brand.text, brand.tree) in bare:
                continue  # 天津工行 says no more about ICBC than 工行 does
            if (brand.text, brand.tree, brand.node.id) in seen:
                continue
            seen.add((brand.text, brand.tree, brand.node.id))
            self._brands.setdefault(brand.text, []).append(brand)
        self._brand_texts = list(self._brands)

    def _split(self, key: str, protect: frozenset[str] = frozenset()) -> tuple[str, list]:
        """The institution part of a match key, and the places taken out of it (word, code):
        农行 and [(西青, 120111)] of 农行西青支行. Words in `protect` stay (天津 of 天津银行)."""
        found: list[tuple[str, str]] = []

        def cut(match: re.Match) -> str:
            word, suffix = match.group(1), match.group(2) or ""
            if word in protect:
                return match.group(0)
            code = self._place_codes[word]
            found.append((word, code))
            return suffix if suffix == "市" and not code.endswith("00") else ""

        text = self._place_pattern.sub(cut, key) if self._place_pattern else key
        return _CORE_LEVELS.sub("", text), found

    def _brand_scores(self, core: str) -> dict[str, tuple[float, str]]:
        """Each institution part's (score, how) against the text's, scored as whole texts are."""
        scores: dict[str, tuple[float, str]] = {}
        if core in self._brands:
            scores[core] = (100.0, "exactly")
        for text, score, _ in process.extract(
            core, self._brand_texts, scorer=fuzz.ratio, limit=None, score_cutoff=_CUTOFF
        ):
            if score > scores.get(text, (-1.0,))[0]:
                scores[text] = (score, "closely")
        if len(core) < 2:
            return scores
        for text in self._brand_texts:
            if text in core:
                how = "within the text"
            elif core in text:
                how = "in part"
            else:
                continue
            short, long = sorted((len(core), len(text)))
            if short >= 2 and short < long:
                score = 100.0 * (0.7 + 0.3 * short / long)
                if score > scores.get(text, (-1.0,))[0]:
                    scores[text] = (score, how)
        return scores

    def _institutions(
        self, query: str, found: list, place_of: Callable[[str], _Place], product: str
    ) -> dict[str, _Institution]:
        """How well the text's institution part fits each institution that resembles it."""
        present = frozenset(w for w, _ in found)
        # The place words each institution keeps in the text (天津 by 天津银行).
        reading = {tree: protect & present for tree, protect in self._protect.items()}
        cores: dict[frozenset[str], str] = {}
        best: dict[str, tuple[float, _Brand, str]] = {}
        near: dict[str, list[tuple[float, DirectoryNode]]] = {}
        for kept in set(reading.values()):
            core, places = self._split(query, kept)
            cores[kept] = core
            if not core:
                continue
            for text, (score, how) in self._brand_scores(core).items():
                for brand in self._brands[text]:
                    if reading.get(brand.tree) != kept or (brand.placed and not places):
                        continue  # 天津人保 tells 人保南开 apart, not 人保 alone
                    points = score * brand.weight
                    near.setdefault(brand.tree, []).append((points, brand.node))
                    if points > best.get(brand.tree, (-1.0,))[0]:
                        best[brand.tree] = (points, brand, how)
        institutions: dict[str, _Institution] = {}
        for tree, (points, brand, how) in best.items():
            where = place_of(tree).where
            score = points
            if where and self._covers(tree, where):
                score += REGION_BONUS
            products = brand.node.product_lines
            if product and product in products:
                score += PRODUCT_BONUS
            elif product and products and (how != "exactly" or brand.placed):
                score -= PRODUCT_PENALTY  # 人保 (of 南开人保) names no one company of the group
            offices = tuple(dict.fromkeys(n for p, n in near[tree] if points - p <= _TIE))
            institutions[tree] = _Institution(score, brand, how, offices, cores[reading[tree]])
        return institutions

    def _covers(self, tree: str, region: str) -> bool:
        """Whether some active office of the institution covers the region (region_covers)."""
        provinces, cities, districts = self._regions[tree]
        return region[:2] in provinces or region[:4] in cities or region in districts

    # --- the whole text -------------------------------------------------------------------------

    def _query(self, text: str) -> tuple[str, str]:
        """The match key of the text with the words around the name dropped, and its product."""
        key = _match_key(text)
        product = next((p for word, p in _PRODUCT_WORDS if word in key), "")
        stripped = key
        for filler in self._fillers:
            stripped = stripped.replace(filler, "")
        return (stripped or key), product

    def _score(self, query: str, tree: str | None = None) -> dict[str, tuple[float, _Key, str]]:
        """Each node's best (score, key, how) over its keys; only one institution's if given."""
        best: dict[str, tuple[float, _Key, str]] = {}
        if tree is None:
            indexes, texts = range(len(self._texts)), self._texts
        else:
            indexes, texts = self._tree_keys.get(tree, ((), ()))

        def offer(score: float, key: _Key, how: str) -> None:
            score *= key.weight
            if score > best.get(key.node.id, (-1.0,))[0]:
                best[key.node.id] = (score, key, how)

        for index in self._exact.get(query, ()):
            if tree is None or self._institution[self._keys[index].node.id] == tree:
                offer(100.0, self._keys[index], "exactly")
        for _, score, position in process.extract(
            query, texts, scorer=fuzz.ratio, limit=None, score_cutoff=_CUTOFF
        ):
            offer(score, self._keys[indexes[position]], "closely")
        if len(query) < 2:
            return best
        # One name inside the other ("工行" in "我在工行办的卡", "平安" in "平安人寿") counts, but
        # less the less of the longer text it explains, so a whole branch name beats a short name.
        for index, text in zip(indexes, texts, strict=True):
            if text in query:
                how = "within the text"
            elif query in text:
                how = "in part"
            else:
                continue
            short, long = sorted((len(query), len(text)))
            if short >= 2 and short < long:
                offer(100.0 * (0.7 + 0.3 * short / long), self._keys[index], how)
        return best

    # --- deciding ---------------------------------------------------------------------------

    def resolve(self, text: str, region: str = "", product: str = "") -> Resolution:
        query, product_in_text = self._query(text)
        if not query:
            return Resolution(None, 0.0, None, 0.0, True, reason="no institution was named")
        named = product or f"{product_in_text} (named in the text)"
        product = product or product_in_text
        core, found = self._split(query)
        if not core and query not in self._exact:
            reason = "no institution was named, only a place or an office level"
            return Resolution(None, 0.0, None, 0.0, True, reason=reason)
        places: dict[frozenset[str], _Place] = {}

        def place_of(tree: str) -> _Place:
            # 天津 is no place in 天津银行: each institution reads the text as it reads its names.
            protect = self._protect.get(tree, frozenset())
            if protect not in places:
                usable = [(w, code) for w, code in found if w not in protect]
                district = next(((w, c) for w, c in usable if not c.endswith("00")), None)
                place = district or next(iter(usable), None)
                if place and (not region or not place[1].endswith("00")):
                    word, code = place
                    places[protect] = _Place(code, f"{word} in the text ({code})", word)
                else:
                    places[protect] = _Place(region, f"region {region}")
            return places[protect]

        def adjusted(base: float, node: DirectoryNode, how: str, where: str) -> float:
            score = base
            if where and region_covers(node.region_code, where):
                score += REGION_BONUS
            if product and product in node.product_lines:
                score += PRODUCT_BONUS
            elif product and node.product_lines and how != "exactly":
                score -= PRODUCT_PENALTY
            return score

        def whole(tree: str) -> list[tuple[float, DirectoryNode, _Key, str]]:
            """The whole text against the institution's names, best first."""
            where = place_of(tree).where
            ranked = [
                (adjusted(base, key.node, how, where), key.node, key, how)
                for base, key, how in self._score(query, tree).values()
            ]
            return sorted(ranked, key=lambda r: (-r[0], r[1].level, r[1].id))

        # A name matched exactly decides the institution; otherwise the institution part does.
        exact: dict[str, float] = {}
        for index in self._exact.get(query, ()):
            key = self._keys[index]
            tree = self._institution[key.node.id]
            score = adjusted(100.0 * key.weight, key.node, "exactly", place_of(tree).where)
            exact[tree] = max(score, exact.get(tree, score))
        institutions = self._institutions(query, found, place_of, product)
        contenders = []
        for tree in {*institutions, *exact}:
            score = max(
                institutions[tree].score if tree in institutions else -1.0, exact.get(tree, -1.0)
            )
            level = self._by_id[tree].level
            contenders.append((tree not in exact, -score, level, tree, score))
        if not contenders:
            return Resolution(
                None, 0.0, None, 0.0, True, reason="nothing in the directory resembles the text"
            )
        contenders.sort()
        ranked = [whole(c[3]) for c in contenders[:2]]
        top, *rest = (
            self._choose(query, c[4], institutions.get(c[3]), r, place_of(c[3]), product, named)
            for c, r in zip(contenders, ranked, strict=False)
        )
        rival = rest[0] if rest else None
        ambiguous = rival is not None and (top.score - rival.score) / 100.0 < AMBIGUITY_MARGIN

        # The runner-up is another office: not the one chosen, nor one it was reached through;
        # the other institution's when that fits about as well.
        taken = {n.id for n in top.path}
        runner = next(
            ((min(r[0], 100.0) / 100.0, r[1]) for r in ranked[0] if r[1].id not in taken),
            None,
        )
        if runner is not None:
            runner = (min(runner[0], top.confidence), runner[1])
        # Another institution counts by its institution part alone: the words around it (西青支行)
        # are what made 建行西青支行 look like 农行西青支行 in the first place.
        if (
            rival is not None
            and rival.node.id not in taken
            and (ambiguous or runner is None or rival.plain >= runner[0])
        ):
            runner = (rival.plain, rival.node)
        reason = top.reason
        needs_human = top.confidence < self.min_confidence
        if needs_human:
            reason.append(f"too weak to route ({top.confidence:.2f} < {self.min_confidence:.2f})")
        elif ambiguous:
            needs_human = True
            reason.append(
                f"but {rival.node.id} fits about as well ({rival.plain:.2f}), so a person decides"
            )
        return Resolution(
            node=top.node,
            confidence=round(top.confidence, 3),
            runner_up=runner[1] if runner else None,
            runner_up_confidence=round(runner[0], 3) if runner else 0.0,
            needs_human=needs_human,
            matched=top.matched,
            reason="; ".join(reason),
        )

    def _choose(
        self,
        query: str,
        score: float,
        institution: _Institution | None,
        ranked: list[tuple[float, DirectoryNode, _Key, str]],
        place: _Place,
        product: str,
        named: str,
    ) -> _Choice:
        """The office of one institution that the text means: the one it names exactly, else
        the one for the place it names (or the office covering that place when the institution
        has none there), else down from its best fitting office to the consumer's region."""
        exact = bool(ranked) and ranked[0][3] == "exactly"
        if exact or institution is None:
            points, _, key, how = ranked[0]
            plain = points
            reason = [f"{key.source} {key.shown} matched {how}"]
            matched = key.shown
            start = self._tied(ranked, reason)
        else:
            brand = institution.brand
            said = f" (as {brand.text})" if brand.placed else ""
            reason = [
                f"{brand.source} {brand.shown} matched the institution {institution.how}{said}"
            ]
            matched = brand.shown
            points = min(score, 100.0)
            if query != institution.core:
                # The text says more than the institution (a place, a level): the office is
                # inferred from it, never as surely as from a name matched exactly.
                points *= _AT_PLACE
            plain = points
            start = self._common_office(list(institution.offices))
            if not place.word and ranked and ranked[0][0] >= score - _TIE:
                # The whole text tells which of its offices: 平安车险 is 天津平安车险's.
                key, how = ranked[0][2], ranked[0][3]
                if key.shown != brand.shown:
                    reason.append(f"{key.source} {key.shown} matched {how}")
                matched = key.shown
                points = max(points, ranked[0][0])
                start = self._tied(ranked, reason)
        if product and product in start.product_lines:
            reason.append(f"it offers {named}")
        elif product and start.product_lines:
            reason.append(f"though {named} is not among its products")
        path = self._descent(start, place.where, place.word)
        node = path[-1]
        there = True
        if place.word and not exact and institution is not None:
            there = node.region_code == place.where or self._own_place.get(node.id) == place.word
            plain = min(score, 100.0) * (_AT_PLACE if there else _NOT_THERE)
            # 工商银航河西支行 is close to 工商银行河西支行 as a whole, typo and all.
            fit = next((r[0] for r in ranked if r[1] is node), -1.0)
            points = max(plain, fit)
        if not there:
            reason.append(f"it has no office for {place.why}, so {node.id} answers")
        elif node is not start:
            reason.append(f"descended to {node.id} for {place.why}")
        confidence, plain = min(points, 100.0) / 100.0, min(plain, 100.0) / 100.0
        return _Choice(score, confidence, plain, path, matched, reason)

    def _tied(
        self, ranked: list[tuple[float, DirectoryNode, _Key, str]], reason: list
    ) -> DirectoryNode:
        """The best fitting office, or the one above all that fit equally well: "人保" fits
        人保财险, 天津人保 and 滨海人保 alike, so it names the institution, not one of its offices."""
        top_score, top = ranked[0][0], ranked[0][1]
        tied = [r[1] for r in ranked if top_score - r[0] <= _TIE]
        if len(tied) > 1:
            above = self._common_office(tied)
            if above is not top:
                reason.append(f"{len(tied)} of its offices fit equally, so started at {above.id}")
                return above
        return top

    def _common_office(self, offices: list[DirectoryNode]) -> DirectoryNode:
        """The lowest active office that all of these are, or sit under."""

        def upwards(node: DirectoryNode) -> list[DirectoryNode]:
            chain = [node]
            while chain[-1].parent_id in self._by_id and len(chain) <= len(self._by_id):
                chain.append(self._by_id[chain[-1].parent_id])
            return chain

        shared = set.intersection(*({n.id for n in upwards(o)} for o in offices))
        for node in upwards(offices[0]):
            if node.id in shared and node.active:
                return node
        return offices[0]

    def _descent(self, node: DirectoryNode, region: str, word: str = "") -> list[DirectoryNode]:
        """Down from an office while exactly one active child covers the region, or, of several,
        exactly one is named for the place `word` the text names."""
        path = [node]
        if not region:
            return path
        while True:
            covering = [
                c
                for c in self._children.get(path[-1].id, [])
                if region_covers(c.region_code, region)
            ]
            if len(covering) > 1 and word:
                covering = [c for c in covering if self._own_place.get(c.id) == word] or covering
            if len(covering) != 1 or covering[0] in path:  # a looped tree from a bad import
                return path
            path.append(covering[0])

    def _descend(self, node: DirectoryNode, region: str) -> DirectoryNode:
        """From a matched office, go down while exactly one active child covers the region."""
        return self._descent(node, region)[-1]


def subtree_ids(nodes: Iterable[DirectoryNode], root_id: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for node in nodes:
        if node.parent_id:
            children.setdefault(node.parent_id, []).append(node.id)
    found, stack = set(), [root_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return found
