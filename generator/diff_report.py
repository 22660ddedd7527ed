"""`drgen diff` output: terminal text (coloured on a TTY), GitHub Markdown and JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from drgen.diff import ChainChange, ResourceChange, StackDiff, WorkloadDiff

SIGNS = {"added": "+", "removed": "-", "changed": "~"}
COLOURS = {"added": "green", "removed": "red", "changed": "yellow"}
MAX_VALUE = 80
"""Longer values are shortened in text and Markdown (JSON keeps them whole)."""


def as_json(diffs: list[WorkloadDiff]) -> str:
    """Stable JSON: one object per workload, with the destroyed-state summary up front."""
    payload = [
        {
            "destroys_state": [
                {"stack": stack, "type": change.type, "name": change.name}
                for stack, change in diff.destroys_state
            ],
            "refused": [
                {"stack": stack, "type": change.type, "name": change.name, "why": change.refused}
                for stack, change in diff.refused
            ],
            "fallbacks_removed": [
                {"stack": chain.stack, "fallback": fallback}
                for chain in diff.vendors
                for fallback in chain.removed
            ],
            **dataclasses.asdict(diff),
        }
        for diff in diffs
    ]
    return json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"


def as_text(diffs: list[WorkloadDiff]) -> str:
    """Lines for a terminal; click.echo strips the colour when output is not a TTY."""
    lines: list[str] = []
    for diff in diffs:
        lines.append(click.style(f"{diff.workload}: {diff.base} -> {diff.head}", bold=True))
        if not diff.has_changes:
            lines.append("  no changes")
            continue
        for prop in diff.plan:
            lines.append(f"  {prop.path}: {_short(prop.before)} -> {_short(prop.after)}")
        for chain in diff.vendors:
            lines.append(f"  vendor failover in {chain.stack}:")
            lines.append(f"    before: {_chain(chain.before, ' -> ')}")
            lines.append(f"    after:  {_chain(chain.after, ' -> ')}")
            for note in chain.notes:
                removed = note.startswith(("fallback removed", "gateway removed"))
                lines.append(
                    click.style(f"    !! {note.upper()}", fg="red") if removed else f"    {note}"
                )
        for where, destroyed in diff.destroys_state:
            lines.append(
                click.style(
                    f"  !! {_destruction(destroyed)}: {destroyed.name} in {where}", fg="red"
                )
            )
        for where, refused in diff.refused:
            lines.append(
                click.style(
                    f"  !! CANNOT APPLY: {refused.name} in {where}: {refused.refused}", fg="red"
                )
            )
        for stack in diff.stacks:
            if stack.status == "unchanged":
                continue
            lines.append(f"  stack {stack.name} ({stack.role}, {stack.status}): {_counts(stack)}")
            for resource in stack.resources:
                colour = COLOURS[resource.kind]
                lines.append(
                    click.style(f"    {_sign(resource)} {resource.type} {resource.name}", fg=colour)
                )
                for prop in resource.changes:
                    lines.append(
                        f"        {prop.path}: {_short(prop.before)} -> {_short(prop.after)}"
                    )
                if resource.destroys_state:
                    lines.append(click.style(f"        !! {_destruction(resource)}", fg="red"))
    return "\n".join(lines) + "\n"


def as_markdown(diffs: list[WorkloadDiff], max_chars: int | None = None) -> str:
    """A pull-request comment, summary first: per workload its warnings, plan changes and one
    line per stack; then one collapsible section of resource changes per changed stack.

    With `max_chars`, sections that would pass it are left out (whole, never cut midway) and a
    closing note names them: GitHub refuses comments over 65,536 characters.
    """
    summaries = [_markdown_summary(diff) for diff in diffs]
    details = [
        (f"{diff.workload}/{stack.name}", _markdown_details(diff, stack))
        for diff in diffs
        for stack in diff.stacks
        if stack.status != "unchanged"
    ]
    blocks = summaries + [block for _, block in details]
    if max_chars is None:
        return _joined(blocks)
    kept: list[str] = []
    cut: list[str] = []
    labels = [f"{diff.workload} (summary)" for diff in diffs] + [label for label, _ in details]
    for label, block in zip(labels, blocks, strict=True):
        if not cut and len(_joined([*kept, block, _cut_note(labels, max_chars)])) <= max_chars:
            kept.append(block)
        else:
            cut.append(label)
    if not cut:
        return _joined(kept)
    return _joined([*kept, _cut_note(cut, max_chars)])


def _joined(blocks: list[str]) -> str:
    return "\n".join(blocks).rstrip("\n") + "\n"


def _cut_note(cut: list[str], max_chars: int) -> str:
    names = ", ".join(f"`{label}`" for label in cut[:20]) + (" ..." if len(cut) > 20 else "")
    return (
        f"> [!NOTE]\n> Shortened to fit {max_chars:,} characters; left out: {names}. The full"
        " diff is `drgen diff` without `--max-chars` (the pipeline uploads it as an artifact).\n"
    )


def _markdown_summary(diff: WorkloadDiff) -> str:
    out = [f"### drgen diff: `{diff.workload}`\n", f"`{diff.base}` → `{diff.head}`\n"]
    if not diff.has_changes:
        out.append("No changes to the plan or to any stack's resources.\n")
        return "\n".join(out)
    for where, destroyed in diff.destroys_state:
        out.append(
            f"> [!CAUTION]\n> **{_destruction(destroyed)}**: `{destroyed.name}`"
            f" (`{destroyed.type}`) in stack `{where}`. "
            + (
                f"Changed: {', '.join(f'`{p}`' for p in destroyed.replaces)}. "
                if destroyed.replaces
                else ""
            )
            + "Its data is lost unless it is migrated first; `protect=True` makes"
            " `pulumi up` refuse until then.\n"
        )
    for where, refused in diff.refused:
        out.append(
            f"> [!WARNING]\n> **CANNOT APPLY**: `{refused.name}` (`{refused.type}`) in stack"
            f" `{where}`: {refused.refused}.\n"
        )
    for chain in diff.vendors:
        for fallback in chain.removed:
            out.append(
                f"> [!WARNING]\n> **FALLBACK REMOVED**: `{fallback}` no longer backs"
                f" `{chain.before[0]}` in stack `{chain.stack}`: an outage of the primary now"
                " falls back to "
                + (_chain(chain.after[1:]) if chain.after[1:] else "nothing")
                + ".\n"
            )
    if diff.plan:
        out.append("| plan | before | after |\n|---|---|---|")
        out += [f"| {c.path} | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.plan]
        out.append("")
    if diff.vendors:
        out.append("| vendor failover | before | after | what changed |\n|---|---|---|---|")
        out += [_markdown_chain(chain) for chain in diff.vendors]
        out.append("")
    out += [
        f"- `{stack.name}` ({stack.role}): "
        + ("no changes" if stack.status == "unchanged" else f"{stack.status}, {_counts(stack)}")
        for stack in diff.stacks
    ]
    return "\n".join(out) + "\n"


def _chain(chain: tuple[str, ...], arrow: str = " → ") -> str:
    return arrow.join(chain) if chain else "(no gateway)"


def _markdown_chain(chain: ChainChange) -> str:
    def escaped(text: str) -> str:
        return text.replace("|", "\\|").replace("`", "'")

    notes = "<br>".join(
        f"**{escaped(note)}**"
        if note.startswith(("fallback removed", "gateway removed"))
        else escaped(note)
        for note in chain.notes
    )
    return (
        f"| `{chain.stack}` | {escaped(_chain(chain.before))} | {escaped(_chain(chain.after))}"
        f" | {notes} |"
    )


def _markdown_details(diff: WorkloadDiff, stack: StackDiff) -> str:
    return "\n".join(
        [
            f"<details><summary><b>{diff.workload}: {stack.name}</b> ({stack.role},"
            f" {stack.status}): {_counts(stack)}</summary>\n",
            "| | resource | type | changes |\n|---|---|---|---|",
            *(_markdown_row(resource) for resource in stack.resources),
            "\n</details>\n",
        ]
    )


def _markdown_row(resource: ResourceChange) -> str:
    changes = "<br>".join(
        f"`{p.path}`: {_cell(p.before)} → {_cell(p.after)}" for p in resource.changes
    )
    if resource.destroys_state:
        changes = f"**{_destruction(resource)}**" + (f"<br>{changes}" if changes else "")
    if resource.refused:
        changes = "**CANNOT APPLY**" + (f"<br>{changes}" if changes else "")
    return f"| {_sign(resource)} | `{resource.name}` | `{resource.type}` | {changes} |"


def _destruction(change: ResourceChange) -> str:
    return "REMOVES STATEFUL RESOURCE" if change.kind == "removed" else "REPLACES STATEFUL RESOURCE"


def _counts(stack: StackDiff) -> str:
    replaced = sum(1 for r in stack.resources if r.kind == "changed" and r.replaces)
    return (
        f"{stack.count('added')} to add, {stack.count('changed') - replaced} to change,"
        f" {replaced} to replace, {stack.count('removed')} to remove"
    )


def _sign(resource: ResourceChange) -> str:
    return "+-" if resource.kind == "changed" and resource.replaces else SIGNS[resource.kind]


def _short(value: Any) -> str:
    """`value` as JSON, shortened at an item boundary past MAX_VALUE: a list or mapping shows
    its first whole items and how many more there are; a single value is never cut (half an
    ARN or name reads as another one)."""
    text = _dump(value)
    if len(text) <= MAX_VALUE or not isinstance(value, list | dict) or len(value) < 2:
        return text
    items = (
        [_dump(item) for item in value]
        if isinstance(value, list)
        else [f"{_dump(key)}: {_dump(item)}" for key, item in sorted(value.items())]
    )
    shown = 1
    while shown < len(items) and len(", ".join(items[: shown + 1])) <= MAX_VALUE:
        shown += 1
    if shown == len(items):
        return text
    left, right = "[]" if isinstance(value, list) else "{}"
    return f"{left}{', '.join(items[:shown])}, … {len(items) - shown} more{right}"


def _dump(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, sort_keys=True, default=str)


def _cell(value: Any) -> str:
    return "`" + _short(value).replace("|", "\\|").replace("`", "'") + "`"
