"""Screening as a service: the worker's screener restored from the database, clues, weighting.

What is stored per case (`ScreenedCase`, `CasePoint`) is what the screener needs to rebuild its
state: keyed hashes of the complainant and of every contact point, the letter's MinHash
signature (64 uint32, not the letter) and its lexicon hits; plus score, flag, ring and reasons,
and the complainant's and agent's names and the complainant's phone encrypted (`Protected`) for
investigators.

Two worker replicas: each keeps its own screener and, before screening a case, applies every
case the other replica committed since (rows above its high-water id). Scores are therefore
derived from the database state, with one documented gap: two cases screened at the same
instant by two replicas do not see each other; the next case of the same ring sees both and
re-scores the ring (eventual consistency, one case late at worst).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from services.blacklist import screening
from services.blacklist.models import (
    OPEN_CLUE_STATUSES,
    CasePoint,
    Clue,
    ClueCase,
    ClueNote,
    EvidenceWeight,
    KnownAgentEntry,
    KnownAgentList,
    OutboxMessage,
    ScreenedCase,
    ScreeningItem,
    clue_id,
)
from services.blacklist.screening import (
    CaseFeatures,
    CaseInput,
    KnownAgent,
    KnownAgents,
    Party,
    Phrase,
    Prepared,
    Result,
    Screener,
)
from services.common import settings as settings_mod
from services.common.clock import SHANGHAI
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound
from services.common.messaging import emit
from services.common.pii import keyed_hash

log = logging.getLogger(__name__)

HASH_CHARS = 16
DISMISSAL_FACTOR = 0.5  # each dismissal halves the weight of the evidence that raised the clue
MIN_FACTOR = 0.05
LEXICON_CHECK_SECONDS = 1.0
# Dismissal weights and the known-agents list are re-read from the database at most this often
# by a running worker (a dismissal or an import counts from the next case after that).
REFRESH_SECONDS = 1.0
# Complainants of a connected group re-scored when one of them flags; a bigger group (a template
# used by thousands) is re-scored as its next cases come in, not all at once.
RESCORE_MAX = 2000

# new → triaged → investigating → confirmed → referred_to_police → closed; dismissed from any
# open state.
NEXT_STATUS = {
    "new": "triaged",
    "triaged": "investigating",
    "investigating": "confirmed",
    "confirmed": "referred_to_police",
    "referred_to_police": "closed",
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def short_hash(value: str, pii_key: str | None = None) -> str:
    return keyed_hash(value, pii_key)[:HASH_CHARS]


def name_hash(name: str, pii_key: str | None = None) -> str:
    folded = screening.normalise_name(name)
    return short_hash("name:" + folded, pii_key) if folded else ""


def normalise_phone(phone: str) -> str:
    """As intake normalises before hashing (and the screener for numbers in letters)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def normalise_id_number(value: str) -> str:
    return "".join(value.split()).upper()


# ---------------------------------------------------------------------------------------------
# Lexicon in force


_lexicon_state: dict = {}


def lexicon_path() -> Path:
    configured = settings_mod.get().blacklist_lexicon_file
    return Path(configured) if configured else screening.LEXICON_PATH


def lexicon_in_force() -> tuple[screening.Lexicon, int]:
    """The lexicon and its generation (grows on every change), re-checked at most once a
    second. A broken edit keeps the previous lexicon in force and is logged once."""
    now = time.monotonic()
    path = lexicon_path()
    seen = _lexicon_state.get("value")
    if seen is not None and seen[0] == path and now - seen[1] < LEXICON_CHECK_SECONDS:
        return seen[2], _lexicon_state["generation"]
    try:
        lexicon = screening.load_lexicon(path)
        _lexicon_state.pop("error", None)
    except (OSError, ValueError) as exc:
        if seen is None:
            raise
        message = f"{type(exc).__name__}: {exc}"
        if _lexicon_state.get("error") != message:
            log.error("lexicon rejected, the previous one stays in force: %s", message)
            _lexicon_state["error"] = message
        lexicon = seen[2]
    if seen is None or seen[2] is not lexicon:
        _lexicon_state["generation"] = _lexicon_state.get("generation", 0) + 1
    _lexicon_state["value"] = (path, now, lexicon)
    return lexicon, _lexicon_state["generation"]


