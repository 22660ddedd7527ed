"""Is each declared objective achievable by what drgen renders? Pure: plan (+ today) -> findings.

Every estimate cites a row of patterns/figures.yaml. Only a bound the provider stands behind (an
SLA, a managed setting) earns "met"; a typical figure earns "at-risk" at best. An estimate resting
on drgen's planning assumption earns "at-risk" unless it fits within half the objective; a drill
confirms or corrects it.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from drgen.drill.evidence import DrillRecord
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
    evidence: Sequence[DrillRecord] | None = None,
) -> CheckReport:
    """Every component's achievable RPO/RTO against the objectives, plus vendor findings.

    With `evidence` (drill reports), measured restore times and rates replace the assumed ones
    and a component whose last drill is older than its tier's calendar is at-risk."""
    findings = [_serving(plan)]
    for component in plan.components:
        finding = _component(plan, component)
        if evidence is not None:
            finding = _drilled(plan, component, finding, evidence, today)
        findings.append(finding)
    findings += _vendors(plan, today, deprecation_window, evidence)
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
        size = float(c.params["size_gb"]) if c.component == "models" else None
        copy = _bucket_copy(plan, c, size)
        return copy.estimate, Estimate(0), copy.figures, copy.notes
    if c.component == "prompts":
        redeploy = f["redeploy"]
        return Estimate(0), Estimate(redeploy.rto, True), [redeploy], []
    if c.module == "vector_snapshots":
        return _snapshots(plan, c)
    if c.block in LIVE_REPLICATION:
        return _live(plan, c)
    if c.block in ("aurora-backup-copy", "dynamodb-pitr-backup"):
        return _aws_backup(c)
    if c.block == "cloudsql-backups-in-secondary":
        return _cloudsql_exports(c)
    if c.block == "bigtable-backup":
        return _bigtable_copies(c)
    # firestore-pitr-backup: the backups stay in the primary's region
    return Estimate(None), Estimate(None), [f["firestore_backups"]], []


def _cloudsql_exports(c: ComponentPlan) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """The backups in the secondary need the primary's key, so recovery rests on the exports:
    the interval + writing the dump; restoring is creating an instance, replaying the dump and
    rebuilding its HNSW indexes (the restore of a logical dump, as for milvus-backup)."""
    f = figures()
    export, start, rate, rebuild = (
        f["cloudsql_export"],
        f["instance_start"],
        f["snapshot_copy_rate"],
        f["index_rebuild"],
    )
    size = float(c.params["size_gb"])
    every = int(c.params["export_every_seconds"])
    rpo = Estimate(every + _seconds(size, rate), True)
    rto = Estimate((start.rto or 0) + _seconds(size, rate) + _seconds(size, rebuild), True)
    notes = [
        f"a logical export every {format_duration(every)} into the secondary, under its key",
        f"exporting and importing {size:g} GB at {rate.rate_mb_s:g} MB/s",
        _restoring(size, rebuild),
    ]
    # The backups are cited for what they cannot do without the primary's key.
    return rpo, rto, [export, start, rate, rebuild, f["cloudsql_backups"]], notes


def _bigtable_copies(c: ComponentPlan) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """The daily backup + the wait for the secondary's copy job + the copy (not counted: the
    table's size is not declared); the restore's duration is unknown for the same reason."""
    f = figures()
    backup, copy = f["bigtable_backups"], f["bigtable_backup_copy"]
    every = int(c.params["backup_copy_every_seconds"])
    notes = [
        "a daily backup, copied to the DR instance in the secondary every"
        f" {format_duration(every)}",
        "the table's size is not declared: the copy and the restore are not timed",
    ]
    return Estimate((backup.rpo or 0) + every, True), Estimate(None), [backup, copy], notes


def _live(plan: DrPlan, c: ComponentPlan) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """A continuously replicating database: its lag is a bound only where the service has one."""
    f = figures()
    row = f[LIVE_REPLICATION[c.block]]
    rpo = Estimate(row.rpo, row.assumed, row.rpo_typical)
    rto = Estimate(row.rto, row.assumed) if row.rto is not None else Estimate(row.rto_typical, True)
    cited, notes = [row], []
    if "global_db_rpo_seconds" in c.params:
        # The stacks set Aurora PostgreSQL's managed RPO to this value (the plan decides where).
        managed = f["aurora_managed_rpo"]
        bound = int(c.params["global_db_rpo_seconds"])
        rpo = Estimate(bound)
        cited.append(managed)
        notes.append(f"rds.global_db_rpo = {bound} s bounds the lag")
    if c.block == "dynamodb-global-table":
        cited.append(f["dynamodb_mrsc"])
        notes.append("drgen's two-region table cannot use multi-Region strong consistency")
    return rpo, rto, cited, notes


