"""Routing's public gRPC API: the institution portal, the directory and the routing desk.

python -m services.routing.api
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time

import grpc
from sqlalchemy import select

from services.common import auth, db, grpc_server, notify
from services.common.clock import SHANGHAI, at_risk_from, in_force, in_force_generation
from services.common.errors import InvalidArgument, NotFound, ResourceExhausted
from services.common.logs import mask_name, mask_phone
from services.common.protoconv import (
    enum_to_name,
    from_timestamp,
    name_to_enum,
    page,
    to_timestamp,
)
from services.common.validation import text as _text
from services.routing import domain, store
from services.routing.models import Assignment
from xiaobao.routing.v1 import routing_pb2 as pb
from xiaobao.routing.v1 import routing_pb2_grpc

MAX_ANSWER = 4000
MAX_REASON = 1000
MAX_NAME = 100
MAX_RELIEF_FEN = 10**13
LISTED_SUMMARY = 80
# A following stream holds a server thread: cap them, and end each after a while (the client
# reconnects with its cursor), so a crowd of idle streams cannot starve unary calls.
MAX_FOLLOWING_STREAMS = 6
MAX_STREAM_SECONDS = 300.0
# A following stream looks for changes this often when nothing tells it of them (SQLite, or the
# listener reconnecting); on PostgreSQL routing's writers notify it at commit, and it looks only
# every NOTIFIED_POLL_SECONDS besides, in case a notification was missed.
STREAM_POLL_SECONDS = 0.5
NOTIFIED_POLL_SECONDS = 5.0
STREAM_BATCH = 100


def node_message(node: domain.DirectoryNode | None) -> pb.Node | None:
    if node is None:
        return None
    return pb.Node(
        id=node.id,
        parent_id=node.parent_id or "",
        name=node.name,
        aliases=list(node.aliases),
        kind=name_to_enum(pb.InstitutionKind, node.kind),
        region_code=node.region_code,
        product_lines=list(node.product_lines),
        active=node.active,
        level=node.level,
        short_names=list(node.short_names),
        former_names=list(node.former_names),
    )


def _clock_message(a: Assignment, status) -> pb.InstitutionClock | None:
    if status is None:
        return None
    extensions = [
        pb.Extension(
            to_days=int(e.get("limit") or 0),
            reason=e.get("reason", ""),
            approver=e.get("approver", ""),
            at=to_timestamp(datetime.fromisoformat(e["at"])),
        )
        for e in a.clock_events or []
        if e["kind"] == "extend"
    ]
    pause = store._open_pause(a)
    state = "stopped" if status.state == "stopped" else status.state
    return pb.InstitutionClock(
        name=status.name,
        limit_days=status.limit,
        unit=status.unit,
        article=status.article,
        started_at=to_timestamp(status.started_at),
        last_day=status.last_day.isoformat() if status.last_day else "",
        deadline=to_timestamp(status.deadline),
        provisional=status.provisional,
        state=name_to_enum(pb.ClockState, state),
        paused=pause is not None,
        pause_reason=(
            name_to_enum(pb.PauseReason, pause.get("reason", "")) if pause is not None else 0
        ),
        extensions=extensions,
        paused_days=sum((b - a_).days + 1 for a_, b in status.paused_days),
    )


def assignment_message(
    a: Assignment, names: store.Directory, full: bool, now: datetime, clock=None
) -> pb.Assignment:
    """The case as an institution sees it; `full` only where it acts on one case."""
    if clock is None:
        calendar, policy = in_force()
        clock = store.clock_status(a, now, calendar, policy)
    contact = a.contact or {}
    return pb.Assignment(
        case_no=a.case_no,
        node_id=a.node_id or "",
        node_name=names.name(a.node_id),
        status=name_to_enum(pb.AssignmentStatus, a.status),
        case_kind=a.case_kind,
        product=a.product,
        summary=a.summary if full else a.summary[:LISTED_SUMMARY],
        complainant_name=a.complainant_name if full else mask_name(a.complainant_name),
        complainant_phone=a.complainant_phone if full else mask_phone(a.complainant_phone),
        amount_in_dispute_fen=a.amount_in_dispute_fen,
        received_at=to_timestamp(a.received_at),
        assigned_at=to_timestamp(a.assigned_at),
        acknowledged_at=to_timestamp(a.acknowledged_at),
        answered_at=to_timestamp(a.answered_at),
        last_day=a.last_day.isoformat() if a.last_day else "",
        deadline=to_timestamp(a.deadline),
        provisional=a.provisional,
        answer=a.answer if full else a.answer[:LISTED_SUMMARY],
        answer_outcome=name_to_enum(pb.AnswerOutcome, a.outcome) if a.outcome else 0,
        relief_amount_fen=a.relief_amount_fen,
        contact=(
            pb.ContactRecord(
                method=name_to_enum(pb.ContactMethod, contact["method"]),
                contacted_at=to_timestamp(datetime.fromisoformat(contact["contacted_at"])),
                staff_name=contact.get("staff_name", ""),
                note=contact.get("note", "") if full else "",
            )
            if contact.get("method")
            else None
        ),
        clock=_clock_message(a, clock),
        major=a.major,
        elderly=a.elderly,
        repeat=a.repeat,
        tier_reason=a.tier_reason,
        escalated_to_node_id=a.escalated_to_node_id,
        returns=a.returns,
        updated_at=to_timestamp(a.updated_at),
    )


# --- listings: masked messages, built once per change --------------------------------------

_KEY_COLUMNS = (Assignment.id, Assignment.feed_seq)


def valid_until(status, now: datetime, at_risk_fraction: float, paused: bool) -> datetime | None:
    """Until when a listed clock looks as it does now, if nothing happens to the case.

    Its state changes by time alone at the at-risk mark and at the deadline; a paused clock's
    deadline moves with every day of the pause, so it holds only until midnight in Shanghai.
    None: it never changes by time alone (stopped, overdue, no clock).
    """
    if status is None or status.started_at is None or status.deadline is None:
        return None
    until: datetime | None = None
    if status.state in ("ok", "at_risk"):
        at_risk = at_risk_from(status.started_at, status.deadline, at_risk_fraction)
        until = at_risk if now < at_risk else status.deadline
    if paused:
        local = now.astimezone(SHANGHAI)
        midnight = datetime.combine(local.date() + timedelta(days=1), dt_time(0), SHANGHAI)
        until = midnight if until is None else min(until, midnight)
    return until


class ListingCache:
    """Serialized masked listing messages, keyed on what they are built from, each valid until
    its clock would look different by time alone.

    Listings show every caller the same masked message, so what one request built serves the
    next: the key is the row's id and change sequence, the directory version and the holiday
    table and policy in force. Full (unmasked) messages are never cached.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: dict[tuple, tuple[bytes, datetime | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, now: datetime) -> tuple[bytes, datetime | None] | None:
        found = self._entries.get(key)
        if found is None or (found[1] is not None and now >= found[1]):
            return None
        return found

    def put(self, key: tuple, blob: bytes, until: datetime | None) -> None:
        if len(self._entries) >= self.limit:
            with self._lock:
                self._entries.clear()  # crude but bounded; a busy portal refills it quickly
        self._entries[key] = (blob, until)


LISTINGS = ListingCache(50_000)  # one entry per case
# Whole pages, also keyed on the feed counter: any change in routing makes them stale.
PAGES = ListingCache(2_000)


def _earliest(times) -> datetime | None:
    return min((t for t in times if t is not None), default=None)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, blob: bytes) -> bytes:
    """One length-delimited field in protobuf wire format."""
    return _varint(number << 3 | 2) + _varint(len(blob)) + blob


