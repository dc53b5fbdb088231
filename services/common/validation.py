"""Checks every api and domain applies to a caller's text and dates: required, not too long,
well-formed."""

from __future__ import annotations

from datetime import date

from services.common.errors import InvalidArgument


def text(value: str, field: str, limit: int, required: bool = True) -> str:
    """`value` stripped; InvalidArgument naming `field` when empty (if required) or too long."""
    value = value.strip()
    if required and not value:
        raise InvalidArgument(field, "is required")
    if len(value) > limit:
        raise InvalidArgument(field, f"is longer than {limit} characters")
    return value


def day(value: str, field: str, required: bool = True) -> date | None:
    """A YYYY-MM-DD date; None when empty and not required; InvalidArgument naming `field`."""
    value = value.strip()
    if not value:
        if required:
            raise InvalidArgument(field, "is required (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(field, f"is not a date like 2026-09-15: {value!r}") from None
