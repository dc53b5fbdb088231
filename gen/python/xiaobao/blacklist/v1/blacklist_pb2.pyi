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