def listing_blobs(
    session, rows, current: store.Directory, now: datetime
) -> tuple[list[bytes], datetime | None]:
    """The masked, serialized Assignment of each (id, feed_seq) row, from the cache or built
    now, and until when all of them stay as they are."""
    calendar, policy = in_force()
    reference = (current.version, in_force_generation())
    blobs: list[bytes | None] = []
    untils: list[datetime | None] = []
    missing: dict[int, tuple[int, tuple]] = {}
    for i, row in enumerate(rows):
        key = (row.id, row.feed_seq, reference)
        found = LISTINGS.get(key, now)
        blobs.append(found[0] if found else None)
        untils.append(found[1] if found else None)
        if found is None:
            missing[row.id] = (i, key)
    if missing:
        for a in session.scalars(select(Assignment).where(Assignment.id.in_(list(missing)))):
            i, key = missing[a.id]
            status = store.clock_status(a, now, calendar, policy)
            blob = assignment_message(a, current, False, now, status).SerializeToString()
            until = valid_until(status, now, policy.at_risk_fraction, a.paused)
            LISTINGS.put(key, blob, until)
            blobs[i], untils[i] = blob, until
    return blobs, _earliest(untils)  # type: ignore[return-value]


# --- cursors ---------------------------------------------------------------------------------

