"""Each stack's `Pulumi.<stack>.yaml` belongs to the team that deploys it.

drgen seeds the file when it is missing (region and role, which the program reads and checks
against `settings.py`). After that the team adds its inputs with `pulumi config set`, secrets
included, and drgen never rewrites or removes anything there: when a key it needs is missing
it adds that one key through a comment-preserving YAML round trip, and when the team's value
contradicts the workload it warns and leaves the value alone. These files are not in the
manifest, so they are never drift for `render --check` nor replaced by `render`.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from drgen.errors import RenderError, display_path
from drgen.files import read_at_most
from drgen.plan import DrPlan, StackPlan

MAX_BYTES = 256 * 1024
"""The largest stack config file drgen reads: it is committed by whoever opens a pull request."""


@dataclass
class ConfigReport:
    """What reconciling one project's stack config did (or, when checking, would do)."""

    created: list[str] = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)
    """(file, key) for every key drgen added to a team's file."""
    warnings: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    """Unified-diff lines of what a render would create or add (for `render --check`)."""


def stack_file(stack: StackPlan) -> str:
    """The stack's config file, relative to the project folder."""
    return f"Pulumi.{stack.name}.yaml"


def team_owned(plan: DrPlan) -> frozenset[str]:
    """Paths of a rendered project that belong to the team once they exist."""
    return frozenset(stack_file(stack) for stack in plan.stacks)


def drgen_owned(plan: DrPlan, files: dict[str, str]) -> dict[str, str]:
    """The rendered files drgen writes, replaces and lists in the manifest."""
    team = team_owned(plan)
    return {path: text for path, text in files.items() if path not in team}


def required(plan: DrPlan, stack: StackPlan) -> dict[str, str]:
    """Key -> value that the stack's program needs from its config file and drgen knows."""
    return {f"{plan.cloud}:region": stack.region, f"{plan.workload}:role": stack.role}


def reconcile(plan: DrPlan, files: dict[str, str], project: Path, *, write: bool) -> ConfigReport:
    """Create missing stack config files from the rendered seeds in `files`, add keys drgen needs
    to existing ones, and warn where the team's values contradict the plan. With `write` false
    nothing is touched and `drift` says what writing would change."""
    report = ConfigReport()
    for stack in plan.stacks:
        path = stack_file(stack)
        target = project / path
        if target.is_symlink():
            # The folder is committed by whoever opens a pull request: follow no link out of it.
            raise RenderError(
                f"{display_path(target)} is a symbolic link; drgen reads and writes only a real"
                " file there"
            )
        if not target.exists():
            report.created.append(path)
            report.drift += _unified("", files[path], None, target)
            if write:
                _write(target, files[path])
            continue
        old = _read(target)
        new, added, warnings = _with_required(old, required(plan, stack), target, plan, stack)
        report.warnings += warnings
        if new == old:
            continue
        report.added += [(path, key) for key in added]
        report.drift += _unified(old, new, target, target)
        if write:
            _write(target, new)
    return report


def _with_required(
    text: str, wanted: dict[str, str], target: Path, plan: DrPlan, stack: StackPlan
) -> tuple[str, list[str], list[str]]:
    """(text with every missing wanted key added, keys added, warnings)."""
    shown = display_path(target)
    yaml = YAML()  # round-trip: comments, order, quoting and `secure:` values survive
    yaml.width = 4096  # never re-wrap the team's long values
    yaml.preserve_quotes = True
    try:
        _, indent, offset = load_yaml_guess_indent(text)
        data = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark is not None else shown
        raise RenderError(
            f"{where}: not valid YAML, so drgen cannot check its stack config: "
            f"{getattr(error, 'problem', None) or error}"
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise RenderError(f"{shown}: a Pulumi stack config file must be a mapping")
    config = data.get("config")
    if config is None:
        config = data["config"] = CommentedMap()
    if not isinstance(config, CommentedMap):
        raise RenderError(f"{shown}: `config` must be a mapping of keys to values")

    warnings = []
    added = []
    for key, value in wanted.items():
        if key not in config:
            config[key] = value
            added.append(key)
        elif str(config[key]) != value:
            warnings.append(
                f"{shown}: {key} is {config[key]!r} but {plan.source} says {value!r} for stack"
                f" {stack.name}; drgen leaves your value, and the program refuses to deploy"
                " until they agree"
            )
    if not added:
        return text, [], warnings
    mapping = _mapping_indent(text)
    yaml.indent(mapping=mapping, sequence=indent or mapping, offset=offset or 0)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    new = buffer.getvalue()
    if not _only_adds(text, new):
        # The round trip would disturb something of the team's: leave the file as it is.
        keys = ", ".join(f"{key}: {wanted[key]}" for key in added)
        warnings.append(
            f"{shown}: missing {keys}; drgen could not add it without reformatting the file,"
            " so add it under `config:` yourself"
        )
        return text, [], warnings
    return new, added, warnings


def _mapping_indent(text: str) -> int:
    """How far the file indents a nested mapping: the first indented key's indent, else 2."""
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if line != stripped and stripped and not stripped.startswith(("#", "-")):
            return len(line) - len(stripped)
    return 2


def _only_adds(old: str, new: str) -> bool:
    """Whether `new` is `old` with lines inserted and none changed or removed."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return all(op in ("equal", "insert") for op, *_ in matcher.get_opcodes())


def _read(target: Path) -> str:
    try:
        raw = read_at_most(target, MAX_BYTES)
        if len(raw) > MAX_BYTES:
            raise RenderError(
                f"{display_path(target)} is over {MAX_BYTES // 1024} KiB; a stack config file"
                " is a few keys"
            )
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RenderError(f"cannot read {display_path(target)}: {error}") from None


def _write(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.drgen-tmp")
        staged.write_bytes(text.encode("utf-8"))
        staged.replace(target)
    except OSError as error:
        raise RenderError(f"cannot write {display_path(target)}: {error}") from None


def _unified(old: str, new: str, before: Path | None, after: Path) -> list[str]:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=display_path(before) if before is not None else "/dev/null",
        tofile=display_path(after),
    )
    return [line if line.endswith("\n") else line + "\n" for line in lines]