def _aws_backup(c: ComponentPlan) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """AWS Backup: interval + start window + backup + copy; restore per resource type."""
    f = figures()
    backup, rate = f["aws_backup_copy"], f["snapshot_copy_rate"]
    every = int(c.params["backup_every_hours"]) * 3600
    notes = [f"a recovery point every {format_duration(every)}, copied to the secondary"]
    cited = [backup, rate]
    if "size_gb" in c.params:
        size = float(c.params["size_gb"])
        transfer = 2 * _seconds(size, rate)
        notes.append(f"backing up and copying {size:g} GB at {rate.rate_mb_s:g} MB/s")
    else:
        transfer = 0
        notes.append("the table's size is not declared: backup and copy time not counted")
    rpo = Estimate(every + (backup.rpo or 0) + transfer, True)
    if c.block == "dynamodb-pitr-backup":
        restore = f["dynamodb_restore"]
        return rpo, Estimate(restore.rto_typical, True), [*cited, restore], notes
    start, managed = f["instance_start"], f["managed_restore"]
    size = float(c.params["size_gb"])
    notes.append(_restoring(size, managed) + ", then an instance in the restored cluster")
    rto = Estimate(_seconds(size, managed) + (start.rto or 0), True)
    return rpo, rto, [*cited, managed, start], notes


@dataclass(frozen=True)
class _Copy:
    estimate: Estimate
    figures: list[Figure]
    notes: list[str]


def _bucket_copy(plan: DrPlan, c: ComponentPlan, size_gb: float | None) -> _Copy:
    """How long until an object (a whole `size_gb` set of them, when given) is in the secondary."""
    f = figures()
    if plan.cloud == "aws":
        models = plan.component("models")
        if not (models is not None and models.params.get("replication_time_control")):
            crr = f["s3_crr"]
            return _Copy(Estimate(crr.rpo, crr.assumed, crr.rpo_typical), [crr], [])
        rtc = f["s3_rtc"]
        sla = rtc.rpo or 0
        if size_gb is None:
            return _Copy(Estimate(sla, typical=rtc.rpo_typical), [rtc], [])
        transfer = _seconds(size_gb, rtc)
        if transfer <= sla:
            note = f"{size_gb:g} GB replicate in {format_estimate(transfer)} at 1 Gbps"
            return _Copy(Estimate(sla, typical=rtc.rpo_typical), [rtc], [note])
        note = (
            f"{size_gb:g} GB need {format_estimate(transfer)} at the default 1 Gbps, longer than"
            " the 15 minutes the SLA covers"
        )
        return _Copy(Estimate(transfer, True, rtc.rpo_typical), [rtc], [note])
    if c.replication == "dual-region":
        row = f["gcs_turbo"]
        return _Copy(Estimate(row.rpo), [row], [])
    job, rate = f["storage_transfer"], f["snapshot_copy_rate"]
    every = int(c.params.get("copy_every_seconds", 86400))
    notes = [f"copied every {format_duration(every)}; a run is skipped while one still runs"]
    if size_gb is None:
        return _Copy(Estimate(2 * every), [job], notes)
    notes.append(f"copying {size_gb:g} GB at {rate.rate_mb_s:g} MB/s")
    return _Copy(Estimate(2 * every + _seconds(size_gb, rate), True), [job, rate], notes)


RESTORE_RATE = {
    "opensearch": ("opensearch_recovery",),
    "qdrant": ("snapshot_copy_rate",),
    "weaviate": ("snapshot_copy_rate",),
    "milvus": ("snapshot_copy_rate", "index_rebuild"),
}
"""Engine -> the figures its restore runs through in turn: files copied back at the snapshot rate
(OpenSearch: its recovery throttle); milvus-backup re-imports the data and rebuilds the index."""