_CURSOR_PREFIX = "v1:"


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(raw)
        seq = int(raw[len(_CURSOR_PREFIX) :])
        if seq < 0:
            raise ValueError(raw)
        return seq
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("cursor", "is not a cursor this server issued") from None


def _case_no(request) -> str:
    return _text(request.case_no, "case_no", 24)


class InstitutionPortal(routing_pb2_grpc.InstitutionPortalServicer):
    """An institution sees and acts on only the cases of its own subtree."""

    def __init__(self) -> None:
        self.factory = db.session_factory(store.SERVICE)
        self._following = threading.BoundedSemaphore(MAX_FOLLOWING_STREAMS)
        self._feed = notify.Signal()
        self._listener: notify.Listener | None = None
        self._listener_lock = threading.Lock()

    def _feed_listener(self) -> notify.Listener | None:
        """The one connection listening for feed changes, opened by the first following stream."""
        with self._listener_lock:
            if self._listener is None:
                url = notify.listen_url(store.SERVICE)
                if url is None:
                    return None
                self._listener = notify.Listener(
                    url, [store.FEED_CHANNEL], self._feed.wake, name="routing feed listener"
                )
                self._listener.start()
            return self._listener

    def _scope(self, context, session) -> tuple[auth.Principal, frozenset[str], store.Directory]:
        principal = auth.require(context, "institution")
        current = store.current_directory(session)
        if principal.node_id not in current.by_id:
            raise InvalidArgument(
                "authorization", f"node {principal.node_id} is not in the directory"
            )
        return principal, current.subtree(principal.node_id), current

    def _act(self, context, case_no: str, action) -> pb.Assignment:
        now = datetime.now(UTC)
        with db.session_scope(self.factory) as session:
            principal, allowed, current = self._scope(context, session)
            a = store.visible_assignment(session, case_no, allowed)
            action(session, a, principal.subject, now)
            return assignment_message(a, current, full=True, now=now)

    def ListAssignedCases(self, request, context):
        return pb.ListAssignedCasesResponse.FromString(self.list_page(request, context))

    def list_page(self, request, context) -> bytes:
        """ListAssignedCasesResponse, serialized: the api sends these bytes as they are."""
        limit, after = page(request.page_size, request.page_token)
        now = datetime.now(UTC)
        with db.session_scope(self.factory) as session:
            principal, allowed, current = self._scope(context, session)
            if request.node_id:
                if request.node_id not in allowed:
                    raise InvalidArgument("node_id", f"{request.node_id} is not in your subtree")
                allowed = frozenset({request.node_id})
            status = (
                enum_to_name(pb.AssignmentStatus, request.status, "status")
                if request.status
                else ""
            )
            # Plain SQL: this one row decides whether a cached page still holds, on every call.
            feed = (
                session.connection()
                .exec_driver_sql("SELECT value FROM feed_counter WHERE id = 1")
                .scalar()
            )
            page_key = (
                principal.node_id,
                request.node_id,
                status,
                after,
                limit,
                feed,
                current.version,
                in_force_generation(),
            )
            found = PAGES.get(page_key, now)
            if found is not None:
                return found[0]
            query = (
                select(*_KEY_COLUMNS)
                .where(Assignment.node_id.in_(allowed), Assignment.id > after)
                .order_by(Assignment.id)
                .limit(limit + 1)
            )
            if status:
                query = query.where(Assignment.status == status)
            rows = session.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            blobs, until = listing_blobs(session, rows, current, now)
            # Built as bytes and parsed once: far cheaper than 50 messages field by field.
            blob = b"".join(_field(1, b) for b in blobs)
            if more:
                blob += _field(2, str(rows[-1].id).encode())
            PAGES.put(page_key, blob, until)
            return blob

    def StreamAssignedCases(self, request, context):
        for blob in self.stream_updates(request, context):
            yield pb.AssignmentUpdate.FromString(blob)

    def stream_updates(self, request, context) -> Iterator[bytes]:
        """AssignmentUpdate messages, serialized: the api sends these bytes as they are."""
        after = decode_cursor(request.cursor)
        with db.session_scope(self.factory) as session:
            # `allowed` only picks which notifications wake this stream; each look reads the
            # directory in force (and the slow poll catches a node added meanwhile).
            principal, allowed, _ = self._scope(context, session)
        following = False
        if request.follow:
            if not self._following.acquire(blocking=False):
                raise ResourceExhausted(
                    "too many following streams on this server; retry shortly with your cursor"
                )
            following = True
        listener = None
        if following:
            listener = self._feed_listener()
            context.add_callback(self._feed.wake)  # a cancelled stream frees its thread at once
        try:
            ends = time.monotonic() + MAX_STREAM_SECONDS
            while context.is_active():
                seen = self._feed.generation  # a change committed from here on ends the wait
                batch = self._changes(principal, after)
                for seq, update in batch:
                    yield update
                    after = seq  # a client that stops reading here resumes from this one
                if len(batch) == STREAM_BATCH:
                    continue
                if not request.follow or time.monotonic() >= ends:
                    return
                listening = listener is not None and listener.connected
                self._feed.wait(
                    seen,
                    NOTIFIED_POLL_SECONDS if listening else STREAM_POLL_SECONDS,
                    allowed.__contains__,
                )
        finally:
            if following:
                self._following.release()

    def _changes(self, principal: auth.Principal, after: int) -> list[tuple[int, bytes]]:
        now = datetime.now(UTC)
        with db.session_scope(self.factory) as session:
            current = store.current_directory(session)
            allowed = current.subtree(principal.node_id)
            rows = session.execute(
                select(*_KEY_COLUMNS)
                .where(Assignment.node_id.in_(allowed), Assignment.feed_seq > after)
                .order_by(Assignment.feed_seq)
                .limit(STREAM_BATCH)
            ).all()
            blobs, _until = listing_blobs(session, rows, current, now)
            return [
                (row.feed_seq, _field(1, blob) + _field(2, encode_cursor(row.feed_seq).encode()))
                for row, blob in zip(rows, blobs, strict=True)
            ]

    def GetAssignedCase(self, request, context):
        return self._act(context, _case_no(request), lambda *_: None)

    def AcknowledgeCase(self, request, context):
        return self._act(
            context,
            _case_no(request),
            lambda session, a, actor, now: store.acknowledge(session, a, actor, now),
        )

    def RequestExtension(self, request, context):
        if request.to_days <= 0:
            raise InvalidArgument("to_days", "must be the new limit in days, e.g. 30 or 60")
        reason = _text(request.reason, "reason", MAX_REASON)
        approver = _text(request.approver, "approver", MAX_NAME, required=False)
        return self._act(
            context,
            _case_no(request),
            lambda session, a, actor, now: store.request_extension(
                session, a, request.to_days, reason, approver, actor, now
            ),
        )

    def PauseClock(self, request, context):
        reason = enum_to_name(pb.PauseReason, request.reason, "reason")
        note = _text(request.note, "note", MAX_REASON)
        return self._act(
            context,
            _case_no(request),
            lambda session, a, actor, now: store.pause_clock(session, a, reason, note, actor, now),
        )

    def ResumeClock(self, request, context):
        note = _text(request.note, "note", MAX_REASON, required=False)
        return self._act(
            context,
            _case_no(request),
            lambda session, a, actor, now: store.resume_clock(session, a, note, actor, now),
        )

    def AnswerCase(self, request, context):
        outcome = enum_to_name(pb.AnswerOutcome, request.outcome, "outcome")
        text = _text(request.answer, "answer", MAX_ANSWER)
        relief = request.relief_amount_fen
        if outcome == "monetary_relief":
            if not 0 < relief <= MAX_RELIEF_FEN:
                raise InvalidArgument(
                    "relief_amount_fen", "must be more than 0 for MONETARY_RELIEF (in fen)"
                )
        elif relief != 0:
            raise InvalidArgument("relief_amount_fen", "must be 0 unless the outcome is monetary")
        contact = self._contact(request)

        def answer(session, a, actor, now):
            if a.received_at and datetime.fromisoformat(contact["contacted_at"]) < a.received_at:
                raise InvalidArgument(
                    "contact.contacted_at", "is before the centre received the case"
                )
            store.answer(session, a, outcome, text, relief, contact, actor, now)

        return self._act(context, _case_no(request), answer)

    @staticmethod
    def _contact(request) -> dict:
        if not request.HasField("contact"):
            raise InvalidArgument("contact", "is required: how the complainant was told (Art 18)")
        c = request.contact
        method = enum_to_name(pb.ContactMethod, c.method, "contact.method")
        at = from_timestamp(c.contacted_at, "contact.contacted_at")
        if at is None:
            raise InvalidArgument("contact.contacted_at", "is required")
        if at > datetime.now(UTC) + timedelta(minutes=5):
            raise InvalidArgument("contact.contacted_at", "is in the future")
        return {
            "method": method,
            "contacted_at": at.isoformat(),
            "staff_name": _text(c.staff_name, "contact.staff_name", MAX_NAME, required=False),
            "note": _text(c.note, "contact.note", MAX_REASON, required=False),
        }

    def ReturnCase(self, request, context):
        case_no = _case_no(request)
        reason = _text(request.reason, "reason", MAX_REASON)
        hint = _text(request.hint, "hint", 200, required=False)
        now = datetime.now(UTC)
        with db.session_scope(self.factory) as session:
            principal, allowed, _ = self._scope(context, session)
            a = store.visible_assignment(session, case_no, allowed)
            store.return_case(session, a, reason, hint, principal.subject, now)
        return pb.ReturnCaseResponse(case_no=case_no)


