import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InstitutionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INSTITUTION_KIND_UNSPECIFIED: _ClassVar[InstitutionKind]
    INSTITUTION_KIND_BANK: _ClassVar[InstitutionKind]
    INSTITUTION_KIND_LIFE_INSURER: _ClassVar[InstitutionKind]
    INSTITUTION_KIND_PROPERTY_INSURER: _ClassVar[InstitutionKind]
    INSTITUTION_KIND_OTHER: _ClassVar[InstitutionKind]

class AssignmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_STATUS_UNSPECIFIED: _ClassVar[AssignmentStatus]
    ASSIGNMENT_STATUS_ASSIGNED: _ClassVar[AssignmentStatus]
    ASSIGNMENT_STATUS_ACKNOWLEDGED: _ClassVar[AssignmentStatus]
    ASSIGNMENT_STATUS_ANSWERED: _ClassVar[AssignmentStatus]
    ASSIGNMENT_STATUS_CLOSED: _ClassVar[AssignmentStatus]
    ASSIGNMENT_STATUS_NEEDS_ROUTING: _ClassVar[AssignmentStatus]

class AnswerOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANSWER_OUTCOME_UNSPECIFIED: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_REFERRED_TO_MEDIATION: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_CLOSED_WITH_EXPLANATION: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_MONETARY_RELIEF: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_NON_MONETARY_RELIEF: _ClassVar[AnswerOutcome]

class ClockState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLOCK_STATE_UNSPECIFIED: _ClassVar[ClockState]
    CLOCK_STATE_NOT_STARTED: _ClassVar[ClockState]
    CLOCK_STATE_OK: _ClassVar[ClockState]
    CLOCK_STATE_AT_RISK: _ClassVar[ClockState]
    CLOCK_STATE_OVERDUE: _ClassVar[ClockState]
    CLOCK_STATE_STOPPED: _ClassVar[ClockState]

class PauseReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAUSE_REASON_UNSPECIFIED: _ClassVar[PauseReason]
    PAUSE_REASON_APPRAISAL: _ClassVar[PauseReason]
    PAUSE_REASON_TESTING: _ClassVar[PauseReason]
    PAUSE_REASON_EVALUATION: _ClassVar[PauseReason]

class ContactMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONTACT_METHOD_UNSPECIFIED: _ClassVar[ContactMethod]
    CONTACT_METHOD_PHONE: _ClassVar[ContactMethod]
    CONTACT_METHOD_SMS: _ClassVar[ContactMethod]
    CONTACT_METHOD_VISIT: _ClassVar[ContactMethod]
    CONTACT_METHOD_LETTER: _ClassVar[ContactMethod]
    CONTACT_METHOD_EMAIL: _ClassVar[ContactMethod]
    CONTACT_METHOD_ONLINE: _ClassVar[ContactMethod]
INSTITUTION_KIND_UNSPECIFIED: InstitutionKind
INSTITUTION_KIND_BANK: InstitutionKind
INSTITUTION_KIND_LIFE_INSURER: InstitutionKind
INSTITUTION_KIND_PROPERTY_INSURER: InstitutionKind
INSTITUTION_KIND_OTHER: InstitutionKind
ASSIGNMENT_STATUS_UNSPECIFIED: AssignmentStatus
ASSIGNMENT_STATUS_ASSIGNED: AssignmentStatus
ASSIGNMENT_STATUS_ACKNOWLEDGED: AssignmentStatus
ASSIGNMENT_STATUS_ANSWERED: AssignmentStatus
ASSIGNMENT_STATUS_CLOSED: AssignmentStatus
ASSIGNMENT_STATUS_NEEDS_ROUTING: AssignmentStatus
ANSWER_OUTCOME_UNSPECIFIED: AnswerOutcome
ANSWER_OUTCOME_REFERRED_TO_MEDIATION: AnswerOutcome
ANSWER_OUTCOME_CLOSED_WITH_EXPLANATION: AnswerOutcome
ANSWER_OUTCOME_MONETARY_RELIEF: AnswerOutcome
ANSWER_OUTCOME_NON_MONETARY_RELIEF: AnswerOutcome
CLOCK_STATE_UNSPECIFIED: ClockState
CLOCK_STATE_NOT_STARTED: ClockState
CLOCK_STATE_OK: ClockState
CLOCK_STATE_AT_RISK: ClockState
CLOCK_STATE_OVERDUE: ClockState
CLOCK_STATE_STOPPED: ClockState
PAUSE_REASON_UNSPECIFIED: PauseReason
PAUSE_REASON_APPRAISAL: PauseReason
PAUSE_REASON_TESTING: PauseReason
PAUSE_REASON_EVALUATION: PauseReason
CONTACT_METHOD_UNSPECIFIED: ContactMethod
CONTACT_METHOD_PHONE: ContactMethod
CONTACT_METHOD_SMS: ContactMethod
CONTACT_METHOD_VISIT: ContactMethod
CONTACT_METHOD_LETTER: ContactMethod
CONTACT_METHOD_EMAIL: ContactMethod
CONTACT_METHOD_ONLINE: ContactMethod

