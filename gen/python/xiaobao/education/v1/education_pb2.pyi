from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetComplaintTopicsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TopicCount(_message.Message):
    __slots__ = ("product", "region_code", "cases")
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    product: str
    region_code: str
    cases: int
    def __init__(self, product: _Optional[str] = ..., region_code: _Optional[str] = ..., cases: _Optional[int] = ...) -> None: ...

class ComplaintTopics(_message.Message):
    __slots__ = ("topics", "cases_seen")
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    CASES_SEEN_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedCompositeFieldContainer[TopicCount]
    cases_seen: int
    def __init__(self, topics: _Optional[_Iterable[_Union[TopicCount, _Mapping]]] = ..., cases_seen: _Optional[int] = ...) -> None: ...
