"""Read a YAML document into plain Python data, remembering where every key and value stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drgen.errors import Problem, WorkloadError, display_path
from drgen.files import read_at_most

Loc = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DOCUMENT_MAX_BYTES = 256 * 1024
"""A workload is a page of settings; anything larger is not one, and is not read."""
DOCUMENT_MAX_DEPTH = 20
"""The schema nests four levels deep; deeper documents are refused before they are built."""


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
    unreadable: frozenset[Loc] = frozenset()
    """Values already reported as unreadable; schema errors about them would repeat the news."""


def format_loc(loc: Loc) -> str:
    """`("vendors", 0, "role")` as `vendors[0].role`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_document(path: Path) -> Document:
    """Parse `path` as one YAML mapping; raise `WorkloadError` when it cannot be read as one."""
    shown = display_path(path)
    if path.is_symlink():
        # A committed link could point anywhere the CI job can read, and messages echo values.
        raise WorkloadError(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "",
                    "is a symbolic link; drgen reads workload files only as"
                    " regular files: name the file it points to",
                )
            ]
        )
    try:
        if path.exists() and not path.is_file():
            raise WorkloadError([Problem(shown, 1, 1, "", "not a regular file")])
        raw = read_at_most(path, DOCUMENT_MAX_BYTES)
    except FileNotFoundError:
        raise WorkloadError([Problem(shown, 1, 1, "", "file not found")]) from None
    except OSError as error:
        raise WorkloadError(
            [Problem(shown, 1, 1, "", f"cannot read the file: {error.strerror or error}")]
        ) from None
    if len(raw) > DOCUMENT_MAX_BYTES:
        raise WorkloadError(
            [
                Problem(
                    shown,
                    1,
                    1,
                    "",
                    f"the file is over {DOCUMENT_MAX_BYTES // 1024} KiB, the limit"
                    " for a workload; is this the right file?",
                )
            ]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise WorkloadError(
            [Problem(shown, line, 1, "", f"not UTF-8 text (byte {error.start + 1})")]
        ) from None
    try:
        _refuse_aliases_and_depth(text, shown)
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
    return Document(data, reader.source, reader.problems, frozenset(reader.unreadable))


def _refuse_aliases_and_depth(text: str, shown: str) -> None:
    """Walk the parser's events (linear in the file) before anything is built.

    An alias re-uses a node, so a few hundred bytes of aliases of aliases expand into billions
    of values; a workload has no use for them. Deep nesting would exhaust the recursion that
    builds the data. Both are refused here, at the offending spot.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line, column = (
            (event.start_mark.line + 1, event.start_mark.column + 1) if event.start_mark else (1, 1)
        )
        if isinstance(event, yaml.AliasEvent):
            message = (
                f"YAML alias *{event.anchor} is not supported in a workload; write the value out"
            )
            raise WorkloadError([Problem(shown, line, column, "", message)])
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > DOCUMENT_MAX_DEPTH:
                message = (
                    f"nested more than {DOCUMENT_MAX_DEPTH} levels deep; a workload needs four"
                )
                raise WorkloadError([Problem(shown, line, column, "", message)])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


class _NodeReader:
    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.unreadable: set[Loc] = set()
        self._scalars = _Loader("")

    def read(self, node: yaml.Node, loc: Loc) -> Any:
        self.source.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._read_mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.read(item, (*loc, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, loc)

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        """The scalar's value; a value the YAML resolver cannot build (an impossible date such as
        2024-02-30, which YAML reads as a timestamp) is a located problem, kept as text."""
        try:
            return self._scalars.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as error:
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            self.unreadable.add(loc)
            self.problems.append(
                Problem(
                    self.source.file,
                    line,
                    column,
                    format_loc(loc),
                    f"{node.value!r} is not a real date ({error}); write YYYY-MM-DD,"
                    " or quote it if it is not a date"
                    if node.tag == "tag:yaml.org,2002:timestamp"
                    else f"{node.value!r} cannot be read: {error}",
                )
            )
            return str(node.value)

    def _read_mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            position = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            key = self._scalar(key_node, loc) if isinstance(key_node, yaml.ScalarNode) else None
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