def forget_lexicon() -> None:
    """The next lexicon_in_force() checks the file again (the last good lexicon stays)."""
    seen = _lexicon_state.get("value")
    if seen is not None:
        _lexicon_state["value"] = (seen[0], float("-inf"), seen[2])


# ---------------------------------------------------------------------------------------------
# From the event to the screener's input


def case_input(p: dict, pii_key: str | None = None) -> CaseInput:
    """`intake.case_received`'s payload as the screener reads it: hashes, never numbers."""
    if p.get("id_hash"):
        key = p["id_hash"][:HASH_CHARS]
    else:
        key = short_hash(f"np:{p.get('complainant_name', '')}|{p.get('phone_hash', '')}", pii_key)
    hashed = tuple(
        (kind, p.get(field) or "", role)
        for kind, field, role in (
            ("phone", "phone_hash", "complainant"),
            ("id", "id_hash", "complainant"),
            ("phone", "agent_phone_hash", "agent"),
            ("id", "agent_id_hash", "agent"),
        )
        if p.get(field)
    )
    agent_name = (p.get("agent_name") or "").strip()
    agent = None
    if agent_name or p.get("agent_phone_hash") or p.get("agent_id_hash"):
        agent = Party(name=agent_name)
    return CaseInput(
        case_no=p["case_no"],
        received_at=datetime.fromisoformat(p["received_at"]),
        institution=p.get("institution_text") or "",
        text=p.get("summary") or "",
        complainant=Party(),
        agent=agent,
        hashed_points=hashed,
        complainant_key=key,
    )


def _release_freed_memory() -> None:
    """Hands the restore's freed temporaries back to the system: glibc keeps freed heap pages
    (hundreds of MiB at a million cases) in the process unless asked."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _map_large_allocations() -> None:
    """Keeps glibc's mmap threshold at 128 KiB for good: by default it rises (up to 32 MiB) each
    time a large block is freed, after which the restore's numpy temporaries came from the heap
    and stayed in the process once freed, counting in its peak (~30 MiB at a million cases)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 128 * 1024)


_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def _local_day(at: datetime):
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(SHANGHAI).date()


def _lexicon_json(hits: Iterable[tuple[Phrase, str]]) -> list:
    return [[p.canonical, p.category, p.label, p.weight, spelling] for p, spelling in hits]


def _lexicon_hits(raw: list) -> list[tuple[Phrase, str]]:
    return [(Phrase(c, cat, label, float(w)), spelling) for c, cat, label, w, spelling in raw]


# ---------------------------------------------------------------------------------------------
# The worker's state


@dataclass
class Screened:
    result: Result
    events: list[dict]  # clue_raised payloads emitted


def _state_columns() -> tuple:
    """The columns of a stored case the screening state is rebuilt from (the restore and the
    catch-up with other replicas each add the signature as they need it)."""
    t = ScreenedCase.__table__
    return (
        t.c.id,
        t.c.case_no,
        t.c.received_at,
        t.c.institution,
        t.c.complainant_key,
        t.c.points,
        t.c.template_key,
    )


