"""Is each declared objective achievable by what drgen renders? Pure: plan (+ today) -> findings.

Every estimate cites a row of patterns/figures.yaml. A figure marked `assumed` (drgen's planning
assumption, not a published guarantee) can at best earn "at-risk" unless the estimate is within
half the objective; a drill confirms or corrects it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from drgen.durations import format_duration, format_estimate
from drgen.figures import Figure, figures
from drgen.plan import ComponentPlan, DrPlan

Verdict = Literal["met", "at-risk", "unmet"]
VERDICT_ORDER: dict[Verdict, int] = {"met": 0, "at-risk": 1, "unmet": 2}
DEFAULT_DEPRECATION_WINDOW = datetime.timedelta(days=90)
MB_PER_GB = 1000


LIVE_REPLICATION = {
    "aurora-global": "aurora_global",
    "dynamodb-global-table": "dynamodb_global",
    "firestore-multi-region": "firestore_multi_region",
    "cloudsql-cross-region-replica": "cloudsql_replica",
    "bigtable-multi-cluster": "bigtable_replication",
}
"""Blocks whose database replicates continuously -> the figure for its lag and failover."""


@dataclass(frozen=True)
class Estimate:
    """An achievable value in seconds (None: unbounded), and whether it rests on an assumption."""

    seconds: int | None
    assumed: bool = False
    typical: int | None = None
    """Better than `seconds` in the usual case, but not guaranteed."""


@dataclass(frozen=True)
class Finding:
    """One row of the check table."""

    subject: str
    rpo_objective: int | None
    rpo: Estimate | None
    """None when the row has no recovery point (serving capacity, vendors)."""
    rto_objective: int | None
    rto: Estimate | None
    verdict: Verdict
    basis: str
    cites: tuple[str, ...] = field(default=())
    """Ids of the figures (patterns/figures.yaml) the estimates rest on."""

    @property
    def sources(self) -> tuple[str, ...]:
        """Where the cited figures are published."""
        return tuple(dict.fromkeys(figures()[cited].url for cited in self.cites))

    def cells(self) -> tuple[str, str, str, str]:
        """(RPO objective, achievable RPO, RTO objective, estimated RTO) as text."""
        return (
            _objective(self.rpo_objective) if self.rpo is not None else "-",
            _estimate(self.rpo),
            _objective(self.rto_objective) if self.rto is not None else "-",
            _estimate(self.rto),
        )


@dataclass(frozen=True)
class CheckReport:
    workload: str
    source: str
    tier: int
    pattern: str
    cloud: str
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict of any finding."""
        return max((f.verdict for f in self.findings), key=VERDICT_ORDER.__getitem__, default="met")


def check(
    plan: DrPlan,
    today: datetime.date,
    deprecation_window: datetime.timedelta = DEFAULT_DEPRECATION_WINDOW,
) -> CheckReport:
    """Every component's achievable RPO/RTO against the objectives, plus vendor findings."""
    findings = [_serving(plan)]
    findings += [_component(plan, component) for component in plan.components]
    findings += _vendors(plan, today, deprecation_window)
    return CheckReport(
        workload=plan.workload,
        source=plan.source,
        tier=plan.tier,
        pattern=plan.pattern,
        cloud=plan.cloud,
        findings=tuple(findings),
    )


def component_findings(plan: DrPlan) -> tuple[Finding, ...]:
    """The findings that depend only on the plan (no vendor dates): stable, for the runbook."""
    return (_serving(plan), *(_component(plan, c) for c in plan.components))


# Serving capacity and components


def _serving(plan: DrPlan) -> Finding:
    rto_objective = plan.objectives.rto_seconds
    if plan.pattern == "cold-restore":
        rebuild = figures()["cold_rebuild"]
        rto = Estimate(rebuild.rto, rebuild.assumed)
        basis = rebuild.figure
        cited = [rebuild]
    else:
        failover = figures()["route53_failover" if plan.cloud == "aws" else "cloud_dns_failover"]
        rto = Estimate(failover.rto)
        basis = failover.figure + (
            "; both regions already serve"
            if plan.pattern == "active-active"
            else "; the standby then scales up"
        )
        cited = [failover]
    verdict = _cap(plan, _judge(rto_objective, rto))
    if plan.warnings:
        basis = f"{plan.warnings[0]}. {basis}"
    return Finding(
        subject=f"serving ({plan.pattern})",
        rpo_objective=None,
        rpo=None,
        rto_objective=rto_objective,
        rto=rto,
        verdict=verdict,
        basis=basis,
        cites=tuple(f.id for f in cited),
    )


