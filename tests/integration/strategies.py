"""Hypothesis strategies of bad input for the gRPC methods and the consumer HTTP API: odd and
huge texts, numbers at and past their limits, enum numbers no proto names, times in the future or
before 1990, and arbitrary values for any protobuf field from its descriptor."""

from __future__ import annotations

import time
from datetime import datetime

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import strategies as st

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# Timestamp's valid range (0001-01-01 to 9999-12-31) and 1990-01-01, all in seconds.
TS_MIN, TS_MAX = -62_135_596_800, 253_402_300_799
Y1990 = 631_152_000
Y2020 = 1_577_836_800
# gRPC refuses a message larger than this before any method sees it (RESOURCE_EXHAUSTED).
GRPC_MAX_MESSAGE = 4 * 1024 * 1024

# Texts that have broken parsers, databases and terminals somewhere.
ODD = (
    "\x00",
    "a\x00b",
    "\x07\x08\x1b[31m",
    "\x7f",
    "\u202e\u0645\u0631\u062d\u0628\u0627",  # right-to-left override, Arabic
    "\ufeff",
    "\u200b\u200d",
    "\u3000",  # ideographic space: blank to str.strip()
    " \t\r\n",
    "\uffff\ufffe",
    "\U0010ffff",
    "\U00020000\U0002a6d6",  # CJK extension B
    "１３９１２３４５６７８",  # full-width digits
    "١٢٣٤٥٦",  # Arabic-Indic digits
    "²³",  # digits to str.isdigit(), not to int()
    "e\u0301\u0301\u0301",
    "👨‍👩‍👧‍👦",
    "'; DROP TABLE case; --",
    "%s%n%x",
    "{{7*7}}${7*7}",
    "../../etc/passwd",
    "\\u0000",
    "NaN",
    "null",
    "-0",
    "1e309",
    "CL" + "9" * 40,
    "XB" + "9" * 40,
)
# About 1 MB each in UTF-8.
HUGE = ("字" * 350_000, "a" * 1_000_000)


def odd_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Short strings of any Unicode (no surrogates: protobuf strings cannot carry them)."""
    return st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=max_size),
        st.sampled_from(ODD),
        st.lists(st.sampled_from(ODD), min_size=2, max_size=4).map("".join),
    )


def any_text() -> st.SearchStrategy[str]:
    return st.one_of(odd_text(), st.sampled_from(HUGE))


def blank() -> st.SearchStrategy[str]:
    """What a person would call empty: nothing, or only whitespace."""
    return st.sampled_from(("", " ", "\t\n", "\u3000", " \u3000 \r\n"))


def longer_than(limit: int) -> st.SearchStrategy[str]:
    """Non-blank text of more than `limit` characters, up to about a megabyte."""
    return st.one_of(
        st.integers(limit + 1, limit + 50).map(lambda n: "字" * n),
        st.integers(limit + 1, limit + 5).map(lambda n: "x" * n),
        st.sampled_from(tuple(h for h in HUGE if len(h) > limit)),
    )


def with_nul() -> st.SearchStrategy[str]:
    """Text containing U+0000, which no field means and PostgreSQL cannot store."""
    return st.tuples(odd_text(10), odd_text(10)).map(lambda p: f"{p[0]}\x00{p[1]}")


def required_text(limit: int) -> st.SearchStrategy[str]:
    """Values a required text field of at most `limit` characters must refuse."""
    return st.one_of(blank(), longer_than(limit), with_nul())


def optional_text(limit: int) -> st.SearchStrategy[str]:
    return st.one_of(longer_than(limit), with_nul())


def int64s() -> st.SearchStrategy[int]:
    edges = (*INT64, *INT32, -1, 0, 1, 2**53 + 1, 10**13 + 1)
    return st.one_of(st.integers(*INT64), st.sampled_from(edges))


def int32s() -> st.SearchStrategy[int]:
    edges = (*INT32, -1, 0, 1, 2**15, 10**6)
    return st.one_of(st.integers(*INT32), st.sampled_from(edges))


def outside(low: int, high: int, bits: int = 64) -> st.SearchStrategy[int]:
    """Integers of the field's width below `low` or above `high`."""
    least, most = INT64 if bits == 64 else INT32
    return st.one_of(
        st.integers(least, low - 1),
        st.integers(high + 1, most),
        st.sampled_from((least, low - 1, high + 1, most)),
    )


def doubles() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from((float("nan"), float("inf"), -float("inf"), -0.0, 1e308, -1e-308)),
    )


def bad_enum(enum_type, unspecified: bool = True) -> st.SearchStrategy[int]:
    """Numbers the enum does not name (proto3 enums are open: they reach the server as they
    are), and UNSPECIFIED (0) when it means "missing"."""
    known = set(enum_type.values())
    unnamed = st.integers(*INT32).filter(lambda v: v not in known)
    extra = [0] if unspecified else []
    edges = [v for v in (*INT32, -1, max(known) + 1, 1, 2, 3) if v not in known]
    return st.one_of(unnamed, st.sampled_from([*edges, *extra]))


def _timestamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def future_times(margin: int = 3600) -> st.SearchStrategy[Timestamp]:
    """From `margin` seconds ahead of the moment drawn to some 8,000 years later (fixed
    bounds: hypothesis replays draws, so they must not move with the clock)."""
    return st.integers(margin, 250_000_000_000).map(
        lambda ahead: _timestamp(int(time.time()) + ahead)
    )


def before_1990() -> st.SearchStrategy[Timestamp]:
    # (0, 0) is excluded: it is the unset Timestamp, which means "now".
    return st.integers(TS_MIN, Y1990 - 1).filter(bool).map(_timestamp)


