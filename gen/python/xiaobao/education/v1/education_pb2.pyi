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

class Campaign(_message.Message):
    __slots__ = ("code", "theme", "title", "starts_on", "ends_on", "organiser", "co_organisers", "target_groups", "regions")
    CODE_FIELD_NUMBER: _ClassVar[int]
    THEME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    STARTS_ON_FIELD_NUMBER: _ClassVar[int]
    ENDS_ON_FIELD_NUMBER: _ClassVar[int]
    ORGANISER_FIELD_NUMBER: _ClassVar[int]
    CO_ORGANISERS_FIELD_NUMBER: _ClassVar[int]
    TARGET_GROUPS_FIELD_NUMBER: _ClassVar[int]
    REGIONS_FIELD_NUMBER: _ClassVar[int]
    code: str
    theme: str
    title: str
    starts_on: str
    ends_on: str
    organiser: str
    co_organisers: _containers.RepeatedScalarFieldContainer[str]
    target_groups: _containers.RepeatedScalarFieldContainer[str]
    regions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, code: _Optional[str] = ..., theme: _Optional[str] = ..., title: _Optional[str] = ..., starts_on: _Optional[str] = ..., ends_on: _Optional[str] = ..., organiser: _Optional[str] = ..., co_organisers: _Optional[_Iterable[str]] = ..., target_groups: _Optional[_Iterable[str]] = ..., regions: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertCampaignResponse(_message.Message):
    __slots__ = ("campaign", "created")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    created: bool
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class Activity(_message.Message):
    __slots__ = ("campaign_code", "held_on", "place_type", "region_code", "grid_cell", "format", "organiser", "title", "reported_by")
    CAMPAIGN_CODE_FIELD_NUMBER: _ClassVar[int]
    HELD_ON_FIELD_NUMBER: _ClassVar[int]
    PLACE_TYPE_FIELD_NUMBER: _ClassVar[int]
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    GRID_CELL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ORGANISER_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    campaign_code: str
    held_on: str
    place_type: str
    region_code: str
    grid_cell: str
    format: str
    organiser: str
    title: str
    reported_by: str
    def __init__(self, campaign_code: _Optional[str] = ..., held_on: _Optional[str] = ..., place_type: _Optional[str] = ..., region_code: _Optional[str] = ..., grid_cell: _Optional[str] = ..., format: _Optional[str] = ..., organiser: _Optional[str] = ..., title: _Optional[str] = ..., reported_by: _Optional[str] = ...) -> None: ...

class OnlineFigure(_message.Message):
    __slots__ = ("work", "platform", "reads")
    WORK_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    work: str
    platform: str
    reads: int
    def __init__(self, work: _Optional[str] = ..., platform: _Optional[str] = ..., reads: _Optional[int] = ...) -> None: ...

class Reach(_message.Message):
    __slots__ = ("participants", "by_group", "materials", "online", "reported_on")
    class ByGroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    BY_GROUP_FIELD_NUMBER: _ClassVar[int]
    MATERIALS_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    REPORTED_ON_FIELD_NUMBER: _ClassVar[int]
    participants: int
    by_group: _containers.ScalarMap[str, int]
    materials: int
    online: _containers.RepeatedCompositeFieldContainer[OnlineFigure]
    reported_on: str
    def __init__(self, participants: _Optional[int] = ..., by_group: _Optional[_Mapping[str, int]] = ..., materials: _Optional[int] = ..., online: _Optional[_Iterable[_Union[OnlineFigure, _Mapping]]] = ..., reported_on: _Optional[str] = ...) -> None: ...

class RecordActivityRequest(_message.Message):
    __slots__ = ("activity", "reach", "note")
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    REACH_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    activity: Activity
    reach: Reach
    note: str
    def __init__(self, activity: _Optional[_Union[Activity, _Mapping]] = ..., reach: _Optional[_Union[Reach, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class RecordActivityResponse(_message.Message):
    __slots__ = ("activity_id", "duplicate", "reach_version")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    REACH_VERSION_FIELD_NUMBER: _ClassVar[int]
    activity_id: int
    duplicate: bool
    reach_version: int
    def __init__(self, activity_id: _Optional[int] = ..., duplicate: _Optional[bool] = ..., reach_version: _Optional[int] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("to", "by")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    to: str
    by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, to: _Optional[str] = ..., by: _Optional[_Iterable[str]] = ..., **kwargs) -> None: ...

class ReportRow(_message.Message):
    __slots__ = ("keys", "activities", "participants", "materials", "online_reads")
    class KeysEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    MATERIALS_FIELD_NUMBER: _ClassVar[int]
    ONLINE_READS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.ScalarMap[str, str]
    activities: int
    participants: int
    materials: int
    online_reads: int
    def __init__(self, keys: _Optional[_Mapping[str, str]] = ..., activities: _Optional[int] = ..., participants: _Optional[int] = ..., materials: _Optional[int] = ..., online_reads: _Optional[int] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("to", "totals", "rows")
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    to: str
    totals: ReportRow
    rows: _containers.RepeatedCompositeFieldContainer[ReportRow]
    def __init__(self, to: _Optional[str] = ..., totals: _Optional[_Union[ReportRow, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[ReportRow, _Mapping]]] = ..., **kwargs) -> None: ...

class HotspotsRequest(_message.Message):
    __slots__ = ("to",)
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    to: str
    def __init__(self, to: _Optional[str] = ..., **kwargs) -> None: ...

class Hotspot(_message.Message):
    __slots__ = ("region_code", "topic", "complaints", "previous", "rise", "participants", "suggestion")
    REGION_CODE_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    COMPLAINTS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    RISE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    region_code: str
    topic: str
    complaints: int
    previous: int
    rise: float
    participants: int
    suggestion: str
    def __init__(self, region_code: _Optional[str] = ..., topic: _Optional[str] = ..., complaints: _Optional[int] = ..., previous: _Optional[int] = ..., rise: _Optional[float] = ..., participants: _Optional[int] = ..., suggestion: _Optional[str] = ...) -> None: ...

class HotspotsResponse(_message.Message):
    __slots__ = ("hotspots",)
    HOTSPOTS_FIELD_NUMBER: _ClassVar[int]
    hotspots: _containers.RepeatedCompositeFieldContainer[Hotspot]
    def __init__(self, hotspots: _Optional[_Iterable[_Union[Hotspot, _Mapping]]] = ...) -> None: ...
