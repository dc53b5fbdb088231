"""Blacklist's public gRPC API for investigators (python -m services.blacklist.api).

Investigation methods: investigator and supervisor only (ReadAuditLog: supervisor only). Each
call writes an `AuditEntry` in the same transaction as its read or change: who, role, when,
method, what was asked (phone and ID numbers as keyed hashes and masks, names masked, notes by
length) and what was returned (ids and counts). A call that fails rolls its entry back with it;
a caller refused, for its role or for what it asked, has the refusal audited on its own. Personal
data in answers is masked unless the case is in a clue assigned to the caller (supervisors
included).
"""

from __future__ import annotations

import functools
import json
import logging
import re

import grpc
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from services.blacklist import store
from services.blacklist.models import (
    CLUE_STATUSES,
    AuditEntry,
    CasePoint,
    Clue,
    ClueCase,
    ScreenedCase,
    ScreeningItem,
    clue_id,
)
from services.common import auth, db, grpc_server
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    XiaobaoError,
)
from services.common.logs import mask_id_number, mask_name, mask_phone
from services.common.protoconv import MAX_ID, to_timestamp
from xiaobao.blacklist.v1 import blacklist_pb2 as pb
from xiaobao.blacklist.v1 import blacklist_pb2_grpc

log = logging.getLogger(__name__)

SERVICE = "blacklist"
INVESTIGATORS = ("investigator", "supervisor")
MAX_RESULT_IDS = 200  # case numbers written to one audit entry; the count is always whole
MAX_SEED = 100  # characters of a queried phone, ID number, name, case or ring


def _limit(value: int, default: int, most: int, field: str = "limit") -> int:
    limit = value or default
    if not 1 <= limit <= most:
        raise InvalidArgument(field, f"must be between 1 and {most}")
    return limit


def audit(
    session: Session, who: auth.Principal, method: str, query: dict, result: dict
) -> AuditEntry:
    entry = AuditEntry(
        at=store.now_utc(),
        subject=who.subject,
        role=who.role,
        method=method,
        query=query,
        result=result,
    )
    session.add(entry)
    return entry


def _ids(values: list[str]) -> dict:
    return {"count": len(values), "ids": values[:MAX_RESULT_IDS]}


def _phone_query(phone: str) -> tuple[str, dict]:
    digits = store.normalise_phone(phone)
    if len(digits) < 7:
        raise InvalidArgument("phone", "is not a phone number")
    return store.short_hash(digits), {
        "phone": mask_phone(digits),
        "phone_hash": store.short_hash(digits),
    }


def _id_query(id_number: str) -> tuple[str, dict]:
    value = store.normalise_id_number(id_number)
    if len(value) != 18:
        raise InvalidArgument("id_number", "must be an 18-character resident ID number")
    h = store.short_hash(value)
    return h, {"id_number": mask_id_number(value), "id_hash": h}


def _cases_by(
    session: Session, field: str, value: str, limit: int
) -> tuple[list[ScreenedCase], dict]:
    """The screened cases a query names (phone and ID by keyed hash, a name by its hash, a case
    or a ring by id), and what was asked as the audit log keeps it."""
    if field in ("phone", "id_number"):
        h, asked = _phone_query(value) if field == "phone" else _id_query(value)
        return _cases_by_point(session, h, limit), asked
    if field == "name":
        h = store.name_hash(value)
        asked = {"name": mask_name(value), "name_hash": h}
        where = or_(ScreenedCase.complainant_name_hash == h, ScreenedCase.agent_name_hash == h)
    else:
        asked = {field: value}
        column = ScreenedCase.case_no if field == "case_no" else ScreenedCase.ring_id
        where = column == value
    rows = session.scalars(select(ScreenedCase).where(where).order_by(ScreenedCase.id).limit(limit))
    return list(rows), asked


def _assigned_cases(session: Session, subject: str) -> set[str]:
    return set(session.scalars(select(ClueCase.case_no).join(Clue).where(Clue.assignee == subject)))


