import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetIntakeSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IntakeSummary(_message.Message):
    __slots__ = ("cases_seen", "mediation_requests_seen", "last_case_received_at")
    CASES_SEEN_FIELD_NUMBER: _ClassVar[int]
    MEDIATION_REQUESTS_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_CASE_RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    cases_seen: int
    mediation_requests_seen: int
    last_case_received_at: _timestamp_pb2.Timestamp
    def __init__(self, cases_seen: _Optional[int] = ..., mediation_requests_seen: _Optional[int] = ..., last_case_received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TimeWindow(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("party", "consented", "by", "at", "reason", "availability")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CONSENTED_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    party: str
    consented: bool
    by: str
    at: _timestamp_pb2.Timestamp
    reason: str
    availability: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    def __init__(self, party: _Optional[str] = ..., consented: _Optional[bool] = ..., by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., availability: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ...) -> None: ...

class MediationClock(_message.Message):
    __slots__ = ("name", "limit_days", "unit", "started_at", "deadline", "last_day", "state", "article")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_DAYS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit_days: int
    unit: str
    started_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    last_day: str
    state: str
    article: str
    def __init__(self, name: _Optional[str] = ..., limit_days: _Optional[int] = ..., unit: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_day: _Optional[str] = ..., state: _Optional[str] = ..., article: _Optional[str] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("id", "request_id", "case_no", "mediator_id", "venue_id", "venue_name", "start", "end", "state", "form", "note")
    ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    MEDIATOR_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    id: int
    request_id: int
    case_no: str
    mediator_id: str
    venue_id: str
    venue_name: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    state: str
    form: str
    note: str
    def __init__(self, id: _Optional[int] = ..., request_id: _Optional[int] = ..., case_no: _Optional[str] = ..., mediator_id: _Optional[str] = ..., venue_id: _Optional[str] = ..., venue_name: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[str] = ..., form: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class MediationRequest(_message.Message):
    __slots__ = ("id", "case_no", "source", "state", "outcome", "outcome_reason", "reason", "preferred_form", "fast_track", "institution_node_id", "institution_name", "product", "amount_in_dispute_fen", "complainant_name", "complainant_phone", "complainant_age", "court_name", "court_reference", "court_deadline", "requested_at", "accepted_at", "closed_at", "consents", "clock", "sessions", "agreement_amount_fen", "agreement_terms", "judicial_confirmation", "judicial_court", "judicial_reference", "judicial_confirmed_on", "language")
    ID_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_FORM_FIELD_NUMBER: _ClassVar[int]
    FAST_TRACK_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_IN_DISPUTE_FEN_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_PHONE_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_AGE_FIELD_NUMBER: _ClassVar[int]
    COURT_NAME_FIELD_NUMBER: _ClassVar[int]
    COURT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    COURT_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_TERMS_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_COURT_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_CONFIRMED_ON_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    id: int
    case_no: str
    source: str
    state: str
    outcome: str
    outcome_reason: str
    reason: str
    preferred_form: str
    fast_track: bool
    institution_node_id: str
    institution_name: str
    product: str
    amount_in_dispute_fen: int
    complainant_name: str
    complainant_phone: str
    complainant_age: int
    court_name: str
    court_reference: str
    court_deadline: str
    requested_at: _timestamp_pb2.Timestamp
    accepted_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    clock: MediationClock
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    agreement_amount_fen: int
    agreement_terms: str
    judicial_confirmation: bool
    judicial_court: str
    judicial_reference: str
    judicial_confirmed_on: str
    language: str
    def __init__(self, id: _Optional[int] = ..., case_no: _Optional[str] = ..., source: _Optional[str] = ..., state: _Optional[str] = ..., outcome: _Optional[str] = ..., outcome_reason: _Optional[str] = ..., reason: _Optional[str] = ..., preferred_form: _Optional[str] = ..., fast_track: _Optional[bool] = ..., institution_node_id: _Optional[str] = ..., institution_name: _Optional[str] = ..., product: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., complainant_name: _Optional[str] = ..., complainant_phone: _Optional[str] = ..., complainant_age: _Optional[int] = ..., court_name: _Optional[str] = ..., court_reference: _Optional[str] = ..., court_deadline: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., accepted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ..., clock: _Optional[_Union[MediationClock, _Mapping]] = ..., sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., agreement_amount_fen: _Optional[int] = ..., agreement_terms: _Optional[str] = ..., judicial_confirmation: _Optional[bool] = ..., judicial_court: _Optional[str] = ..., judicial_reference: _Optional[str] = ..., judicial_confirmed_on: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class RecordCourtReferralRequest(_message.Message):
    __slots__ = ("court_name", "court_reference", "court_deadline", "case_no", "institution_name", "institution_node_id", "product", "business_type", "amount_in_dispute_fen", "complainant_name", "complainant_phone", "complainant_age", "reason", "preferred_form", "language")
    COURT_NAME_FIELD_NUMBER: _ClassVar[int]
    COURT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    COURT_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTITUTION_NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_IN_DISPUTE_FEN_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_PHONE_FIELD_NUMBER: _ClassVar[int]
    COMPLAINANT_AGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_FORM_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    court_name: str
    court_reference: str
    court_deadline: str
    case_no: str
    institution_name: str
    institution_node_id: str
    product: str
    business_type: str
    amount_in_dispute_fen: int
    complainant_name: str
    complainant_phone: str
    complainant_age: int
    reason: str
    preferred_form: str
    language: str
    def __init__(self, court_name: _Optional[str] = ..., court_reference: _Optional[str] = ..., court_deadline: _Optional[str] = ..., case_no: _Optional[str] = ..., institution_name: _Optional[str] = ..., institution_node_id: _Optional[str] = ..., product: _Optional[str] = ..., business_type: _Optional[str] = ..., amount_in_dispute_fen: _Optional[int] = ..., complainant_name: _Optional[str] = ..., complainant_phone: _Optional[str] = ..., complainant_age: _Optional[int] = ..., reason: _Optional[str] = ..., preferred_form: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    def __init__(self, request_id: _Optional[int] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ("state", "case_no", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    CASE_NO_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: str
    case_no: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[str] = ..., case_no: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[MediationRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[MediationRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecordConsentRequest(_message.Message):
    __slots__ = ("request_id", "party", "consented", "by", "reason", "availability")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    CONSENTED_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    party: str
    consented: bool
    by: str
    reason: str
    availability: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    def __init__(self, request_id: _Optional[int] = ..., party: _Optional[str] = ..., consented: _Optional[bool] = ..., by: _Optional[str] = ..., reason: _Optional[str] = ..., availability: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ...) -> None: ...

class ImportRosterRequest(_message.Message):
    __slots__ = ("yaml", "dry_run")
    YAML_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    dry_run: bool
    def __init__(self, yaml: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ImportRosterResponse(_message.Message):
    __slots__ = ("mediators_added", "mediators_changed", "mediators_deactivated", "venues_added", "venues_changed", "venues_deactivated")
    MEDIATORS_ADDED_FIELD_NUMBER: _ClassVar[int]
    MEDIATORS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MEDIATORS_DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
    VENUES_ADDED_FIELD_NUMBER: _ClassVar[int]
    VENUES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    VENUES_DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
    mediators_added: _containers.RepeatedScalarFieldContainer[str]
    mediators_changed: _containers.RepeatedScalarFieldContainer[str]
    mediators_deactivated: _containers.RepeatedScalarFieldContainer[str]
    venues_added: _containers.RepeatedScalarFieldContainer[str]
    venues_changed: _containers.RepeatedScalarFieldContainer[str]
    venues_deactivated: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mediators_added: _Optional[_Iterable[str]] = ..., mediators_changed: _Optional[_Iterable[str]] = ..., mediators_deactivated: _Optional[_Iterable[str]] = ..., venues_added: _Optional[_Iterable[str]] = ..., venues_changed: _Optional[_Iterable[str]] = ..., venues_deactivated: _Optional[_Iterable[str]] = ...) -> None: ...

class Mediator(_message.Message):
    __slots__ = ("id", "name", "specialities", "languages", "elderly_suitable", "max_per_day", "max_per_week", "conflicts", "active", "leave")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPECIALITIES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    ELDERLY_SUITABLE_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_WEEK_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    LEAVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    specialities: _containers.RepeatedScalarFieldContainer[str]
    languages: _containers.RepeatedScalarFieldContainer[str]
    elderly_suitable: bool
    max_per_day: int
    max_per_week: int
    conflicts: _containers.RepeatedScalarFieldContainer[str]
    active: bool
    leave: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., specialities: _Optional[_Iterable[str]] = ..., languages: _Optional[_Iterable[str]] = ..., elderly_suitable: _Optional[bool] = ..., max_per_day: _Optional[int] = ..., max_per_week: _Optional[int] = ..., conflicts: _Optional[_Iterable[str]] = ..., active: _Optional[bool] = ..., leave: _Optional[_Iterable[str]] = ...) -> None: ...

class Venue(_message.Message):
    __slots__ = ("id", "name", "kind", "form", "capacity", "opens", "closes", "court_name", "active")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    OPENS_FIELD_NUMBER: _ClassVar[int]
    CLOSES_FIELD_NUMBER: _ClassVar[int]
    COURT_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: str
    form: str
    capacity: int
    opens: str
    closes: str
    court_name: str
    active: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., form: _Optional[str] = ..., capacity: _Optional[int] = ..., opens: _Optional[str] = ..., closes: _Optional[str] = ..., court_name: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class ListRosterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Roster(_message.Message):
    __slots__ = ("mediators", "venues")
    MEDIATORS_FIELD_NUMBER: _ClassVar[int]
    VENUES_FIELD_NUMBER: _ClassVar[int]
    mediators: _containers.RepeatedCompositeFieldContainer[Mediator]
    venues: _containers.RepeatedCompositeFieldContainer[Venue]
    def __init__(self, mediators: _Optional[_Iterable[_Union[Mediator, _Mapping]]] = ..., venues: _Optional[_Iterable[_Union[Venue, _Mapping]]] = ...) -> None: ...

class RecordLeaveRequest(_message.Message):
    __slots__ = ("mediator_id", "first_day", "last_day", "reason")
    MEDIATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_DAY_FIELD_NUMBER: _ClassVar[int]
    LAST_DAY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    mediator_id: str
    first_day: str
    last_day: str
    reason: str
    def __init__(self, mediator_id: _Optional[str] = ..., first_day: _Optional[str] = ..., last_day: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanSessionsRequest(_message.Message):
    __slots__ = ("horizon_working_days", "time_limit_seconds", "confirm", "request_ids")
    HORIZON_WORKING_DAYS_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    horizon_working_days: int
    time_limit_seconds: float
    confirm: bool
    request_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, horizon_working_days: _Optional[int] = ..., time_limit_seconds: _Optional[float] = ..., confirm: _Optional[bool] = ..., request_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Unscheduled(_message.Message):
    __slots__ = ("request_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    reason: str
    def __init__(self, request_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanResult(_message.Message):
    __slots__ = ("sessions", "unscheduled", "solver", "seconds", "kept", "moved")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    UNSCHEDULED_FIELD_NUMBER: _ClassVar[int]
    SOLVER_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    unscheduled: _containers.RepeatedCompositeFieldContainer[Unscheduled]
    solver: str
    seconds: float
    kept: int
    moved: int
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ..., unscheduled: _Optional[_Iterable[_Union[Unscheduled, _Mapping]]] = ..., solver: _Optional[str] = ..., seconds: _Optional[float] = ..., kept: _Optional[int] = ..., moved: _Optional[int] = ...) -> None: ...

class BookSessionRequest(_message.Message):
    __slots__ = ("request_id", "mediator_id", "venue_id", "start", "end", "confirm")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIATOR_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    mediator_id: str
    venue_id: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    confirm: bool
    def __init__(self, request_id: _Optional[int] = ..., mediator_id: _Optional[str] = ..., venue_id: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirm: _Optional[bool] = ...) -> None: ...

class ChangeSessionRequest(_message.Message):
    __slots__ = ("session_id", "note", "bring_forward")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    BRING_FORWARD_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    note: str
    bring_forward: bool
    def __init__(self, session_id: _Optional[int] = ..., note: _Optional[str] = ..., bring_forward: _Optional[bool] = ...) -> None: ...

class CancelSessionResponse(_message.Message):
    __slots__ = ("session", "replanned")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REPLANNED_FIELD_NUMBER: _ClassVar[int]
    session: Session
    replanned: PlanResult
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., replanned: _Optional[_Union[PlanResult, _Mapping]] = ...) -> None: ...

class RecordOutcomeRequest(_message.Message):
    __slots__ = ("session_id", "outcome", "amount_fen", "terms", "judicial_confirmation")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    JUDICIAL_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    session_id: int
    outcome: str
    amount_fen: int
    terms: str
    judicial_confirmation: bool
    def __init__(self, session_id: _Optional[int] = ..., outcome: _Optional[str] = ..., amount_fen: _Optional[int] = ..., terms: _Optional[str] = ..., judicial_confirmation: _Optional[bool] = ...) -> None: ...

class RecordJudicialConfirmationRequest(_message.Message):
    __slots__ = ("request_id", "court", "reference", "confirmed_on")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COURT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_ON_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    court: str
    reference: str
    confirmed_on: str
    def __init__(self, request_id: _Optional[int] = ..., court: _Optional[str] = ..., reference: _Optional[str] = ..., confirmed_on: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("request_id", "mediator_id", "state")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIATOR_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    mediator_id: str
    state: str
    def __init__(self, request_id: _Optional[int] = ..., mediator_id: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[Session, _Mapping]]] = ...) -> None: ...
