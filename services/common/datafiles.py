"""Data files an operator edits without a release (policies, tables): read, parsed, cached."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")


def load_yaml(path: str | Path, parse: Callable[[object], T], label: str) -> T:
    """`parse` of the YAML at `path`, cached until the file changes.

    Keyed by modification time, so an edited file is picked up without a restart. A file that is
    not YAML, or that `parse` refuses (ValueError), raises ValueError naming `label` and the path.
    """
    resolved = Path(path).resolve()
    return _load(str(resolved), resolved.stat().st_mtime_ns, parse, label)


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, parse: Callable[[object], T], label: str) -> T:
    del mtime_ns  # only part of the cache key
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{label} {path}: not valid YAML: {exc}") from exc
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"{label} {path}: {exc}") from exc