def invalid_times() -> st.SearchStrategy[Timestamp]:
    """Timestamps no datetime can hold: seconds past 0001-9999, nanos outside 0..999,999,999."""
    return st.one_of(
        st.integers(TS_MAX + 1, INT64[1]).map(_timestamp),
        st.integers(INT64[0], TS_MIN - 1).map(_timestamp),
        st.tuples(st.integers(TS_MIN, TS_MAX), st.integers(INT32[0], -1)).map(
            lambda p: _timestamp(*p)
        ),
        st.tuples(st.integers(TS_MIN, TS_MAX), st.integers(10**9, INT32[1])).map(
            lambda p: _timestamp(*p)
        ),
    )


def bad_times() -> st.SearchStrategy[Timestamp]:
    return st.one_of(future_times(), before_1990(), invalid_times())


def any_times() -> st.SearchStrategy[Timestamp]:
    return st.one_of(
        bad_times(),
        st.integers(Y1990, Y2020).map(_timestamp),
        st.just(Timestamp()),
    )


def bad_days() -> st.SearchStrategy[str]:
    """Texts that are not YYYY-MM-DD dates."""

    def not_a_date(value: str) -> bool:
        try:
            datetime.strptime(value.strip(), "%Y-%m-%d")
        except ValueError:
            return True
        return False

    return st.one_of(
        st.sampled_from(
            ("2026-02-30", "2026-13-01", "2026-00-10", "26-01-01", "2026/01/01", "2026-1-1x")
        ),
        st.sampled_from(("+99999-01-01", "0000-01-01", "１９９０-０１-０１")),
        odd_text().filter(lambda v: v.strip() != "" and not_a_date(v)),
    )


# --- arbitrary values for any field, from the descriptor ------------------------------------------

_SCALARS = {
    FieldDescriptor.TYPE_STRING: any_text,
    FieldDescriptor.TYPE_BYTES: lambda: st.binary(max_size=64),
    FieldDescriptor.TYPE_BOOL: st.booleans,
    FieldDescriptor.TYPE_INT32: int32s,
    FieldDescriptor.TYPE_SINT32: int32s,
    FieldDescriptor.TYPE_SFIXED32: int32s,
    FieldDescriptor.TYPE_INT64: int64s,
    FieldDescriptor.TYPE_SINT64: int64s,
    FieldDescriptor.TYPE_SFIXED64: int64s,
    FieldDescriptor.TYPE_ENUM: int32s,
    FieldDescriptor.TYPE_DOUBLE: doubles,
    FieldDescriptor.TYPE_FLOAT: lambda: st.floats(width=32, allow_nan=True),
}


def is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def is_timestamp(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.full_name == (
        "google.protobuf.Timestamp"
    )


def leaves(descriptor, prefix: str = "", depth: int = 3) -> dict[str, FieldDescriptor]:
    """Every settable field of a request by its dotted path: scalars, Timestamps, repeated
    fields and maps as a whole, and the fields of nested messages (and the message itself)."""
    out: dict[str, FieldDescriptor] = {}
    for field in descriptor.fields:
        path = f"{prefix}{field.name}"
        out[path] = field
        nested = field.message_type
        if nested is not None and not is_repeated(field) and not is_timestamp(field) and depth:
            out.update(leaves(nested, f"{path}.", depth - 1))
    return out


def arbitrary(field: FieldDescriptor) -> st.SearchStrategy:
    """Any value a client can put in `field`, valid or not; None clears it."""
    if is_map(field):
        key, value = (
            field.message_type.fields_by_name["key"],
            field.message_type.fields_by_name["value"],
        )
        return st.dictionaries(_scalar(key, short=True), _scalar(value), max_size=4)
    if is_timestamp(field):
        item = any_times()
    elif field.message_type is not None:
        item = st.just(None) if not is_repeated(field) else _message(field.message_type)
    else:
        item = _scalar(field)
    if is_repeated(field):
        return st.one_of(
            st.lists(item, max_size=4),
            st.lists(item, min_size=51, max_size=60) if field.message_type else st.nothing(),
        )
    return st.one_of(item, st.just(None))


def _scalar(field: FieldDescriptor, short: bool = False) -> st.SearchStrategy:
    if short and field.type == FieldDescriptor.TYPE_STRING:
        return odd_text(20)
    return _SCALARS[field.type]()


def _message(descriptor) -> st.SearchStrategy:
    """A message of `descriptor` with arbitrary scalar and Timestamp fields (one level)."""
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(descriptor)
    fields = [
        f
        for f in descriptor.fields
        if not is_repeated(f) and (f.message_type is None or is_timestamp(f))
    ]

    def build(values: dict) -> object:
        message = cls()
        for name, value in values.items():
            field = descriptor.fields_by_name[name]
            if is_timestamp(field):
                getattr(message, name).CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    return st.fixed_dictionaries(
        {},
        optional={
            f.name: (any_times() if is_timestamp(f) else _scalar(f, short=True)) for f in fields
        },
    ).map(build)


def assign(message, path: str, value) -> None:
    """Sets the field at dotted `path` to `value`; None clears it (a missing field)."""
    *parents, name = path.split(".")
    for parent in parents:
        message = getattr(message, parent)
    field = message.DESCRIPTOR.fields_by_name[name]
    if value is None:
        message.ClearField(name)
    elif is_map(field):
        target = getattr(message, name)
        target.clear()
        target.update(value)
    elif is_repeated(field):
        target = getattr(message, name)
        del target[:]
        if field.message_type is not None:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.message_type is not None:
        getattr(message, name).CopyFrom(value)
    else:
        setattr(message, name, value)
