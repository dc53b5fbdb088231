import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
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