def _clues_of(session: Session, case_nos: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for start in range(0, len(case_nos), 500):
        rows = session.execute(
            select(ClueCase.case_no, ClueCase.clue_pk).where(
                ClueCase.case_no.in_(case_nos[start : start + 500])
            )
        )
        for case_no, pk in rows:
            out.setdefault(case_no, []).append(clue_id(pk))
    return out


def _case_views(
    session: Session, who: auth.Principal, rows: list[ScreenedCase]
) -> list[pb.ScreenedCase]:
    assigned = _assigned_cases(session, who.subject)
    clues = _clues_of(session, [r.case_no for r in rows])
    out = []
    for r in rows:
        clear = r.case_no in assigned
        out.append(
            pb.ScreenedCase(
                case_no=r.case_no,
                received_at=to_timestamp(r.received_at),
                institution=r.institution,
                score=r.score,
                flagged=r.flagged,
                ring_id=r.ring_id,
                reasons=[pb.Reason(signal=x["signal"], detail=x["detail"]) for x in r.reasons],
                complainant_name=r.complainant_name if clear else mask_name(r.complainant_name),
                complainant_phone=(
                    r.complainant_phone if clear else mask_phone(r.complainant_phone)
                ),
                agent_name=r.agent_name if clear else mask_name(r.agent_name),
                unmasked=clear,
                clue_ids=clues.get(r.case_no, []),
                complainant_key=r.complainant_key,
            )
        )
    return out


def _clue_view(session: Session, who: auth.Principal, clue: Clue, full: bool) -> pb.Clue:
    view = pb.Clue(
        clue_id=clue.clue_id,
        status=clue.status,
        ring_id=clue.ring_id,
        score=clue.score,
        assignee=clue.assignee,
        created_at=to_timestamp(clue.created_at),
        updated_at=to_timestamp(clue.updated_at),
        case_nos=[c.case_no for c in clue.cases],
        dismissal_reason=clue.dismissal_reason,
    )
    if full:
        view.notes.extend(
            pb.ClueNote(at=to_timestamp(n.at), author=n.author, kind=n.kind, text=n.text)
            for n in clue.notes
        )
        rows = list(
            session.scalars(
                select(ScreenedCase)
                .where(ScreenedCase.case_no.in_(view.case_nos))
                .order_by(ScreenedCase.id)
            )
        )
        view.cases.extend(_case_views(session, who, rows))
    return view


def _seed_query(request, fields: tuple[str, ...]) -> tuple[str, str]:
    given = [(f, getattr(request, f).strip()) for f in fields if getattr(request, f).strip()]
    if len(given) != 1:
        raise InvalidArgument(fields[0], f"give exactly one of {', '.join(fields)}")
    field, value = given[0]
    if len(value) > MAX_SEED:
        # Written to the audit log (masked, not cut): an unbounded one would bloat every read.
        raise InvalidArgument(field, f"is longer than {MAX_SEED} characters")
    return field, value


def _subject_filter(value: str, field: str) -> str:
    if len(value) > store.MAX_SUBJECT:
        raise InvalidArgument(field, f"is longer than {store.MAX_SUBJECT} characters")
    return value


def _cases_by_point(session: Session, h: str, limit: int) -> list[ScreenedCase]:
    return list(
        session.scalars(
            select(ScreenedCase)
            .where(ScreenedCase.id.in_(select(CasePoint.case_id).where(CasePoint.point_hash == h)))
            .order_by(ScreenedCase.id)
            .limit(limit)
        )
    )


class BlacklistService(blacklist_pb2_grpc.BlacklistServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(SERVICE)

    def _caller(self, context, method: str, *roles: str) -> auth.Principal:
        """The caller if its role may call `method`. A known caller whose role may not is refused
        and the attempt is audited in a transaction of its own (what was refused, never data)."""
        who = auth.principal_from(context)
        if who.role not in roles:
            with db.session_scope(self.factory) as session:
                audit(session, who, method, {}, {"refused": "PERMISSION_DENIED"})
            raise PermissionDenied(f"role {who.role} may not call this method")
        return who

    def _audit_refusal(self, context, method: str, request, exc: XiaobaoError) -> None:
        """Records a known caller's refusal for what it asked (AUDITED_REFUSALS, below)."""
        try:
            who = auth.principal_from(context)
        except XiaobaoError:
            return  # no known caller, nobody to record
        asked: dict = {}
        if isinstance(exc, InvalidArgument):
            asked["field"] = exc.field
        clue = request.clue_id if "clue_id" in request.DESCRIPTOR.fields_by_name else ""
        if isinstance(exc, NotFound) and _CLUE_ID.fullmatch(clue):
            asked["clue_id"] = clue
        try:
            with db.session_scope(self.factory) as session:
                audit(session, who, method, asked, {"refused": exc.code.name})
        except Exception as failure:  # the caller still gets its own error; the log says why
            log.warning("a refused %s could not be audited: %s", method, type(failure).__name__)

    def GetScreeningBacklog(self, request, context):
        who = self._caller(context, "GetScreeningBacklog", "investigator", "supervisor", "operator")
        limit = _limit(request.limit, 50, 500)
        with db.session_scope(self.factory) as session:
            total = session.scalar(select(func.count()).select_from(ScreeningItem)) or 0
            pending = (
                session.scalar(
                    select(func.count())
                    .select_from(ScreeningItem)
                    .where(ScreeningItem.status == "pending")
                )
                or 0
            )
            rows = session.scalars(
                select(ScreeningItem).order_by(ScreeningItem.id.desc()).limit(limit)
            ).all()
            # Case numbers only, no personal data; audited like every read of blacklist data.
            audit(
                session,
                who,
                "GetScreeningBacklog",
                {"limit": limit},
                {"items": _ids([r.case_no for r in rows]), "total": total},
            )
            return pb.ScreeningBacklog(
                pending=pending,
                total=total,
                items=[
                    pb.ScreeningItem(
                        case_no=r.case_no,
                        case_kind=r.case_kind,
                        channel=r.channel,
                        received_at=to_timestamp(r.received_at),
                        status=r.status,
                    )
                    for r in rows
                ],
            )

    # -- queries -------------------------------------------------------------------------------

    def Query(self, request, context):
        who = self._caller(context, "Query", *INVESTIGATORS)
        limit = _limit(request.limit, 100, 500)
        field, value = _seed_query(request, ("phone", "id_number", "name", "case_no", "ring_id"))
        with db.session_scope(self.factory) as session:
            rows, asked = _cases_by(session, field, value, limit)
            views = _case_views(session, who, rows)
            audit(
                session,
                who,
                "Query",
                asked,
                {
                    "cases": _ids([r.case_no for r in rows]),
                    "unmasked": sum(v.unmasked for v in views),
                },
            )
            return pb.QueryResult(cases=views)

    def Expand(self, request, context):
        who = self._caller(context, "Expand", *INVESTIGATORS)
        limit = _limit(request.limit, 200, 1000)
        field, value = _seed_query(request, ("ring_id", "case_no", "phone", "id_number"))
        with db.session_scope(self.factory) as session:
            seeds, asked = _cases_by(session, field, value, limit)
            # One step out: every case sharing a contact point with a seed case.
            by_id = {r.id: r for r in seeds}
            point_hashes = sorted({p[0] for r in seeds for p in r.points})
            for start in range(0, len(point_hashes), 500):
                if len(by_id) >= limit:
                    break
                more = session.scalars(
                    select(ScreenedCase)
                    .where(
                        ScreenedCase.id.in_(
                            select(CasePoint.case_id).where(
                                CasePoint.point_hash.in_(point_hashes[start : start + 500])
                            )
                        )
                    )
                    .order_by(ScreenedCase.id)
                    .limit(limit - len(by_id) + len(seeds))
                )
                for r in more:
                    if len(by_id) < limit:
                        by_id.setdefault(r.id, r)
            rows = [by_id[k] for k in sorted(by_id)]
            views = _case_views(session, who, rows)
            points: dict[str, dict] = {}
            people: dict[str, dict] = {}
            for view, r in zip(views, rows, strict=True):
                for h, kind, _role in r.points:
                    entry = points.setdefault(h, {"kind": kind, "cases": 0, "who": set()})
                    entry["cases"] += 1
                    entry["who"].add(r.complainant_key)
                person = people.setdefault(
                    r.complainant_key, {"name": view.complainant_name, "cases": []}
                )
                person["cases"].append(r.case_no)
                if view.unmasked:
                    person["name"] = view.complainant_name
            shared = [
                pb.ContactPoint(
                    point=h, kind=e["kind"], cases=e["cases"], complainants=len(e["who"])
                )
                for h, e in sorted(points.items(), key=lambda kv: -kv[1]["cases"])
                if e["cases"] > 1
            ]
            answer = pb.Neighbourhood(
                cases=views,
                points=shared,
                complainants=[
                    pb.Complainant(complainant_key=k, name=v["name"], case_nos=v["cases"])
                    for k, v in people.items()
                ],
            )
            audit(
                session,
                who,
                "Expand",
                asked,
                {
                    "cases": _ids([r.case_no for r in rows]),
                    "points": len(shared),
                    "complainants": len(people),
                    "unmasked": sum(v.unmasked for v in views),
                },
            )
            return answer

    # -- clues ---------------------------------------------------------------------------------

    def ListClues(self, request, context):
        who = self._caller(context, "ListClues", *INVESTIGATORS)
        limit = _limit(request.limit, 50, 500)
        if request.status and request.status not in CLUE_STATUSES:
            raise InvalidArgument("status", f"must be one of {', '.join(CLUE_STATUSES)}")
        _subject_filter(request.assignee, "assignee")
        with db.session_scope(self.factory) as session:
            query = select(Clue).order_by(Clue.id.desc()).limit(limit)
            if request.status:
                query = query.where(Clue.status == request.status)
            if request.assignee:
                query = query.where(Clue.assignee == request.assignee)
            clues = list(session.scalars(query))
            views = [_clue_view(session, who, c, full=False) for c in clues]
            audit(
                session,
                who,
                "ListClues",
                {"status": request.status, "assignee": request.assignee, "limit": limit},
                {"clues": _ids([c.clue_id for c in clues])},
            )
            return pb.ClueList(clues=views)

    def GetClue(self, request, context):
        who = self._caller(context, "GetClue", *INVESTIGATORS)
        with db.session_scope(self.factory) as session:
            clue = store.get_clue(session, request.clue_id)
            view = _clue_view(session, who, clue, full=True)
            audit(
                session,
                who,
                "GetClue",
                {"clue_id": clue.clue_id},
                {
                    "clue": clue.clue_id,
                    "cases": _ids(list(view.case_nos)),
                    "unmasked": sum(c.unmasked for c in view.cases),
                },
            )
            return view

    def _change(self, context, method: str, clue_id_text: str, asked: dict, change) -> pb.Clue:
        who = self._caller(context, method, *INVESTIGATORS)
        with db.session_scope(self.factory) as session:
            clue = store.get_clue(session, clue_id_text)
            change(session, clue, who)
            session.flush()
            view = _clue_view(session, who, clue, full=True)
            audit(
                session,
                who,
                method,
                {"clue_id": clue.clue_id, **asked},
                {"clue": clue.clue_id, "status": clue.status, "assignee": clue.assignee},
            )
            return view

    def TransitionClue(self, request, context):
        to = request.to.strip()

        def move(session, clue, who):
            if to not in CLUE_STATUSES:
                raise InvalidArgument("to", f"must be one of {', '.join(CLUE_STATUSES)}")
            store.transition(
                session, clue, to, who.subject, request.reason.strip(), store.now_utc()
            )

        return self._change(
            context,
            "TransitionClue",
            request.clue_id,
            {"to": to, "reason_chars": len(request.reason)},
            move,
        )

    def AssignClue(self, request, context):
        return self._change(
            context,
            "AssignClue",
            request.clue_id,
            {"assignee": request.assignee.strip()},
            lambda s, clue, who: store.assign(
                s, clue, request.assignee, who.subject, store.now_utc()
            ),
        )

    def AddClueNote(self, request, context):
        return self._change(
            context,
            "AddClueNote",
            request.clue_id,
            {"text_chars": len(request.text)},
            lambda s, clue, who: store.add_note(
                s, clue, who.subject, request.text, store.now_utc()
            ),
        )

    # -- known agents, audit ----------------------------------------------------------------------

    def ImportKnownAgents(self, request, context):
        who = self._caller(context, "ImportKnownAgents", *INVESTIGATORS)
        source = request.source.strip()
        if not source:
            raise InvalidArgument("source", "is required (who shared the list, and when)")
        records = [
            store.AgentRecord(
                name=a.name, phone=a.phone, id_number=a.id_number, org=a.org, source=a.source
            )
            for a in request.agents
        ]
        with db.session_scope(self.factory) as session:
            listing = store.import_known_agents(
                session, records, source, who.subject, store.now_utc()
            )
            session.flush()
            audit(
                session,
                who,
                "ImportKnownAgents",
                {"source": source, "entries": len(records)},
                {"list_id": listing.id},
            )
            return pb.ImportKnownAgentsResult(list_id=listing.id, entries=len(records))

    def ReadAuditLog(self, request, context):
        who = self._caller(context, "ReadAuditLog", "supervisor")
        limit = _limit(request.limit, 100, 1000)
        _subject_filter(request.subject, "subject")
        if not 0 <= request.before_id <= MAX_ID:
            raise InvalidArgument("before_id", "must be 0 (the newest) or an entry's id")
        with db.session_scope(self.factory) as session:
            query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            if request.subject:
                query = query.where(AuditEntry.subject == request.subject)
            if request.before_id:
                query = query.where(AuditEntry.id < request.before_id)
            entries = list(session.scalars(query))
            answer = pb.AuditLog(
                entries=[
                    pb.AuditEntry(
                        id=e.id,
                        at=to_timestamp(e.at),
                        subject=e.subject,
                        role=e.role,
                        method=e.method,
                        query_json=json.dumps(e.query, ensure_ascii=False, sort_keys=True),
                        result_json=json.dumps(e.result, ensure_ascii=False, sort_keys=True),
                    )
                    for e in entries
                ]
            )
            # Reading the log is itself a query of it.
            audit(
                session,
                who,
                "ReadAuditLog",
                {"subject": request.subject, "limit": limit, "before_id": request.before_id},
                {"entries": len(entries)},
            )
            return answer


# A known caller refused for what it asked (a malformed query, a clue that does not exist, a
# move the clue's status does not allow) read nothing, but the attempt is on record too, in a
# transaction of its own: probing for clue ids is part of who looked for what. Only the refusal,
# the field it names and a well-formed clue id asked for are kept, never what was asked.
AUDITED_REFUSALS = (InvalidArgument, NotFound, FailedPrecondition, AlreadyExists)
_CLUE_ID = re.compile(r"[A-Za-z0-9-]{1,20}")


def _refusal_audited(name: str, method):
    @functools.wraps(method)
    def call(self: BlacklistService, request, context):
        try:
            return method(self, request, context)
        except AUDITED_REFUSALS as exc:
            self._audit_refusal(context, name, request, exc)
            raise

    return call


for _name in pb.DESCRIPTOR.services_by_name["BlacklistService"].methods_by_name:
    setattr(BlacklistService, _name, _refusal_audited(_name, getattr(BlacklistService, _name)))


def register(server: grpc.Server) -> list[str]:
    blacklist_pb2_grpc.add_BlacklistServiceServicer_to_server(BlacklistService(), server)
    return [pb.DESCRIPTOR.services_by_name["BlacklistService"].full_name]


def main() -> None:
    grpc_server.serve(SERVICE, register)


if __name__ == "__main__":
    main()
