"""Load `workload.yaml` into a validated `Workload`; every problem becomes a located message."""

from __future__ import annotations

import os
import stat
import types
import typing
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from drgen.errors import Problem, WorkloadError
from drgen.files import read_at_most
from drgen.schema import Workload
from drgen.strict import Loc
from drgen.yamlsource import Document, SourceMap, read_document

PROMPT_FILE_MAX_BYTES = 1024 * 1024
"""Prompts travel inside the generated project; anything larger belongs in the model bucket."""
PROMPT_TOTAL_MAX_BYTES = 10 * 1024 * 1024
"""All prompt files together: each region's bucket gets a copy on every deploy."""
PROMPT_MAX_FILES = 500
"""Each file is a resource in every region's stack."""


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
        problems.extend(
            _problem_from(detail, document)
            for detail in error.errors()
            if tuple(detail["loc"]) not in document.unreadable
        )
    problems.extend(document.source.problem(loc, message) for loc, message in collected)
    prompt_files: tuple[tuple[str, str], ...] = ()
    if workload is not None and workload.components.prompts is not None:
        prompt_files, prompt_problems = _read_prompts(
            path.parent, workload.components.prompts.path, document.source
        )
        problems.extend(prompt_problems)
    if problems or workload is None:
        raise WorkloadError(problems)
    sourced = SourcedWorkload(workload, document.source.file, prompt_files)
    names = _derived_name_problems(sourced)
    if names:
        raise WorkloadError([document.source.problem(loc, message) for loc, message in names])
    return sourced


def _derived_name_problems(sourced: SourcedWorkload) -> list[tuple[Loc, str]]:
    """Every resource name the plan derives, held to what its cloud accepts (limits.py)."""
    from drgen.limits import located_name_problems
    from drgen.plan import resolve

    return list(located_name_problems(resolve(sourced)))


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
    """The prompt files, read only from inside the workload's folder and only as regular files.

    The repository is untrusted input: the path is checked before anything under it is read,
    nothing is followed through a symbolic link, and size limits bound the work.
    """
    loc: Loc = ("components", "prompts", "path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\\" in relative or "\0" in relative:
        return (), []  # the schema reports it; nothing outside the workload's folder is read
    folder = base / relative
    try:
        inside = folder.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        return (), [
            source.problem(
                loc, f"{relative!r} leads outside the workload's folder (through a symbolic link)"
            )
        ]
    if folder.is_symlink() or not folder.is_dir():
        if folder.is_symlink():
            return (), [source.problem(loc, f"{relative!r} is a symbolic link; name the folder")]
        return (), [source.problem(loc, f"folder {relative!r} not found next to the workload file")]
    files: list[tuple[str, str]] = []
    problems: list[Problem] = []
    total = 0
    for name, problem in _prompt_paths(folder):
        if problem:
            problems.append(source.problem(loc, f"{name}: {problem}"))
            continue
        if len(files) >= PROMPT_MAX_FILES:
            problems.append(
                source.problem(loc, f"more than {PROMPT_MAX_FILES} files; that is the limit")
            )
            break
        text, problem = _read_prompt(folder / name)
        if text is None:
            problems.append(source.problem(loc, f"{name}: {problem}"))
            continue
        total += len(text.encode("utf-8"))
        if total > PROMPT_TOTAL_MAX_BYTES:
            problems.append(
                source.problem(
                    loc,
                    f"{name}: the prompt files together exceed"
                    f" {PROMPT_TOTAL_MAX_BYTES // (1024 * 1024)} MiB, the limit; keep large files"
                    " in the model bucket",
                )
            )
            break
        files.append((name, text))
    if not files and not problems:
        problems.append(source.problem(loc, f"folder {relative!r} has no files to deploy"))
    return tuple(files), problems


def _prompt_paths(folder: Path) -> list[tuple[str, str | None]]:
    """(path relative to `folder`, why it is refused or None), sorted; hidden entries skipped.

    Never descends into a linked folder; stops listing past the file limit.
    """
    found: list[tuple[str, str | None]] = []
    for root, folders, names in os.walk(folder, followlinks=False):
        here = Path(root)
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for entry in [*folders, *sorted(n for n in names if not n.startswith("."))]:
            path = here / entry
            name = path.relative_to(folder).as_posix()
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue  # vanished while listing: nothing to deploy
            if stat.S_ISLNK(mode):
                found.append((name, "is a symbolic link; drgen deploys only regular files"))
            elif not any(ord(c) < 32 or c == "\x7f" for c in name) and stat.S_ISREG(mode):
                found.append((name, None))
            elif not stat.S_ISDIR(mode):
                found.append((name, "is not a regular file, or its name has control characters"))
        if len(found) > PROMPT_MAX_FILES:
            break
    return sorted(found)


def _read_prompt(path: Path) -> tuple[str | None, str]:
    """The file's text, or None and why it cannot be deployed; never follows a link."""
    try:
        data = read_at_most(path, PROMPT_FILE_MAX_BYTES)
    except OSError as error:
        return None, f"cannot be read: {error.strerror or error}"
    if len(data) > PROMPT_FILE_MAX_BYTES:
        return None, (
            f"over {PROMPT_FILE_MAX_BYTES // (1024 * 1024)} MiB, the limit per file; keep large"
            " files in the model bucket"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    if "\0" in text:
        return None, "not text (it holds NUL bytes)"
    return text, ""
