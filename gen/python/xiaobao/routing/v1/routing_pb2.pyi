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

class AnswerOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANSWER_OUTCOME_UNSPECIFIED: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_UPHELD: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_PARTIALLY_UPHELD: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_REJECTED: _ClassVar[AnswerOutcome]
    ANSWER_OUTCOME_REFERRED_TO_MEDIATION: _ClassVar[AnswerOutcome]
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
ANSWER_OUTCOME_UNSPECIFIED: AnswerOutcome
ANSWER_OUTCOME_UPHELD: AnswerOutcome
ANSWER_OUTCOME_PARTIALLY_UPHELD: AnswerOutcome
ANSWER_OUTCOME_REJECTED: AnswerOutcome
ANSWER_OUTCOME_REFERRED_TO_MEDIATION: AnswerOutcome

class Node(_message.Message):
    __slots__ = ("id", "parent_id", "name", "aliases", "kind", "region_code", "product_lines", "active", "level")
    ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LINES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    id: str
    parent_id: str
    name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    kind: InstitutionKind
    region_code: str
    product_lines: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    level: int
    def __init__(self, id: _Optional[str] = ..., parent_id: _Optional[str] = ..., name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[InstitutionKind, str]] = ..., region_code: _Optional[str] = ..., product_lines: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., level: _Optional[int] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("case_no", "node_id", "node_name", "status", "case_kind", "product", "summary", "complainant_name", "complainant_phone", "amount_in_dispute_fen", "received_at", "assigned_at", "acknowledged_at", "answered_at", "last_day", "deadline", "provisional", "outcome", "answer")
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
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
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
    outcome: str
    answer: str
    def __init__(self, case_no: _Optional[str] = ..., node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., status: _Optional[_Union[AssignmentStatus, str]] = ..., case_kind: _Optional[str] = ..., product: _Optional[str] = ..., summary: _Optional[str] = ..., complainant_name: _Optional[str] = ..., complainant_phone: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., answered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_day: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provisional: _Optional[bool] = ..., outcome: _Optional[str] = ..., answer: _Optional[str] = ...) -> None: ...

class ListAssignedCasesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: AssignmentStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[AssignmentStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAssignedCasesResponse(_message.Message):
    __slots__ = ("assignments", "next_page_token")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    next_page_token: str
    def __init__(self, assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AcknowledgeCaseRequest(_message.Message):
    __slots__ = ("case_no",)
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    def __init__(self, case_no: _Optional[str] = ...) -> None: ...

class AnswerCaseRequest(_message.Message):
    __slots__ = ("case_no", "outcome", "answer")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    outcome: AnswerOutcome
    answer: str
    def __init__(self, case_no: _Optional[str] = ..., outcome: _Optional[_Union[AnswerOutcome, str]] = ..., answer: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("node", "confidence", "runner_up", "runner_up_confidence", "needs_human")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_FIELD_NUMBER: _ClassVar[int]
    RUNNER_UP_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_HUMAN_FIELD_NUMBER: _ClassVar[int]
    node: Node
    confidence: float
    runner_up: Node
    runner_up_confidence: float
    needs_human: bool
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., confidence: _Optional[float] = ..., runner_up: _Optional[_Union[Node, _Mapping]] = ..., runner_up_confidence: _Optional[float] = ..., needs_human: _Optional[bool] = ...) -> None: ...

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
