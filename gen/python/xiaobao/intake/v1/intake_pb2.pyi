import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CaseKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_KIND_UNSPECIFIED: _ClassVar[CaseKind]
    CASE_KIND_COMPLAINT: _ClassVar[CaseKind]
    CASE_KIND_CONSULTATION: _ClassVar[CaseKind]
    CASE_KIND_MEDIATION_REQUEST: _ClassVar[CaseKind]
    CASE_KIND_REPORT: _ClassVar[CaseKind]
    CASE_KIND_PETITION: _ClassVar[CaseKind]

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_HOTLINE: _ClassVar[Channel]
    CHANNEL_WEB: _ClassVar[Channel]
    CHANNEL_MINI_PROGRAM: _ClassVar[Channel]
    CHANNEL_LETTER: _ClassVar[Channel]
    CHANNEL_VISIT: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_TRANSFER: _ClassVar[Channel]

class CaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_STATUS_UNSPECIFIED: _ClassVar[CaseStatus]
    CASE_STATUS_RECEIVED: _ClassVar[CaseStatus]
    CASE_STATUS_ASSIGNED: _ClassVar[CaseStatus]
    CASE_STATUS_NEEDS_ROUTING: _ClassVar[CaseStatus]
    CASE_STATUS_ANSWERED: _ClassVar[CaseStatus]
    CASE_STATUS_CLOSED: _ClassVar[CaseStatus]
    CASE_STATUS_REFERRED_TO_MEDIATION: _ClassVar[CaseStatus]
    CASE_STATUS_LINKED: _ClassVar[CaseStatus]
    CASE_STATUS_WITHDRAWN: _ClassVar[CaseStatus]
    CASE_STATUS_IN_MEDIATION: _ClassVar[CaseStatus]

class MediationForm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIATION_FORM_UNSPECIFIED: _ClassVar[MediationForm]
    MEDIATION_FORM_ONSITE: _ClassVar[MediationForm]
    MEDIATION_FORM_ONLINE: _ClassVar[MediationForm]
CASE_KIND_UNSPECIFIED: CaseKind
CASE_KIND_COMPLAINT: CaseKind
CASE_KIND_CONSULTATION: CaseKind
CASE_KIND_MEDIATION_REQUEST: CaseKind
CASE_KIND_REPORT: CaseKind
CASE_KIND_PETITION: CaseKind
CHANNEL_UNSPECIFIED: Channel
CHANNEL_HOTLINE: Channel
CHANNEL_WEB: Channel
CHANNEL_MINI_PROGRAM: Channel
CHANNEL_LETTER: Channel
CHANNEL_VISIT: Channel
CHANNEL_EMAIL: Channel
CHANNEL_TRANSFER: Channel
CASE_STATUS_UNSPECIFIED: CaseStatus
CASE_STATUS_RECEIVED: CaseStatus
CASE_STATUS_ASSIGNED: CaseStatus
CASE_STATUS_NEEDS_ROUTING: CaseStatus
CASE_STATUS_ANSWERED: CaseStatus
CASE_STATUS_CLOSED: CaseStatus
CASE_STATUS_REFERRED_TO_MEDIATION: CaseStatus
CASE_STATUS_LINKED: CaseStatus
CASE_STATUS_WITHDRAWN: CaseStatus
CASE_STATUS_IN_MEDIATION: CaseStatus
MEDIATION_FORM_UNSPECIFIED: MediationForm
MEDIATION_FORM_ONSITE: MediationForm
MEDIATION_FORM_ONLINE: MediationForm