def _component(plan: DrPlan, component: ComponentPlan) -> Finding:
    rpo, rto, cited, notes = _mechanism(plan, component)
    verdict = _worst(
        _judge(plan.objectives.rpo_seconds, rpo), _judge(plan.objectives.rto_seconds, rto)
    )
    return Finding(
        subject=component.label,
        rpo_objective=plan.objectives.rpo_seconds,
        rpo=rpo,
        rto_objective=plan.objectives.rto_seconds,
        rto=rto,
        verdict=_cap(plan, verdict),
        basis="; ".join([*notes, *(f.figure for f in cited)]),
        cites=tuple(f.id for f in cited),
    )


def _mechanism(
    plan: DrPlan, c: ComponentPlan
) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """(achievable RPO, estimated RTO, figures cited, notes) for one component."""
    f = figures()
    if len(plan.stacks) == 1:
        region = f["single_region"]
        return Estimate(None), Estimate(None), [region], ["no secondary region"]
    if c.component in ("models", "audit_log"):
        copy = _bucket_copy(plan, c)
        return copy.estimate, Estimate(0), [copy.figure], copy.notes
    if c.component == "prompts":
        redeploy = f["redeploy"]
        return Estimate(0), Estimate(redeploy.rto, True), [redeploy], []
    if c.module == "vector_snapshots":
        return _snapshots(plan, c)
    if c.block in LIVE_REPLICATION:
        row = f[LIVE_REPLICATION[c.block]]
        return Estimate(row.rpo, row.assumed), Estimate(row.rto, row.assumed), [row], []
    if c.block in ("aurora-backup-copy", "dynamodb-pitr-backup"):
        backup, start = f["aws_backup_copy"], f["instance_start"]
        every = int(c.params["backup_every_hours"]) * 3600
        notes = [f"a recovery point every {format_duration(every)}, copied to the secondary"]
        restore = _restore_seconds(c)
        return Estimate(every), Estimate((start.rto or 0) + restore, True), [backup, start], notes
    if c.block == "cloudsql-backups-in-secondary":
        backup, start = f["cloudsql_backups"], f["instance_start"]
        rto = Estimate((start.rto or 0) + _restore_seconds(c), True)
        return Estimate(backup.rpo), rto, [backup, start], ["backups stored in the secondary"]
    # bigtable-backup, firestore-pitr-backup: backups never leave the primary's region
    row = f["bigtable_backups" if c.engine == "bigtable" else "firestore_backups"]
    return Estimate(None), Estimate(None), [row], ["rebuild from source data is the only path"]


@dataclass(frozen=True)
class _Copy:
    estimate: Estimate
    figure: Figure
    notes: list[str]


def _bucket_copy(plan: DrPlan, c: ComponentPlan) -> _Copy:
    """How fast an object written in the primary reaches the secondary."""
    f = figures()
    if plan.cloud == "aws":
        models = plan.component("models")
        rtc = models is not None and bool(models.params.get("replication_time_control"))
        row = f["s3_rtc" if rtc else "s3_crr"]
        return _Copy(Estimate(row.rpo, row.assumed, row.rpo_typical), row, [])
    if c.replication == "dual-region":
        row = f["gcs_turbo"]
        return _Copy(Estimate(row.rpo), row, [])
    every = int(c.params.get("copy_every_seconds", 86400))
    return _Copy(Estimate(every), f["storage_transfer"], [f"copied every {format_duration(every)}"])


