"""Resolve a validated workload into a `DrPlan`: the single truth that templates and checks read."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from drgen.durations import format_duration
from drgen.loader import SourcedWorkload
from drgen.names import resource_name
from drgen.patterns.catalogue import (
    BLOCKS,
    CLOUD_INPUTS,
    PATTERN_STRENGTH,
    REPLICATED_BUCKETS,
    REPLICATION,
    ROUTING,
    STACK_INPUTS,
    TIER_OBJECTIVES,
    ParamValue,
    Pattern,
    Replication,
    StackInput,
)
from drgen.schema import DEFAULT_PATTERN, Workload
from drgen.vendors.entries import Vendor
from drgen.vendors.known import KEY_VARIABLE, PROVIDER_BY_NAME, STATUS_PAGE, Provider

BIGTABLE_COPY_EVERY_SECONDS = 6 * 3600
"""How often the secondary's job looks for a new Bigtable backup of the primary to copy."""

Role = Literal["primary", "secondary"]
ComponentName = Literal["models", "vector_store", "feature_store", "prompts", "audit_log"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StackInputPlan(Frozen):
    """A config value the deploying team sets on a stack (`pulumi config set`)."""

    key: str
    description: str
    example: str
    secret: bool
    is_list: bool
    component: str


class StackPlan(Frozen):
    """One Pulumi stack: one region with its role, and the config the team must set on it."""

    name: str
    region: str
    role: Role
    peer_region: str | None
    deploy_order: int
    inputs: tuple[StackInputPlan, ...] = ()

    def placeholder_inputs(self) -> dict[str, str]:
        """A stand-in value for every input, for runs under the mock runtime (diff, tests)."""
        return {i.key: i.example or f"placeholder-{i.key}" for i in self.inputs}


class ObjectivesPlan(Frozen):
    """Effective objectives in seconds, and whether each was declared or is the tier default."""

    rto_seconds: int | None
    rpo_seconds: int
    rto_source: Literal["declared", "tier default"]
    rpo_source: Literal["declared", "tier default"]


class ComponentPlan(Frozen):
    """One component's building block, where it is deployed, its names and its parameters."""

    component: ComponentName
    engine: str | None
    block: str
    module: str
    summary: str
    replication: Replication
    replicate_from: tuple[str, ...]
    """Regions whose copy replicates (or is copied) to the peer region."""
    regions: tuple[str, ...]
    serving: tuple[str, ...]
    """Regions where the component serves live traffic (all for active-active, else primary)."""
    names: dict[str, str]
    """Region -> name of the component's regional resources (buckets, clusters)."""
    global_name: str
    """Name shared by every region: global tables and databases, backup vault prefixes."""
    params: dict[str, ParamValue]

    @property
    def label(self) -> str:
        """The component as people name it: `vector_store (qdrant)`."""
        return self.component + (f" ({self.engine})" if self.engine else "")


class RoutingPlan(Frozen):
    """How clients reach the live regions."""

    block: str
    policy: str
    domain: str
    zone: str
    health_path: str
    targets: dict[str, str]


class VendorPlan(Frozen):
    """One vendor entry with the well-known defaults filled in (drgen.vendors.known)."""

    name: str
    model: str
    role: Literal["primary", "alternate", "degraded"]
    deprecation: str | None
    provider: Provider
    credential_env: str | None = None
    """Variable the gateway reads the key from; None for providers called with a cloud identity."""
    credential_secret: str | None = None
    region: str | None = None
    """Declared region of a cloud-served model; None: the stack's own region."""
    endpoint: str | None = None
    status_page: str | None = None
    status_components: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The vendor as people name it: `openai/gpt-4o`."""
        return f"{self.name}/{self.model}"


class PromptFile(Frozen):
    path: str
    text: str


class DeployStep(Frozen):
    """One `pulumi up` of the deploy sequence, with the config set on its stack just before."""

    stack: str
    role: Role
    config: dict[str, str]
    """Key -> value that the sequence sets (`pulumi config set KEY VALUE`) before this `up`."""
    inputs: tuple[str, ...]
    """Keys the team must have set on the stack (README.md lists them) before this `up`."""
    why: str


class DeploySequence(Frozen):
    """The order of `pulumi up`s: from an empty account, and for every deployment after it."""

    first: tuple[DeployStep, ...]
    """From an empty account to the complete topology; every step succeeds first time."""
    update: tuple[DeployStep, ...]
    """Every later deployment, once `first` has completed (the primary has deployed)."""


class DrPlan(Frozen):
    """Everything drgen will build for one workload, resolved from its declaration."""

    workload: str
    source: str
    cloud: Literal["aws", "gcp"]
    tier: int
    pattern: Pattern
    pattern_source: Literal["declared", "tier default"]
    objectives: ObjectivesPlan
    owner: str | None
    stacks: tuple[StackPlan, ...]
    components: tuple[ComponentPlan, ...]
    routing: RoutingPlan | None
    tags: dict[str, str]
    vendors: tuple[VendorPlan, ...]
    degraded_mode: str | None
    prompt_files: tuple[PromptFile, ...]
    warnings: tuple[str, ...]
    deploy: DeploySequence
    gcp_project: str | None = None
    """The project the workload names (naming.project): every GCP stack must deploy into it."""

    @property
    def primary(self) -> StackPlan:
        return next(stack for stack in self.stacks if stack.role == "primary")

    @property
    def secondary(self) -> StackPlan | None:
        """The recovery region's stack, if the workload has one."""
        return next((stack for stack in self.stacks if stack.role == "secondary"), None)

    @property
    def secondary_needs_primary(self) -> str | None:
        """Why the secondary's first deployment must wait for the primary, if it must."""
        return _needs_primary(self.cloud, self.components)

    def component(self, name: ComponentName) -> ComponentPlan | None:
        """The plan of component `name`, if the workload has it."""
        return next((c for c in self.components if c.component == name), None)

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def resolve(sourced: SourcedWorkload) -> DrPlan:
    """The DR plan for a validated workload. Pure: same workload, same plan."""
    workload = sourced.workload
    pattern = workload.effective_pattern
    regions = workload.region_list
    objectives = _objectives(workload)
    components = tuple(_components(workload, pattern, regions, objectives.rpo_seconds))
    routing = _routing(workload, pattern)
    stacks = tuple(
        stack.model_copy(
            update={
                "inputs": _stack_inputs(
                    workload.cloud, stack, components, routing, workload.naming.project
                )
            }
        )
        for stack in _stacks(regions)
    )
    return DrPlan(
        workload=workload.name,
        source=sourced.file,
        cloud=workload.cloud,
        tier=workload.tier,
        pattern=pattern,
        pattern_source="declared" if workload.pattern else "tier default",
        objectives=objectives,
        owner=workload.owner,
        stacks=stacks,
        components=components,
        routing=routing,
        tags=dict(sorted(workload.tags.items())),
        vendors=tuple(vendor_plan(v) for v in workload.vendors),
        degraded_mode=workload.degraded_mode,
        prompt_files=tuple(PromptFile(path=p, text=t) for p, t in sourced.prompt_files),
        warnings=tuple(_warnings(workload, pattern, objectives)),
        deploy=_deploy_sequence(stacks, _needs_primary(workload.cloud, components)),
        gcp_project=workload.naming.project,
    )


def _needs_primary(cloud: str, components: tuple[ComponentPlan, ...]) -> str | None:
    reasons = []
    for c in components:
        if c.replication == "bidirectional" and (cloud, c.module) in REPLICATED_BUCKETS:
            reasons.append(f"its {c.component} bucket replicates into the primary's")
        if c.block == "aurora-global":
            reasons.append("its vector database joins the primary's Aurora global database")
        if c.block == "dynamodb-global-table":
            reasons.append("its feature table replica joins the primary's global table")
        if c.block == "cloudsql-cross-region-replica":
            reasons.append("its vector database is a replica of the primary's instance")
        if c.block == "gcs-snapshot-scheduler" and len(c.serving) > 1:
            # Active-active: both engines write the dual-region bucket the primary creates.
            reasons.append(
                "its engine is granted on the dual-region snapshot bucket the primary owns"
            )
    return "; ".join(reasons) or None


def _deploy_sequence(stacks: tuple[StackPlan, ...], needs_primary: str | None) -> DeploySequence:
    """The `pulumi up`s in order. `peer_deployed` (read by the programs, true when unset) is set
    explicitly on every stack with a peer, so a value left in a stack's file never decides."""
    ordered = sorted(stacks, key=lambda s: s.deploy_order)

    def step(stack: StackPlan, why: str, peer_deployed: str = "true") -> DeployStep:
        return DeployStep(
            stack=stack.name,
            role=stack.role,
            config={"peer_deployed": peer_deployed} if stack.peer_region else {},
            inputs=tuple(dict.fromkeys(i.key for i in stack.inputs)),
            why=why,
        )

    why = {
        "primary": "the primary region",
        "secondary": "the secondary region first: the primary replicates into its buckets",
    }
    update = tuple(step(s, why[s.role]) for s in ordered)
    if needs_primary is None or len(ordered) < 2:
        return DeploySequence(first=update, update=update)
    secondary, primary = ordered
    first = (
        step(secondary, "the secondary, without the parts that need the primary", "false"),
        step(primary, "the primary, replicating into the secondary"),
        step(secondary, "the secondary again, now that the primary exists"),
    )
    return DeploySequence(first=first, update=update)


def vendor_plan(vendor: Vendor) -> VendorPlan:
    """A validated vendor entry with the well-known defaults applied."""
    provider = vendor.provider or PROVIDER_BY_NAME[vendor.name]
    credential = vendor.credential
    return VendorPlan(
        name=vendor.name,
        model=vendor.model,
        role=vendor.role,
        deprecation=vendor.deprecation.isoformat() if vendor.deprecation else None,
        provider=provider,
        credential_env=credential.env if credential else KEY_VARIABLE.get(provider),
        credential_secret=credential.secret if credential else None,
        region=vendor.region,
        endpoint=vendor.endpoint,
        status_page=vendor.status_page or STATUS_PAGE.get(vendor.name),
        status_components=tuple(vendor.status_components),
    )


def _stacks(regions: list[str]) -> tuple[StackPlan, ...]:
    # The secondary deploys first: it never needs the primary, and replication into it then
    # finds its bucket already there.
    if len(regions) == 1:
        return (
            StackPlan(
                name=regions[0], region=regions[0], role="primary", peer_region=None, deploy_order=1
            ),
        )
    primary, secondary = regions
    return (
        StackPlan(
            name=primary, region=primary, role="primary", peer_region=secondary, deploy_order=2
        ),
        StackPlan(
            name=secondary, region=secondary, role="secondary", peer_region=primary, deploy_order=1
        ),
    )


def _stack_inputs(
    cloud: str,
    stack: StackPlan,
    components: tuple[ComponentPlan, ...],
    routing: RoutingPlan | None,
    gcp_project: str | None = None,
) -> tuple[StackInputPlan, ...]:
    """The config a stack reads that drgen cannot know, in the order the README lists it; the
    project a workload names is the value of `gcp:project`, not a stand-in."""
    wanted: list[tuple[StackInput, str]] = [(spec, "stack") for spec in CLOUD_INPUTS[cloud]]
    users: list[tuple[str, str, str | None, tuple[str, ...]]] = [
        (c.component, c.block, c.engine, c.serving) for c in components
    ]
    if routing is not None:
        users.append(("routing", routing.block, None, ()))
    for component, block, engine, serving in users:
        rows = STACK_INPUTS.get((block, None), ())
        if engine is not None:
            rows += STACK_INPUTS.get((block, engine), ())
        for spec, where in rows:
            if (
                where == "all"
                or (where == "primary" and stack.role == "primary")
                or (where == "secondary" and stack.role == "secondary")
                or (where == "serving" and stack.region in serving)
            ):
                wanted.append((spec, component))
    return tuple(
        StackInputPlan(
            key=spec.key,
            description=spec.description,
            example=gcp_project if spec.key == "gcp:project" and gcp_project else spec.example,
            secret=spec.secret,
            is_list=spec.is_list,
            component=component,
        )
        for spec, component in wanted
    )


def _objectives(workload: Workload) -> ObjectivesPlan:
    default_rto, default_rpo = TIER_OBJECTIVES[workload.tier]
    declared = workload.objectives
    return ObjectivesPlan(
        rto_seconds=declared.rto if declared.rto is not None else default_rto,
        rpo_seconds=declared.rpo if declared.rpo is not None else default_rpo,
        rto_source="declared" if declared.rto is not None else "tier default",
        rpo_source="declared" if declared.rpo is not None else "tier default",
    )


def _components(
    workload: Workload, pattern: Pattern, regions: list[str], rpo_seconds: int
) -> list[ComponentPlan]:
    declared = workload.components
    # A recovery point reaches the secondary up to an interval + the 1-hour start window + the
    # backup + the copy after the data it holds, and drgen check wants estimates resting on
    # assumed copy rates to fit twice over: the interval, the start window and an hour for the
    # backup and copy fit in half the RPO. At least hourly (AWS Backup's floor), at least daily.
    backup_every_hours = min(max(rpo_seconds // 3600 // 2 - 2, 1), 24)
    replication: Replication = REPLICATION[pattern] if len(regions) > 1 else "none"
    wanted: list[tuple[ComponentName, str | None, dict[str, ParamValue]]] = [
        ("models", None, {"size_gb": declared.models.size_gb, "noncurrent_version_days": 90}),
    ]
    if declared.vector_store:
        vectors = declared.vector_store
        engine_params: dict[str, ParamValue] = (
            {
                "backup_retention_days": 35 if workload.tier <= 1 else 14,
                "backup_every_hours": backup_every_hours,
                "deletion_protection": True,
            }
            if vectors.engine == "pgvector"
            else {
                "snapshot_every_seconds": vectors.snapshot_every,
                "snapshot_every": format_duration(vectors.snapshot_every),
                "snapshot_retention_days": 14,
            }
        )
        if (workload.cloud, vectors.engine, pattern, workload.tier) == (
            "aws",
            "pgvector",
            "active-active",
            0,
        ):
            # Aurora PostgreSQL's managed RPO (`rds.global_db_rpo`, at least 20 s) bounds the
            # lag of an active-active global database by blocking commits beyond it.
            engine_params["global_db_rpo_seconds"] = max(20, rpo_seconds)
        wanted.append(
            ("vector_store", vectors.engine, {"size_gb": vectors.size_gb, **engine_params})
        )
    if declared.feature_store:
        feature_params: dict[str, ParamValue] = {
            "point_in_time_recovery": True,
            "deletion_protection": True,
            "backup_retention_days": 35 if workload.tier <= 1 else 14,
            "backup_every_hours": backup_every_hours,
        }
        if (workload.cloud, declared.feature_store.engine, pattern) == (
            "gcp",
            "bigtable",
            "cold-restore",
        ) and len(regions) > 1:
            # Bigtable picks the time of its daily backup, so the secondary's copy job looks
            # for a new one every 6 hours: a backup waits at most that long to leave.
            feature_params["backup_copy_every_seconds"] = BIGTABLE_COPY_EVERY_SECONDS
            feature_params["backup_copy_every"] = format_duration(BIGTABLE_COPY_EVERY_SECONDS)
        wanted.append(("feature_store", declared.feature_store.engine, feature_params))
    if declared.prompts:
        wanted.append(("prompts", None, {"source_path": declared.prompts.path}))
    retention_days = declared.audit_log.retention // 86400
    wanted.append(
        (
            "audit_log",
            None,
            {
                "retention_days": retention_days,
                "retention": format_duration(declared.audit_log.retention),
                "backup_vault": pattern != "cold-restore",
            },
        )
    )

    if workload.cloud == "gcp" and pattern == "cold-restore" and len(regions) > 1:
        # Storage Transfer skips a run while the previous one still runs, so an object can wait
        # two intervals plus the copy: three copies per RPO leave a third of it for the copy.
        # Storage Transfer repeats at most hourly, and drgen copies at least daily.
        copy_every_seconds = min(max(rpo_seconds // 3, 3600), 86400)
        for component, engine, params in wanted:
            # pgvector keeps no bucket of its own to copy: Cloud SQL exports into the secondary.
            if component in ("models", "vector_store", "audit_log") and engine != "pgvector":
                params["copy_every_seconds"] = copy_every_seconds

    if workload.cloud == "gcp":
        for component, _, params in wanted:
            if component == "vector_store" and "snapshot_every_seconds" in params:
                every = int(params["snapshot_every_seconds"])
                params["snapshot_alert_after_seconds"] = _snapshot_alert_after(rpo_seconds, every)
    vectors_declared = declared.vector_store
    if (
        workload.cloud == "gcp"
        and pattern == "cold-restore"
        and len(regions) > 1
        and vectors_declared is not None
        and vectors_declared.engine == "pgvector"
    ):
        # Cloud SQL backups need the primary's regional key: the secondary keeps logical
        # exports under its own key, three per RPO in whole hours (drgen check wants an
        # estimate on assumed export rates to fit twice over), hourly at most, daily at least.
        export_every = min(max(rpo_seconds // 3 // 3600, 1), 24) * 3600
        for component, _, params in wanted:
            if component == "vector_store":
                params["database"] = vectors_declared.database
                params["export_bucket"] = resource_name(
                    workload.name, component, regions[1], workload.bucket_suffix
                )
                params["export_every_seconds"] = export_every
                params["export_every"] = format_duration(export_every)
                params["export_alert_after_seconds"] = _snapshot_alert_after(
                    rpo_seconds, export_every
                )

    plans = []
    for component, engine, params in wanted:
        block = BLOCKS[(workload.cloud, component, engine or "-", pattern)]
        # Bucket names are global and take the derived suffix; a database's name is unique in
        # its project already, and renaming a deployed one would replace it: it keeps the
        # declared suffix only, as before naming.project existed.
        suffix = (
            workload.naming.suffix
            if component == "feature_store" or engine == "pgvector"
            else workload.bucket_suffix
        )
        moves: Replication = (block.replication or replication) if len(regions) > 1 else "none"
        plans.append(
            ComponentPlan(
                component=component,
                engine=engine,
                block=block.name,
                module=block.module,
                summary=block.summary,
                replication=moves,
                replicate_from=_replicate_from(moves, regions),
                # Every component lives in every stack's region; the pattern decides whether the
                # secondary runs a live copy or receives replicas and backups.
                regions=tuple(regions),
                serving=tuple(regions) if pattern == "active-active" else (regions[0],),
                names={r: resource_name(workload.name, component, r, suffix) for r in regions},
                global_name=resource_name(workload.name, component, None, suffix),
                params=dict(sorted({**block.params, **params}.items())),
            )
        )
    return plans


def _snapshot_alert_after(rpo_seconds: int, every_seconds: int) -> int:
    """How long without a successful snapshot before Cloud Monitoring alerts: the RPO, or when
    the cadence leaves no room under it, one missed snapshot (a cadence plus 15 minutes for the
    job); within a metric-absence condition's 2 minutes to 23.5 hours, in whole minutes."""
    missed = every_seconds + 15 * 60
    after = rpo_seconds if rpo_seconds >= missed else missed
    return min(max(-(-after // 60) * 60, 120), 84600)


def _replicate_from(replication: Replication, regions: list[str]) -> tuple[str, ...]:
    if replication == "bidirectional":
        return tuple(regions)
    if replication == "to-secondary":
        return (regions[0],)
    return ()


def _routing(workload: Workload, pattern: Pattern) -> RoutingPlan | None:
    block = ROUTING.get((workload.cloud, pattern))
    if block is None or workload.endpoint is None:
        return None
    endpoint = workload.endpoint
    return RoutingPlan(
        block=block.name,
        policy=str(block.params["policy"]),
        domain=endpoint.domain,
        zone=endpoint.zone,
        health_path=endpoint.health_path,
        targets={region: endpoint.targets[region] for region in workload.region_list},
    )


def _warnings(workload: Workload, pattern: Pattern, objectives: ObjectivesPlan) -> list[str]:
    default = DEFAULT_PATTERN[workload.tier]
    if PATTERN_STRENGTH[pattern] >= PATTERN_STRENGTH[default]:
        return []
    rto = objectives.rto_seconds
    rto_text = format_duration(rto) if rto is not None else "none"
    rpo_text = format_duration(objectives.rpo_seconds)
    return [
        f"pattern {pattern} is weaker than tier {workload.tier}'s default {default}: it endangers"
        f" RTO {rto_text} (recovery must rebuild the secondary)"
        + (f" and RPO {rpo_text} (no continuous replication)" if pattern == "cold-restore" else "")
    ]
