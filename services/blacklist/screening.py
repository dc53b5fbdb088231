"""Screening of cases for black/grey-industry agents (黑灰产代理): signals, score, flag, rings.

Pure: no database, no clock. A `Screener` holds what it has seen so far in memory:

- lexicon hits: the phrases of `data/lexicon.yaml` (with their variant spellings) found by one
  Aho-Corasick automaton (pyahocorasick) over the letter;
- contact points: phones, ID numbers, bank accounts, WeChat/QQ ids, addresses and agent
  identities from the structured fields and the free text, normalised and kept only as keyed
  hashes (`services.common.pii.keyed_hash`), each with the complainants and institutions it
  was seen with;
- templates: near-duplicate letters (MinHash over character 3-shingles with datasketch's
  permutations, and a compact banded LSH of its own); only a cluster's first letter is kept in
  the LSH, later copies just join its cluster;
- bursts: complaints per institution per day against that institution's usual daily rate;
- rings: a union-find over complainants, joined by the contact points and templates they
  share. Addresses never link
  (a care home is not a ring) and neither do short texts (a mass incident writes alike). A
  group is a ring from RING_MIN complainants with at least one contact point shared by
  SHARED_MIN of them: look-alike letters alone, or a couple's phone, do not make one.

`screen(case)` indexes a case and scores it against everything seen so far (incremental: early
members of a ring score low until the ring shows). `screen_all(cases)` is the batch mode: it
indexes every case first and then scores each one against the whole set, so the first letter of
a ring is flagged as surely as the last. A ring's id is named after its member with the smallest
key: the same whatever the order its cases came in (it changes when two groups merge).

Score: the sum of the weights below, capped at 1; a case is flagged at FLAG_THRESHOLD. Wording
alone (lexicon) and a shared address alone cannot reach it. A case in a burst that shares no
contact point with anyone gets no template or ring weight: that is an incident to show staff
(`Screener.incidents()`), not a ring. A phone or ID number of a known agent (an imported police or
industry list, `Screener.known_agents`) flags on its own, and so does an agent name close to a
known agent's (rapidfuzz). `Screener.discounts` holds the down-weighting of evidence that raised
dismissed clues (per contact point, template and lexicon phrase); scoring multiplies by it.

The service (`services.blacklist.store`) feeds the screener keyed hashes only (`CaseInput`'s
hashed_points and complainant_key) and restores it in bulk from stored cases (`StateLoader`).
The state is typed arrays, not an object per case (see "State" below): ~190 bytes a case.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import ahocorasick
import numpy as np
from rapidfuzz import fuzz, process

from services.common import settings as settings_mod
from services.common.datafiles import at_line, load_yaml
from services.common.pii import keyed_hash

LEXICON_PATH = Path(__file__).parent / "data" / "lexicon.yaml"

# Weights of the signals: a case's score is the sum of those that fire, capped at 1.
LEXICON_CAP = 0.3  # all lexicon hits together
W_SHARED_POINT = 0.35  # a contact point (not an address) seen with >= SHARED_MIN complainants
W_SHARED_ACROSS = 0.1  # ... and with >= 2 institutions
W_SHARED_ADDRESS = 0.05  # an address shared by >= SHARED_MIN complainants (never enough alone)
W_TEMPLATE = 0.25  # letter near-duplicate of letters of >= TEMPLATE_MIN complainants
W_TEMPLATE_ACROSS = 0.1  # ... sent to >= 2 institutions
W_RING = 0.3  # member of a connected group of >= RING_MIN complainants
W_KNOWN_AGENT = 0.6  # a phone or ID number of the case is a known agent's (police/industry list)
W_KNOWN_NAME = 0.5  # the agent's name is (nearly) a known agent's
KNOWN_NAME_SIMILARITY = 85  # rapidfuzz ratio, 0-100: one character off in a 7-character name
FLAG_THRESHOLD = 0.5

SHARED_MIN = 3  # complainants on one contact point (two may be a couple)
TEMPLATE_MIN = 3  # complainants on one letter template
RING_MIN = 4  # complainants in one connected group
TEMPLATE_MIN_CHARS = 80  # shorter letters are too generic to call a template
TEMPLATE_SIMILARITY = 0.6  # estimated Jaccard of 3-shingles to join a template
NUM_PERM = 64
# LSH bands: 14 bands of 4 values, what datasketch's MinHashLSH chooses for threshold 0.5 at 64
# permutations; a letter is checked against the 8 templates sharing the most bands with it.
BANDS, ROWS, CANDIDATES = 14, 4, 8
BUCKET_SCAN = 64  # templates read from one band bucket (the newest): a query stays O(1)
BURST_MIN = 30  # complaints against one institution in one day
BURST_FACTOR = 5.0  # ... and this many times its usual daily rate

_HASH_CHARS = 16  # 64 bits of the keyed hash: no collision in practice at 10^7 points


# ---------------------------------------------------------------------------------------------
# Input and output


@dataclass(frozen=True, slots=True)
class Party:
    name: str = ""
    phone: str = ""
    id_number: str = ""
    address: str = ""
    org: str = ""


@dataclass(frozen=True, slots=True)
class CaseInput:
    case_no: str
    received_at: datetime
    institution: str
    text: str
    complainant: Party
    agent: Party | None = None
    # From a service that holds keyed hashes only (the worker: intake sends phone_hash, id_hash,
    # agent_phone_hash...): (kind, keyed hash, role) points added to those found in the fields
    # and text, and the complainant's identity key (else derived from the complainant fields).
    hashed_points: tuple[tuple[str, str, str], ...] = ()
    complainant_key: str = ""

    @classmethod
    def from_dict(cls, raw: object) -> CaseInput:
        """One line of the batch input; ValueError says what is wrong with it."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        for key in ("case_no", "received_at", "institution", "text", "complainant"):
            if not raw.get(key):
                raise ValueError(f"missing {key}")
        try:
            received = datetime.fromisoformat(str(raw["received_at"]))
        except ValueError:
            raise ValueError(f"received_at is not an ISO date: {raw['received_at']!r}") from None
        return cls(
            case_no=str(raw["case_no"]),
            received_at=received,
            institution=str(raw["institution"]),
            text=str(raw["text"]),
            complainant=_party(raw["complainant"], "complainant"),
            agent=None if raw.get("agent") is None else _party(raw["agent"], "agent"),
        )


def _party(raw: object, what: str) -> Party:
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is not an object")
    fields = ("name", "phone", "id_number", "address", "org")
    return Party(**{k: str(raw.get(k) or "") for k in fields})


@dataclass(frozen=True, slots=True)
class Reason:
    signal: str  # lexicon, contact_point, address, template, ring, incident
    detail: str


@dataclass(frozen=True, slots=True)
class Result:
    case_no: str
    score: float
    flagged: bool
    ring_id: str | None
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict:
        return {
            "case_no": self.case_no,
            "score": self.score,
            "flagged": self.flagged,
            "ring_id": self.ring_id,
            "reasons": [{"signal": r.signal, "detail": r.detail} for r in self.reasons],
        }


@dataclass(frozen=True, slots=True)
class Incident:
    """Many complaints against one institution on one day: shown to staff, flags nobody."""

    institution: str
    day: date
    complaints: int
    usual_per_day: float


# ---------------------------------------------------------------------------------------------
# Lexicon


@dataclass(frozen=True, slots=True)
class Phrase:
    canonical: str
    category: str
    label: str
    weight: float


@dataclass(frozen=True)
class Lexicon:
    version: str
    automaton: ahocorasick.Automaton = field(repr=False)

    def find(self, text: str) -> dict[str, tuple[Phrase, str]]:
        """Distinct canonical phrases in `text` → (phrase, the spelling found)."""
        found: dict[str, tuple[Phrase, str]] = {}
        for _end, (spelling, phrase) in self.automaton.iter(_fold(text)):
            if phrase.canonical not in found or spelling == phrase.canonical:
                found[phrase.canonical] = (phrase, spelling)
        return found


def _fold(text: str) -> str:
    # Spacing and case tricks (全 额 退 保, TB新政) read the same as the phrase.
    return "".join(text.split()).lower()


