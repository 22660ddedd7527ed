"""`drgen check` output: a table per workload, or JSON; optionally the drill calendar."""

from __future__ import annotations

import dataclasses
import json

import click

from drgen.check import CheckReport, Finding
from drgen.drills import drill_calendar
from drgen.plan import DrPlan
from drgen.tables import aligned

COLOURS = {"met": "green", "at-risk": "yellow", "unmet": "red"}
HEADINGS = ("component", "RPO", "achievable", "RTO", "estimate", "verdict")


def as_text(reports: list[CheckReport], plans: list[DrPlan] | None) -> str:
    """A table per workload, each row followed by its basis; then drills when asked."""
    out: list[str] = []
    for index, report in enumerate(reports):
        verdict = click.style(report.verdict, fg=COLOURS[report.verdict], bold=True)
        out.append(
            f"{report.workload} ({report.source}): tier {report.tier}, {report.pattern}"
            f" on {report.cloud.upper()}: {verdict}"
        )
        rows = [HEADINGS, *(_row(f) for f in report.findings)]
        lines = aligned(rows)
        out.append("  " + lines[0])
        for line, finding in zip(lines[1:], report.findings, strict=True):
            # The verdict ends the line: colour it without disturbing the alignment.
            plain = line.removesuffix(finding.verdict)
            out.append("  " + plain + click.style(finding.verdict, fg=COLOURS[finding.verdict]))
            out.append(f"      {finding.basis}")
            out += [f"      source: {url}" for url in finding.sources]
        if plans is not None:
            out.append("")
            out += _drills_text(plans[index])
        out.append("")
    return "\n".join(out)


def as_json(reports: list[CheckReport], plans: list[DrPlan] | None) -> str:
    """One object per workload: its verdict, its findings, and its drills when asked."""
    payload = []
    for index, report in enumerate(reports):
        entry = {"verdict": report.verdict, **dataclasses.asdict(report)}
        for finding, row in zip(report.findings, entry["findings"], strict=True):
            row["sources"] = list(finding.sources)
        if plans is not None:
            entry["drills"] = [dataclasses.asdict(d) for d in drill_calendar(plans[index])]
        payload.append(entry)
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def _row(finding: Finding) -> tuple[str, ...]:
    return (finding.subject, *finding.cells(), finding.verdict)


def _drills_text(plan: DrPlan) -> list[str]:
    lines = [f"  drills for {plan.workload} (tier {plan.tier}):"]
    for drill in drill_calendar(plan):
        lines.append(f"    {drill.cadence} {drill.kind}: {drill.title}")
        lines += [f"      - {step}" for step in drill.steps]
        lines.append(f"      measure: {drill.measure}")
    return lines