class ScreeningState:
    """One worker process's screener, kept in step with the database (see the module doc)."""

    def __init__(self, pii_key: str | None = None) -> None:
        self.pii_key = pii_key
        self.screener: Screener | None = None
        self.high_water = 0
        self._restored_to = 0  # the last case id the restore read (see `_read_points`)
        self._own: set[int] = set()
        self._lexicon_generation = -1
        self._known_list = -1
        self._refreshed = float("-inf")
        self._session: Session | None = None  # where the screener reads signatures, meanwhile

    # -- restoring ---------------------------------------------------------------------------

    def restore(self, session: Session, batch: int = 2000) -> int:
        """A fresh screener with every stored case applied, in id order, in bulk (numpy, see
        `screening.StateLoader`): the rows are streamed (a server-side cursor on PostgreSQL),
        only the columns the state needs, a first letter's signature only. Returns the count."""
        lexicon, generation = lexicon_in_force()
        screener = screening.Screener(
            lexicon=lexicon,
            pii_key=self.pii_key,
            signatures=self._read_signatures,
            points=self._read_points,
        )
        t = ScreenedCase.__table__
        first_letter = or_(t.c.template_key == t.c.case_no, t.c.template_key == "")
        query = select(
            *_state_columns(), case((first_letter, t.c.signature), else_=None).label("signature")
        ).order_by(t.c.id)
        self.screener = None  # a failure half-way leaves none, and the next case restores
        _map_large_allocations()
        previous, self._session = self._session, session
        try:
            loader = screener.loader()
            high_water = 0
            for row in session.execute(query, execution_options={"yield_per": batch}):
                loader.add(
                    row.case_no,
                    row.complainant_key,
                    row.institution,
                    _local_day(row.received_at),
                    row.points,
                    row.template_key,
                    row.signature,
                )
                high_water = row.id
            n = loader.finish()
            del loader
        finally:
            self._session = previous
        _release_freed_memory()
        self.screener = screener
        self._lexicon_generation = generation
        self.high_water = self._restored_to = high_water
        self._own.clear()
        self._known_list = -1
        self.refresh(session)
        return n

    def _read_signatures(self, case_nos: list[str]) -> dict[str, np.ndarray | None]:
        """The screener's reading of templates' first letters: from the database, in the
        session of the case being screened (the worker keeps no signature in memory)."""
        if self._session is None:
            return {}
        t = ScreenedCase.__table__
        out: dict[str, np.ndarray | None] = {}
        for start in range(0, len(case_nos), 500):
            rows = self._session.execute(
                select(t.c.case_no, t.c.signature).where(
                    t.c.case_no.in_(case_nos[start : start + 500])
                )
            )
            out.update((r.case_no, screening.signature_from_bytes(r.signature)) for r in rows)
        return out

    def _read_points(self, hashes: list[str]) -> dict[str, tuple[str, str]]:
        """The screener's reading of contact points it does not hold (seen in one restored case
        only): hash → (complainant key, institution) of that case, in the session of the case
        being screened. Only restored cases: a point first seen after the restore is held."""
        if self._session is None or not self._restored_to:
            return {}
        cp, t = CasePoint.__table__, ScreenedCase.__table__
        rows = self._session.execute(
            select(cp.c.point_hash, cp.c.case_id, t.c.complainant_key, t.c.institution)
            .join(t, t.c.id == cp.c.case_id)
            .where(cp.c.point_hash.in_(hashes))  # the point_hash index: a few rows a point
            .order_by(cp.c.case_id.desc())  # the first case's wins
        )
        return {
            r.point_hash: (r.complainant_key, r.institution)
            for r in rows
            if r.case_id <= self._restored_to
        }

    def _apply_since(self, session: Session, batch: int = 5000) -> int:
        """Cases other replicas stored since (above the high-water id), with their templates."""
        t = ScreenedCase.__table__
        n = 0
        result = session.execute(
            select(*_state_columns(), t.c.signature)
            .where(t.c.id > self.high_water)
            .order_by(t.c.id),
            execution_options={"yield_per": batch},
        )
        for row in result:
            if row.id in self._own:
                self._own.discard(row.id)
            else:
                self.screener.apply(
                    Prepared(
                        case_no=row.case_no,
                        complainant="c" + row.complainant_key,
                        institution=row.institution,
                        day=_local_day(row.received_at),
                        points=[tuple(p) for p in row.points],
                        signature=screening.signature_from_bytes(row.signature),
                        lexicon=[],  # not part of the state
                    ),
                    template_key=row.template_key,
                )
                n += 1
            self.high_water = max(self.high_water, row.id)
        return n

    def refresh(self, session: Session, force: bool = True) -> None:
        """Lexicon (if its file changed), dismissal weights and the known-agents list in force."""
        lexicon, generation = lexicon_in_force()
        if generation != self._lexicon_generation:
            self.screener.lexicon = lexicon
            self._lexicon_generation = generation
        now = time.monotonic()
        if not force and now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        self.screener.discounts = {
            key: factor
            for key, factor in session.execute(select(EvidenceWeight.key, EvidenceWeight.factor))
        }
        latest = session.scalar(
            select(KnownAgentList.id).order_by(KnownAgentList.id.desc()).limit(1)
        )
        latest = latest or 0
        if latest != self._known_list:
            self.screener.known_agents = load_known_agents(session, latest)
            self._known_list = latest

    # -- screening one case ------------------------------------------------------------------

    def screen(
        self, session: Session, payload: dict, now: datetime | None = None
    ) -> Screened | None:
        """Screens a received case inside the caller's transaction: stores it, scores it, and
        for a flagged case creates or extends its clue and emits `blacklist.clue_raised`."""
        previous, self._session = self._session, session
        try:
            return self._screen(session, payload, now)
        finally:
            self._session = previous

    def _screen(self, session: Session, payload: dict, now: datetime | None) -> Screened | None:
        now = now or now_utc()
        if session.scalar(
            select(ScreenedCase.id).where(ScreenedCase.case_no == payload["case_no"])
        ):
            return None
        if self.screener is None:
            self.restore(session)
        else:
            self.refresh(session, force=False)
            self._apply_since(session)
        screener = self.screener
        case = case_input(payload, self.pii_key)
        prepared = screener.prepare(case)
        features = screener.apply(prepared)
        result = screener.score(features)
        row = ScreenedCase(
            case_no=case.case_no,
            received_at=case.received_at,
            institution=case.institution,
            complainant_key=prepared.complainant[1:],
            complainant_name_hash=name_hash(payload.get("complainant_name") or "", self.pii_key),
            agent_name_hash=name_hash(prepared.agent_name, self.pii_key),
            complainant_name=payload.get("complainant_name") or "",
            complainant_phone=payload.get("complainant_phone") or "",
            agent_name=prepared.agent_name,
            points=[list(p) for p in prepared.points],
            signature=screening.signature_bytes(prepared.signature),
            lexicon=_lexicon_json(prepared.lexicon),
            template_key=screener.template_key(features.template),
            similarity=features.similarity,
            lexicon_version=screener.lexicon.version,
            screened_at=now,
        )
        _set_result(row, result)
        session.add(row)
        session.flush()
        self._own.add(row.id)
        session.add_all(
            CasePoint(point_hash=h, kind=kind, role=role, case_id=row.id)
            for h, kind, role in prepared.points
        )
        item = session.scalar(select(ScreeningItem).where(ScreeningItem.case_no == case.case_no))
        if item is not None:
            item.status = "screened"
        events: list[dict] = []
        if result.flagged:
            events = self._raise_clue(session, row, features, result, now)
        return Screened(result, events)

    def _features_of(self, row: ScreenedCase) -> CaseFeatures:
        template, similarity = self.screener.match_template(
            screening.signature_from_bytes(row.signature)
        )
        return CaseFeatures(
            case_no=row.case_no,
            complainant="c" + row.complainant_key,
            institution=row.institution,
            day=_local_day(row.received_at),
            points=[tuple(p) for p in row.points],
            template=template,
            similarity=similarity,
            lexicon=_lexicon_hits(row.lexicon),
            agent_name=row.agent_name or "",
        )

    def _raise_clue(
        self, session: Session, row: ScreenedCase, features: CaseFeatures, result: Result, now
    ) -> list[dict]:
        """The clue of a flagged case: the open clue of a case connected to it (its ring) if
        there is one, else a new one. Connected cases screened earlier are re-scored now that
        the group shows (incremental screening scores a ring's first cases low); those that
        flag now join the clue too."""
        flagged: list[tuple[ScreenedCase, Result]] = [(row, result)]
        members: list[ScreenedCase] = [row]
        keys = [m[1:] for m in self.screener.ring_members(features.complainant)][:RESCORE_MAX]
        for start in range(0, len(keys), 500):
            members.extend(
                session.scalars(
                    select(ScreenedCase).where(
                        ScreenedCase.complainant_key.in_(keys[start : start + 500]),
                        ScreenedCase.id != row.id,
                    )
                )
            )
        for other in members[1:]:
            if other.flagged:
                # Same connected group: the ring as it shows now.
                other.ring_id = result.ring_id or other.ring_id
                continue
            again = self.screener.score(self._features_of(other))
            _set_result(other, again)
            if again.flagged:
                flagged.append((other, again))
        case_nos = [m.case_no for m in members]
        clue = None
        for start in range(0, len(case_nos), 500):
            clue = session.scalar(
                select(Clue)
                .join(ClueCase)
                .where(
                    ClueCase.case_no.in_(case_nos[start : start + 500]),
                    Clue.status.in_(OPEN_CLUE_STATUSES),
                )
                .order_by(Clue.id)
                .limit(1)
            )
            if clue is not None:
                break
        if clue is None:
            clue = Clue(status="new", created_at=now, updated_at=now, score=0.0, assignee="")
            session.add(clue)
            session.flush()
        clue.ring_id = result.ring_id or clue.ring_id
        in_clue = set(session.scalars(select(ClueCase.case_no).where(ClueCase.clue_pk == clue.id)))
        events = []
        for case_row, res in flagged:
            clue.score = max(clue.score, res.score)
            if case_row.case_no in in_clue:
                continue
            session.add(ClueCase(clue_pk=clue.id, case_no=case_row.case_no, added_at=now))
            in_clue.add(case_row.case_no)
            payload = {
                "case_no": case_row.case_no,
                "clue_id": clue_id(clue.id),
                "score": float(res.score),
                "ring_id": res.ring_id or "",
                "reasons": [{"signal": r.signal, "detail": r.detail} for r in res.reasons],
            }
            emit(session, OutboxMessage, "blacklist.clue_raised", payload)
            events.append(payload)
        clue.updated_at = now
        return events