class Agent(_message.Message):
    __slots__ = ("name", "id_number", "phone", "authorization_reference", "relationship")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    name: str
    id_number: str
    phone: str
    authorization_reference: str
    relationship: str
    def __init__(self, name: _Optional[str] = ..., id_number: _Optional[str] = ..., phone: _Optional[str] = ..., authorization_reference: _Optional[str] = ..., relationship: _Optional[str] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("regulator", "reference", "received_by_regulator_at")
    REGULATOR_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BY_REGULATOR_AT_FIELD_NUMBER: _ClassVar[int]
    regulator: str
    reference: str
    received_by_regulator_at: _timestamp_pb2.Timestamp
    def __init__(self, regulator: _Optional[str] = ..., reference: _Optional[str] = ..., received_by_regulator_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("business_type", "product", "issue", "taxonomy_version", "source")
    BUSINESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    TAXONOMY_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    business_type: str
    product: str
    issue: str
    taxonomy_version: str
    source: str
    def __init__(self, business_type: _Optional[str] = ..., product: _Optional[str] = ..., issue: _Optional[str] = ..., taxonomy_version: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class Complainant(_message.Message):
    __slots__ = ("name", "phone", "id_number", "region_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    ID_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    phone: str
    id_number: str
    region_code: str
    def __init__(self, name: _Optional[str] = ..., phone: _Optional[str] = ..., id_number: _Optional[str] = ..., region_code: _Optional[str] = ...) -> None: ...

class SubmitCaseRequest(_message.Message):
    __slots__ = ("kind", "channel", "complainant", "institution_text", "product", "summary", "amount_in_dispute_fen", "received_at", "request_id", "agent", "transfer", "people_count", "new_facts", "classification")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_TEXT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_IN_DISPUTE_FEN_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEW_FACTS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    kind: CaseKind
    channel: Channel
    complainant: Complainant
    institution_text: str
    product: str
    summary: str
    amount_in_dispute_fen: int
    received_at: _timestamp_pb2.Timestamp
    request_id: str
    agent: Agent
    transfer: Transfer
    people_count: int
    new_facts: bool
    classification: Classification
    def __init__(self, kind: _Optional[_Union[CaseKind, str]] = ..., channel: _Optional[_Union[Channel, str]] = ..., complainant: _Optional[_Union[Complainant, _Mapping]] = ..., institution_text: _Optional[str] = ..., product: _Optional[str] = ..., summary: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., people_count: _Optional[int] = ..., new_facts: _Optional[bool] = ..., classification: _Optional[_Union[Classification, _Mapping]] = ...) -> None: ...

class SubmitCaseResponse(_message.Message):
    __slots__ = ("case", "duplicate_request", "linked_to")
    CASE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    LINKED_TO_FIELD_NUMBER: _ClassVar[int]
    case: Case
    duplicate_request: bool
    linked_to: str
    def __init__(self, case: _Optional[_Union[Case, _Mapping]] = ..., duplicate_request: _Optional[bool] = ..., linked_to: _Optional[str] = ...) -> None: ...

class WithdrawCaseRequest(_message.Message):
    __slots__ = ("case_no", "reason", "withdrawn_at")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    reason: str
    withdrawn_at: _timestamp_pb2.Timestamp
    def __init__(self, case_no: _Optional[str] = ..., reason: _Optional[str] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestMediationRequest(_message.Message):
    __slots__ = ("case_no", "reason", "preferred_form")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_FORM_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    reason: str
    preferred_form: MediationForm
    def __init__(self, case_no: _Optional[str] = ..., reason: _Optional[str] = ..., preferred_form: _Optional[_Union[MediationForm, str]] = ...) -> None: ...

class ClassifyCaseRequest(_message.Message):
    __slots__ = ("case_no", "classification", "note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    classification: Classification
    note: str
    def __init__(self, case_no: _Optional[str] = ..., classification: _Optional[_Union[Classification, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_no",)
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    def __init__(self, case_no: _Optional[str] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: CaseStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[CaseStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_page_token")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[Case]
    next_page_token: str
    def __init__(self, cases: _Optional[_Iterable[_Union[Case, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecordFirstContactRequest(_message.Message):
    __slots__ = ("case_no", "contacted_at", "note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    CONTACTED_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    contacted_at: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, case_no: _Optional[str] = ..., contacted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CloseCaseRequest(_message.Message):
    __slots__ = ("case_no", "resolution")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    resolution: str
    def __init__(self, case_no: _Optional[str] = ..., resolution: _Optional[str] = ...) -> None: ...

class Clock(_message.Message):
    __slots__ = ("name", "article", "limit", "unit", "started_at", "stopped_at", "last_day", "deadline", "provisional", "state", "within_limit", "elapsed_days")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    PROVISIONAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WITHIN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_DAYS_FIELD_NUMBER: _ClassVar[int]
    name: str
    article: str
    limit: int
    unit: str
    started_at: _timestamp_pb2.Timestamp
    stopped_at: _timestamp_pb2.Timestamp
    last_day: str
    deadline: _timestamp_pb2.Timestamp
    provisional: bool
    state: str
    within_limit: bool
    elapsed_days: float
    def __init__(self, name: _Optional[str] = ..., article: _Optional[str] = ..., limit: _Optional[int] = ..., unit: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stopped_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_day: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provisional: _Optional[bool] = ..., state: _Optional[str] = ..., within_limit: _Optional[bool] = ..., elapsed_days: _Optional[float] = ...) -> None: ...

class TimelineEntry(_message.Message):
    __slots__ = ("at", "type", "actor", "detail")
    AT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    type: str
    actor: str
    detail: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., actor: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Case(_message.Message):
    __slots__ = ("case_no", "kind", "channel", "status", "complainant", "institution_text", "product", "summary", "amount_in_dispute_fen", "received_at", "assigned_node_id", "assigned_node_name", "closed_at", "resolution", "clocks", "timeline", "agent", "transfer", "people_count", "major", "repeat_of", "new_facts", "classification", "screening_flagged", "screening_note")
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_TEXT_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_IN_DISPUTE_FEN_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    CLOCKS_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    PEOPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    REPEAT_OF_FIELD_NUMBER: _ClassVar[int]
    NEW_FACTS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    SCREENING_FLAGGED_FIELD_NUMBER: _ClassVar[int]
    SCREENING_NOTE_FIELD_NUMBER: _ClassVar[int]
    case_no: str
    kind: CaseKind
    channel: Channel
    status: CaseStatus
    complainant: Complainant
    institution_text: str
    product: str
    summary: str
    amount_in_dispute_fen: int
    received_at: _timestamp_pb2.Timestamp
    assigned_node_id: str
    assigned_node_name: str
    closed_at: _timestamp_pb2.Timestamp
    resolution: str
    clocks: _containers.RepeatedCompositeFieldContainer[Clock]
    timeline: _containers.RepeatedCompositeFieldContainer[TimelineEntry]
    agent: Agent
    transfer: Transfer
    people_count: int
    major: bool
    repeat_of: str
    new_facts: bool
    classification: Classification
    screening_flagged: bool
    screening_note: str
    def __init__(self, case_no: _Optional[str] = ..., kind: _Optional[_Union[CaseKind, str]] = ..., channel: _Optional[_Union[Channel, str]] = ..., status: _Optional[_Union[CaseStatus, str]] = ..., complainant: _Optional[_Union[Complainant, _Mapping]] = ..., institution_text: _Optional[str] = ..., product: _Optional[str] = ..., summary: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., assigned_node_id: _Optional[str] = ..., assigned_node_name: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolution: _Optional[str] = ..., clocks: _Optional[_Iterable[_Union[Clock, _Mapping]]] = ..., timeline: _Optional[_Iterable[_Union[TimelineEntry, _Mapping]]] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ..., transfer: _Optional[_Union[Transfer, _Mapping]] = ..., people_count: _Optional[int] = ..., major: _Optional[bool] = ..., repeat_of: _Optional[str] = ..., new_facts: _Optional[bool] = ..., classification: _Optional[_Union[Classification, _Mapping]] = ..., screening_flagged: _Optional[bool] = ..., screening_note: _Optional[str] = ...) -> None: ...