def parse_lexicon(raw: object) -> Lexicon:
    """The lexicon of a parsed file; ValueError names the category, phrase and line at fault."""
    if not isinstance(raw, dict) or not raw.get("version") or not raw.get("categories"):
        raise ValueError(at_line("expected a mapping with version and categories", raw))
    categories = raw["categories"]
    if not isinstance(categories, dict):
        raise ValueError(
            at_line(
                "categories: must be a mapping of category -> label, weight, phrases",
                raw,
                "categories",
            )
        )
    automaton = ahocorasick.Automaton()
    taken: dict[str, str] = {}  # folded spelling -> where it was first listed
    for category, spec in categories.items():
        where = f"categories.{category}"
        if not isinstance(spec, dict):
            raise ValueError(
                at_line(
                    f"{where}: must be a mapping with label, weight and phrases",
                    categories,
                    category,
                )
            )
        weight = _weight(spec, "weight", 0.0, where)
        phrases = spec.get("phrases") or []
        if not isinstance(phrases, list):
            raise ValueError(at_line(f"{where}.phrases: must be a list", spec, "phrases"))
        for i, entry in enumerate(phrases):
            at = f"{where}.phrases[{i}]"
            if not isinstance(entry, dict) or not _spelling(entry.get("phrase")):
                raise ValueError(
                    at_line(f"{at}: must be a mapping with a non-empty phrase", phrases, i)
                )
            phrase = Phrase(
                canonical=str(entry["phrase"]),
                category=str(category),
                label=str(spec.get("label", category)),
                weight=_weight(entry, "weight", weight, at),
            )
            variants = entry.get("variants") or []
            if not isinstance(variants, list):
                raise ValueError(at_line(f"{at}.variants: must be a list", entry, "variants"))
            for spelling in [phrase.canonical, *variants]:
                key = _fold(_spelling(spelling))
                if not key:
                    raise ValueError(at_line(f"{at}: empty spelling in {category}", phrases, i))
                if key in taken:
                    raise ValueError(
                        at_line(f"{at}: {spelling!r} is already listed in {taken[key]}", phrases, i)
                    )
                taken[key] = at
                automaton.add_word(key, (str(spelling), phrase))
    automaton.make_automaton()
    return Lexicon(version=str(raw["version"]), automaton=automaton)


def _spelling(value: object) -> str:
    """A phrase or variant as text: a string or a number, never a list or a mapping."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value)


def _weight(holder: dict, key: str, default: float, where: str) -> float:
    value = holder.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(
            at_line(f"{where}.{key}: must be a number from 0 to 1, not {value!r}", holder, key)
        )
    return float(value)


def load_lexicon(path: str | Path = LEXICON_PATH) -> Lexicon:
    """The lexicon in force: re-read when the file changes, so an update needs no release."""
    return load_yaml(path, parse_lexicon, "screening lexicon")


# ---------------------------------------------------------------------------------------------
# Contact points

_PHONE = re.compile(r"(?<![\d])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?![\d])")
_ID = re.compile(r"(?<![\dXx])(\d{17}[\dXx])(?![\dXx])")
_ACCOUNT = re.compile(r"(?:卡号|账号|帐号|账户|收款账户)[:：\s]*(\d[\d ]{11,22}\d)")
_WECHAT = re.compile(
    r"(?:微信|威信|vx|v信|wx|weixin|wechat)号?[:：\s]*([a-z][-_a-z0-9]{5,19})", re.I
)
_QQ = re.compile(r"(?:qq|扣扣)号?[:：\s]*(\d{5,11})", re.I)
_NON_ADDRESS = re.compile(r"[\s,，.。、\-—()（）#号]")

_ROLE_LABELS = {
    ("complainant", "phone"): "complainant's phone",
    ("complainant", "id"): "complainant's ID number",
    ("complainant", "address"): "complainant's address",
    ("agent", "phone"): "agent phone",
    ("agent", "id"): "agent ID number",
    ("agent", "agent"): "agent identity",
    ("text", "phone"): "phone in the letter",
    ("text", "id"): "ID number in the letter",
    ("text", "account"): "bank account in the letter",
    ("text", "wechat"): "WeChat id in the letter",
    ("text", "qq"): "QQ id in the letter",
}


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit() or ch in "Xx").upper()


def _norm_phone(value: str) -> str:
    digits = _digits(value)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def extract_points(case: CaseInput) -> list[tuple[str, str, str]]:
    """(kind, normalised value, role) of every contact point of a case, deduplicated."""
    out: dict[tuple[str, str], str] = {}

    def add(kind: str, value: str, role: str) -> None:
        if value and (kind, value) not in out:
            out[(kind, value)] = role

    c = case.complainant
    add("phone", _norm_phone(c.phone), "complainant")
    add("id", _digits(c.id_number), "complainant")
    add("address", _NON_ADDRESS.sub("", c.address), "complainant")
    if case.agent is not None:
        a = case.agent
        add("phone", _norm_phone(a.phone), "agent")
        add("id", _digits(a.id_number), "agent")
        if a.name:
            add("agent", f"{a.name.strip()}|{a.org.strip()}", "agent")
    text = case.text
    for m in _PHONE.finditer(text):
        add("phone", _norm_phone(m.group(1)), "text")
    for m in _ID.finditer(text):
        add("id", m.group(1).upper(), "text")
    for m in _ACCOUNT.finditer(text):
        add("account", _digits(m.group(1)), "text")
    for m in _WECHAT.finditer(text):
        add("wechat", m.group(1).lower(), "text")
    for m in _QQ.finditer(text):
        add("qq", m.group(1), "text")
    return [(kind, value, role) for (kind, value), role in out.items()]


# ---------------------------------------------------------------------------------------------
# State


# The state is held in typed arrays (`array`, numpy), not in a Python object per case: at a
# million stored cases a dict entry, a str and a small object per complainant and contact point
# cost ~1.3 KB a case, the arrays ~60 bytes. Keyed hashes are held as the 64-bit ints their 16
# hex digits spell. Lookups go to sorted arrays (numpy.searchsorted) built in bulk when the
# worker restores, plus a dict of what was added since; the dict is merged into the arrays
# once it holds _MERGE_AT entries.

_MERGE_AT = 65_536
_NO = -1


def _key(h: str) -> int:
    """A keyed hash (its first 16 hex digits) as the 64-bit int the arrays hold."""
    return int(h[:_HASH_CHARS], 16)


def _node(key: int) -> str:
    """A complainant's node name, as `Prepared.complainant` spells it."""
    return f"c{key:016x}"


def _sorted_lookup(base: np.ndarray, key: int) -> int:
    """Index of `key` in the sorted uint64 array `base`, or -1."""
    if not len(base):
        return _NO
    k = np.uint64(key)
    i = int(np.searchsorted(base, k))
    return i if i < len(base) and base[i] == k else _NO


