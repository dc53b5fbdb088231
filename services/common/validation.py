"""Checks every api and domain applies to a caller's text: required, and not too long."""

from __future__ import annotations

from services.common.errors import InvalidArgument


def text(value: str, field: str, limit: int, required: bool = True) -> str:
    """`value` stripped; InvalidArgument naming `field` when empty (if required) or too long."""
    value = value.strip()
    if required and not value:
        raise InvalidArgument(field, "is required")
    if len(value) > limit:
        raise InvalidArgument(field, f"is longer than {limit} characters")
    return value
