"""Read a YAML document into plain Python data, remembering where every key and value stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgen.errors import Problem, WorkloadError, display_path

Loc = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class SourceMap:
    """Line and column (1-based) of each key and each value, by its path in the document."""

    file: str
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Loc, *, prefer_key: bool = False) -> tuple[int, int]:
        """The position of `loc`, or of its closest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            prefix = loc[:end]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            if prefix in first:
                return first[prefix]
            if prefix in second:
                return second[prefix]
        return (1, 1)

    def problem(self, loc: Loc, message: str, *, prefer_key: bool = False) -> Problem:
        """A `Problem` placed at `loc`."""
        line, column = self.locate(loc, prefer_key=prefer_key)
        return Problem(self.file, line, column, format_loc(loc), message)


@dataclass
class Document:
    """A YAML mapping as plain data, its source map, and problems found while reading it."""

    data: dict[str, Any]
    source: SourceMap
    problems: list[Problem]


def format_loc(loc: Loc) -> str:
    """`("vendors", 0, "role")` as `vendors[0].role`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_document(path: Path) -> Document:
    """Parse `path` as one YAML mapping; raise `WorkloadError` when it cannot be read as one."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkloadError([Problem(shown, 1, 1, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise WorkloadError([Problem(shown, 1, 1, "", f"cannot read the file: {error}")]) from None
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(part for part in (error.context, error.problem) if part)
        raise WorkloadError(
            [Problem(shown, line, column, "", f"YAML syntax error: {reason}")]
        ) from None
    except yaml.YAMLError as error:
        raise WorkloadError([Problem(shown, 1, 1, "", f"YAML error: {error}")]) from None
    if root is None:
        raise WorkloadError(
            [Problem(shown, 1, 1, "", "the file is empty; run `drgen init` for a starter")]
        )
    if not isinstance(root, yaml.MappingNode):
        line, column = root.start_mark.line + 1, root.start_mark.column + 1
        raise WorkloadError(
            [Problem(shown, line, column, "", "expected a mapping of keys (name:, tier:, ...)")]
        )
    reader = _NodeReader(SourceMap(shown))
    data = reader.read(root, ())
    return Document(data, reader.source, reader.problems)


class _NodeReader:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._scalars = _Loader("")

    def read(self, node: yaml.Node, loc: Loc) -> Any:
        self.source.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._read_mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*loc, index)) for index, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)

    def _read_mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            key = (
                self._scalars.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str | int | float | bool) or isinstance(key, bool):
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "(complex)"
                self.problems.append(
                    Problem(
                        self.source.file,
                        *position,
                        format_loc(loc),
                        f"key {shown!r} must be a plain word; quote it if you meant a string",
                    )
                )
                continue
            key = str(key)
            child = (*loc, key)
            if key in mapping:
                first_line = self.source.keys[child][0]
                self.problems.append(
                    Problem(
                        self.source.file,
                        *position,
                        format_loc(child),
                        f"duplicate key (first set on line {first_line}); keep one of them",
                    )
                )
                continue
            self.source.keys[child] = position
            mapping[key] = self.read(value_node, child)
        return mapping
