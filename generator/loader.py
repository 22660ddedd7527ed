"""Load `workload.yaml` into a validated `Workload`; every problem becomes a located message."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path, PurePath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from drgen.errors import Problem, WorkloadError
from drgen.schema import Loc, Workload
from drgen.yamlsource import Document, SourceMap, read_document

PROMPT_FILE_MAX_BYTES = 1024 * 1024
"""Prompts travel inside the generated project; anything larger belongs in the model bucket."""


@dataclass(frozen=True)
class SourcedWorkload:
    """A validated workload with where it came from and the prompt files it ships."""

    workload: Workload
    file: str
    prompt_files: tuple[tuple[str, str], ...] = ()
    """(path relative to the prompts folder, text), sorted by path."""


def load_workload(path: Path) -> SourcedWorkload:
    """Read, validate and enrich one workload file; raise `WorkloadError` with every problem."""
    document = read_document(path)
    problems = list(document.problems)
    collected: list[tuple[Loc, str]] = []
    workload: Workload | None = None
    try:
        workload = Workload.model_validate(document.data, context={"problems": collected})
    except ValidationError as error:
        problems.extend(_problem_from(detail, document) for detail in error.errors())
    problems.extend(document.source.problem(loc, message) for loc, message in collected)
    prompt_files: tuple[tuple[str, str], ...] = ()
    if workload is not None and workload.components.prompts is not None:
        prompt_files, prompt_problems = _read_prompts(
            path.parent, workload.components.prompts.path, document.source
        )
        problems.extend(prompt_problems)
    if problems or workload is None:
        raise WorkloadError(problems)
    return SourcedWorkload(workload, document.source.file, prompt_files)


def _problem_from(detail: ErrorDetails, document: Document) -> Problem:
    loc: Loc = tuple(detail["loc"])
    kind = detail["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        close = get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
        return document.source.problem(loc, f"unknown key {key!r}; {hint}", prefer_key=True)
    if kind == "missing":
        return document.source.problem(loc, f"missing required key {loc[-1]!r}")
    message = detail["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = f"{detail['input']!r} does not match {detail['ctx']['pattern']}"
    elif kind in {"model_type", "dict_type"}:
        message = f"expected a mapping of keys, got {detail['input']!r}"
    return document.source.problem(loc, message)


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the schema accepts at `loc`, for "did you mean" hints."""
    annotation: Any = Workload
    for part in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = annotation.model_fields[str(part)].annotation
        else:
            args = typing.get_args(annotation)
            annotation = args[-1] if args else Any
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> `X`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _read_prompts(
    base: Path, relative: str, source: SourceMap
) -> tuple[tuple[tuple[str, str], ...], list[Problem]]:
    loc: Loc = ("components", "prompts", "path")
    folder = base / relative
    if not folder.is_dir():
        return (), [source.problem(loc, f"folder {relative!r} not found next to the workload file")]
    files: list[tuple[str, str]] = []
    problems: list[Problem] = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = file.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in PurePath(name).parts):
            continue
        data = file.read_bytes()
        if len(data) > PROMPT_FILE_MAX_BYTES:
            problems.append(
                source.problem(loc, f"{name} is over 1 MiB; keep large files in the model bucket")
            )
            continue
        try:
            files.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            problems.append(source.problem(loc, f"{name} is not UTF-8 text"))
    if not files and not problems:
        problems.append(source.problem(loc, f"folder {relative!r} has no files to deploy"))
    return tuple(files), problems
