"""Screening of cases for black/grey-industry agents (黑灰产代理): signals, score, flag, rings.

Pure: no database, no clock. A `Screener` holds what it has seen so far in memory:

- lexicon hits: the phrases of `data/lexicon.yaml` (with their variant spellings) found by one
  Aho-Corasick automaton (pyahocorasick) over the letter;
- contact points: phones, ID numbers, bank accounts, WeChat/QQ ids, addresses and agent
  identities from the structured fields and the free text, normalised and kept only as keyed
  hashes (`services.common.pii.keyed_hash`), each with the complainants and institutions it
  was seen with;
- templates: near-duplicate letters (MinHash over character 3-shingles, datasketch, with a
  compact banded LSH of its own); only a cluster's first letter is kept in the LSH, later copies
  just join its cluster;
- bursts: complaints per institution per day against that institution's usual daily rate;
- rings: a union-find over complainants, contact points and templates. Addresses never link
  (a care home is not a ring) and neither do short texts (a mass incident writes alike). A
  group is a ring from RING_MIN complainants with at least one contact point shared by
  SHARED_MIN of them: look-alike letters alone, or a couple's phone, do not make one.

`screen(case)` indexes a case and scores it against everything seen so far (incremental: early
members of a ring score low until the ring shows). `screen_all(cases)` is the batch mode: it
indexes every case first and then scores each one against the whole set, so the first letter of
a ring is flagged as surely as the last. Ring ids are stable within one run, not across runs.

Score: the sum of the weights below, capped at 1; a case is flagged at FLAG_THRESHOLD. Wording
alone (lexicon) and a shared address alone cannot reach it. A case in a burst that shares no
contact point with anyone gets no template or ring weight: that is an incident to show staff
(`Screener.incidents()`), not a ring. A phone or ID number of a known agent (an imported police or
industry list, `Screener.known_agents`) flags on its own, and so does an agent name close to a
known agent's (rapidfuzz). `Screener.discounts` holds the down-weighting of evidence that raised
dismissed clues (per contact point, template and lexicon phrase); scoring multiplies by it.

The service (`services.blacklist.store`) feeds the screener keyed hashes only (`CaseInput`'s
hashed_points and complainant_key) and restores it from stored `Prepared` cases.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import ahocorasick
import numpy as np
from datasketch import MinHash
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


class _UnionFind:
    """Union by size with path halving; each root carries the ring's running evidence."""

    __slots__ = ("parent", "stats")

    def __init__(self) -> None:
        # Nodes: "c<hash>" a complainant, "<hash>" a contact point, an int a letter template.
        self.parent: dict[str | int, str | int] = {}
        # root → [complainants, points of >= SHARED_MIN complainants, templates, institutions,
        # complainant nodes]; only for roots that have any (most contact points never do: memory).
        self.stats: dict[str | int, list] = {}

    def add(self, node: str | int) -> bool:
        if node in self.parent:
            return False
        self.parent[node] = node
        return True

    def evidence(self, root: str | int) -> list:
        ev = self.stats.get(root)
        if ev is None:
            # Institutions: one name until a second one comes (a set costs 216 bytes).
            ev = self.stats[root] = [0, 0, 0, None, []]
        return ev

    def find(self, node: str | int) -> str | int:
        parent = self.parent
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(self, a: str | int, b: str | int) -> str | int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        sa, sb = self.stats.get(ra), self.stats.get(rb)
        if sb is None:
            self.parent[rb] = ra
            return ra
        if sa is None:
            self.parent[ra] = rb
            return rb
        if sa[0] < sb[0]:
            ra, rb, sa, sb = rb, ra, sb, sa
        self.parent[rb] = ra
        sa[0] += sb[0]
        sa[1] += sb[1]
        sa[2] += sb[2]
        sa[3] = _institutions_union(sa[3], sb[3])
        sa[4].extend(sb[4])
        del self.stats[rb]
        return ra


def _institutions_union(a: str | set | None, b: str | set | None) -> str | set | None:
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, str):
        a = {a}
    if isinstance(b, str):
        a.add(b)
    else:
        a |= b
    return a


def _count(institutions: str | set | None) -> int:
    if institutions is None:
        return 0
    return 1 if isinstance(institutions, str) else len(institutions)


