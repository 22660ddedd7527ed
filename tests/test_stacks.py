"""Concerns every cloud shares, asserted on what each golden stack declares under the mock
runtime: SDK-valid inputs, documented config, labels, key rotation, audit retention, routing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.stacks import (
    BUILT_IN_CONFIG,
    STACKS,
    of_type,
    plan_of,
    projects_of,
    run,
    sdk_has_input,
    stack_plan,
    stacks_of,
    takes_snapshots,
)

ALL_STACKS = stacks_of()
TAGS = {
    "aws": ("tags", "drgen:workload", "drgen:component"),
    "gcp": ("labels", "drgen-workload", "drgen-component"),
}
"""Cloud -> (the input that carries them, the workload's key, the component's key)."""
NINETY_DAYS = 90 * 86400


def test_both_clouds_have_stacks_to_check() -> None:
    clouds = {plan_of(project).cloud for project, _ in STACKS}

    assert clouds == {"aws", "gcp"}


@ALL_STACKS
def test_nested_inputs_match_the_sdk_types(project_stack: tuple[Path, str]) -> None:
    assert run(*project_stack)["problems"] == []


@ALL_STACKS
def test_a_stack_reads_exactly_the_inputs_its_readme_lists(
    project_stack: tuple[Path, str],
) -> None:
    project, stack = project_stack
    readme = (project / "README.md").read_text()

    read = set(run(project, stack)["config_read"]) - BUILT_IN_CONFIG
    listed = {i.key for i in stack_plan(project, stack).inputs}

    assert read == listed
    for key in listed:
        assert f" {key} " in readme and f"--stack {stack}" in readme


@ALL_STACKS
def test_every_resource_that_takes_tags_or_labels_has_the_workloads(
    project_stack: tuple[Path, str],
) -> None:
    project, _ = project_stack
    field, workload_key, component_key = TAGS[plan_of(project).cloud]

    for resource in run(*project_stack)["resources"]:
        if resource["type"].startswith("drgen:") or not sdk_has_input(resource["type"], field):
            continue
        labels = resource["inputs"].get(field, {})
        assert labels.get(workload_key) == project.name, resource["type"]
        assert component_key in labels, resource["type"]


@ALL_STACKS
def test_keys_rotate_at_least_every_ninety_days(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    aws_keys = of_type(result, "aws:kms/key:Key")
    gcp_keys = of_type(result, "gcp:kms/cryptoKey:CryptoKey")
    assert aws_keys or gcp_keys
    assert all(k["enableKeyRotation"] is True for k in aws_keys)  # AWS rotates yearly
    assert all(int(k["rotationPeriod"].removesuffix("s")) <= NINETY_DAYS for k in gcp_keys)


@projects_of()
def test_audit_records_stay_immutable_for_the_declared_retention_in_both_regions(
    project: Path,
) -> None:
    plan = plan_of(project)
    audit = plan.component("audit_log")
    assert audit is not None
    days = int(audit.params["retention_days"])
    results = [run(project, s.name) for s in plan.stacks]

    locked_regions: set[str] = set()
    for stack, result in zip(plan.stacks, results, strict=True):
        locked_regions |= _locked_audit_regions(plan.cloud, stack.region, result, days)

    assert locked_regions == {s.region for s in plan.stacks}


def _locked_audit_regions(cloud: str, region: str, result: dict[str, Any], days: int) -> set[str]:
    """Regions whose data this stack's audit buckets hold under a lock of at least `days`."""
    if cloud == "aws":
        audit = [b for b in of_type(result, "aws:s3/bucket:Bucket") if "-audit-" in b["bucket"]]
        (lock,) = of_type(
            result, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
        )
        assert all(b["objectLockEnabled"] is True for b in audit)
        assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": days}
        for vault_lock in of_type(
            result, "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
        ):
            if vault_lock["backupVaultName"].endswith("-audit"):
                assert vault_lock["minRetentionDays"] >= days
                assert vault_lock["changeableForDays"] >= 3
        return {region} if audit else set()
    regions: set[str] = set()
    for bucket in of_type(result, "gcp:storage/bucket:Bucket"):
        if bucket["labels"]["drgen-component"] != "audit-log":
            continue
        policy = bucket["retentionPolicy"]
        assert policy["isLocked"] is True
        assert int(policy["retentionPeriod"]) >= days * 86400
        placement = bucket.get("customPlacementConfig", {}).get("dataLocations", [])
        regions |= {r.lower() for r in placement} or {bucket["location"].lower()}
    return regions


SCHEDULES = {"aws": "aws:scheduler/schedule:Schedule", "gcp": "gcp:cloudscheduler/job:Job"}


@projects_of(having=takes_snapshots)
def test_snapshots_are_scheduled_exactly_where_the_engine_serves(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None

    scheduled = {
        stack.region
        for stack in plan.stacks
        for schedule in of_type(run(project, stack.name), SCHEDULES[plan.cloud])
        # The vendor watcher's schedule polls status pages, in every region; the Bigtable
        # backup copy runs in the secondary whatever serves.
        if not schedule.get("name", "").endswith(("-vendor-watch", "-features-copy"))
    }

    assert scheduled == set(vectors.serving)


@ALL_STACKS
def test_live_patterns_route_to_healthy_regions(project_stack: tuple[Path, str]) -> None:
    project, stack = project_stack
    plan = plan_of(project)
    role = stack_plan(project, stack).role
    result = run(project, stack)
    records = of_type(result, "aws:route53/record:Record") + of_type(
        result, "gcp:dns/recordSet:RecordSet"
    )

    if plan.routing is None:
        assert records == []
    elif plan.cloud == "aws":
        (record,) = records
        (check,) = of_type(result, "aws:route53/healthCheck:HealthCheck")
        assert check["type"] == "HTTPS"
        assert record["setIdentifier"] == stack
        if plan.pattern == "warm-standby":
            expected = "PRIMARY" if role == "primary" else "SECONDARY"
            assert record["failoverRoutingPolicies"] == [{"type": expected}]
        else:
            assert record["latencyRoutingPolicies"] == [{"region": stack}]
    elif role == "secondary":
        assert records == []  # the primary's stack owns the one record set
    else:
        (record,) = records
        (check,) = of_type(result, "gcp:compute/healthCheck:HealthCheck")
        assert check["httpsHealthCheck"]["requestPath"] == plan.routing.health_path
        assert len(check["sourceRegions"]) == 3
        policy = record["routingPolicy"]
        targets = plan.routing.targets
        if plan.pattern == "warm-standby":
            primary, secondary = plan.stacks[0].region, plan.stacks[1].region
            backup = policy["primaryBackup"]
            assert backup["primary"] == {"externalEndpoints": [targets[primary]]}
            (geo,) = backup["backupGeos"]
            assert geo["location"] == secondary
            assert geo["healthCheckedTargets"] == {"externalEndpoints": [targets[secondary]]}
        else:
            assert {g["location"] for g in policy["geos"]} == set(targets)