def _set_result(row: ScreenedCase, result: Result) -> None:
    row.score = float(result.score)
    row.flagged = bool(result.flagged)
    row.ring_id = result.ring_id or ""
    row.reasons = [{"signal": r.signal, "detail": r.detail} for r in result.reasons]


# ---------------------------------------------------------------------------------------------
# Known agents


def load_known_agents(session: Session, list_id: int) -> KnownAgents:
    if not list_id:
        return KnownAgents()
    rows = session.scalars(select(KnownAgentEntry).where(KnownAgentEntry.list_id == list_id))
    return KnownAgents(
        KnownAgent(
            agent_id=r.id,
            source=r.source or str(list_id),
            name=r.name or "",
            phone_hash=r.phone_hash,
            id_hash=r.id_hash,
        )
        for r in rows
    )


@dataclass(frozen=True)
class AgentRecord:
    """One known agent as imported (a line of the file)."""

    name: str = ""
    phone: str = ""
    id_number: str = ""
    org: str = ""
    source: str = ""


def import_known_agents(
    session: Session, records: list[AgentRecord], source: str, actor: str, now: datetime
) -> KnownAgentList:
    """Replaces the list in force with `records` (one transaction: all or nothing)."""
    if not records:
        raise InvalidArgument("agents", "the list is empty")
    for i, r in enumerate(records):
        if not (r.name.strip() or r.phone.strip() or r.id_number.strip()):
            raise InvalidArgument(f"agents[{i}]", "needs a name, a phone or an ID number")
    listing = KnownAgentList(
        imported_at=now, imported_by=actor, source=source[:200], entries=len(records)
    )
    session.add(listing)
    session.flush()
    for r in records:
        phone = normalise_phone(r.phone)
        id_number = normalise_id_number(r.id_number)
        session.add(
            KnownAgentEntry(
                list_id=listing.id,
                source=(r.source or source)[:200],
                org=r.org[:200],
                name=r.name.strip(),
                phone=phone,
                id_number=id_number,
                name_hash=name_hash(r.name),
                phone_hash=keyed_hash(phone) if phone else "",
                id_hash=keyed_hash(id_number) if id_number else "",
            )
        )
    return listing