class DirectoryService(routing_pb2_grpc.DirectoryServiceServicer):
    def __init__(self) -> None:
        self.factory = db.session_factory(store.SERVICE)

    def ListNodes(self, request, context):
        principal = auth.require(context, "operator", "supervisor", "institution")
        with db.session_scope(self.factory) as session:
            current = store.current_directory(session)
            root = request.root_id
            if principal.role == "institution":
                # An institution sees its own tree (its head office and every office under it).
                top = principal.node_id
                while current.by_id.get(top) and current.by_id[top].parent_id:
                    top = current.by_id[top].parent_id or top
                if root and root not in current.subtree(top):
                    raise NotFound(f"node {root} not found")
                root = root or top
            if root and root not in current.by_id:
                raise InvalidArgument("root_id", f"unknown node {root}")
            ids = current.subtree(root) if root else None
            nodes = [n for n in current.nodes if ids is None or n.id in ids]
            return pb.ListNodesResponse(nodes=[node_message(n) for n in nodes])

    def Resolve(self, request, context):
        auth.require(context, "operator", "supervisor")
        text = _text(request.text, "text", 200)
        if request.region_code and not domain.REGION_PATTERN.match(request.region_code):
            raise InvalidArgument("region_code", "must be 6 digits (GB/T 2260)")
        with db.session_scope(self.factory) as session:
            decision = store.resolver(session).resolve(text, request.region_code, request.product)
            return pb.ResolveResponse(
                node=node_message(decision.node),
                confidence=decision.confidence,
                runner_up=node_message(decision.runner_up),
                runner_up_confidence=decision.runner_up_confidence,
                needs_human=decision.needs_human,
                matched=decision.matched,
                reason=decision.reason,
            )