def _snapshots(
    plan: DrPlan, c: ComponentPlan
) -> tuple[Estimate, Estimate, list[Figure], list[str]]:
    """RPO = cadence + snapshot duration + the bucket's copy; RTO = the engine's restore."""
    f = figures()
    cadence = int(c.params["snapshot_every_seconds"])
    size = float(c.params["size_gb"])
    rate = f["snapshot_copy_rate"]
    notes = [f"a snapshot every {format_duration(cadence)}"]
    if c.engine == "opensearch":
        # Incremental: a snapshot writes only the segments that changed since the last one.
        taking, moved = 0, None
        notes.append("incremental snapshots: their duration is not counted")
    else:
        taking, moved = _seconds(size, rate), size
        notes.append(
            f"each takes {format_estimate(taking)} ({size:g} GB at {rate.rate_mb_s:g} MB/s)"
        )
    copy = _bucket_copy(plan, c, moved)
    notes += copy.notes
    seconds = copy.estimate.seconds
    typical = copy.estimate.typical
    rpo = Estimate(
        cadence + taking + seconds if seconds is not None else None,
        copy.estimate.assumed or c.engine != "opensearch",
        cadence + taking + typical if typical is not None else None,
    )
    cited = [f[f"snapshot_schedule_{plan.cloud}"], *copy.figures]
    if c.engine != "opensearch":
        cited.append(rate)
    if plan.pattern == "active-active":
        notes.append("the other region's engine already serves")
        return rpo, Estimate(0), _unique(cited), notes
    restore = 0
    for figure_id in RESTORE_RATE[c.engine or "qdrant"]:
        figure = f[figure_id]
        restore += _seconds(size, figure)
        notes.append(_restoring(size, figure))
        cited.append(figure)
    return rpo, Estimate(restore, True), _unique(cited), notes


def _seconds(size_gb: float, figure: Figure) -> int:
    """Time to move `size_gb` at the figure's rate."""
    return round(size_gb * MB_PER_GB / (figure.rate_mb_s or 1))


def _restoring(size_gb: float, figure: Figure) -> str:
    what = {"index_rebuild": "rebuilding the index of", "opensearch_recovery": "recovering"}
    verb = what.get(figure.id, "restoring")
    return f"{verb} {size_gb:g} GB at {figure.rate_mb_s:g} MB/s"


def _unique(cited: list[Figure]) -> list[Figure]:
    return list({figure.id: figure for figure in cited}.values())


# Drill evidence

DRILL_CALENDAR_DAYS = 183
"""Tiers 0-2 restore-test each component semi-annually (drills.py): older evidence is stale."""
DRILLED = ("models", "vector_store", "feature_store", "audit_log")


def _drilled(
    plan: DrPlan,
    c: ComponentPlan,
    finding: Finding,
    evidence: Sequence[DrillRecord],
    today: datetime.date,
) -> Finding:
    """The finding with the newest drill's measurements in place of assumed figures, and at-risk
    when the component's last drill is missing, failed or older than the calendar."""
    if c.component not in DRILLED:
        return finding
    records = sorted(
        (r for r in evidence if r.workload == plan.workload and r.component == c.component),
        key=lambda r: (r.finished, r.run_id),
    )
    notes: list[str] = []
    verdict, rto = finding.verdict, finding.rto
    measured = [r for r in records if r.outcome == "pass" and r.restore_seconds is not None]
    if measured and rto is not None and (rto.assumed or _untimed(plan, rto, measured[-1])):
        drill = measured[-1]
        seconds = float(drill.restore_seconds or 0)
        size = c.params.get("size_gb")
        if size is not None and drill.throughput_mb_s:
            # The drill may restore a part: the declared size at the measured rate, if longer.
            seconds = max(seconds, float(size) * MB_PER_GB / drill.throughput_mb_s)
            rate = f" at a measured {drill.throughput_mb_s:g} MB/s"
        else:
            rate = ""
        rto = Estimate(round(seconds))
        notes.append(
            f"restore measured by drill {drill.run_id} on {drill.finished}{rate}"
            " (replaces the assumed figure)"
        )
        if drill.hnsw_build_seconds is not None:
            notes.append(_hnsw_note(drill))
        verdict = _cap(
            plan,
            _worst(
                _judge(finding.rpo_objective, finding.rpo or Estimate(None)),
                _judge(finding.rto_objective, rto),
            ),
        )
    if plan.tier <= 2:
        last = records[-1] if records else None
        if last is None:
            notes.append("never drilled: no report in --evidence (`drgen drill`)")
            verdict = _worst(verdict, "at-risk")
        else:
            age = (today - last.finished).days
            if age > DRILL_CALENDAR_DAYS:
                notes.append(
                    f"last drill on {last.finished} ({age} days ago) is older than the"
                    " semi-annual calendar"
                )
                verdict = _worst(verdict, "at-risk")
            if last.outcome == "fail":
                notes.append(f"the last drill ({last.run_id}) failed: see {last.file}")
                verdict = _worst(verdict, "unmet")
            elif last.outcome == "error":
                notes.append(f"the last drill ({last.run_id}) could not complete: {last.file}")
                verdict = _worst(verdict, "at-risk")
    if not notes:
        return finding
    return dataclasses.replace(
        finding, rto=rto, verdict=verdict, basis="; ".join([*notes, finding.basis])
    )