class _Complainants:
    """Complainants by keyed hash (an int id each) and the union-find that groups them: a ring
    is a group. A contact point or template seen with several complainants joins them; the
    group's evidence sits in its root's slot: complainants, contact points shared by
    SHARED_MIN or more, templates shared by two or more, institutions (a bit each for the 64
    commonest, a set beyond), the members in the order they joined (a linked list: `next`,
    `tail`) and the member with the smallest key (the ring's name: the same in every replica)."""

    __slots__ = (
        "added",
        "base",
        "base_ids",
        "insts",
        "keys",
        "least",
        "more_insts",
        "next",
        "parent",
        "points",
        "size",
        "tail",
        "templates",
    )

    def __init__(self) -> None:
        self.base = np.empty(0, np.uint64)  # sorted keys
        self.base_ids: np.ndarray | None = np.empty(0, np.int32)  # None: base[i] is id i
        self.added: dict[int, int] = {}  # key → id, since the last merge
        self.keys = array("Q")
        self.parent = array("i")
        self.size = array("i")
        self.points = array("i")
        self.templates = array("i")
        self.insts = array("Q")
        self.more_insts: dict[int, set[int]] = {}  # root → institution ids from 64 on
        self.next = array("i")
        self.tail = array("i")
        self.least = array("i")

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: int) -> int:
        cid = self.added.get(key)
        if cid is not None:
            return cid
        i = _sorted_lookup(self.base, key)
        if i == _NO or self.base_ids is None:
            return i
        return int(self.base_ids[i])

    def add(self, key: int) -> int:
        cid = len(self.keys)
        self.keys.append(key)
        for column, value in (
            (self.parent, cid),
            (self.size, 1),
            (self.points, 0),
            (self.templates, 0),
            (self.next, _NO),
            (self.tail, cid),
            (self.least, cid),
        ):
            column.append(value)
        self.insts.append(0)
        self.added[key] = cid
        if len(self.added) >= _MERGE_AT:
            self._merge()
        return cid

    def _merge(self) -> None:
        keys = np.concatenate([self.base, np.fromiter(self.added, np.uint64, len(self.added))])
        ids = np.concatenate(
            [
                np.arange(len(self.base), dtype=np.int32)
                if self.base_ids is None
                else self.base_ids,
                np.fromiter(self.added.values(), np.int32, len(self.added)),
            ]
        )
        order = np.argsort(keys, kind="stable")
        self.base, self.base_ids, self.added = keys[order], ids[order], {}

    def find(self, c: int) -> int:
        parent = self.parent
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    def add_institution(self, root: int, inst: int) -> None:
        if inst < 64:
            self.insts[root] |= 1 << inst
        else:
            self.more_insts.setdefault(root, set()).add(inst)

    def institutions(self, root: int) -> int:
        return self.insts[root].bit_count() + len(self.more_insts.get(root, ()))

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.points[ra] += self.points[rb]
        self.templates[ra] += self.templates[rb]
        self.insts[ra] |= self.insts[rb]
        more = self.more_insts.pop(rb, None)
        if more:
            self.more_insts.setdefault(ra, set()).update(more)
        self.next[self.tail[ra]] = rb  # ra's members, then rb's
        self.tail[ra] = self.tail[rb]
        if self.keys[self.least[rb]] < self.keys[self.least[ra]]:
            self.least[ra] = self.least[rb]
        return ra

    def members(self, root: int) -> list[int]:
        out, c, nxt = [], root, self.next
        while c != _NO:
            out.append(c)
            c = nxt[c]
        return out


class _Points:
    """Contact points by keyed hash: the first complainant and institution seen with each, in
    sorted arrays; the few seen with more than one complainant or institution in full."""

    __slots__ = ("added", "base", "base_first", "shared")

    def __init__(self) -> None:
        self.base = np.empty(0, np.uint64)
        self.base_first = np.empty((0, 2), np.int32)  # complainant id, institution id
        self.added: dict[int, tuple[int, int]] = {}
        self.shared: dict[int, tuple[set[int], set[int]]] = {}

    def __len__(self) -> int:
        return len(self.base) + len(self.added)

    def first(self, key: int) -> tuple[int, int] | None:
        rec = self.added.get(key)
        if rec is not None:
            return rec
        i = _sorted_lookup(self.base, key)
        return None if i == _NO else (int(self.base_first[i, 0]), int(self.base_first[i, 1]))

    def see(self, key: int, cid: int, inst: int) -> tuple[int, int]:
        """(the point's first complainant or -1 if the point is new, how many complainants it
        has now if `cid` is new to it, else 0)."""
        rec = self.first(key)
        if rec is None:
            self.remember(key, cid, inst)
            return _NO, 1
        c0, i0 = rec
        both = self.shared.get(key)
        if both is None:
            if cid == c0 and inst == i0:
                return c0, 0
            both = self.shared[key] = ({c0}, {i0})
        complainants, institutions = both
        institutions.add(inst)
        if cid in complainants:
            return c0, 0
        complainants.add(cid)
        return c0, len(complainants)

    def remember(self, key: int, cid: int, inst: int) -> None:
        """A point new to memory, with its first complainant and institution."""
        self.added[key] = (cid, inst)
        if len(self.added) >= _MERGE_AT:
            self._merge()

    def counts(self, key: int) -> tuple[int, int]:
        both = self.shared.get(key)
        return (1, 1) if both is None else (len(both[0]), len(both[1]))

    def _merge(self) -> None:
        n = len(self.added)
        keys = np.concatenate([self.base, np.fromiter(self.added, np.uint64, n)])
        first = np.concatenate(
            [
                self.base_first,
                np.fromiter(
                    (v for pair in self.added.values() for v in pair), np.int32, 2 * n
                ).reshape(n, 2),
            ]
        )
        order = np.argsort(keys, kind="stable")
        self.base, self.base_first, self.added = keys[order], first[order], {}


class _Pairs:
    """A set of (id, id) pairs packed in int64: a sorted array and the pairs added since."""

    __slots__ = ("added", "base")

    def __init__(self) -> None:
        self.base = np.empty(0, np.int64)
        self.added: set[int] = set()

    def add(self, a: int, b: int) -> bool:
        """True if the pair is new."""
        k = (a << 32) | b
        if k in self.added:
            return False
        base = self.base
        if len(base):
            i = int(np.searchsorted(base, k))
            if i < len(base) and base[i] == k:
                return False
        self.added.add(k)
        if len(self.added) >= _MERGE_AT:
            self.base = np.union1d(self.base, np.fromiter(self.added, np.int64))
            self.added = set()
        return True


class _Templates:
    """Letter templates (near-duplicate letters): the case number of each one's first letter,
    complainants and institutions per template (as pairs), the LSH bands over the first
    letters and, in memory mode, their signatures."""

    __slots__ = ("bands", "case", "first", "long_case", "m", "n", "sigs", "with_c", "with_i")

    def __init__(self, keep_signatures: bool) -> None:
        self.case = np.empty(0, "S24")  # grown by doubling; len(self.first) is the count
        self.long_case: dict[int, str] = {}  # case numbers that do not fit 24 ASCII bytes
        self.first = array("i")  # the first letter's complainant
        self.n = array("i")
        self.m = array("i")
        self.with_c = _Pairs()
        self.with_i = _Pairs()
        self.bands = _Bands()
        self.sigs: np.ndarray | None = (
            np.empty((0, NUM_PERM), np.uint32) if keep_signatures else None
        )

    def __len__(self) -> int:
        return len(self.first)

    def key(self, tid: int) -> str:
        long = self.long_case.get(tid)
        return long if long is not None else self.case[tid].decode()

    def find(self, case_no: str) -> int | None:
        hits = np.flatnonzero(self.case[: len(self)] == case_no.encode()[:24])
        for tid in hits.tolist():
            if self.key(tid) == case_no:
                return tid
        for tid, long in self.long_case.items():
            if long == case_no:
                return tid
        return None

    def add(self, case_no: str, cid: int, inst: int, signature: np.ndarray | None) -> int:
        tid = len(self)
        if tid == len(self.case):
            self.case = np.resize(self.case, max(1024, 2 * tid))
        raw = case_no.encode()
        if len(raw) <= 24 and raw.isascii():
            self.case[tid] = raw
        else:
            self.case[tid] = b""
            self.long_case[tid] = case_no
        self.first.append(cid)
        self.n.append(1)
        self.m.append(1)
        self.with_c.add(tid, cid)
        self.with_i.add(tid, inst)
        if signature is not None:
            self.bands.insert(tid, _Bands.keys(signature))
            if self.sigs is not None:
                if tid >= len(self.sigs):
                    grown = np.zeros((max(1024, 2 * tid), NUM_PERM), np.uint32)
                    grown[: len(self.sigs)] = self.sigs
                    self.sigs = grown
                self.sigs[tid] = signature
        return tid

    def see(self, tid: int, cid: int, inst: int) -> int:
        """How many complainants the template has now if `cid` is new to it, else 0."""
        if self.with_i.add(tid, inst):
            self.m[tid] += 1
        if not self.with_c.add(tid, cid):
            return 0
        self.n[tid] += 1
        return self.n[tid]

    def counts(self, tid: int) -> tuple[int, int]:
        return self.n[tid], self.m[tid]


@dataclass(slots=True)
class CaseFeatures:
    """What indexing a case found; scoring reads it against the screener's state."""

    case_no: str
    complainant: str
    institution: str
    day: date
    points: list[tuple[str, str, str]]  # (hash, kind, role)
    template: int | None
    similarity: float
    lexicon: list[tuple[Phrase, str]]
    agent_name: str = ""


