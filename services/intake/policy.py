"""Intake's policy file: the repeat-complaint window and the consumer page's guessing limits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from services.common.datafiles import load_yaml

DEFAULT_FILE = Path(__file__).parent / "data" / "intake_policy.yaml"
FILE_ENV = "XIAOBAO_INTAKE_POLICY_FILE"


@dataclass(frozen=True)
class IntakePolicy:
    version: str
    repeat_window_days: int
    institution_similarity: float
    lookup_window_minutes: int
    lookup_failures_per_case: int
    lookup_failures_per_address: int


def _positive(section: dict, key: str, where: str, upper: float | None = None) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{where}.{key}: must be a positive number, not {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{where}.{key}: must be at most {upper}, not {value!r}")
    return value


def parse(raw: object) -> IntakePolicy:
    if not isinstance(raw, dict):
        raise ValueError("the intake policy must be a mapping")
    unknown = set(raw) - {"version", "repeat", "consumer_lookup"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    repeat, lookup = raw.get("repeat"), raw.get("consumer_lookup")
    if not isinstance(repeat, dict) or not isinstance(lookup, dict):
        raise ValueError("repeat and consumer_lookup: must be mappings")
    return IntakePolicy(
        version=str(raw.get("version", "")),
        repeat_window_days=int(_positive(repeat, "window_days", "repeat")),
        institution_similarity=_positive(repeat, "institution_similarity", "repeat", 100),
        lookup_window_minutes=int(_positive(lookup, "window_minutes", "consumer_lookup")),
        lookup_failures_per_case=int(_positive(lookup, "failures_per_case", "consumer_lookup")),
        lookup_failures_per_address=int(
            _positive(lookup, "failures_per_address", "consumer_lookup")
        ),
    )


def load() -> IntakePolicy:
    return load_yaml(os.environ.get(FILE_ENV) or DEFAULT_FILE, parse, "intake policy")
