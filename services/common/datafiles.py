"""Data files an operator edits without a release (policies, tables): read, parsed, cached."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")


class LinedDict(dict):
    """A YAML mapping that remembers its line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict


class LinedList(list):
    """A YAML sequence that remembers its line and each item's line (1-based)."""

    line: int = 0
    item_lines: list


class LineLoader(yaml.SafeLoader):
    """Safe YAML whose mappings and sequences know their lines, and that refuses a key given
    twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key_node.value!r} given twice (first at line {seen[key_node.value]})",
                        key_node.start_mark,
                    )
                seen[key_node.value] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _lined_mapping(loader: LineLoader, node: yaml.MappingNode):
    data = LinedDict()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool):
            data.key_lines.setdefault(key, key_node.start_mark.line + 1)


def _lined_sequence(loader: LineLoader, node: yaml.SequenceNode):
    data = LinedList()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", _lined_mapping)
LineLoader.add_constructor("tag:yaml.org,2002:seq", _lined_sequence)


def line_of(container: object, key: object = None) -> int:
    """The line of `key` in a mapping (or index in a sequence) read by LineLoader, else of the
    container itself; 0 when unknown (a document built in code)."""
    if key is not None:
        line = 0
        if isinstance(container, LinedDict):
            line = container.key_lines.get(key, 0)
        elif isinstance(container, LinedList) and isinstance(key, int):
            line = container.item_lines[key] if 0 <= key < len(container.item_lines) else 0
        if line:
            return line
    return getattr(container, "line", 0)


def at_line(message: str, container: object, key: object = None) -> str:
    """`message` with "(line N)" appended when the line is known."""
    line = line_of(container, key)
    return f"{message} (line {line})" if line else message


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text; ValueError names the line of the first byte that is not."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"not UTF-8 text (line {line})") from None


def parse_yaml(text: str, loader: type[yaml.SafeLoader] = LineLoader) -> object:
    """YAML text read with line numbers; ValueError in one line naming the line at fault."""
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or exc.context or "").split())
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValueError(f"not valid YAML: {problem}{where}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {' '.join(str(exc).split())}") from None


def load_yaml(path: str | Path, parse: Callable[[object], T], label: str) -> T:
    """`parse` of the YAML at `path`, cached until the file changes.

    Keyed by modification time, so an edited file is picked up without a restart. A file that is
    not UTF-8 or not YAML, or that `parse` refuses (ValueError), raises ValueError in one line
    naming `label`, the path and, where known, the line. Mappings and sequences reach `parse`
    as LinedDict and LinedList, so `parse` can name lines with at_line().
    """
    resolved = Path(path).resolve()
    return _load(str(resolved), resolved.stat().st_mtime_ns, parse, label)


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime_ns: int, parse: Callable[[object], T], label: str) -> T:
    del mtime_ns  # only part of the cache key
    try:
        raw = parse_yaml(read_text(path))
        if raw is None:
            raise ValueError("the file is empty (line 1)")
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"{label} {path}: {exc}") from exc