@dataclass(slots=True)
class Prepared:
    """A case reduced to what the screener's state needs: keyed hashes, a MinHash signature of
    the letter, the lexicon phrases found. No text, no personal data (the agent's name apart,
    which only fuzzy matching against known agents reads; the worker stores it encrypted)."""

    case_no: str
    complainant: str  # "c" + keyed hash of the complainant's identity
    institution: str
    day: date
    points: list[tuple[str, str, str]]  # (hash, kind, role)
    signature: np.ndarray | None  # MinHash values of the letter's 3-shingles; None: too short
    lexicon: list[tuple[Phrase, str]]
    agent_name: str = ""


def _signature(text: str) -> np.ndarray | None:
    """MinHash (NUM_PERM uint32) of the letter's character 3-shingles, vectorised: a shingle is
    its three code points packed in 63 bits, mixed to 32 bits (MurmurHash3 finalisers), then
    put through datasketch's affine32 permutations (seed 7), as `MinHash.update_batch` would
    with that hash function, without a Python call per shingle."""
    folded = "".join(text.split())
    if len(folded) < TEMPLATE_MIN_CHARS:
        return None
    cp = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    shingles = np.unique((cp[:-2] << _U64_42) | (cp[1:-1] << _U64_21) | cp[2:])
    h = _fmix(_fmix(shingles, _FMIX64).astype(np.uint32), _FMIX32)
    return (h[:, None] * _PERM_A + _PERM_B).min(axis=0)


def signature_bytes(signature: np.ndarray | None) -> bytes | None:
    """A signature as stored: NUM_PERM little-endian uint32 (MinHash values are below 2^32)."""
    return None if signature is None else signature.astype("<u4").tobytes()


def signature_from_bytes(raw: bytes | None) -> np.ndarray | None:
    return None if not raw else np.frombuffer(raw, dtype="<u4").astype(np.uint32)


def normalise_name(name: str) -> str:
    return "".join(name.split()).lower()


@dataclass(frozen=True)
class KnownAgent:
    """One entry of an imported known-agents list: keyed hashes and a name for fuzzy matching."""

    agent_id: int
    source: str
    name: str = ""
    phone_hash: str = ""
    id_hash: str = ""


class KnownAgents:
    """Known agents (police or industry sharing), matched exactly on hashed phone and ID number
    and fuzzily (rapidfuzz) on names."""

    def __init__(self, agents: Iterable[KnownAgent] = ()) -> None:
        self.agents = list(agents)
        self._by_hash: dict[str, KnownAgent] = {}
        for a in self.agents:
            for h in (a.phone_hash, a.id_hash):
                if h:
                    self._by_hash[h[:_HASH_CHARS]] = a
        self._names = {i: normalise_name(a.name) for i, a in enumerate(self.agents) if a.name}

    def __len__(self) -> int:
        return len(self.agents)

    def by_hash(self, h: str) -> KnownAgent | None:
        return self._by_hash.get(h[:_HASH_CHARS])

    def by_name(self, name: str) -> tuple[KnownAgent, float] | None:
        if not name or not self._names:
            return None
        best = process.extractOne(
            normalise_name(name),
            self._names,
            scorer=fuzz.ratio,
            score_cutoff=KNOWN_NAME_SIMILARITY,
        )
        if best is None:
            return None
        _, similarity, key = best
        return self.agents[key], similarity


class _Bands:
    """MinHash LSH over the templates' first letters: BANDS keys per letter (a 64-bit mix of the
    band number and its ROWS values), in a sorted array of (key, template) and a dict of those
    added since the last merge. A bucket's templates are read newest first."""

    __slots__ = ("added", "base", "base_tids", "pending")

    def __init__(self) -> None:
        self.base = np.empty(0, np.uint64)
        self.base_tids = np.empty(0, np.int32)
        self.added: dict[int, int | list[int]] = {}
        self.pending = 0

    @staticmethod
    def keys(signature: np.ndarray) -> list[int]:
        return _band_keys(signature[None, :])[0].tolist()

    def insert(self, tid: int, keys: list[int]) -> None:
        added = self.added
        for k in keys:
            current = added.get(k)
            if current is None:
                added[k] = tid
            elif type(current) is int:
                added[k] = [current, tid]
            else:
                current.append(tid)
        self.pending += 1
        if self.pending * BANDS >= _MERGE_AT:
            self._merge()

    def load(self, keys: np.ndarray, tids: np.ndarray) -> None:
        """All at once (restore): keys is (templates, BANDS) for the templates `tids`, in
        ascending order; sorted a key range at a time (a stable sort of a range keeps a
        bucket's templates in ascending order, as a sort by key and template would)."""
        flat = keys.reshape(-1)
        self.base = np.empty(len(flat), np.uint64)
        self.base_tids = np.empty(len(flat), np.int32)
        at = 0
        for rows in _key_ranges(flat):
            part = flat[rows]
            order = np.argsort(part, kind="stable")
            end = at + len(rows)
            self.base[at:end] = part[order]
            self.base_tids[at:end] = tids[rows[order] // BANDS]
            at = end
        self.added, self.pending = {}, 0

    def _merge(self) -> None:
        keys, tids = [], []
        for k, current in self.added.items():
            for t in [current] if type(current) is int else current:
                keys.append(k)
                tids.append(t)
        all_keys = np.concatenate([self.base, np.array(keys, np.uint64)])
        all_tids = np.concatenate([self.base_tids, np.array(tids, np.int32)])
        order = np.lexsort((all_tids, all_keys))
        self.base, self.base_tids = all_keys[order], all_tids[order]
        self.added, self.pending = {}, 0

    def query(self, keys: list[int]) -> list[int]:
        """Templates sharing a band, those sharing the most first (at most CANDIDATES)."""
        counts: dict[int, int] = {}
        added = self.added
        base = self.base
        if len(base):
            wanted = np.array(keys, np.uint64)
            lo = np.searchsorted(base, wanted, "left").tolist()
            hi = np.searchsorted(base, wanted, "right").tolist()
        for i, k in enumerate(keys):
            bucket: list[int] = []
            if len(base) and hi[i] > lo[i]:
                # A band many letters share is generic wording; its newest templates suffice.
                bucket = self.base_tids[max(lo[i], hi[i] - BUCKET_SCAN) : hi[i]].tolist()
            current = added.get(k)
            if current is not None:
                bucket += [current] if type(current) is int else current[-BUCKET_SCAN:]
            for t in bucket[-BUCKET_SCAN:]:
                counts[t] = counts.get(t, 0) + 1
        if len(counts) <= CANDIDATES:
            return list(counts)
        return heapq.nlargest(CANDIDATES, counts, key=counts.__getitem__)


def _minhash_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's "affine32" permutations (MinHash(num_perm, seed).permutations), computed as
    datasketch 2.0 does: importing datasketch pulls in scipy, ~60 MiB of a worker's memory."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _minhash_permutations(NUM_PERM, 7)
_U64_21, _U64_42 = np.uint64(21), np.uint64(42)
_FMIX32 = tuple(np.uint32(x) for x in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))
_FMIX64 = tuple(np.uint64(x) for x in (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33))
_BAND_SALT = np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
_U64_32 = np.uint64(32)


def _fmix(h: np.ndarray, constants: tuple) -> np.ndarray:
    """The MurmurHash3 finaliser, element-wise (multiplication wraps, as intended)."""
    s1, m1, s2, m2, s3 = constants
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def _band_keys(signatures: np.ndarray) -> np.ndarray:
    """(letters, BANDS) uint64 band keys of (letters, NUM_PERM) signatures: equal keys for equal
    bands, and two different bands collide with probability 2^-64."""
    v = signatures[:, : BANDS * ROWS].astype(np.uint64).reshape(-1, BANDS, ROWS)
    low = v[..., 0] | (v[..., 1] << _U64_32)
    high = v[..., 2] | (v[..., 3] << _U64_32)
    return _fmix(_fmix(low ^ _BAND_SALT, _FMIX64) ^ high, _FMIX64)