class Node(_message.Message):
    __slots__ = ("id", "parent_id", "name", "aliases", "kind", "region_code", "product_lines", "active", "level", "short_names", "former_names")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LINES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SHORT_NAMES_FIELD_NUMBER: _ClassVar[int]
    FORMER_NAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    parent_id: str
    name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    kind: InstitutionKind
    region_code: str
    product_lines: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    level: int
    short_names: _containers.RepeatedScalarFieldContainer[str]
    former_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., parent_id: _Optional[str] = ..., name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[InstitutionKind, str]] = ..., region_code: _Optional[str] = ..., product_lines: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., level: _Optional[int] = ..., short_names: _Optional[_Iterable[str]] = ..., former_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ContactRecord(_message.Message):
    __slots__ = ("method", "contacted_at", "staff_name", "note")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONTACTED_AT_FIELD_NUMBER: _ClassVar[int]
    STAFF_NAME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    method: ContactMethod
    contacted_at: _timestamp_pb2.Timestamp
    staff_name: str
    note: str
    def __init__(self, method: _Optional[_Union[ContactMethod, str]] = ..., contacted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., staff_name: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class Extension(_message.Message):
    __slots__ = ("to_days", "reason", "approver", "article", "at")
    TO_DAYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    to_days: int
    reason: str
    approver: str
    article: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, to_days: _Optional[int] = ..., reason: _Optional[str] = ..., approver: _Optional[str] = ..., article: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class InstitutionClock(_message.Message):
    __slots__ = ("name", "limit_days", "unit", "article", "started_at", "last_day", "deadline", "provisional", "state", "paused", "pause_reason", "extensions", "paused_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSE_REASON_FIELD_NUMBER: _ClassVar[int]
    EXTENSIONS_FIELD_NUMBER: _ClassVar[int]
    PAUSED_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit_days: int
    unit: str
    article: str
    started_at: _timestamp_pb2.Timestamp
    last_day: str
    deadline: _timestamp_pb2.Timestamp
    provisional: bool
    state: ClockState
    paused: bool
    pause_reason: PauseReason
    extensions: _containers.RepeatedCompositeFieldContainer[Extension]
    paused_days: int
    def __init__(self, name: _Optional[str] = ..., limit_days: _Optional[int] = ..., unit: _Optional[str] = ..., article: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_day: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provisional: _Optional[bool] = ..., state: _Optional[_Union[ClockState, str]] = ..., paused: _Optional[bool] = ..., pause_reason: _Optional[_Union[PauseReason, str]] = ..., extensions: _Optional[_Iterable[_Union[Extension, _Mapping]]] = ..., paused_days: _Optional[int] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("case_no", "node_id", "node_name", "status", "case_kind", "product", "summary", "complainant_name", "complainant_phone", "amount_in_dispute_fen", "received_at", "assigned_at", "acknowledged_at", "answered_at", "last_day", "deadline", "provisional", "answer", "answer_outcome", "relief_amount_fen", "contact", "clock", "major", "elderly", "repeat", "tier_reason", "escalated_to_node_id", "returns", "updated_at")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CASE_KIND_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_PHONE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_IN_DISPUTE_FEN_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_AT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ANSWER_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RELIEF_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    ELDERLY_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    TIER_REASON_FIELD_NUMBER: _ClassVar[int]
    ESCALATED_TO_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    node_id: str
    node_name: str
    status: AssignmentStatus
    case_kind: str
    product: str
    summary: str
    complainant_name: str
    complainant_phone: str
    amount_in_dispute_fen: int
    received_at: _timestamp_pb2.Timestamp
    assigned_at: _timestamp_pb2.Timestamp
    acknowledged_at: _timestamp_pb2.Timestamp
    answered_at: _timestamp_pb2.Timestamp
    last_day: str
    deadline: _timestamp_pb2.Timestamp
    provisional: bool
    answer: str
    answer_outcome: AnswerOutcome
    relief_amount_fen: int
    contact: ContactRecord
    clock: InstitutionClock
    major: bool
    elderly: bool
    repeat: bool
    tier_reason: str
    escalated_to_node_id: str
    returns: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, case_no: _Optional[str] = ..., node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., status: _Optional[_Union[AssignmentStatus, str]] = ..., case_kind: _Optional[str] = ..., product: _Optional[str] = ..., summary: _Optional[str] = ..., complainant_name: _Optional[str] = ..., complainant_phone: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_day: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provisional: _Optional[bool] = ..., answer: _Optional[str] = ..., answer_outcome: _Optional[_Union[AnswerOutcome, str]] = ..., relief_amount_fen: _Optional[int] = ..., contact: _Optional[_Union[ContactRecord, _Mapping]] = ..., clock: _Optional[_Union[InstitutionClock, _Mapping]] = ..., major: _Optional[bool] = ..., elderly: _Optional[bool] = ..., repeat: _Optional[bool] = ..., tier_reason: _Optional[str] = ..., escalated_to_node_id: _Optional[str] = ..., returns: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAssignedCasesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token", "node_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    status: AssignmentStatus
    page_size: int
    page_token: str
    node_id: str
    def __init__(self, status: _Optional[_Union[AssignmentStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class ListAssignedCasesResponse(_message.Message):
    __slots__ = ("assignments", "next_page_token")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    next_page_token: str
    def __init__(self, assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamAssignedCasesRequest(_message.Message):
    __slots__ = ("cursor", "follow")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    follow: bool
    def __init__(self, cursor: _Optional[str] = ..., follow: _Optional[bool] = ...) -> None: ...

class AssignmentUpdate(_message.Message):
    __slots__ = ("assignment", "cursor")
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    assignment: Assignment
    cursor: str
    def __init__(self, assignment: _Optional[_Union[Assignment, _Mapping]] = ..., cursor: _Optional[str] = ...) -> None: ...

class CaseRequest(_message.Message):
    __slots__ = ("case_no",)
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    def __init__(self, case_no: _Optional[str] = ...) -> None: ...

class RequestExtensionRequest(_message.Message):
    __slots__ = ("case_no", "to_days", "reason", "approver")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    TO_DAYS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    to_days: int
    reason: str
    approver: str
    def __init__(self, case_no: _Optional[str] = ..., to_days: _Optional[int] = ..., reason: _Optional[str] = ..., approver: _Optional[str] = ...) -> None: ...

class PauseClockRequest(_message.Message):
    __slots__ = ("case_no", "reason", "note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    reason: PauseReason
    note: str
    def __init__(self, case_no: _Optional[str] = ..., reason: _Optional[_Union[PauseReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class ResumeClockRequest(_message.Message):
    __slots__ = ("case_no", "note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    note: str
    def __init__(self, case_no: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AnswerCaseRequest(_message.Message):
    __slots__ = ("case_no", "answer", "outcome", "relief_amount_fen", "contact")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RELIEF_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    answer: str
    outcome: AnswerOutcome
    relief_amount_fen: int
    contact: ContactRecord
    def __init__(self, case_no: _Optional[str] = ..., answer: _Optional[str] = ..., outcome: _Optional[_Union[AnswerOutcome, str]] = ..., relief_amount_fen: _Optional[int] = ..., contact: _Optional[_Union[ContactRecord, _Mapping]] = ...) -> None: ...

class ReturnCaseRequest(_message.Message):
    __slots__ = ("case_no", "reason", "hint")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    reason: str
    hint: str
    def __init__(self, case_no: _Optional[str] = ..., reason: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class ReturnCaseResponse(_message.Message):
    __slots__ = ("case_no",)
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    def __init__(self, case_no: _Optional[str] = ...) -> None: ...

class ResolveRequest(_message.Message):
    __slots__ = ("text", "region_code", "product")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    text: str
    region_code: str
    product: str
    def __init__(self, text: _Optional[str] = ..., region_code: _Optional[str] = ..., product: _Optional[str] = ...) -> None: ...

class ResolveResponse(_message.Message):
    __slots__ = ("node", "confidence", "runner_up", "runner_up_confidence", "needs_human", "matched", "reason")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_HUMAN_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node: Node
    confidence: float
    runner_up: Node
    runner_up_confidence: float
    needs_human: bool
    matched: str
    reason: str
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., confidence: _Optional[float] = ..., runner_up: _Optional[_Union[Node, _Mapping]] = ..., runner_up_confidence: _Optional[float] = ..., needs_human: _Optional[bool] = ..., matched: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("root_id",)
    ROOT_ID_FIELD_NUMBER: _ClassVar[int]
    root_id: str
    def __init__(self, root_id: _Optional[str] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ...) -> None: ...

class QueuedCase(_message.Message):
    __slots__ = ("case_no", "case_kind", "institution_text", "region_code", "product", "summary", "received_at", "why", "suggestion", "confidence", "runner_up", "returns", "returned_by")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    CASE_KIND_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_TEXT_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    RETURNS_FIELD_NUMBER: _ClassVar[int]
    RETURNED_BY_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    case_kind: str
    institution_text: str
    region_code: str
    product: str
    summary: str
    received_at: _timestamp_pb2.Timestamp
    why: str
    suggestion: Node
    confidence: float
    runner_up: Node
    returns: int
    returned_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, case_no: _Optional[str] = ..., case_kind: _Optional[str] = ..., institution_text: _Optional[str] = ..., region_code: _Optional[str] = ..., product: _Optional[str] = ..., summary: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., why: _Optional[str] = ..., suggestion: _Optional[_Union[Node, _Mapping]] = ..., confidence: _Optional[float] = ..., runner_up: _Optional[_Union[Node, _Mapping]] = ..., returns: _Optional[int] = ..., returned_by: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRoutingQueueRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRoutingQueueResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[QueuedCase]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[QueuedCase, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RouteCaseRequest(_message.Message):
    __slots__ = ("case_no", "node_id", "note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    node_id: str
    note: str
    def __init__(self, case_no: _Optional[str] = ..., node_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class ScorecardRequest(_message.Message):
    __slots__ = ("quarter", "root_id")
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    ROOT_ID_FIELD_NUMBER: _ClassVar[int]
    quarter: str
    root_id: str
    def __init__(self, quarter: _Optional[str] = ..., root_id: _Optional[str] = ...) -> None: ...

class ScorecardLine(_message.Message):
    __slots__ = ("node_id", "node_name", "level", "rolled_up", "cases", "answered", "answered_within_limit", "overdue_open", "timely_rate", "extension_rate", "outcomes", "relief_fen", "repeat_rate", "breaches", "returned", "list")
    class OutcomesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ROLLED_UP_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_WITHIN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_OPEN_FIELD_NUMBER: _ClassVar[int]
    TIMELY_RATE_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_RATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    RELIEF_FEN_FIELD_NUMBER: _ClassVar[int]
    REPEAT_RATE_FIELD_NUMBER: _ClassVar[int]
    BREACHES_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_name: str
    level: int
    rolled_up: bool
    cases: int
    answered: int
    answered_within_limit: int
    overdue_open: int
    timely_rate: float
    extension_rate: float
    outcomes: _containers.ScalarMap[str, int]
    relief_fen: int
    repeat_rate: float
    breaches: int
    returned: int
    list: str
    def __init__(self, node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., level: _Optional[int] = ..., rolled_up: _Optional[bool] = ..., cases: _Optional[int] = ..., answered: _Optional[int] = ..., answered_within_limit: _Optional[int] = ..., overdue_open: _Optional[int] = ..., timely_rate: _Optional[float] = ..., extension_rate: _Optional[float] = ..., outcomes: _Optional[_Mapping[str, int]] = ..., relief_fen: _Optional[int] = ..., repeat_rate: _Optional[float] = ..., breaches: _Optional[int] = ..., returned: _Optional[int] = ..., list: _Optional[str] = ...) -> None: ...

class ScorecardResponse(_message.Message):
    __slots__ = ("quarter", "lines")
    QUARTER_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    quarter: str
    lines: _containers.RepeatedCompositeFieldContainer[ScorecardLine]
    def __init__(self, quarter: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ScorecardLine, _Mapping]]] = ...) -> None: ...
