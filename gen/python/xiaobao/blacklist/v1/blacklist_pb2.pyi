import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetScreeningBacklogRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ScreeningItem(_message.Message):
    __slots__ = ("case_no", "case_kind", "channel", "received_at", "status")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    CASE_KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    case_kind: str
    channel: str
    received_at: _timestamp_pb2.Timestamp
    status: str
    def __init__(self, case_no: _Optional[str] = ..., case_kind: _Optional[str] = ..., channel: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class ScreeningBacklog(_message.Message):
    __slots__ = ("pending", "total", "items")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    pending: int
    total: int
    items: _containers.RepeatedCompositeFieldContainer[ScreeningItem]
    def __init__(self, pending: _Optional[int] = ..., total: _Optional[int] = ..., items: _Optional[_Iterable[_Union[ScreeningItem, _Mapping]]] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("signal", "detail")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    signal: str
    detail: str
    def __init__(self, signal: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ScreenedCase(_message.Message):
    __slots__ = ("case_no", "received_at", "institution", "score", "flagged", "ring_id", "reasons", "complainant_name", "complainant_phone", "agent_name", "unmasked", "clue_ids", "complainant_key")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FLAGGED_FIELD_NUMBER: _ClassVar[int]
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_PHONE_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    UNMASKED_FIELD_NUMBER: _ClassVar[int]
    CLUE_IDS_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_KEY_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    received_at: _timestamp_pb2.Timestamp
    institution: str
    score: float
    flagged: bool
    ring_id: str
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    complainant_name: str
    complainant_phone: str
    agent_name: str
    unmasked: bool
    clue_ids: _containers.RepeatedScalarFieldContainer[str]
    complainant_key: str
    def __init__(self, case_no: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., institution: _Optional[str] = ..., score: _Optional[float] = ..., flagged: _Optional[bool] = ..., ring_id: _Optional[str] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., complainant_name: _Optional[str] = ..., complainant_phone: _Optional[str] = ..., agent_name: _Optional[str] = ..., unmasked: _Optional[bool] = ..., clue_ids: _Optional[_Iterable[str]] = ..., complainant_key: _Optional[str] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("phone", "id_number", "name", "case_no", "ring_id", "limit")
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    phone: str
    id_number: str
    name: str
    case_no: str
    ring_id: str
    limit: int
    def __init__(self, phone: _Optional[str] = ..., id_number: _Optional[str] = ..., name: _Optional[str] = ..., case_no: _Optional[str] = ..., ring_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class QueryResult(_message.Message):
    __slots__ = ("cases",)
    CASES_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[ScreenedCase]
    def __init__(self, cases: _Optional[_Iterable[_Union[ScreenedCase, _Mapping]]] = ...) -> None: ...

class ExpandRequest(_message.Message):
    __slots__ = ("ring_id", "case_no", "phone", "id_number", "limit")
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ring_id: str
    case_no: str
    phone: str
    id_number: str
    limit: int
    def __init__(self, ring_id: _Optional[str] = ..., case_no: _Optional[str] = ..., phone: _Optional[str] = ..., id_number: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ContactPoint(_message.Message):
    __slots__ = ("point", "kind", "cases", "complainants")
    POINT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANTS_FIELD_NUMBER: _ClassVar[int]
    point: str
    kind: str
    cases: int
    complainants: int
    def __init__(self, point: _Optional[str] = ..., kind: _Optional[str] = ..., cases: _Optional[int] = ..., complainants: _Optional[int] = ...) -> None: ...

class Complainant(_message.Message):
    __slots__ = ("complainant_key", "name", "case_nos")
    COMPLAINANT_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CASE_NOS_FIELD_NUMBER: _ClassVar[int]
    complainant_key: str
    name: str
    case_nos: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, complainant_key: _Optional[str] = ..., name: _Optional[str] = ..., case_nos: _Optional[_Iterable[str]] = ...) -> None: ...

class Neighbourhood(_message.Message):
    __slots__ = ("cases", "points", "complainants")
    CASES_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANTS_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[ScreenedCase]
    points: _containers.RepeatedCompositeFieldContainer[ContactPoint]
    complainants: _containers.RepeatedCompositeFieldContainer[Complainant]
    def __init__(self, cases: _Optional[_Iterable[_Union[ScreenedCase, _Mapping]]] = ..., points: _Optional[_Iterable[_Union[ContactPoint, _Mapping]]] = ..., complainants: _Optional[_Iterable[_Union[Complainant, _Mapping]]] = ...) -> None: ...

class ClueNote(_message.Message):
    __slots__ = ("at", "author", "kind", "text")
    AT_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    author: str
    kind: str
    text: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., author: _Optional[str] = ..., kind: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Clue(_message.Message):
    __slots__ = ("clue_id", "status", "ring_id", "score", "assignee", "created_at", "updated_at", "case_nos", "notes", "cases", "dismissal_reason")
    CLUE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RING_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CASE_NOS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    DISMISSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    clue_id: str
    status: str
    ring_id: str
    score: float
    assignee: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    case_nos: _containers.RepeatedScalarFieldContainer[str]
    notes: _containers.RepeatedCompositeFieldContainer[ClueNote]
    cases: _containers.RepeatedCompositeFieldContainer[ScreenedCase]
    dismissal_reason: str
    def __init__(self, clue_id: _Optional[str] = ..., status: _Optional[str] = ..., ring_id: _Optional[str] = ..., score: _Optional[float] = ..., assignee: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., case_nos: _Optional[_Iterable[str]] = ..., notes: _Optional[_Iterable[_Union[ClueNote, _Mapping]]] = ..., cases: _Optional[_Iterable[_Union[ScreenedCase, _Mapping]]] = ..., dismissal_reason: _Optional[str] = ...) -> None: ...

class ListCluesRequest(_message.Message):
    __slots__ = ("status", "assignee", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: str
    assignee: str
    limit: int
    def __init__(self, status: _Optional[str] = ..., assignee: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ClueList(_message.Message):
    __slots__ = ("clues",)
    CLUES_FIELD_NUMBER: _ClassVar[int]
    clues: _containers.RepeatedCompositeFieldContainer[Clue]
    def __init__(self, clues: _Optional[_Iterable[_Union[Clue, _Mapping]]] = ...) -> None: ...

class GetClueRequest(_message.Message):
    __slots__ = ("clue_id",)
    CLUE_ID_FIELD_NUMBER: _ClassVar[int]
    clue_id: str
    def __init__(self, clue_id: _Optional[str] = ...) -> None: ...

class TransitionClueRequest(_message.Message):
    __slots__ = ("clue_id", "to", "reason")
    CLUE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    clue_id: str
    to: str
    reason: str
    def __init__(self, clue_id: _Optional[str] = ..., to: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AssignClueRequest(_message.Message):
    __slots__ = ("clue_id", "assignee")
    CLUE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    clue_id: str
    assignee: str
    def __init__(self, clue_id: _Optional[str] = ..., assignee: _Optional[str] = ...) -> None: ...

class AddClueNoteRequest(_message.Message):
    __slots__ = ("clue_id", "text")
    CLUE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    clue_id: str
    text: str
    def __init__(self, clue_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class KnownAgent(_message.Message):
    __slots__ = ("name", "phone", "id_number", "org", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    id_number: str
    org: str
    source: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., id_number: _Optional[str] = ..., org: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class ImportKnownAgentsRequest(_message.Message):
    __slots__ = ("source", "agents")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    source: str
    agents: _containers.RepeatedCompositeFieldContainer[KnownAgent]
    def __init__(self, source: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[KnownAgent, _Mapping]]] = ...) -> None: ...

class ImportKnownAgentsResult(_message.Message):
    __slots__ = ("list_id", "entries")
    LIST_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    list_id: int
    entries: int
    def __init__(self, list_id: _Optional[int] = ..., entries: _Optional[int] = ...) -> None: ...

class ReadAuditLogRequest(_message.Message):
    __slots__ = ("subject", "limit", "before_id")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    subject: str
    limit: int
    before_id: int
    def __init__(self, subject: _Optional[str] = ..., limit: _Optional[int] = ..., before_id: _Optional[int] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("id", "at", "subject", "role", "method", "query_json", "result_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    QUERY_JSON_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    id: int
    at: _timestamp_pb2.Timestamp
    subject: str
    role: str
    method: str
    query_json: str
    result_json: str
    def __init__(self, id: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subject: _Optional[str] = ..., role: _Optional[str] = ..., method: _Optional[str] = ..., query_json: _Optional[str] = ..., result_json: _Optional[str] = ...) -> None: ...

class AuditLog(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ...) -> None: ...
