"""Conversions between protobuf messages and Python values, shared by every api."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.common.errors import InvalidArgument

MAX_ID = 2**31 - 1  # the largest id of a 32-bit id column


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


def nul_field(message, prefix: str = "") -> str | None:
    """The path of the first string field holding U+0000, or None. Protobuf strings may carry
    it; no field of ours means it, and PostgreSQL cannot store it or even compare with it."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items = value.items()
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    return path
                if isinstance(item, str) and "\x00" in item:
                    return f"{path}.{key}"
                if hasattr(item, "ListFields") and (found := nul_field(item, f"{path}.{key}.")):
                    return found
        elif field.is_repeated:
            for i, item in enumerate(value):
                if isinstance(item, str):
                    if "\x00" in item:
                        return f"{path}[{i}]"
                elif hasattr(item, "ListFields") and (found := nul_field(item, f"{path}[{i}].")):
                    return found
        elif isinstance(value, str):
            if "\x00" in value:
                return path
        elif field.message_type is not None and (found := nul_field(value, f"{path}.")):
            return found
    return None


def refuse_nul(message) -> None:
    """InvalidArgument naming the first string field of `message` that holds U+0000 (a method
    registered without a deserializer receives bytes: nothing to check)."""
    if not hasattr(message, "ListFields"):
        return
    path = nul_field(message)
    if path is not None:
        raise InvalidArgument(path, "contains a NUL character (U+0000)")


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
        # Tokens are row ids, and id columns are 32-bit: PostgreSQL refuses a larger number.
        if not 0 <= after <= MAX_ID:
            raise InvalidArgument(field, "is not a token this server issued")
    return size, after