class RoutingDesk(routing_pb2_grpc.RoutingDeskServicer):
    """The centre's staff: the queue of cases no rule could place, manual routing, scorecard."""

    def __init__(self) -> None:
        self.factory = db.session_factory(store.SERVICE)

    def ListRoutingQueue(self, request, context):
        auth.require(context, "operator", "supervisor")
        limit, after = page(request.page_size, request.page_token)
        with db.session_scope(self.factory) as session:
            current = store.current_directory(session)
            rows = session.scalars(
                select(Assignment)
                .where(Assignment.status == "needs_routing", Assignment.id > after)
                .order_by(Assignment.id)
                .limit(limit + 1)
            ).all()
            more = len(rows) > limit
            rows = rows[:limit]
            cases = []
            for a in rows:
                tried = frozenset(h["node_id"] for h in a.route_history or [])
                decision = current.resolver(excluding=tried).resolve(
                    a.institution_text, a.region_code, a.product
                )
                cases.append(
                    pb.QueuedCase(
                        case_no=a.case_no,
                        case_kind=a.case_kind,
                        institution_text=a.institution_text,
                        region_code=a.region_code,
                        product=a.product,
                        summary=a.summary,
                        received_at=to_timestamp(a.received_at),
                        why=a.queue_reason,
                        suggestion=node_message(decision.node),
                        confidence=decision.confidence,
                        runner_up=node_message(decision.runner_up),
                        returns=a.returns,
                        returned_by=[h["node_id"] for h in a.route_history or []],
                    )
                )
            return pb.ListRoutingQueueResponse(
                cases=cases, next_page_token=str(rows[-1].id) if more else ""
            )

    def RouteCase(self, request, context):
        principal = auth.require(context, "operator", "supervisor")
        case_no = _case_no(request)
        node_id = _text(request.node_id, "node_id", 64)
        note = _text(request.note, "note", MAX_REASON, required=False)
        now = datetime.now(UTC)
        with db.session_scope(self.factory) as session:
            a = store.route_by_desk(session, case_no, node_id, note, principal.subject, now)
            return assignment_message(a, store.current_directory(session), True, now)

    def GetScorecard(self, request, context):
        from services.routing import reports

        auth.require(context, "operator", "supervisor")
        with db.session_scope(self.factory) as session:
            try:
                quarter, lines = reports.scorecard(session, request.quarter, request.root_id)
            except ValueError as exc:
                field = "root_id" if str(exc).startswith("root") else "quarter"
                raise InvalidArgument(field, str(exc)) from None
            return pb.ScorecardResponse(
                quarter=quarter.label,
                lines=[m for line in lines for m in reports.line_message(line)],
            )