class _Seen:
    """Complainants and institutions seen with one point or template (a set only once shared)."""

    __slots__ = ("complainants", "institutions", "kind")

    def __init__(self, kind: str, complainant: str, institution: str) -> None:
        self.kind = kind
        self.complainants: str | set[str] = complainant
        self.institutions: str | set[str] = institution

    def add(self, complainant: str, institution: str) -> int:
        """How many complainants now, if `complainant` is new here; else 0."""
        added = 0
        if isinstance(self.complainants, str):
            if complainant != self.complainants:
                self.complainants = {self.complainants, complainant}
                added = 2
        elif complainant not in self.complainants:
            self.complainants.add(complainant)
            added = len(self.complainants)
        if isinstance(self.institutions, str):
            if institution != self.institutions:
                self.institutions = {self.institutions, institution}
        else:
            self.institutions.add(institution)
        return added

    def counts(self) -> tuple[int, int]:
        n = 1 if isinstance(self.complainants, str) else len(self.complainants)
        m = 1 if isinstance(self.institutions, str) else len(self.institutions)
        return n, m


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
    """MinHash LSH over the templates' first letters, compact: one dict of band keys (a Python
    hash of the band number and its 4 values) to a template id, or a list of them once shared.
    datasketch's MinHashLSH keeps a bytes key and a set per band and letter: ~4 KB a letter."""

    __slots__ = ("buckets",)

    def __init__(self) -> None:
        self.buckets: dict[int, int | list[int]] = {}

    @staticmethod
    def keys(signature: np.ndarray) -> list[int]:
        raw = signature.astype("<u4", copy=False).tobytes()
        step = ROWS * 4
        return [hash((i, raw[i * step : (i + 1) * step])) for i in range(BANDS)]

    def insert(self, tid: int, keys: list[int]) -> None:
        buckets = self.buckets
        for k in keys:
            current = buckets.get(k)
            if current is None:
                buckets[k] = tid
            elif type(current) is int:
                buckets[k] = [current, tid]
            else:
                current.append(tid)

    def query(self, keys: list[int]) -> list[int]:
        """Templates sharing a band, those sharing the most first (at most CANDIDATES)."""
        counts: dict[int, int] = {}
        buckets = self.buckets
        for k in keys:
            current = buckets.get(k)
            if current is None:
                continue
            if type(current) is int:
                counts[current] = counts.get(current, 0) + 1
            else:
                # A band many letters share is generic wording; its newest templates suffice.
                for t in current[-BUCKET_SCAN:]:
                    counts[t] = counts.get(t, 0) + 1
        if len(counts) <= CANDIDATES:
            return list(counts)
        return heapq.nlargest(CANDIDATES, counts, key=counts.__getitem__)


_PROTO = MinHash(num_perm=NUM_PERM, seed=7)
_PERM_A, _PERM_B = (np.asarray(x, dtype=np.uint32) for x in _PROTO.permutations)
_U64_21, _U64_42 = np.uint64(21), np.uint64(42)
_FMIX32 = tuple(np.uint32(x) for x in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))
_FMIX64 = tuple(np.uint64(x) for x in (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33))


def _fmix(h: np.ndarray, constants: tuple) -> np.ndarray:
    """The MurmurHash3 finaliser, element-wise (multiplication wraps, as intended)."""
    s1, m1, s2, m2, s3 = constants
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


