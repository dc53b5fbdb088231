"""Routing's rules: reading the directory file, and resolving the responsible node from free text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

KINDS = ("bank", "life_insurer", "property_insurer", "other")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REGION_PATTERN = re.compile(r"^\d{6}$")

# Legal-form suffixes and the country prefix carry no information about which office is meant.
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "公司")
_PUNCT = re.compile(r"[\s·・,，.。()（）\-_/]+")


@dataclass(frozen=True)
class DirectoryNode:
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


class DirectoryError(ValueError):
    """A directory file that cannot be loaded; the message names the node and field."""


def parse_directory(doc: dict) -> list[DirectoryNode]:
    """Flattens the nested YAML tree; children inherit kind and product lines."""
    if not isinstance(doc, dict) or not isinstance(doc.get("institutions"), list):
        raise DirectoryError("the file must have a list under 'institutions'")
    nodes: list[DirectoryNode] = []
    seen: set[str] = set()

    def walk(item: dict, parent: DirectoryNode | None, level: int) -> None:
        if not isinstance(item, dict):
            raise DirectoryError(
                f"a node under {parent.id if parent else 'the top'} is not a mapping"
            )
        node_id = str(item.get("id", ""))
        where = f"node {node_id or '(no id)'}"
        if not ID_PATTERN.match(node_id):
            raise DirectoryError(f"{where}: id must be lowercase ascii, digits and '-'")
        if node_id in seen:
            raise DirectoryError(f"{where}: duplicate id")
        seen.add(node_id)
        name = str(item.get("name", "")).strip()
        if not name:
            raise DirectoryError(f"{where}: name is required")
        kind = str(item.get("kind") or (parent.kind if parent else ""))
        if kind not in KINDS:
            raise DirectoryError(f"{where}: kind must be one of {', '.join(KINDS)}")
        region = str(item.get("region_code", ""))
        if not REGION_PATTERN.match(region):
            raise DirectoryError(f"{where}: region_code must be 6 digits (GB/T 2260)")
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list):
            raise DirectoryError(f"{where}: aliases must be a list")
        products = item.get("product_lines") or (list(parent.product_lines) if parent else [])
        node = DirectoryNode(
            id=node_id,
            parent_id=parent.id if parent else None,
            name=name,
            aliases=tuple(str(a) for a in aliases),
            kind=kind,
            region_code=region,
            product_lines=tuple(str(p) for p in products),
            portal_contact=str(item.get("portal_contact", "")),
            active=bool(item.get("active", True)),
            level=level,
        )
        nodes.append(node)
        for child in item.get("children") or []:
            walk(child, node, level + 1)

    for top in doc["institutions"]:
        walk(top, None, 0)
    return nodes


def normalise(text: str) -> str:
    """Full-width → half-width, lower case, no punctuation, no legal-form suffix or 中国 prefix."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub("", text)
    for suffix in _SUFFIXES:
        text = text.replace(suffix, "")
    if text.startswith("中国") and len(text) >= 6:
        text = text[2:]
    return text


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


@dataclass
class Resolver:
    """Fuzzy matching over names and aliases, then down the tree to the consumer's region."""

    nodes: Sequence[DirectoryNode]
    min_confidence: float = 0.72
    _candidates: list[tuple[str, DirectoryNode]] = field(init=False, default_factory=list)
    _children: dict[str, list[DirectoryNode]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.nodes:
            if not node.active:
                continue
            for text in (node.name, *node.aliases):
                key = normalise(text)
                if key:
                    self._candidates.append((key, node))
            if node.parent_id:
                self._children.setdefault(node.parent_id, []).append(node)

    def _score(self, query: str, key: str) -> float:
        if query == key:
            return 100.0
        score = fuzz.ratio(query, key)
        if min(len(query), len(key)) >= 2:
            # One name inside the other ("建设银行" in "建设银行天津分形") counts, but less the less
            # of the text it explains, so a near-exact branch name beats a contained short name.
            coverage = min(len(query), len(key)) / max(len(query), len(key))
            score = max(score, fuzz.partial_ratio(query, key) * (0.7 + 0.3 * coverage))
        return score

    def resolve(self, text: str, region: str = "", product: str = "") -> Resolution:
        query = normalise(text)
        if not query:
            return Resolution(None, 0.0, None, 0.0, True)
        best: dict[str, tuple[float, DirectoryNode]] = {}
        for key, node in self._candidates:
            score = self._score(query, key)
            if region and region_covers(node.region_code, region):
                score += 2.0  # a tie-breaker, never a reason on its own
            if score > best.get(node.id, (0.0, node))[0]:
                best[node.id] = (score, node)
        ranked = sorted(best.values(), key=lambda sn: (-sn[0], -sn[1].level))
        if not ranked:
            return Resolution(None, 0.0, None, 0.0, True)
        top_score, top = ranked[0]
        node = self._descend(top, region)
        # The runner-up is another office: not the one chosen, nor one it was reached through.
        taken = {top.id, node.id}
        runner = next(((sc, n) for sc, n in ranked[1:] if n.id not in taken), (0.0, None))
        confidence = min(top_score, 100.0) / 100.0
        return Resolution(
            node=node,
            confidence=round(confidence, 3),
            runner_up=runner[1],
            runner_up_confidence=round(min(runner[0], 100.0) / 100.0, 3),
            needs_human=confidence < self.min_confidence,
        )

    def _descend(self, node: DirectoryNode, region: str) -> DirectoryNode:
        """From a matched office, go down while exactly one active child covers the region."""
        if not region:
            return node
        current = node
        while True:
            covering = [
                c
                for c in self._children.get(current.id, [])
                if region_covers(c.region_code, region)
            ]
            if len(covering) != 1:
                return current
            current = covering[0]


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