def _passthrough(blob: bytes) -> bytes:
    return blob


def _institutions_only(behaviour):
    """The method, once its caller is known to be an institution: a caller without a good token
    or in another role is refused before its request is read, so it learns nothing from it, not
    even which field is wrong. (The method still finds the caller's node itself; the token's
    check is cached.)"""

    def guarded(request, context):
        auth.require(context, "institution")
        return behaviour(request, context)

    return guarded


def add_portal(portal: InstitutionPortal, server: grpc.Server) -> None:
    """The generated registration, except that listings and streams send the bytes the portal
    built (from its caches) instead of parsing them into messages only to serialize them again."""
    name = pb.DESCRIPTOR.services_by_name["InstitutionPortal"]
    handlers = {}
    for method in name.methods:
        request_type = getattr(pb, method.input_type.name)
        response_type = getattr(pb, method.output_type.name)
        kind = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        behaviour, serializer = getattr(portal, method.name), response_type.SerializeToString
        if method.name == "ListAssignedCases":
            behaviour, serializer = portal.list_page, _passthrough
        elif method.name == "StreamAssignedCases":
            behaviour, serializer = portal.stream_updates, _passthrough
        handlers[method.name] = kind(
            _institutions_only(behaviour),
            request_deserializer=request_type.FromString,
            response_serializer=serializer,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(name.full_name, handlers),)
    )
    server.add_registered_method_handlers(name.full_name, handlers)


def register(server: grpc.Server) -> list[str]:
    add_portal(InstitutionPortal(), server)
    routing_pb2_grpc.add_DirectoryServiceServicer_to_server(DirectoryService(), server)
    routing_pb2_grpc.add_RoutingDeskServicer_to_server(RoutingDesk(), server)
    return [
        pb.DESCRIPTOR.services_by_name[name].full_name
        for name in ("InstitutionPortal", "DirectoryService", "RoutingDesk")
    ]


def main() -> None:
    grpc_server.serve(store.SERVICE, register)


if __name__ == "__main__":
    main()