class Screener:
    """Screens cases one by one (`screen`) or as a batch (`screen_all`); see the module doc."""

    def __init__(self, lexicon: Lexicon | None = None, pii_key: str | None = None) -> None:
        self.lexicon = lexicon or load_lexicon()
        self._pii_key = pii_key or settings_mod.get().pii_key
        self._points: dict[str, _Seen] = {}
        self._templates: dict[int, _Seen] = {}
        self._template_reps: dict[int, np.ndarray] = {}
        self._lsh = _Bands()
        self._uf = _UnionFind()
        self._per_day: Counter[tuple[str, date]] = Counter()
        self._span: dict[str, list[date]] = {}  # institution → [first day, last day]
        self._per_institution: Counter[str] = Counter()
        self._template_rep_case: list[str] = []  # template id → case_no of its first letter
        self._tid_by_rep: dict[str, int] = {}
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

    def apply(self, p: Prepared) -> CaseFeatures:
        """Adds a prepared case (fresh, or restored from storage) to the state."""
        cnode = p.complainant
        inst = p.institution
        uf = self._uf
        if uf.add(cnode):
            ev = uf.evidence(cnode)
            ev[0] = 1
            ev[4].append(cnode)
        ev = uf.evidence(uf.find(cnode))
        ev[3] = _institutions_union(ev[3], inst)

        points = []
        for h, kind, role in p.points:
            points.append((h, kind, role))
            seen = self._points.get(h)
            if seen is None:
                self._points[h] = _Seen(kind, cnode, inst)
                shared = False
            else:
                shared = seen.add(cnode, inst) == SHARED_MIN
            if kind == "address":
                continue  # an address never links a ring (care homes, families, offices)
            uf.add(h)
            root = uf.union(cnode, h)
            if shared:
                uf.evidence(root)[1] += 1

        template, similarity = self._index_template(p.signature, p.case_no, cnode, inst)
        if template is not None:
            uf.union(cnode, template)

        day = p.day
        self._per_day[(inst, day)] += 1
        self._per_institution[inst] += 1
        span = self._span.setdefault(inst, [day, day])
        span[0], span[1] = min(span[0], day), max(span[1], day)
        return CaseFeatures(
            case_no=p.case_no,
            complainant=cnode,
            institution=inst,
            day=day,
            points=points,
            template=template,
            similarity=similarity,
            lexicon=p.lexicon,
            agent_name=p.agent_name,
        )

    def _index_template(
        self, signature: np.ndarray | None, case_no: str, cnode: str, inst: str
    ) -> tuple[int | None, float]:
        if signature is None:
            return None, 0.0
        keys = _Bands.keys(signature)
        best, best_sim = self._best_template(signature, keys)
        if best is not None and best_sim >= TEMPLATE_SIMILARITY:
            if self._templates[best].add(cnode, inst) == 2:
                # Count the template once in its ring's evidence (see index()).
                self._uf.evidence(self._uf.find(best))[2] += 1
            return best, best_sim
        tid = len(self._template_reps)
        self._template_reps[tid] = signature
        self._template_rep_case.append(case_no)
        self._tid_by_rep[case_no] = tid
        self._templates[tid] = _Seen("template", cnode, inst)
        self._lsh.insert(tid, keys)
        self._uf.add(tid)
        return tid, 1.0

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
            n, m = self._points[h].counts()
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
            n, m = self._templates[f.template].counts()
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
            root = self._uf.find(f.complainant)
            complainants, points, templates, institutions, _ = self._uf.evidence(root)
            # A ring needs a contact point shared by SHARED_MIN complainants: look-alike
            # letters alone, or a couple's phone, do not make one.
            if complainants >= RING_MIN and points >= 1:
                ring_id = "R-" + hashlib.sha256(str(root).encode()).hexdigest()[:10]
                score += W_RING * point_factor
                reasons.append(
                    Reason(
                        "ring",
                        f"ring {ring_id}: {complainants} complainants linked by "
                        f"{points} contact point{'s' if points != 1 else ''} shared by "
                        f"{SHARED_MIN} or more and "
                        f"{templates} letter template{'s' if templates != 1 else ''}, "
                        f"across {_count(institutions)} institution"
                        f"{'s' if _count(institutions) != 1 else ''}",
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
        return "" if template is None else self._template_rep_case[template]

    def template_of(self, key: str) -> int | None:
        return self._tid_by_rep.get(key)

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
        reps = self._template_reps
        for candidate in self._lsh.query(keys):
            sim = float(np.count_nonzero(reps[candidate] == signature)) / NUM_PERM
            if sim > best_sim:
                best, best_sim = candidate, sim
        return best, best_sim

    def ring_members(self, complainant: str) -> list[str]:
        """The complainant nodes connected to `complainant` (itself included)."""
        root = self._uf.find(complainant)
        return list(self._uf.evidence(root)[4])

    def has_complainant(self, complainant: str) -> bool:
        return complainant in self._uf.parent

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
