"""Compare what two versions of a workload declare, resource by resource, without a cloud.

Each side is rendered and every stack is run under the Pulumi mock runtime (`drgen.mockrun`),
so the comparison is between what the generated programs really declare. The comparison
itself (`compare`) is a pure function of the two plans and their declared resources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from drgen.check import component_findings
from drgen.durations import format_duration
from drgen.errors import DrgenError
from drgen.plan import DrPlan, StackPlan
from drgen.render import render
from drgen.vendors.gateway import Gateway, gateway
from drgen.write import write_project

Kind = Literal["added", "removed", "changed"]
Resources = dict[str, dict[tuple[str, str], dict[str, Any]]]
"""Stack name -> (type, name) -> inputs."""

STATEFUL: dict[str, frozenset[str]] = {
    "aws:s3/bucket:Bucket": frozenset({"bucket", "objectLockEnabled"}),
    "aws:kms/key:Key": frozenset({"multiRegion", "keyUsage", "customerMasterKeySpec"}),
    "aws:rds/globalCluster:GlobalCluster": frozenset(
        {"globalClusterIdentifier", "engine", "storageEncrypted", "databaseName"}
    ),
    "aws:rds/cluster:Cluster": frozenset(
        {
            "clusterIdentifier",
            "engine",
            "kmsKeyId",
            "storageEncrypted",
            "databaseName",
            "masterUsername",
            "dbSubnetGroupName",
        }
    ),
    "aws:dynamodb/table:Table": frozenset({"name", "hashKey", "rangeKey"}),
    "aws:backup/vault:Vault": frozenset({"name", "kmsKeyArn"}),
    "gcp:storage/bucket:Bucket": frozenset(
        {"name", "location", "project", "customPlacementConfig"}
    ),
    "gcp:kms/keyRing:KeyRing": frozenset({"name", "location", "project"}),
    "gcp:kms/cryptoKey:CryptoKey": frozenset({"name", "keyRing", "purpose"}),
    "gcp:sql/databaseInstance:DatabaseInstance": frozenset(
        {"name", "region", "project", "encryptionKeyName", "masterInstanceName"}
    ),
    "gcp:bigtable/instance:Instance": frozenset({"name", "project"}),
    "gcp:bigtable/table:Table": frozenset({"name", "instanceName", "project"}),
    "gcp:firestore/database:Database": frozenset(
        {"name", "project", "locationId", "type", "cmekConfig"}
    ),
}
"""Resources that hold data (or the keys to it), with the inputs whose change replaces them:
a replacement or removal destroys what they hold."""


@dataclass(frozen=True)
class PropertyChange:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ResourceChange:
    kind: Kind
    type: str
    name: str
    changes: tuple[PropertyChange, ...]
    replaces: tuple[str, ...]
    """Changed inputs that force a replacement (stateful resources only)."""
    stateful: bool
    refused: str | None = None
    """Why the cloud will refuse this change, if it will (locks that only ever tighten)."""

    @property
    def destroys_state(self) -> bool:
        """Whether applying this change deletes data: a stateful resource removed or replaced."""
        return self.stateful and (self.kind == "removed" or bool(self.replaces))


@dataclass(frozen=True)
class StackDiff:
    name: str
    role: str
    status: Literal["added", "removed", "changed", "unchanged"]
    resources: tuple[ResourceChange, ...]

    def count(self, kind: Kind) -> int:
        return sum(1 for r in self.resources if r.kind == kind)


@dataclass(frozen=True)
class ChainChange:
    """A region's vendor failover chain before and after: no resource shows it (it lives in the
    gateway config), yet a removed fallback is what a reviewer must not miss."""

    stack: str
    before: tuple[str, ...]
    """The primary, then what the gateway falls back to, in order; the degraded mode last."""
    after: tuple[str, ...]
    notes: tuple[str, ...]
    """What changed, in words: `fallback removed: ...`, `alternate added: ...`, `reordered`."""
    removed: tuple[str, ...] = ()
    """Fallbacks the chain no longer has (alternates, the degraded model or mode)."""


@dataclass(frozen=True)
class WorkloadDiff:
    workload: str
    base: str
    head: str
    plan: tuple[PropertyChange, ...]
    stacks: tuple[StackDiff, ...]
    vendors: tuple[ChainChange, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.plan) or bool(self.vendors) or any(s.resources for s in self.stacks)

    @property
    def refused(self) -> tuple[tuple[str, ResourceChange], ...]:
        """(stack, change) for every change the cloud will refuse to apply."""
        return self._changes_where(lambda change: change.refused is not None)

    @property
    def destroys_state(self) -> tuple[tuple[str, ResourceChange], ...]:
        """(stack, change) for every change that deletes data."""
        return self._changes_where(lambda change: change.destroys_state)

    def _changes_where(
        self, wanted: Callable[[ResourceChange], bool]
    ) -> tuple[tuple[str, ResourceChange], ...]:
        return tuple(
            (stack.name, change)
            for stack in self.stacks
            for change in stack.resources
            if wanted(change)
        )


@dataclass(frozen=True)
class Side:
    """One version of the workload: its plan (None if it does not exist there) and a label."""

    label: str
    plan: DrPlan | None


def diff_workload(base: Side, head: Side) -> WorkloadDiff:
    """Render both sides, run their stacks under mocks, and compare what they declare."""
    (diff,) = diff_workloads([(base, head)])
    return diff


def diff_workloads(pairs: list[tuple[Side, Side]]) -> list[WorkloadDiff]:
    """`diff_workload` for each (base, head), running every stack that must run in one go.

    When both sides of a workload render to the same bytes, their programs declare the same
    resources: it is reported unchanged without running anything.
    """
    runs: list[tuple[int, int, Path, StackPlan]] = []
    declared: list[tuple[Resources, Resources]] = []
    with tempfile.TemporaryDirectory(prefix="drgen-diff-") as scratch:
        for n, (base, head) in enumerate(pairs):
            # Rendered files name their source; one name for both sides keeps it out of the diff.
            either = head.plan or base.plan
            source = either.source if either is not None else ""
            plans = [
                side.plan.model_copy(update={"source": source}) if side.plan else None
                for side in (base, head)
            ]
            files = [render(plan) if plan else None for plan in plans]
            if plans[1] is not None and files[0] == files[1]:
                same: Resources = {stack.name: {} for stack in plans[1].stacks}
                declared.append((same, same))
                continue
            declared.append(({}, {}))
            for side, (plan, rendered) in enumerate(zip(plans, files, strict=True)):
                if plan is not None and rendered is not None:
                    project = Path(scratch) / str(n) / str(side) / plan.workload
                    write_project(rendered, project)
                    runs += [(n, side, project, stack) for stack in plan.stacks]
        results = run_stacks([(project, stack) for _, _, project, stack in runs]) if runs else []
    for (n, side, _, stack), result in zip(runs, results, strict=True):
        declared[n][side][stack.name] = result
    return [
        compare(base, head, before, after)
        for (base, head), (before, after) in zip(pairs, declared, strict=True)
    ]


def mock_run(project: Path, stack: StackPlan) -> dict[str, Any]:
    """Run one stack of a rendered project under `drgen.mockrun` in a fresh interpreter, with
    a stand-in for each of its inputs: the resources, nested-input problems and config read."""
    pairs = [f"{key}={value}" for key, value in stack.placeholder_inputs().items()]
    completed = subprocess.run(
        [sys.executable, "-m", "drgen.mockrun", str(project), stack.name, *pairs],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if completed.returncode != 0:
        raise DrgenError(
            f"running stack {stack.name} of {project.name} under mocks failed:\n"
            + _tail(completed.stderr)
        )
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def run_stacks(runs: list[tuple[Path, StackPlan]]) -> list[dict[tuple[str, str], dict[str, Any]]]:
    """What each (project, stack) declares under mocks, in order. One interpreter loads the SDKs
    and forks a child per stack (`drgen.mockfork`); without `os.fork`, one interpreter each."""
    if not runs:
        return []
    if not hasattr(os, "fork"):
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return list(pool.map(lambda run: _declared(mock_run(*run)), runs))
    jobs = [
        {"project": str(project), "stack": stack.name, "inputs": stack.placeholder_inputs()}
        for project, stack in runs
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "drgen.mockfork"],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if completed.returncode != 0:
        raise DrgenError(f"running the stacks under mocks failed:\n{_tail(completed.stderr)}")
    declared = []
    for (project, stack), report in zip(runs, json.loads(completed.stdout), strict=True):
        if "error" in report:
            raise DrgenError(
                f"running stack {stack.name} of {project.name} under mocks failed:\n"
                + _tail(report["error"])
            )
        declared.append(_declared(report))
    return declared


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-20:]) or "no output"


def _declared(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in report["resources"]:
        if resource["type"].startswith("drgen:"):
            continue  # component wrappers declare nothing themselves
        declared[(resource["type"], resource["name"])] = resource["inputs"]
    return declared


def compare(base: Side, head: Side, before: Resources, after: Resources) -> WorkloadDiff:
    """The difference between two sides' plans and declared resources. Pure."""
    roles = {
        s.name: s.role for side in (base, head) if side.plan is not None for s in side.plan.stacks
    }
    stacks = []
    for name in sorted(set(before) | set(after), key=lambda n: (roles.get(n) != "primary", n)):
        old, new = before.get(name), after.get(name)
        changes = _resource_changes(old or {}, new or {})
        status: Literal["added", "removed", "changed", "unchanged"] = (
            "added" if old is None else "removed" if new is None else
            "changed" if changes else "unchanged"
        )  # fmt: skip
        stacks.append(StackDiff(name, roles.get(name, "stack"), status, changes))
    either = head.plan or base.plan
    return WorkloadDiff(
        workload=either.workload if either is not None else "?",
        base=base.label,
        head=head.label,
        plan=tuple(_property_changes(plan_summary(base.plan), plan_summary(head.plan))),
        stacks=tuple(stacks),
        vendors=chain_changes(base.plan, head.plan),
    )


