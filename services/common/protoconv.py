"""Conversions between protobuf messages and Python values, shared by every api."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.common.errors import InvalidArgument


def to_timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp, field: str) -> datetime | None:
    """None for an unset timestamp; InvalidArgument for one out of range."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(field, "is not a valid timestamp") from None


def enum_to_name(enum_type, value: int, field: str) -> str:
    """CASE_KIND_COMPLAINT → complaint; UNSPECIFIED or unknown numbers are refused."""
    prefix = enum_type.DESCRIPTOR.name
    # CaseKind → CASE_KIND_
    snake = "".join(f"_{c}" if c.isupper() else c for c in prefix).lstrip("_").upper() + "_"
    try:
        name = enum_type.Name(value)
    except ValueError:
        raise InvalidArgument(field, f"unknown value {value}") from None
    if name.endswith("_UNSPECIFIED"):
        raise InvalidArgument(field, "is required")
    return name.removeprefix(snake).lower()


def name_to_enum(enum_type, name: str) -> int:
    prefix = (
        "".join(f"_{c}" if c.isupper() else c for c in enum_type.DESCRIPTOR.name)
        .lstrip("_")
        .upper()
    )
    try:
        return enum_type.Value(f"{prefix}_{name.upper()}")
    except ValueError:
        return 0


def page(page_size: int, page_token: str, field: str = "page_token") -> tuple[int, int]:
    """(limit, after_id) from a request's paging fields."""
    size = page_size or 50
    if not 1 <= size <= 500:
        raise InvalidArgument("page_size", "must be between 1 and 500")
    after = 0
    if page_token:
        try:
            after = int(page_token)
        except ValueError:
            raise InvalidArgument(field, "is not a token this server issued") from None
    return size, after