# ---------------------------------------------------------------------------------------------
# Clues


def get_clue(session: Session, public_id: str) -> Clue:
    pk = parse_clue_id(public_id)
    clue = session.get(Clue, pk)
    if clue is None:
        raise NotFound(f"clue {public_id} not found")
    return clue


MAX_SUBJECT = 80  # an investigator's subject, as the clue and audit columns hold it


def parse_clue_id(public_id: str) -> int:
    value = public_id.strip().upper()
    # ASCII digits, at most nine: "²" is a digit to str.isdigit() but not to int(), and a
    # longer number is past the id column's range.
    digits = value[2:]
    if not value.startswith("CL") or not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise InvalidArgument("clue_id", f"expected CL followed by digits, got {public_id[:40]!r}")
    return int(digits)


def transition(
    session: Session, clue: Clue, to: str, actor: str, reason: str, now: datetime
) -> None:
    """Moves a clue one step on, or dismisses it; anything else is FAILED_PRECONDITION."""
    if to == "dismissed":
        if clue.status not in OPEN_CLUE_STATUSES:
            raise FailedPrecondition(
                f"clue {clue.clue_id} is {clue.status}: it cannot be dismissed"
            )
        if not reason.strip():
            raise InvalidArgument("reason", "a dismissal needs a reason")
        dismiss(session, clue, actor, reason, now)
        return
    if NEXT_STATUS.get(clue.status) != to:
        expected = NEXT_STATUS.get(clue.status)
        raise FailedPrecondition(
            f"clue {clue.clue_id} is {clue.status}: it may move to "
            + (f"{expected} or dismissed" if expected else "nothing (it is finished)")
            + f", not {to}"
        )
    old = clue.status
    clue.status = to
    clue.updated_at = now
    _note(
        session,
        clue,
        actor,
        "transition",
        f"{old} -> {to}" + (f": {reason}" if reason else ""),
        now,
    )


