"""The testing discipline for a workload's tier: tabletop scenarios, restore tests, failovers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drgen.durations import format_duration
from drgen.plan import ComponentPlan, DrPlan

Cadence = Literal["quarterly", "semi-annual", "annual"]


@dataclass(frozen=True)
class Drill:
    cadence: Cadence
    kind: Literal["tabletop", "partial restore", "full failover"]
    title: str
    steps: tuple[str, ...]
    measure: str
    command: str | None = None
    """The `drgen drill` command that runs it (a partial restore, the vendor failover) and keeps
    its evidence."""


def drill_calendar(plan: DrPlan) -> tuple[Drill, ...]:
    """Tier 0-1: quarterly tabletop, semi-annual partial restore, annual full failover.
    Tier 2: quarterly tabletop and semi-annual partial restore. Tier 3: an annual tabletop."""
    tabletop: Cadence = "annual" if plan.tier == 3 else "quarterly"
    drills = [
        Drill(tabletop, "tabletop", title, steps, measure, command)
        for title, steps, measure, command in _scenarios(plan)
    ]
    if plan.tier <= 2:
        drills += [_restore_test(plan, c) for c in plan.components if c.component != "prompts"]
    if plan.tier <= 1 and plan.secondary is not None:
        drills.append(_full_failover(plan.secondary.region))
    return tuple(drills)


def _scenarios(plan: DrPlan) -> list[tuple[str, tuple[str, ...], str, str | None]]:
    primary = plan.primary.region
    secondary = plan.secondary.region if plan.secondary else None
    rto = plan.objectives.rto_seconds
    objectives = (
        f"RTO {format_duration(rto)}, " if rto is not None else "no RTO, "
    ) + f"RPO {format_duration(plan.objectives.rpo_seconds)}"
    audit = plan.component("audit_log")
    retention = str(audit.params["retention"]) if audit else "their retention"
    scenarios: list[tuple[str, tuple[str, ...], str, str | None]] = [
        (
            f"{primary} is lost for a day",
            (
                "Who declares the disaster, and on what signal?",
                "Walk RUNBOOK.md's failover steps in order; time each one on paper.",
                f"Which data written in the last {format_duration(plan.objectives.rpo_seconds)}"
                " is gone, and who tells its owners?",
                f"How do clients reach {secondary}?"
                if secondary
                else "There is no secondary region: what does the business do meanwhile?",
            ),
            f"the walk-through fits the objectives ({objectives})",
            None,
        ),
        (
            "ransomware deletes or encrypts the model and audit buckets",
            (
                "Which copies survive: versions, the other region's bucket, the audit records"
                f" locked for {retention}?",
                "Who can still delete what? (object lock / locked retention: nobody)",
                "Restore the newest clean model version: from where, by whom, how long?",
            ),
            "every step names a person and a copy the attacker could not reach",
            None,
        ),
    ]
    primaries = [v for v in plan.vendors if v.role == "primary"]
    for vendor in primaries:
        fallback = [f"{v.name}/{v.model}" for v in plan.vendors if v.role == "alternate"]
        if plan.degraded_mode:
            fallback.append(f"degraded mode ({plan.degraded_mode})")
        scenarios.append(
            (
                f"{vendor.name} ({vendor.model}) is down for six hours",
                (
                    f"How is the outage detected (`drgen vendors status {plan.source}`, the"
                    " failover switch: RUNBOOK.md, External AI vendors), and who switches"
                    " traffic?",
                    "Switch to: " + (", then ".join(fallback) or "nothing is declared: decide"),
                    "Which answers change in quality, and who is told?",
                    "Are prompts and tool definitions portable to the fallback as they are?",
                ),
                "time to switch, and the quality check on the fallback's answers",
                # The gateway's chain, failed model by model in LiteLLM's Router; --live adds
                # the team's prompts answered by each alternate, for a person to judge.
                f"drgen drill {plan.source} --component vendors --evidence drills/",
            )
        )
        if vendor.deprecation:
            scenarios.append(
                (
                    f"{vendor.model} retires on {vendor.deprecation}",
                    (
                        "Which replacement model has been evaluated, on which test set?",
                        "Who signs off the switch, and by when (90 days before the date)?",
                        "Exit: can prompts, fine-tuning data and logs leave the vendor today?",
                    ),
                    "a tested replacement in place before the retirement date",
                    None,
                )
            )
    return scenarios


def _restore_test(plan: DrPlan, c: ComponentPlan) -> Drill:
    target = (plan.secondary or plan.primary).region
    what = {
        "models": (
            "Copy one model version from the secondary's bucket to a scratch bucket; load it"
            " in a test server and compare its checksum with the registry's."
        ),
        "audit_log": (
            "Retrieve a record of a known decision from the secondary's audit copy and verify"
            " it cannot be deleted (the request must fail)."
        ),
        "vector_store": (
            "Restore the newest snapshot or recovery point into a scratch instance; run the"
            " retrieval evaluation set against it."
        ),
        "feature_store": (
            "Restore the newest backup or recovery point into a scratch table; compare a"
            " sample of entities with the primary."
        ),
    }[c.component]
    automation = ""
    if plan.cloud == "aws" and c.block in ("aurora-backup-copy", "dynamodb-pitr-backup"):
        automation = " AWS Backup restore testing runs this twice a year (see the stack)."
    if plan.cloud == "aws" and c.component == "audit_log" and c.params.get("backup_vault"):
        automation = " AWS Backup restore testing runs this twice a year (see the stack)."
    if c.engine == "pgvector" and "export_bucket" in c.params and target != plan.primary.region:
        automation += (
            f" In {target} the drill imports the newest export of `{c.params['export_bucket']}`"
            " into a scratch instance under that region's key, as the recovery does: a backup"
            " would need the primary's key."
        )
    if c.engine == "pgvector":
        # drgen drill restores through the cloud into the stack's private network.
        automation += (
            " The scratch endpoint is private: run the drill from a host inside the network of"
            f" {target}."
        )
    steps: tuple[str, ...] = (what + automation, "Delete the scratch copy afterwards.")
    command = f"drgen drill {plan.source} --component {c.component} --evidence drills/"
    if c.module == "vector_snapshots":
        # A scratch engine of the team's: the drill refuses any stack's vector_store_url.
        command += ' --scratch-url "$SCRATCH_ENGINE_URL" --project .'
        if c.engine == "milvus":
            command += ' --scratch-search-url "$SCRATCH_MILVUS_URL"'
        if c.engine == "opensearch":
            role = f"pulumi stack output vector_store_snapshot_role --stack {target}"
            command += f' --scratch-role-arn "$({role})"'
        steps += (
            f"`SCRATCH_ENGINE_URL`: a {c.engine} kept for drills, reading {target}'s snapshot"
            " bucket; never a stack's engine (the drill refuses any `vector_store_url`).",
        )
    return Drill(
        "semi-annual",
        "partial restore",
        f"restore {c.label} in {target}",
        steps,
        "restore time against the RTO, and the rate (GB restored per second) against the one"
        " `drgen check` assumed; age of the newest restored data against the RPO",
        command,
    )


def _full_failover(secondary: str) -> Drill:
    return Drill(
        "annual",
        "full failover",
        f"serve from {secondary} for a business day",
        (
            "Announce the window; follow RUNBOOK.md's failover steps exactly as written.",
            f"Serve production traffic from {secondary}; watch error rates and latency.",
            "Fail back with RUNBOOK.md's fail-back steps; run `drgen diff` and"
            " `pulumi preview` on every stack before any `pulumi up`.",
        ),
        "time to fail over and back, data lost (should be none in a planned failover)",
    )
