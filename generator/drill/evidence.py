"""The drill's evidence: a JSON report for machines, Markdown for auditors, and their SHA-256.

This module imports no cloud SDK: `drgen check --evidence` reads reports through it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drgen.durations import format_estimate

FORMAT = "drgen-drill/1"
"""The report's `format` field; readers skip files without it."""


def report_payload(
    meta: dict[str, Any], results: Iterable[Any], calls: Iterable[Any]
) -> dict[str, Any]:
    """The report as plain data (stable key order when dumped)."""
    components = [dataclasses.asdict(r) for r in results]
    outcomes = [c["outcome"] for c in components]
    verdict = "pass" if outcomes and all(o in ("pass", "skipped") for o in outcomes) else "fail"
    if not any(o == "pass" for o in outcomes):
        verdict = "fail"
    return {
        "format": FORMAT,
        **meta,
        "verdict": verdict,
        "components": components,
        "calls": _collapsed(str(c) for c in calls),
    }


def _collapsed(calls: Iterable[str]) -> list[str]:
    """Calls in order, a run of the same call written once with its count (`... x25`)."""
    runs: list[list[Any]] = []
    for call in calls:
        if runs and runs[-1][0] == call:
            runs[-1][1] += 1
        else:
            runs.append([call, 1])
    return [call if count == 1 else f"{call} x{count}" for call, count in runs]