def dismiss(session: Session, clue: Clue, actor: str, reason: str, now: datetime) -> list[str]:
    """Dismissed: the evidence that raised it weighs less from now on (per contact point shared
    by the clue's cases, per template, per lexicon phrase), and intake clears its marks."""
    old = clue.status
    clue.status = "dismissed"
    clue.dismissal_reason = reason
    clue.updated_at = now
    case_nos = [c.case_no for c in clue.cases]
    rows = list(session.scalars(select(ScreenedCase).where(ScreenedCase.case_no.in_(case_nos))))
    keys = evidence_keys(rows)
    for key in keys:
        weight = session.get(EvidenceWeight, key)
        if weight is None:
            weight = EvidenceWeight(key=key, factor=1.0, dismissals=0, updated_at=now)
            session.add(weight)
        weight.factor = max(MIN_FACTOR, (weight.factor or 1.0) * DISMISSAL_FACTOR)
        weight.dismissals = (weight.dismissals or 0) + 1
        weight.updated_at = now
    _note(session, clue, actor, "transition", f"{old} -> dismissed: {reason}", now)
    emit(
        session,
        OutboxMessage,
        "blacklist.clue_dismissed",
        {"clue_id": clue.clue_id, "case_nos": case_nos, "reason": reason},
    )
    return keys


def evidence_keys(rows: list[ScreenedCase]) -> list[str]:
    """The evidence behind a clue's cases: contact points (not addresses) shared by two or more
    of them (all of a lone case's), their letter templates and their lexicon phrases."""
    counts: dict[str, int] = {}
    for r in rows:
        for h, kind, _role in r.points:
            if kind != "address":
                counts[h] = counts.get(h, 0) + 1
    least = 2 if len(rows) > 1 else 1
    keys = {f"point:{h}" for h, n in counts.items() if n >= least}
    keys |= {f"template:{r.template_key}" for r in rows if r.template_key}
    keys |= {f"phrase:{hit[0]}" for r in rows for hit in r.lexicon}
    return sorted(keys)


def assign(session: Session, clue: Clue, assignee: str, actor: str, now: datetime) -> None:
    if clue.status not in OPEN_CLUE_STATUSES:
        raise FailedPrecondition(f"clue {clue.clue_id} is {clue.status}: it cannot be assigned")
    assignee = assignee.strip()
    if not assignee:
        raise InvalidArgument("assignee", "is required")
    if len(assignee) > MAX_SUBJECT:
        raise InvalidArgument("assignee", f"is longer than {MAX_SUBJECT} characters")
    clue.assignee = assignee
    clue.updated_at = now
    _note(session, clue, actor, "assignment", f"assigned to {assignee}", now)


def add_note(session: Session, clue: Clue, actor: str, text: str, now: datetime) -> ClueNote:
    text = text.strip()
    if not text:
        raise InvalidArgument("text", "a note cannot be empty")
    if len(text) > 4000:
        raise InvalidArgument("text", "at most 4000 characters")
    clue.updated_at = now
    return _note(session, clue, actor, "note", text, now)


def _note(
    session: Session, clue: Clue, actor: str, kind: str, text: str, now: datetime
) -> ClueNote:
    note = ClueNote(at=now, author=actor, kind=kind, text=text)
    clue.notes.append(note)
    session.add(note)
    return note