def chain_changes(base: DrPlan | None, head: DrPlan | None) -> tuple[ChainChange, ...]:
    """Per stack, the vendor failover chain and router settings that changed. Pure."""
    gateways = [_gateways(plan) for plan in (base, head)]
    roles = {s.name: s.role for plan in (base, head) if plan is not None for s in plan.stacks}
    changes = []
    for name in sorted(
        set(gateways[0]) | set(gateways[1]), key=lambda n: (roles[n] != "primary", n)
    ):
        old, new = gateways[0].get(name), gateways[1].get(name)
        before, after = _chain(old), _chain(new)
        notes, removed = _chain_notes(before, after)
        notes += _settings_notes(old, new)
        if notes:
            changes.append(ChainChange(name, before, after, tuple(notes), tuple(removed)))
    return tuple(changes)


def _gateways(plan: DrPlan | None) -> dict[str, Gateway]:
    if plan is None:
        return {}
    return {s.name: g for s in plan.stacks if (g := gateway(plan, s)) is not None}


def _chain(settings: Gateway | None) -> tuple[str, ...]:
    """What answers, in the order the gateway tries it: each model where it is called, then the
    degraded mode when it is not a model."""
    if settings is None:
        return ()
    chain = []
    for n, deployment in enumerate(settings.deployments):
        where = next((v for k, v in sorted(deployment.params.items()) if k != "api_key"), None)
        label = deployment.model + (f" ({where})" if where else "")
        degraded = settings.degraded_in_gateway and n == len(settings.deployments) - 1 and n > 0
        chain.append(f"degraded model {label}" if degraded else label)
    if settings.degraded_mode and not settings.degraded_in_gateway:
        chain.append(f"degraded mode {settings.degraded_mode}")
    return tuple(chain)