class Screener:
    """Screens cases one by one (`screen`) or as a batch (`screen_all`); see the module doc.

    `signatures`: where the first letters' MinHash signatures are read when a letter is
    compared with candidate templates: a function of case numbers → signatures (the worker
    reads its database). None keeps them in memory (batch).

    `points`: where a contact point held out of memory is read when a case has it again: a
    function of point hashes → (complainant key, institution) of the one case it was seen in.
    With it, a bulk restore keeps out of memory the points seen in one stored case only (most
    of them; the worker reads them back from `case_point`). None holds every point."""

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        pii_key: str | None = None,
        signatures: Callable[[list[str]], dict[str, np.ndarray | None]] | None = None,
        points: Callable[[list[str]], dict[str, tuple[str, str]]] | None = None,
    ) -> None:
        self.lexicon = lexicon or load_lexicon()
        self._pii_key = pii_key or settings_mod.get().pii_key
        self._people = _Complainants()
        self._points = _Points()
        self._templates = _Templates(keep_signatures=signatures is None)
        self._signatures = signatures
        self._point_reader = points
        self._fetched: dict[int, np.ndarray] = {}  # template → signature read (bounded)
        self._inst_ids: dict[str, int] = {}
        self._inst_names: list[str] = []
        self._per_day: Counter[tuple[str, date]] = Counter()
        self._span: dict[str, list[date]] = {}  # institution → [first day, last day]
        self._per_institution: Counter[str] = Counter()
        # Down-weighting from dismissed clues: "point:<hash>", "template:<first case_no>",
        # "phrase:<canonical>" → a factor in (0, 1] applied to that evidence's weight.
        self.discounts: dict[str, float] = {}
        self.known_agents: KnownAgents = KnownAgents()

    # -- indexing ------------------------------------------------------------------------------

    def _hash(self, value: str) -> str:
        return keyed_hash(value, self._pii_key)[:_HASH_CHARS]

    def point_hash(self, kind: str, value: str) -> str:
        """The stored key of a contact point. Phones and ID numbers hash as intake hashes them
        (`keyed_hash(number)`), so a number from a letter meets the same number from a field."""
        if kind in ("phone", "id"):
            return self._hash(value)
        return self._hash(f"{kind}:{value}")

    def prepare(self, case: CaseInput) -> Prepared:
        """What indexing needs from a case, without the case's text or personal data: this is
        what the worker stores to restore its screener."""
        c = case.complainant
        if case.complainant_key:
            cnode = "c" + case.complainant_key[:_HASH_CHARS]
        else:
            person = f"id:{_digits(c.id_number)}" if c.id_number else f"np:{c.name}|{c.phone}"
            cnode = "c" + self._hash(person)
        points: dict[str, tuple[str, str, str]] = {}
        for kind, value, role in extract_points(case):
            h = self.point_hash(kind, value)
            points.setdefault(h, (h, kind, role))
        for kind, h, role in case.hashed_points:
            if h:
                points.setdefault(h[:_HASH_CHARS], (h[:_HASH_CHARS], kind, role))
        return Prepared(
            case_no=case.case_no,
            complainant=cnode,
            institution=case.institution,
            day=case.received_at.date(),
            points=list(points.values()),
            signature=_signature(case.text),
            lexicon=list(self.lexicon.find(case.text).values()),
            agent_name=case.agent.name.strip() if case.agent is not None else "",
        )

    def index(self, case: CaseInput) -> CaseFeatures:
        return self.apply(self.prepare(case))

    def _inst_id(self, name: str) -> int:
        i = self._inst_ids.get(name)
        if i is None:
            i = self._inst_ids[name] = len(self._inst_names)
            self._inst_names.append(name)
        return i

    def _complainant(self, cnode: str) -> int:
        return self._people.get(_key(cnode[1:]))

    def apply(self, p: Prepared, template_key: str | None = None) -> CaseFeatures:
        """Adds a prepared case (fresh, or restored from storage) to the state. `template_key`:
        the template the case was stored with (its first letter's case number), which spares
        comparing the letter again; None compares it with the templates held."""
        people = self._people
        inst = self._inst_id(p.institution)
        key = _key(p.complainant[1:])
        cid = people.get(key)
        if cid == _NO:
            cid = people.add(key)
        people.add_institution(people.find(cid), inst)

        if self._point_reader is not None:
            self._read_points(p.points)
        for h, kind, _role in p.points:
            first, added = self._points.see(_key(h), cid, inst)
            if kind == "address" or first == _NO:
                continue  # an address never links a ring (care homes, families, offices)
            root = people.union(cid, first)
            if added == SHARED_MIN:
                people.points[root] += 1

        if template_key is None:
            template, similarity = self._index_template(p.signature, p.case_no, cid, inst)
        else:
            template, similarity = self._stored_template(p, template_key, cid, inst)
        if template is not None:
            people.union(cid, self._templates.first[template])

        day = p.day
        self._per_day[(p.institution, day)] += 1
        self._per_institution[p.institution] += 1
        span = self._span.setdefault(p.institution, [day, day])
        span[0], span[1] = min(span[0], day), max(span[1], day)
        return CaseFeatures(
            case_no=p.case_no,
            complainant=p.complainant,
            institution=p.institution,
            day=day,
            points=list(p.points),
            template=template,
            similarity=similarity,
            lexicon=p.lexicon,
            agent_name=p.agent_name,
        )

    def _read_points(self, points: list[tuple[str, str, str]]) -> None:
        """Brings back into memory the case's points held out of it (seen in one restored
        case), before they are seen again."""
        held = self._points
        absent = [h for h, _kind, _role in points if held.first(_key(h)) is None]
        if not absent:
            return
        for h, (complainant, institution) in self._point_reader(absent).items():
            cid = self._people.get(_key(complainant))
            if cid != _NO and held.first(_key(h)) is None:
                held.remember(_key(h), cid, self._inst_id(institution))

    def _join_template(self, tid: int, cid: int, inst: int) -> None:
        if self._templates.see(tid, cid, inst) == 2:
            # Count the template once in its ring's evidence.
            people = self._people
            people.templates[people.find(self._templates.first[tid])] += 1

    def _index_template(
        self, signature: np.ndarray | None, case_no: str, cid: int, inst: int
    ) -> tuple[int | None, float]:
        if signature is None:
            return None, 0.0
        keys = _Bands.keys(signature)
        best, best_sim = self._best_template(signature, keys)
        if best is not None and best_sim >= TEMPLATE_SIMILARITY:
            self._join_template(best, cid, inst)
            return best, best_sim
        return self._new_template(case_no, cid, inst, signature), 1.0

    def _new_template(self, case_no: str, cid: int, inst: int, signature) -> int:
        tid = self._templates.add(case_no, cid, inst, signature)
        if signature is not None and self._templates.sigs is None:
            self._remember(tid, signature)
        return tid

    def _stored_template(
        self, p: Prepared, template_key: str, cid: int, inst: int
    ) -> tuple[int | None, float]:
        if not template_key:
            return self._index_template(p.signature, p.case_no, cid, inst)
        if template_key == p.case_no:
            return self._new_template(p.case_no, cid, inst, p.signature), 1.0
        tid = self._templates.find(template_key)
        if tid is None:
            # Another replica's template: its first letter, read back, starts it here.
            sig = self._read_signatures([template_key]).get(template_key)
            tid = self._new_template(template_key, cid, inst, sig)
            return tid, 1.0
        self._join_template(tid, cid, inst)
        return tid, 0.0

    # -- signatures of the templates' first letters ---------------------------------------------

    def _remember(self, tid: int, signature: np.ndarray) -> None:
        if len(self._fetched) >= 4096:
            self._fetched.pop(next(iter(self._fetched)))
        self._fetched[tid] = signature

    def _read_signatures(self, case_nos: list[str]) -> dict[str, np.ndarray | None]:
        if self._signatures is None or not case_nos:
            return {}
        return self._signatures(case_nos)

    def _template_signatures(self, tids: list[int]) -> dict[int, np.ndarray]:
        sigs = self._templates.sigs
        if sigs is not None:
            return {t: sigs[t] for t in tids}
        out = {t: self._fetched[t] for t in tids if t in self._fetched}
        missing = [t for t in tids if t not in out]
        if missing:
            read = self._read_signatures([self._templates.key(t) for t in missing])
            for t in missing:
                sig = read.get(self._templates.key(t))
                if sig is not None:
                    out[t] = sig
                    self._remember(t, sig)
        return out

    # -- restoring in bulk ---------------------------------------------------------------------

    def loader(self) -> StateLoader:
        """Rebuilds the state from stored cases in bulk (the worker's restore): see StateLoader."""
        return StateLoader(self)

    # -- scoring -------------------------------------------------------------------------------

    def _burst(self, institution: str, day: date) -> tuple[int, float] | None:
        n = self._per_day[(institution, day)]
        if n < BURST_MIN:
            return None
        first, last = self._span[institution]
        other_days = max(1, (last - first).days)
        usual = (self._per_institution[institution] - n) / other_days
        if n < BURST_FACTOR * max(usual, 1.0):
            return None
        return n, usual

    def score(self, f: CaseFeatures) -> Result:
        reasons: list[Reason] = []
        score = 0.0

        discount = self.discounts
        known = self._known_agent_reasons(f)
        if known:
            score += max(w for w, _ in known)
            reasons.extend(r for _, r in known)

        if f.lexicon:
            weight = min(
                LEXICON_CAP,
                sum(p.weight * discount.get("phrase:" + p.canonical, 1.0) for p, _ in f.lexicon),
            )
            if weight > 0:
                score += weight
                found = ", ".join(
                    p.canonical + f" ({p.label})"
                    if spelling == p.canonical
                    else f"{spelling} (= {p.canonical}, {p.label})"
                    for p, spelling in f.lexicon
                )
                reasons.append(
                    Reason("lexicon", f"agent wording (lexicon {self.lexicon.version}): {found}")
                )

        shared_points = []
        shared_address = None
        for h, kind, role in f.points:
            n, m = self._points.counts(_key(h))
            if n < SHARED_MIN:
                continue
            if kind == "address":
                shared_address = n
            else:
                factor = discount.get("point:" + h, 1.0)
                shared_points.append((n, m, _ROLE_LABELS.get((role, kind), kind), factor))
        # The strongest shared point that no dismissal has weakened carries the ring weight too.
        point_factor = max((p[3] for p in shared_points), default=1.0)
        if shared_points:
            shared_points.sort(key=lambda p: (p[3], p[0], p[1]), reverse=True)  # ties: fields first
            n, m, _, factor = shared_points[0]
            score += (W_SHARED_POINT + (W_SHARED_ACROSS if m >= 2 else 0.0)) * factor
            for n, m, label, factor in shared_points[:3]:
                reasons.append(
                    Reason(
                        "contact_point",
                        f"{label} shared with {n - 1} other complainants"
                        + (f" across {m} institutions" if m >= 2 else " at one institution")
                        + (" (weight lowered by dismissed clues)" if factor < 1.0 else ""),
                    )
                )
        if shared_address:
            score += W_SHARED_ADDRESS
            reasons.append(
                Reason(
                    "address",
                    f"address shared with {shared_address - 1} other complainants "
                    "(alone not a ring: a care home or a family)",
                )
            )

        burst = self._burst(f.institution, f.day)
        incident = burst is not None and not shared_points
        if burst is not None:
            n, usual = burst
            reasons.append(
                Reason(
                    "incident",
                    f"one of {n} complaints against {f.institution} on {f.day.isoformat()} "
                    f"(usually {usual:.0f} a day)"
                    + (": an incident, not a ring" if incident else ""),
                )
            )

        ring_id = None
        if not incident and f.template is not None:
            n, m = self._templates.counts(f.template)
            if n >= TEMPLATE_MIN:
                factor = discount.get("template:" + self.template_key(f.template), 1.0)
                score += (W_TEMPLATE + (W_TEMPLATE_ACROSS if m >= 2 else 0.0)) * factor
                reasons.append(
                    Reason(
                        "template",
                        (
                            f"letter {round(f.similarity * 100)}% similar to the letters of "
                            if f.similarity < 1.0
                            else "letter the first of a template used by "
                        )
                        + f"{n - 1} other complainants"
                        + (f" across {m} institutions" if m >= 2 else ""),
                    )
                )
        if not incident:
            people = self._people
            root = people.find(self._complainant(f.complainant))
            complainants, points = people.size[root], people.points[root]
            # A ring needs a contact point shared by SHARED_MIN complainants: look-alike
            # letters alone, or a couple's phone, do not make one.
            if complainants >= RING_MIN and points >= 1:
                templates = people.templates[root]
                institutions = people.institutions(root)
                # Named after its member with the smallest key: the same name in every replica
                # and after a restart, whatever the order the cases came in.
                least = _node(people.keys[people.least[root]])
                ring_id = "R-" + hashlib.sha256(least.encode()).hexdigest()[:10]
                score += W_RING * point_factor
                reasons.append(
                    Reason(
                        "ring",
                        f"ring {ring_id}: {complainants} complainants linked by "
                        f"{points} contact point{'s' if points != 1 else ''} shared by "
                        f"{SHARED_MIN} or more and "
                        f"{templates} letter template{'s' if templates != 1 else ''}, "
                        f"across {institutions} institution"
                        f"{'s' if institutions != 1 else ''}",
                    )
                )

        score = round(min(1.0, score), 3)
        return Result(f.case_no, score, score >= FLAG_THRESHOLD, ring_id, tuple(reasons))

    def _known_agent_reasons(self, f: CaseFeatures) -> list[tuple[float, Reason]]:
        if not len(self.known_agents):
            return []
        out = []
        for h, kind, role in f.points:
            if kind not in ("phone", "id"):
                continue
            agent = self.known_agents.by_hash(h)
            if agent is not None:
                label = _ROLE_LABELS.get((role, kind), kind)
                out.append(
                    (
                        W_KNOWN_AGENT,
                        Reason(
                            "known_agent",
                            f"{label} is a known agent's (list {agent.source}, entry {agent.agent_id})",
                        ),
                    )
                )
        named = self.known_agents.by_name(f.agent_name)
        if named is not None:
            agent, similarity = named
            out.append(
                (
                    W_KNOWN_NAME,
                    Reason(
                        "known_agent",
                        f"agent name {round(similarity)}% similar to a known agent's "
                        f"(list {agent.source}, entry {agent.agent_id})",
                    ),
                )
            )
        return out

    # -- what the service reads back -------------------------------------------------------------

    def template_key(self, template: int | None) -> str:
        """A template's stable name: the case number of its first letter ("" for none)."""
        return "" if template is None else self._templates.key(template)

    def template_of(self, key: str) -> int | None:
        return self._templates.find(key) if key else None

    def match_template(self, signature: np.ndarray | None) -> tuple[int | None, float]:
        """The template an already indexed letter belongs to (for re-scoring a stored case)."""
        if signature is None:
            return None, 0.0
        best, best_sim = self._best_template(signature, _Bands.keys(signature))
        if best is not None and best_sim >= TEMPLATE_SIMILARITY:
            return best, best_sim
        return None, 0.0

    def _best_template(self, signature: np.ndarray, keys: list[int]) -> tuple[int | None, float]:
        best, best_sim = None, 0.0
        candidates = self._templates.bands.query(keys)
        if not candidates:
            return best, best_sim
        reps = self._template_signatures(candidates)
        for candidate in candidates:
            rep = reps.get(candidate)
            if rep is None:
                continue
            sim = float(np.count_nonzero(rep == signature)) / NUM_PERM
            if sim > best_sim:
                best, best_sim = candidate, sim
        return best, best_sim

    def ring_members(self, complainant: str) -> list[str]:
        """The complainant nodes connected to `complainant` (itself included), in the order
        they joined."""
        people = self._people
        cid = self._complainant(complainant)
        if cid == _NO:
            return []
        return [_node(people.keys[c]) for c in people.members(people.find(cid))]

    def has_complainant(self, complainant: str) -> bool:
        return self._complainant(complainant) != _NO

    def size(self) -> dict[str, int]:
        """How much the state holds (for the benchmark and the worker's log)."""
        return {
            "complainants": len(self._people),
            "contact_points": len(self._points),
            "templates": len(self._templates),
        }

    # -- modes ---------------------------------------------------------------------------------

    def screen(self, case: CaseInput) -> Result:
        """Incremental: index the case, then score it against everything seen so far."""
        return self.score(self.index(case))

    def screen_all(self, cases: Iterable[CaseInput]) -> Iterator[Result]:
        """Batch, two passes: index every case, then score each against the whole set."""
        features = [self.index(case) for case in cases]
        for f in features:
            yield self.score(f)

    def incidents(self) -> list[Incident]:
        out = []
        for inst, day in self._per_day:
            burst = self._burst(inst, day)
            if burst is not None:
                out.append(Incident(inst, day, burst[0], round(burst[1], 1)))
        return sorted(out, key=lambda i: (i.day, i.institution))