def as_json(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def as_markdown(payload: dict[str, Any]) -> bytes:
    """The report for an auditor: who, when, what was restored, against which objective."""
    rto, rpo = payload["objectives"]["rto_seconds"], payload["objectives"]["rpo_seconds"]
    lines = [
        f"# Restore drill: {payload['workload']} ({payload['run_id']})",
        "",
        f"- Verdict: **{payload['verdict']}**",
        *_review_line(payload),
        f"- Workload file: `{payload['workload_file']}` (SHA-256 `{payload['workload_sha256']}`,"
        f" commit `{payload['git_commit'] or 'not in git'}`)",
        f"- Run by: {payload['operator']}; from {payload['started']} to {payload['finished']}",
        f"- Cloud {payload['cloud']}, tier {payload['tier']}, restored in {payload['region']}"
        f" (primary {payload['primary_region']})",
        f"- Objectives: RTO {_span(rto)}, RPO {_span(rpo)}",
        "",
        "| component | outcome | restore time | vs RTO | data age | vs RPO | bytes | MB/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in payload["components"]:
        label = c["component"] + (f" ({c['engine']})" if c["engine"] else "")
        lines.append(
            f"| {label} | {c['outcome']} | {_span(c['restore_seconds'])}"
            f" | {_within(c['restore_seconds'], rto)} | {_span(c['data_age_seconds'])}"
            f" | {_within(c['data_age_seconds'], rpo)} | {c['bytes']}"
            f" | {c['throughput_mb_s'] if c['throughput_mb_s'] is not None else '-'} |"
        )
    for c in payload["components"]:
        lines += ["", f"## {c['component']}", ""]
        lines.append(f"- Practices: {'; '.join(c['practices']) or '-'}")
        lines.append(f"- Started {c['started']}, finished {c['finished']}, in {c['region']}")
        for key, value in sorted(c["integrity"].items()):
            lines.append(f"- Integrity, {key}: {json.dumps(value, default=str)}")
        for key, value in sorted(c["measurements"].items()):
            if key != "steps":  # a table below
                lines.append(f"- Measured, {key}: {json.dumps(value, default=str)}")
        lines += [f"- Scratch: {s}" for s in c["scratch"]]
        lines += [f"- Cleanup: {s}" for s in c["cleanup"]]
        lines += [f"- **Failure**: {s}" for s in c["failures"]]
        lines += _steps(c.get("measurements", {}).get("steps"))
        lines += _review(c.get("review") or [])
    lines += ["", "## Calls made", ""] + [f"- `{call}`" for call in payload["calls"]]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _review_line(payload: dict[str, Any]) -> list[str]:
    answers = sum(len(c.get("review") or []) for c in payload["components"])
    if not answers:
        return []
    return [f"- Live answers: **needs review** ({answers} below; drgen never judges their content)"]


def _steps(steps: Any) -> list[str]:
    """The vendor drill's failover steps: which groups were failing, which answered."""
    if not isinstance(steps, list) or not steps:
        return []
    lines = [
        "",
        "| failing | expected | answered by | seconds | proven |",
        "|---|---|---|---|---|",
    ]
    for step in steps:
        lines.append(
            f"| {', '.join(step['failing'])} | {step['expected']}"
            f" | {step.get('answered_by') or 'error'} | {step.get('seconds', '-')}"
            f" | {'yes' if step['ok'] else '**no**'} |"
        )
    return lines


def _review(entries: list[dict[str, Any]]) -> list[str]:
    """Live answers, each with its prompt and reference, for a person to judge."""
    lines = []
    for entry in entries:
        lines += [
            "",
            f"### {entry['prompt']} → {entry['group']} ({entry['model']}): {entry['verdict']}",
            "",
            f"- Latency: {entry.get('seconds', '-')} s through the failover"
            + (
                f", {entry['alternate_seconds']} s the alternate itself"
                if "alternate_seconds" in entry
                else ""
            ),
        ]
        if entry.get("asked"):
            lines.append(f"- Asked: {_quoted(entry['asked'])}")
        if entry.get("reference"):
            lines.append(f"- Reference: {_quoted(entry['reference'])}")
        if entry.get("error"):
            lines.append(f"- **No answer**: {_quoted(entry['error'])}")
        else:
            lines += ["", *(f"> {line}" for line in str(entry["answer"]).splitlines())]
    return lines


def _quoted(text: str) -> str:
    return " ".join(text.split())


def _span(seconds: float | None) -> str:
    return "-" if seconds is None else format_estimate(round(seconds))


def _within(seconds: float | None, objective: int | None) -> str:
    if seconds is None or objective is None:
        return "-"
    return "within" if seconds <= objective else "**over**"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DrillRecord:
    """One component's result from one report, as `drgen check --evidence` uses it."""

    workload: str
    component: str
    run_id: str
    finished: datetime.date
    outcome: str
    restore_seconds: float | None
    throughput_mb_s: float | None
    data_age_seconds: float | None
    file: str
    region: str | None = None
    """Where the drill restored (reports before this field was read say nothing)."""
    review: int = 0
    """Live answers awaiting a person's judgement (the vendor drill's --live)."""
    hnsw_build_seconds: float | None = None
    """pgvector: the HNSW indexes' build time, measured on its own."""
    restored_by_dump: bool = False
    """pgvector: a logical restore, whose restore time includes the HNSW builds; otherwise the
    cloud restored the index with the data and the build was timed separately (REINDEX)."""


def read_evidence(folder: Path) -> list[DrillRecord]:
    """Every component result of every drill report in `folder` (reports not ours are skipped);
    a report whose SHA-256 no longer matches its `.sha256` file is refused."""
    from drgen.errors import DrgenError

    if not folder.is_dir():
        raise DrgenError(f"--evidence {folder}: no such folder")
    records = []
    for path in sorted(folder.glob("*.json")):
        data = path.read_bytes()
        try:
            payload = json.loads(data)
        except ValueError:
            continue
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            continue
        recorded = path.with_name(path.name + ".sha256")
        if recorded.is_file() and recorded.read_text().split()[0] != sha256(data):
            raise DrgenError(f"{path}: its SHA-256 does not match {recorded.name}: edited?")
        finished = datetime.date.fromisoformat(str(payload["finished"])[:10])
        for c in payload["components"]:
            measured = c.get("measurements") or {}
            builds = measured.get("hnsw_build_total_seconds")
            records.append(
                DrillRecord(
                    workload=payload["workload"],
                    component=c["component"],
                    run_id=payload["run_id"],
                    finished=finished,
                    outcome=c["outcome"],
                    restore_seconds=c["restore_seconds"],
                    throughput_mb_s=c["throughput_mb_s"],
                    data_age_seconds=c["data_age_seconds"],
                    file=str(path),
                    region=c.get("region"),
                    review=len(c.get("review") or []),
                    hnsw_build_seconds=float(builds) if isinstance(builds, int | float) else None,
                    restored_by_dump="restore_without_index_seconds" in measured,
                )
            )
    return records