def _snapshots(
    plan: DrPlan, c: ComponentPlan
) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    f = figures()
    cadence = int(c.params["snapshot_every_seconds"])
    copy = _bucket_copy(plan, c)
    delay = copy.estimate.seconds or 0
    typical = copy.estimate.typical
    rpo = Estimate(
        cadence + delay, copy.estimate.assumed, cadence + typical if typical is not None else None
    )
    notes = [f"a snapshot every {format_duration(cadence)}", *copy.notes]
    cited = [f[f"snapshot_schedule_{plan.cloud}"], copy.figure]
    if plan.pattern == "active-active":
        return rpo, Estimate(0), cited, [*notes, "the other region's engine already serves"]
    throughput = f["restore_throughput"]
    restore = _restore_seconds(c)
    extra = (f["instance_start"].rto or 0) if plan.pattern == "cold-restore" else 0
    notes.append(f"restoring {c.params['size_gb']:g} GB at {throughput.rate_mb_s:g} MB/s")
    return rpo, Estimate(restore + extra, True), [*cited, throughput], notes


def _restore_seconds(c: ComponentPlan) -> int:
    """Time to restore the component's data at the assumed throughput (size_gb when declared)."""
    rate = figures()["restore_throughput"].rate_mb_s or 1
    size_gb = float(c.params.get("size_gb", 0))
    return round(size_gb * MB_PER_GB / rate)


# Vendors


def _vendors(plan: DrPlan, today: datetime.date, window: datetime.timedelta) -> list[Finding]:
    findings = []
    for vendor in plan.vendors:
        subject = f"vendor {vendor.name}/{vendor.model} ({vendor.role})"
        if vendor.deprecation is None:
            verdict: Verdict = "met"
            basis = "no announced retirement date"
        else:
            retires = datetime.date.fromisoformat(vendor.deprecation)
            left = (retires - today).days
            if left < 0:
                verdict, basis = "unmet", f"retired on {retires} ({-left} days ago): migrate now"
            elif left <= window.days:
                verdict = "at-risk"
                basis = f"retires on {retires}, in {left} days: test the replacement before then"
            else:
                verdict, basis = "met", f"retires on {retires}, in {left} days"
        if vendor.role == "primary":
            fallback = _fallback(plan)
            if fallback is None:
                verdict = _worst(verdict, "unmet" if plan.tier <= 1 else "at-risk")
                basis += "; no alternate vendor and no degraded_mode: an outage stops the workload"
            else:
                basis += f"; outage fallback: {fallback}"
        findings.append(Finding(subject, None, None, None, None, verdict, basis))
    return findings


def _fallback(plan: DrPlan) -> str | None:
    parts = [f"alternate {v.name}/{v.model}" for v in plan.vendors if v.role == "alternate"]
    if plan.degraded_mode:
        parts.append(f"degraded mode ({plan.degraded_mode})")
    return ", then ".join(parts) or None


# Verdict arithmetic


def _judge(objective: int | None, estimate: Estimate) -> Verdict:
    if objective is None:
        return "met"  # no objective declared for this tier: best effort
    if estimate.seconds is None:
        return "unmet"
    if estimate.seconds > objective:
        if estimate.typical is not None and estimate.typical <= objective:
            return "at-risk"
        return "unmet"
    if estimate.assumed and estimate.seconds * 2 > objective:
        return "at-risk"
    return "met"


def _worst(*verdicts: Verdict) -> Verdict:
    return max(verdicts, key=VERDICT_ORDER.__getitem__)


def _cap(plan: DrPlan, verdict: Verdict) -> Verdict:
    """Tier 3 is best effort: a gap is a risk to know about, not a failed objective."""
    return "at-risk" if plan.tier == 3 and verdict == "unmet" else verdict


def _objective(seconds: int | None) -> str:
    return format_duration(seconds) if seconds is not None else "none"


def _estimate(estimate: Estimate | None) -> str:
    if estimate is None:
        return "-"
    if estimate.seconds is None:
        return "unbounded"
    text = format_estimate(estimate.seconds)
    if estimate.typical is not None:
        text = f"{format_estimate(estimate.typical)} typ., {text} max"
    return ("~" + text) if estimate.assumed else text