_SLICE = 200_000  # rows a bulk restore sorts at once: its temporaries are the size of a slice
_SIG_CHUNK = 8192  # first letters' signatures turned into band keys at once during a restore


def _key_ranges(keys: np.ndarray) -> Iterator[np.ndarray]:
    """The indices of `keys` (uint64 keyed hashes, spread evenly over the 64 bits) in slices of
    ascending key ranges, about _SLICE rows each, in row order within a slice: sorting each
    slice in turn sorts the whole, with temporaries the size of one slice."""
    parts = max(1, -(-len(keys) // _SLICE))
    bounds = [(i << 64) // parts for i in range(parts)]
    for i, low in enumerate(bounds):
        inside = keys >= np.uint64(low)
        if i + 1 < parts:
            inside &= keys < np.uint64(bounds[i + 1])
        yield np.flatnonzero(inside)


class StateLoader:
    """Rebuilds an empty screener's state from stored cases in bulk, in the order they were
    stored (the worker's restore): `add` each, then `finish`. numpy does per array what
    `Screener.apply` does per case; the result holds the same groups, counts and templates.

    A case stored with its template (`template_key`, the case number of the template's first
    letter) is not compared again: the state has the templates the cases were screened with.
    A case stored without one (a letter stored before template keys were) is compared after
    the others, in stored order.

    Memory: the peak is what a limit sees, so the rows are held as typed arrays, a first
    letter's signature becomes its band keys as the rows stream in (8,192 at a time; the
    signatures themselves are kept only when the screener keeps them), and the contact points
    and band keys are sorted a key range at a time (`_key_ranges`) into arrays allocated once."""

    def __init__(self, screener: Screener) -> None:
        if len(screener._people) or len(screener._templates):
            raise ValueError("a screener is restored in bulk only when it is empty")
        self.s = screener
        self.cases = 0
        self._complainant = array("Q")
        self._inst = array("i")
        self._day = array("i")
        self._tid = array("i")
        self._point = array("Q")
        self._point_case = array("i")
        self._point_address = array("b")
        self._template_ids: dict[str, int] = {}  # first letter's case number → template
        self._template_cases: list[str] = []
        self._templates_count = 0
        self._keep_sigs = screener._templates.sigs is not None
        self._sigs = bytearray()  # first letters' signatures, in template order (memory mode)
        self._pending = bytearray()  # signatures whose band keys are not computed yet
        self._band_keys = array("Q")  # BANDS a template, in template order
        self._has_sig = bytearray()  # 1 if the template's first letter was stored here
        self._unkeyed: list[tuple[int, str, bytes]] = []  # (case, case_no, signature)

    def add(
        self,
        case_no: str,
        complainant_key: str,
        institution: str,
        day: date,
        points: Iterable[tuple[str, str, str] | list[str]],
        template_key: str,
        signature: bytes | None,
    ) -> None:
        """One stored case. `signature` (stored bytes) is needed only when the case is its
        template's first letter or has no template key; None otherwise saves reading it."""
        row = self.cases
        self.cases += 1
        self._complainant.append(_key(complainant_key))
        self._inst.append(self.s._inst_id(institution))
        self._day.append(day.toordinal())
        for h, kind, _role in points:
            self._point.append(_key(h))
            self._point_case.append(row)
            self._point_address.append(kind == "address")
        tid = _NO
        if template_key:
            tid = self._template_ids.get(template_key, _NO)
            if tid == _NO:
                tid = self._template_ids[template_key] = len(self._template_cases)
                self._template_cases.append(template_key)
                mine = template_key == case_no and signature is not None
                sig = signature if mine else bytes(4 * NUM_PERM)
                self._pending += sig
                if self._keep_sigs:
                    self._sigs += sig
                self._has_sig.append(1 if mine else 0)
                if len(self._pending) >= _SIG_CHUNK * 4 * NUM_PERM:
                    self._flush_bands()
        elif signature:
            self._unkeyed.append((row, case_no, signature))
        self._tid.append(tid)

    def _flush_bands(self) -> None:
        if self._pending:
            sigs = np.frombuffer(self._pending, "<u4").reshape(-1, NUM_PERM)
            self._band_keys.frombytes(_raw(_band_keys(sigs)))
            del sigs
            self._pending = bytearray()

    def finish(self) -> int:
        """Builds the state; returns the number of cases."""
        s, n = self.s, self.cases
        if not n:
            return 0
        self._flush_bands()
        # The templates' case numbers first: 24 bytes each instead of a str in a dict.
        self._template_ids = {}
        tpl = s._templates
        tpl.case = np.empty(max(1024, len(self._template_cases)), "S24")
        for i, case_no in enumerate(self._template_cases):
            raw = case_no.encode()
            if len(raw) <= 24 and raw.isascii():
                tpl.case[i] = raw
            else:
                tpl.case[i] = b""
                tpl.long_case[i] = case_no
        self._templates_count = len(self._template_cases)
        self._template_cases = []
        people = s._people
        ckeys = np.frombuffer(self._complainant, np.uint64)
        uniq, first_row, crow = np.unique(ckeys, return_index=True, return_inverse=True)
        del ckeys
        self._complainant = array("Q")
        crow, first_row = crow.astype(np.int32), first_row.astype(np.int32)
        nc = len(uniq)

        # Institutions: the commonest first, so that the 64 bits of a group's mask cover most.
        inst = np.frombuffer(self._inst, np.int32)
        counts = np.bincount(inst, minlength=len(s._inst_names))
        order = np.argsort(-counts, kind="stable")
        remap = np.empty(len(order), np.int32)
        remap[order] = np.arange(len(order))
        s._inst_names = [s._inst_names[i] for i in order.tolist()]
        s._inst_ids = {name: i for i, name in enumerate(s._inst_names)}
        inst = remap[inst]
        self._inst = array("i")
        days = np.frombuffer(self._day, np.int32)
        codes, per = np.unique(inst.astype(np.int64) << 32 | days, return_counts=True)
        del days
        self._day = array("i")
        for code, count in zip(codes.tolist(), per.tolist(), strict=True):
            name, day = s._inst_names[code >> 32], date.fromordinal(code & 0xFFFFFFFF)
            s._per_day[(name, day)] += count
            s._per_institution[name] += count
            span = s._span.setdefault(name, [day, day])
            span[0], span[1] = min(span[0], day), max(span[1], day)
        del codes, per, counts, order, remap

        edges_a, edges_b = [], []
        counted_points = self._points(crow, inst, edges_a, edges_b)
        counted_templates = self._templates(crow, inst, edges_a, edges_b)

        # Groups: a union-find over the links, then each group's slot as `apply` leaves it.
        # Typed arrays, not lists: a million int objects would stay behind as fragmented heap.
        a = _ints(np.concatenate(edges_a))
        del edges_a
        b = _ints(np.concatenate(edges_b))
        del edges_b
        parent = _ints(np.arange(nc))
        size = _ints(np.ones(nc))
        for x, y in zip(a, b, strict=True):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            while parent[y] != y:
                parent[y] = parent[parent[y]]
                y = parent[y]
            if x != y:
                if size[x] < size[y]:
                    x, y = y, x
                parent[y] = x
                size[x] += size[y]
        del size, a, b
        root = np.frombuffer(parent, np.int32).copy()
        del parent
        while True:
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
        del up
        # A group's root is its member that came first, so its member list starts there.
        earliest = np.full(nc, n, np.int32)  # per root: the first row of any member
        np.minimum.at(earliest, root, first_row)
        earliest[earliest == n] = 0  # not a root: unused
        root = crow[earliest][root]  # first_row[c] is a row of c's: crow[first_row[c]] == c
        del earliest
        insts = np.zeros(nc, np.uint64)  # a group's institutions, a row slice at a time
        for start in range(0, n, _SLICE):
            c, i = crow[start : start + _SLICE], inst[start : start + _SLICE]
            low = i < 64
            np.bitwise_or.at(
                insts, root[c[low]], np.left_shift(np.uint64(1), i[low].astype(np.uint64))
            )
            for r, j in zip(root[c[~low]].tolist(), i[~low].tolist(), strict=True):
                people.more_insts.setdefault(r, set()).add(j)
            del c, i, low
        people.insts = array("Q")
        people.insts.frombytes(_raw(insts))
        del insts
        unkeyed = [
            (int(crow[row]), int(inst[row]), case_no, raw) for row, case_no, raw in self._unkeyed
        ]
        self._unkeyed = []
        del crow, inst
        people.parent = _ints(root)
        people.size = _ints(np.bincount(root, minlength=nc))
        people.points = _ints(np.bincount(root[counted_points], minlength=nc))
        people.templates = _ints(np.bincount(root[counted_templates], minlength=nc))
        del counted_points, counted_templates
        order = np.lexsort((first_row, root)).astype(np.int32)
        del first_row
        same = root[order[:-1]] == root[order[1:]]
        nxt = np.full(nc, _NO, np.int32)
        nxt[order[:-1][same]] = order[1:][same]
        people.next = _ints(nxt)
        del nxt
        tail = np.arange(nc, dtype=np.int32)
        last = np.ones(nc, bool)
        last[:-1] = ~same
        del same
        tail[root[order[last]]] = order[last]
        del order, last
        people.tail = _ints(tail)
        del tail
        least = np.full(nc, nc, np.int32)
        np.minimum.at(least, root, np.arange(nc, dtype=np.int32))  # ids are in key order
        least[least == nc] = 0
        people.least = _ints(least)
        del least
        del root
        people.base = uniq
        people.base_ids = None  # ids are in key order
        people.keys = array("Q")
        people.keys.frombytes(_raw(uniq))

        # Cases stored without a template key: compared now, in stored order.
        for cid, inst_, case_no, raw in unkeyed:
            tid_, _ = s._index_template(signature_from_bytes(raw), case_no, cid, inst_)
            if tid_ is not None:
                people.union(cid, s._templates.first[tid_])
        return n

    def _templates(
        self, crow: np.ndarray, inst: np.ndarray, edges_a: list, edges_b: list
    ) -> np.ndarray:
        """Templates and their LSH bands; appends their links to the edges; returns the first
        letters' complainants of the templates two or more complainants share."""
        s, tpl = self.s, self.s._templates
        nt = self._templates_count
        if not nt:
            self._tid = array("i")
            return np.empty(0, np.int64)
        tid = np.frombuffer(self._tid, np.int32)
        has = tid >= 0
        t_ids = tid[has].astype(np.int64)
        del tid
        self._tid = array("i")
        t_c = crow[has]
        t_i = inst[has]
        del has
        _, t_first_pos = np.unique(t_ids, return_index=True)
        t_first = t_c[t_first_pos]
        del t_first_pos
        tpl.with_c.base = np.unique(t_ids << 32 | t_c)
        tpl.with_i.base = np.unique(t_ids << 32 | t_i)
        del t_i
        tn = np.bincount(tpl.with_c.base >> 32, minlength=nt)
        tm = np.bincount(tpl.with_i.base >> 32, minlength=nt)
        tpl.first = _ints(t_first)
        tpl.n = _ints(tn)
        tpl.m = _ints(tm)
        first_c = t_first[t_ids]
        del t_ids
        link = t_c != first_c
        edges_a.append(t_c[link])
        edges_b.append(first_c[link])
        del t_c, first_c, link
        counted = t_first[tn >= 2].astype(np.int64)
        del t_first, tn, tm

        keys = np.frombuffer(self._band_keys, np.uint64).reshape(nt, BANDS)
        sigs = np.frombuffer(self._sigs, "<u4").reshape(nt, NUM_PERM) if self._keep_sigs else None
        own = np.frombuffer(self._has_sig, np.uint8).astype(bool)
        if not own.all():
            # First letters stored by another replica under a template of its own.
            missing = np.flatnonzero(~own).tolist()
            read = s._read_signatures([tpl.key(t) for t in missing])
            for t in missing:
                sig = read.get(tpl.key(t))
                if sig is not None:
                    keys[t] = _band_keys(sig[None, :])[0]
                    if sigs is not None:
                        sigs[t] = sig
                    own[t] = True
            del read
        keyed = np.flatnonzero(own)
        tpl.bands.load(keys if len(keyed) == nt else keys[keyed], keyed)
        del keys, own, keyed
        self._band_keys, self._has_sig = array("Q"), bytearray()
        if sigs is not None:
            tpl.sigs = sigs.copy()
            del sigs
        self._sigs = bytearray()
        return counted

    def _points(
        self, crow: np.ndarray, inst: np.ndarray, edges_a: list, edges_b: list
    ) -> np.ndarray:
        """Contact points, a key range at a time; appends their links to the edges; returns
        the first complainants of the points (not addresses) SHARED_MIN or more share. With
        a point reader, the points seen in one case only are not held: one row each, they
        link nobody and count nowhere, and the reader gives them back when seen again."""
        pts = self.s._points
        drop_once = self.s._point_reader is not None
        pkeys = np.frombuffer(self._point, np.uint64)
        pcase = np.frombuffer(self._point_case, np.int32)
        paddr = np.frombuffer(self._point_address, np.int8)
        base = np.empty(len(pkeys), np.uint64)  # at most a point a row; shrunk at the end
        base_first = np.empty((len(pkeys), 2), np.int32)  # complainant id, institution id
        counted = []
        at = 0
        for rows in _key_ranges(pkeys):
            cases = pcase[rows]
            pc, pi = crow[cases], inst[cases]
            del cases
            addr = paddr[rows].astype(bool)
            puniq, pfirst, pinv, seen = np.unique(
                pkeys[rows], return_index=True, return_inverse=True, return_counts=True
            )
            del rows
            pinv = pinv.astype(np.int64)
            c0 = pc[pfirst]
            held = seen >= 2 if drop_once else slice(None)  # the others are read back
            del seen
            end = at + len(puniq[held])
            base[at:end] = puniq[held]
            base_first[at:end, 0] = c0[held]
            base_first[at:end, 1] = pi[pfirst][held]
            at = end
            del held
            with_c = np.unique(pinv << 32 | pc)
            with_i = np.unique(pinv << 32 | pi)
            np_ = np.bincount(with_c >> 32, minlength=len(puniq))
            mp_ = np.bincount(with_i >> 32, minlength=len(puniq))
            shared = (np_ >= 2) | (mp_ >= 2)
            if shared.any():
                for pairs, side in ((with_c, 0), (with_i, 1)):
                    chosen = pairs[shared[pairs >> 32]]
                    for p, v in zip(
                        (chosen >> 32).tolist(), (chosen & 0xFFFFFFFF).tolist(), strict=True
                    ):
                        key = int(puniq[p])
                        both = pts.shared.get(key)
                        if both is None:
                            both = pts.shared[key] = (set(), set())
                        both[side].add(v)
            del with_c, with_i, mp_, shared, puniq
            first_c = c0[pinv]
            link = ~addr & (pc != first_c)
            edges_a.append(pc[link])
            edges_b.append(first_c[link])
            del first_c, link, pinv, pc, pi
            counted.append(c0[(np_ >= SHARED_MIN) & ~addr[pfirst]].astype(np.int64))
            del c0, np_, addr, pfirst
        del pkeys, pcase, paddr
        self._point, self._point_case, self._point_address = array("Q"), array("i"), array("b")
        base.resize(at, refcheck=False)  # in place: no second copy
        base_first.resize((at, 2), refcheck=False)
        pts.base, pts.base_first = base, base_first
        return np.concatenate(counted)


def _ints(values: np.ndarray) -> array:
    out = array("i")
    out.frombytes(_raw(np.asarray(values, np.int32)))
    return out


def _raw(values: np.ndarray) -> memoryview:
    """An array's bytes without a copy (`array.frombytes` takes bytes, not numpy items)."""
    return memoryview(np.ascontiguousarray(values)).cast("B")