def _chain_notes(before: tuple[str, ...], after: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """What changed in words, and the fallbacks no longer there (a changed degraded mode is a
    change, not a removal)."""
    if before == after:
        return [], []
    if not before:
        return ["gateway added: " + " -> ".join(after)], []
    if not after:
        return ["gateway removed: no vendor failover"], list(before[1:])
    notes = []
    if before[0] != after[0]:
        notes.append(f"primary: {before[0]} -> {after[0]}")
    old, new = list(before[1:]), list(after[1:])
    degraded = [[e for e in side if e.startswith(DEGRADED)] for side in (old, new)]
    if all(len(found) == 1 for found in degraded) and degraded[0] != degraded[1]:
        notes.append(f"degraded: {degraded[0][0]} -> {degraded[1][0]}")
        old.remove(degraded[0][0])
        new.remove(degraded[1][0])
    # A fallback promoted to primary is not lost: "primary: ..." says where it went.
    removed = [entry for entry in old if entry not in new and entry != after[0]]
    notes += [f"fallback removed: {entry}" for entry in removed]
    notes += [f"fallback added: {entry}" for entry in new if entry not in old]
    kept_old = [entry for entry in old if entry in new]
    kept_new = [entry for entry in new if entry in old]
    if kept_old != kept_new:
        notes.append("fallbacks reordered: " + " -> ".join(kept_new))
    return notes, removed


DEGRADED = ("degraded mode ", "degraded model ")


ROUTER_SETTINGS = ("num_retries", "allowed_fails", "cooldown_time", "health_check_interval")


def _settings_notes(old: Gateway | None, new: Gateway | None) -> list[str]:
    if old is None or new is None:
        return []
    notes = []
    for key in ROUTER_SETTINGS:
        before, after = getattr(old, key), getattr(new, key)
        if before != after:
            notes.append(f"{key}: {_setting(before)} -> {_setting(after)}")
    return notes


def _setting(value: int | None) -> str:
    return "off" if value is None else str(value)


def plan_summary(plan: DrPlan | None) -> dict[str, Any]:
    """What a reviewer compares first: pattern, objectives, regions and building blocks."""
    if plan is None:
        return {}
    rto = plan.objectives.rto_seconds
    summary: dict[str, Any] = {
        "tier": plan.tier,
        "pattern": plan.pattern,
        "cloud": plan.cloud,
        "regions": {s.role: s.region for s in plan.stacks},
        "objectives": {
            "rto": format_duration(rto) if rto is not None else "none",
            "rpo": format_duration(plan.objectives.rpo_seconds),
        },
        "audit_retention": next(
            str(c.params["retention"]) for c in plan.components if c.component == "audit_log"
        ),
        "components": {c.component: f"{c.block} ({c.replication})" for c in plan.components},
    }
    if plan.routing is not None:
        summary["routing"] = f"{plan.routing.block} {plan.routing.domain}"
    # What `drgen check` says each component achieves: the effective RPO/RTO.
    summary["achievable"] = {
        finding.subject: f"RPO {cells[1]}, RTO {cells[3]}: {finding.verdict}"
        for finding in component_findings(plan)
        for cells in (finding.cells(),)
    }
    return summary


def _resource_changes(
    old: dict[tuple[str, str], dict[str, Any]], new: dict[tuple[str, str], dict[str, Any]]
) -> tuple[ResourceChange, ...]:
    changes = []
    for key in sorted(set(old) | set(new)):
        token, name = key
        stateful = token in STATEFUL
        if key not in new:
            refused = _refusal(token, "removed", old[key], {})
            changes.append(ResourceChange("removed", token, name, (), (), stateful, refused))
        elif key not in old:
            changes.append(ResourceChange("added", token, name, (), (), stateful))
        else:
            properties = tuple(_property_changes(old[key], new[key]))
            if properties:
                replacing = STATEFUL.get(token, frozenset())
                replaces = tuple(
                    p.path for p in properties if p.path.split(".")[0].split("[")[0] in replacing
                )
                refused = _refusal(token, "changed", old[key], new[key])
                changes.append(
                    ResourceChange("changed", token, name, properties, replaces, stateful, refused)
                )
    return tuple(changes)


def _refusal(token: str, kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Why the cloud refuses a change to a lock that may only ever tighten, if it does."""
    if token == "aws:backup/vaultLockConfiguration:VaultLockConfiguration":
        return (
            "a Vault Lock in compliance mode cannot be changed or removed once its"
            f" {old.get('changeableForDays', 3):g}-day cooling-off has passed; AWS refuses"
            " the update (create a new vault instead)"
        )
    if token == "gcp:storage/bucket:Bucket" and kind == "changed":
        before, after = old.get("retentionPolicy") or {}, new.get("retentionPolicy") or {}
        if before.get("isLocked") and (
            not after or int(after["retentionPeriod"]) < int(before["retentionPeriod"])
        ):
            return "a locked retention policy can only grow; Cloud Storage refuses to shorten it"
    return None


def _property_changes(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
    """Leaf-by-leaf differences between two JSON-like values, as dotted paths."""
    old, new = _normal(old), _normal(new)
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{key}" if path else str(key)
            found += _property_changes(old.get(key), new.get(key), child)
        return found
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and all(isinstance(item, dict) for item in old + new)
    ):
        found = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            found += _property_changes(before, after, f"{path}[{index}]")
        return found
    return [] if old == new else [PropertyChange(path, old, new)]


def _normal(value: Any) -> Any:
    """JSON documents held in strings (policies), as data, so they compare field by field."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return json.loads(value)  # policy documents: compare statement by statement
        except ValueError:
            return value
    return value
