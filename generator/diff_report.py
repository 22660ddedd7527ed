"""`drgen diff` output: terminal text (coloured on a TTY), GitHub Markdown and JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from drgen.diff import ResourceChange, StackDiff, WorkloadDiff

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
                    click.style(
                        f"    {SIGNS[resource.kind]} {resource.type} {resource.name}", fg=colour
                    )
                )
                for prop in resource.changes:
                    lines.append(
                        f"        {prop.path}: {_short(prop.before)} -> {_short(prop.after)}"
                    )
                if resource.destroys_state:
                    lines.append(click.style(f"        !! {_destruction(resource)}", fg="red"))
    return "\n".join(lines) + "\n"


def as_markdown(diffs: list[WorkloadDiff]) -> str:
    """A pull-request comment: warnings first, then one collapsible section per stack."""
    out: list[str] = []
    for diff in diffs:
        out.append(f"### drgen diff: `{diff.workload}`\n")
        out.append(f"`{diff.base}` → `{diff.head}`\n")
        if not diff.has_changes:
            out.append("No changes to the plan or to any stack's resources.\n")
            continue
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
        if diff.plan:
            out.append("| plan | before | after |\n|---|---|---|")
            out += [f"| {c.path} | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.plan]
            out.append("")
        for stack in diff.stacks:
            if stack.status == "unchanged":
                out.append(f"- `{stack.name}` ({stack.role}): no changes")
                continue
            out.append(
                f"<details><summary><b>{stack.name}</b> ({stack.role}, {stack.status}):"
                f" {_counts(stack)}</summary>\n"
            )
            out.append("| | resource | type | changes |\n|---|---|---|---|")
            out += [_markdown_row(resource) for resource in stack.resources]
            out.append("\n</details>\n")
    return "\n".join(out).rstrip("\n") + "\n"


def _markdown_row(resource: ResourceChange) -> str:
    changes = "<br>".join(
        f"`{p.path}`: {_cell(p.before)} → {_cell(p.after)}" for p in resource.changes
    )
    if resource.destroys_state:
        changes = f"**{_destruction(resource)}**" + (f"<br>{changes}" if changes else "")
    if resource.refused:
        changes = "**CANNOT APPLY**" + (f"<br>{changes}" if changes else "")
    return f"| {SIGNS[resource.kind]} | `{resource.name}` | `{resource.type}` | {changes} |"


def _destruction(change: ResourceChange) -> str:
    return "REMOVES STATEFUL RESOURCE" if change.kind == "removed" else "REPLACES STATEFUL RESOURCE"


def _counts(stack: StackDiff) -> str:
    return (
        f"{stack.count('added')} to add, {stack.count('changed')} to change,"
        f" {stack.count('removed')} to remove"
    )


def _short(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _cell(value: Any) -> str:
    return "`" + _short(value).replace("|", "\\|").replace("`", "'") + "`"