def _untimed(plan: DrPlan, rto: Estimate, drill: DrillRecord) -> bool:
    """An RTO the plan cannot estimate (a table of undeclared size) that the drill timed where a
    region's loss is recovered: the secondary."""
    secondary = plan.secondary.region if plan.secondary else None
    return rto.seconds is None and secondary is not None and drill.region == secondary


def _hnsw_note(drill: DrillRecord) -> str:
    build = format_estimate(round(drill.hnsw_build_seconds or 0))
    if drill.restored_by_dump:
        return f"of which rebuilding the HNSW indexes took {build}"
    return (
        f"the HNSW indexes came back with the restore; rebuilding them took {build} more"
        " (what a logical restore or a corrupt index adds)"
    )


# Vendors


def _vendors(
    plan: DrPlan,
    today: datetime.date,
    window: datetime.timedelta,
    evidence: Sequence[DrillRecord] | None = None,
) -> list[Finding]:
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
                basis += f"; outage fallback (gateway/litellm-<region>.yaml): {fallback}"
                if evidence is not None and plan.tier <= 2:
                    drilled, note = _failover_drilled(plan, evidence, today)
                    verdict = _worst(verdict, drilled)
                    basis = f"{note}; {basis}"
        if vendor.status_page is None:
            basis += "; no status page: `drgen vendors status` cannot confirm its outages"
        findings.append(Finding(subject, None, None, None, None, verdict, basis))
    return findings


VENDOR_CALENDAR_DAYS = 92
"""The vendor failover is exercised quarterly on tiers 0-2 (drills.py): older evidence is stale."""


def _failover_drilled(
    plan: DrPlan, evidence: Sequence[DrillRecord], today: datetime.date
) -> tuple[Verdict, str]:
    """How the newest vendor failover drill (`drgen drill --component vendors`) stands."""
    # A run of every component without LiteLLM skips the failover: it neither drills nor fails.
    records = sorted(
        (
            r
            for r in evidence
            if r.workload == plan.workload and r.component == "vendors" and r.outcome != "skipped"
        ),
        key=lambda r: (r.finished, r.run_id),
    )
    if not records:
        return "at-risk", "failover never drilled: no report in --evidence"
    last = records[-1]
    age = (today - last.finished).days
    if last.outcome == "fail":
        return "unmet", f"the last failover drill ({last.run_id}) failed: see {last.file}"
    if last.outcome != "pass":
        return "at-risk", f"the last failover drill ({last.run_id}) could not complete: {last.file}"
    if age > VENDOR_CALENDAR_DAYS:
        return "at-risk", (
            f"failover last drilled on {last.finished} ({age} days ago), older than the"
            " quarterly calendar"
        )
    review = f"; {last.review} live answers await review in {last.file}" if last.review else ""
    return "met", f"failover drilled on {last.finished} ({last.run_id}){review}"


def _fallback(plan: DrPlan) -> str | None:
    """The gateway's failover chain after the primary, in the order it is tried."""
    parts = [f"alternate {v.label}" for v in plan.vendors if v.role == "alternate"]
    degraded = [v.label for v in plan.vendors if v.role == "degraded"]
    if degraded:
        parts.append(f"degraded model {degraded[0]}")
    elif plan.degraded_mode:
        parts.append(f"degraded mode ({plan.degraded_mode}, switched by the application)")
    return ", then ".join(parts) or None


# Verdict arithmetic


def _judge(objective: int | None, estimate: Estimate) -> Verdict:
    if objective is None:
        return "met"  # no objective declared for this tier: best effort
    if estimate.seconds is None:
        # No bound: "typically" within the objective is a risk, never a guarantee.
        typical = estimate.typical
        return "at-risk" if typical is not None and typical <= objective else "unmet"
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
        if estimate.typical is not None:
            return f"{format_estimate(estimate.typical)} typ., no bound"
        return "unbounded"
    text = format_estimate(estimate.seconds)
    if estimate.typical is not None:
        text = f"{format_estimate(estimate.typical)} typ., {text} max"
    return ("~" + text) if estimate.assumed else text
