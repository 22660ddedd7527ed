"""Every stack of every golden AWS project, run under the Pulumi mock runtime: DR and security
invariants asserted on what the program really declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from drgen.loader import load_workload
from drgen.plan import DrPlan, StackPlan, resolve
from drgen.render import aws_rate
from tests.conftest import ROOT

STACKRUN = Path(__file__).with_name("stackrun.py")
PROJECTS = sorted(p for p in (ROOT / "stacks").iterdir() if (p / "Pulumi.yaml").exists())
STACKS = [
    (project, stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml"))
    for project in PROJECTS
    for stack_file in sorted(project.glob("Pulumi.*.yaml"))
]


@cache
def run(project: Path, stack: str) -> dict[str, Any]:
    """The resources one stack registers under mocks (a fresh interpreter per stack)."""
    completed = subprocess.run(
        [sys.executable, str(STACKRUN), str(project), stack],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def of_type(result: dict[str, Any], token: str) -> list[dict[str, Any]]:
    return [r["inputs"] for r in result["resources"] if r["type"] == token]


def settings_of(project: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile((project / "settings.py").read_text(), "settings.py", "exec"), namespace)
    return namespace


def stack_id(value: object) -> str:
    return f"{value[0].name}/{value[1]}" if isinstance(value, tuple) else str(value)


STACK_PARAMS = pytest.mark.parametrize("project_stack", STACKS, ids=stack_id)


def test_there_are_stacks_to_check() -> None:
    assert len(STACKS) >= 3


@STACK_PARAMS
def test_nested_inputs_match_the_sdk_types(project_stack: tuple[Path, str]) -> None:
    assert run(*project_stack)["problems"] == []


@STACK_PARAMS
def test_every_bucket_is_private_versioned_encrypted_and_tls_only(
    project_stack: tuple[Path, str],
) -> None:
    result = run(*project_stack)
    buckets = {b["bucket"] for b in of_type(result, "aws:s3/bucket:Bucket")}
    by_bucket = {
        token: {r["bucket"]: r for r in of_type(result, f"aws:s3/{token}")}
        for token in (
            "bucketVersioning:BucketVersioning",
            "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "bucketPublicAccessBlock:BucketPublicAccessBlock",
            "bucketPolicy:BucketPolicy",
            "bucketOwnershipControls:BucketOwnershipControls",
        )
    }
    assert buckets
    for versioning in by_bucket["bucketVersioning:BucketVersioning"].values():
        assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse_token = "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    for sse in by_bucket[sse_token].values():
        default = sse["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default["sseAlgorithm"] == "aws:kms"
        assert default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    for block in by_bucket["bucketPublicAccessBlock:BucketPublicAccessBlock"].values():
        assert all(
            block[flag] is True
            for flag in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
    for policy in by_bucket["bucketPolicy:BucketPolicy"].values():
        statement = json.loads(policy["policy"])["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # One of each per bucket (the mocks give each bucket a distinct id).
    counts = {token: len(rows) for token, rows in by_bucket.items()}
    assert set(counts.values()) == {len(buckets)}, counts


@STACK_PARAMS
def test_keys_rotate_and_state_is_protected(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    keys = of_type(result, "aws:kms/key:Key")
    assert keys and all(k["enableKeyRotation"] is True for k in keys)
    assert all(b.get("forceDestroy") is False for b in of_type(result, "aws:s3/bucket:Bucket"))


@STACK_PARAMS
def test_no_iam_policy_grants_everything(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    for policy in of_type(result, "aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy["policy"])["Statement"]:
            action = statement["Action"]
            actions = action if isinstance(action, list) else [action]
            assert not any(a == "*" or a.endswith(":*") for a in actions), statement
            assert statement["Resource"] != "*", statement


@STACK_PARAMS
def test_replication_targets_the_peer_stacks_bucket(project_stack: tuple[Path, str]) -> None:
    project, stack = project_stack
    settings = settings_of(project)
    result = run(project, stack)
    peers = [s for p, s in STACKS if p == project and s != stack]

    for config in of_type(result, "aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        (rule,) = config["rules"]
        destination = rule["destination"]
        (peer,) = peers
        peer_buckets = {b["bucket"] for b in of_type(run(project, peer), "aws:s3/bucket:Bucket")}
        assert destination["bucket"].removeprefix("arn:aws:s3:::") in peer_buckets
        assert destination["encryptionConfiguration"]["replicaKmsKeyId"].startswith(
            f"arn:aws:kms:{peer}:"
        )
        if settings["PATTERN"] in ("active-active", "warm-standby"):
            assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
            assert destination["metrics"]["status"] == "Enabled"
        else:
            assert "replicationTime" not in destination


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_replication_direction_follows_the_pattern(project: Path) -> None:
    settings = settings_of(project)
    replicating = {
        stack
        for p, stack in STACKS
        if p == project
        and of_type(run(p, stack), "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    }
    regions = settings["REGIONS"]

    if "secondary" not in regions:
        assert replicating == set()
    elif settings["PATTERN"] == "active-active":
        assert replicating == set(regions.values())
    else:
        assert replicating == {regions["primary"]}


@STACK_PARAMS
def test_audit_vault_locks_at_least_the_declared_retention(
    project_stack: tuple[Path, str],
) -> None:
    project, stack = project_stack
    declared = yaml.safe_load((ROOT / "examples" / project.name / "workload.yaml").read_text())
    retention = declared["components"]["audit_log"]["retention"]
    from drgen.durations import parse_duration

    days = parse_duration(retention) // 86400
    result = run(project, stack)

    (lock,) = of_type(result, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock["rule"]["defaultRetention"]["mode"] == "COMPLIANCE"
    assert lock["rule"]["defaultRetention"]["days"] >= days
    audit = [b for b in of_type(result, "aws:s3/bucket:Bucket") if "-audit-" in b["bucket"]]
    assert audit and all(b["objectLockEnabled"] is True for b in audit)
    for vault_lock in of_type(result, "aws:backup/vaultLockConfiguration:VaultLockConfiguration"):
        if not vault_lock["backupVaultName"].endswith("-audit"):
            continue
        assert vault_lock["minRetentionDays"] >= days
        assert vault_lock["changeableForDays"] >= 3


@STACK_PARAMS
def test_live_patterns_route_with_health_checks(project_stack: tuple[Path, str]) -> None:
    project, stack = project_stack
    settings = settings_of(project)
    result = run(project, stack)
    records = of_type(result, "aws:route53/record:Record")

    if settings["PATTERN"] == "cold-restore":
        assert records == []
        return
    (record,) = records
    (check,) = of_type(result, "aws:route53/healthCheck:HealthCheck")
    assert check["type"] == "HTTPS"
    assert record["setIdentifier"] == stack
    if settings["PATTERN"] == "warm-standby":
        expected = "PRIMARY" if settings["REGIONS"]["primary"] == stack else "SECONDARY"
        assert record["failoverRoutingPolicies"] == [{"type": expected}]
    else:
        assert record["latencyRoutingPolicies"] == [{"region": stack}]


@STACK_PARAMS
def test_every_taggable_resource_is_tagged(project_stack: tuple[Path, str]) -> None:
    project, _ = project_stack
    result = run(*project_stack)

    for resource in result["resources"]:
        if resource["type"].startswith("drgen:") or not takes_tags(resource["type"]):
            continue
        tags = resource["inputs"].get("tags", {})
        assert tags.get("drgen:workload") == project.name, resource["type"]
        assert "drgen:component" in tags, resource["type"]


@cache
def takes_tags(token: str) -> bool:
    """Whether the SDK's resource class has a `tags` input (some AWS resources cannot be tagged)."""
    from tests.stackrun import sdk_args_class

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK warns about its own deprecated classes on load
        return "tags" in vars(sdk_args_class(token))


@cache
def plan_of(project: Path) -> DrPlan:
    return resolve(load_workload(ROOT / "examples" / project.name / "workload.yaml"))


def stack_plan(project: Path, stack: str) -> StackPlan:
    return next(s for s in plan_of(project).stacks if s.name == stack)


BUILT_IN_CONFIG = {"aws:region", "role", "peer_deployed"}


@STACK_PARAMS
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


@STACK_PARAMS
def test_vector_databases_are_encrypted_private_tls_only_and_protected(
    project_stack: tuple[Path, str],
) -> None:
    result = run(*project_stack)

    for cluster in of_type(result, "aws:rds/cluster:Cluster"):
        assert cluster["storageEncrypted"] is True
        assert cluster["kmsKeyId"].startswith("arn:aws:kms:")
        assert cluster["deletionProtection"] is True
        assert cluster["iamDatabaseAuthenticationEnabled"] is True
    for instance in of_type(result, "aws:rds/clusterInstance:ClusterInstance"):
        assert instance["publiclyAccessible"] is False
    for group in of_type(result, "aws:rds/clusterParameterGroup:ClusterParameterGroup"):
        assert {"name": "rds.force_ssl", "value": "1"} in group["parameters"]
    for global_cluster in of_type(result, "aws:rds/globalCluster:GlobalCluster"):
        assert global_cluster["storageEncrypted"] is True
        assert global_cluster["deletionProtection"] is True


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_pgvector_follows_the_pattern(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    if vectors is None or vectors.engine != "pgvector":
        pytest.skip("no pgvector")
    by_role = {s.role: run(project, s.name) for s in plan.stacks}

    primary_clusters = of_type(by_role["primary"], "aws:rds/cluster:Cluster")
    assert len(primary_clusters) == 1
    if vectors.block == "aurora-global":
        (global_cluster,) = of_type(by_role["primary"], "aws:rds/globalCluster:GlobalCluster")
        (secondary,) = of_type(by_role["secondary"], "aws:rds/cluster:Cluster")
        assert secondary["globalClusterIdentifier"] == global_cluster["globalClusterIdentifier"]
        assert "masterPassword" not in secondary
        assert of_type(by_role["secondary"], "aws:rds/clusterInstance:ClusterInstance")
    else:
        assert primary_clusters[0]["manageMasterUserPassword"] is True
        (selection,) = [
            s
            for s in of_type(by_role["primary"], "aws:backup/selection:Selection")
            if s["name"] == "vector_store"
        ]
        assert len(selection["resources"]) == 1
        if "secondary" in by_role:
            assert of_type(by_role["secondary"], "aws:rds/cluster:Cluster") == []


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_backups_are_copied_into_a_locked_vault_of_the_peer_stack(project: Path) -> None:
    plan = plan_of(project)
    results = {s.name: run(project, s.name) for s in plan.stacks}

    for stack in plan.stacks:
        result = results[stack.name]
        locks = {
            lock["backupVaultName"]: lock
            for lock in of_type(result, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")
        }
        for backup_plan in of_type(result, "aws:backup/plan:Plan"):
            (rule,) = backup_plan["rules"]
            keep = rule["lifecycle"]["deleteAfter"]
            assert locks[rule["targetVaultName"]]["minRetentionDays"] == keep
            if stack.peer_region is None:
                assert rule.get("copyActions", []) == []
                continue
            (copy,) = rule["copyActions"]
            peer_vault = copy["destinationVaultArn"].rsplit(":", 1)[1]
            assert copy["destinationVaultArn"].startswith(f"arn:aws:backup:{stack.peer_region}:")
            peer_locks = of_type(
                results[stack.peer_region],
                "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
            )
            assert any(
                lock["backupVaultName"] == peer_vault and lock["minRetentionDays"] <= keep
                for lock in peer_locks
            ), f"{peer_vault} is not a locked vault of {stack.peer_region}"


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_feature_table_is_protected_and_reaches_the_secondary(project: Path) -> None:
    plan = plan_of(project)
    features = plan.component("feature_store")
    if features is None:
        pytest.skip("no feature store")
    primary_result = run(project, plan.primary.name)

    (table,) = of_type(primary_result, "aws:dynamodb/table:Table")
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert table["deletionProtectionEnabled"] is True
    peer = plan.primary.peer_region
    if features.block == "dynamodb-global-table":
        (replica,) = table["replicas"]
        assert replica["regionName"] == peer
        assert replica["pointInTimeRecovery"] is True
        assert replica["kmsKeyArn"].startswith(f"arn:aws:kms:{peer}:")
    else:
        assert table.get("replicas", []) == []
        selections = of_type(primary_result, "aws:backup/selection:Selection")
        assert any(s["name"] == "feature_store" for s in selections)
    if peer is not None:
        assert of_type(run(project, peer), "aws:dynamodb/table:Table") == []


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_snapshots_are_scheduled_where_the_engine_serves(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    if vectors is None or vectors.module != "vector_snapshots":
        pytest.skip("no snapshot-based vector store")

    for stack in plan.stacks:
        result = run(project, stack.name)
        schedules = of_type(result, "aws:scheduler/schedule:Schedule")
        if stack.region not in vectors.serving:
            assert schedules == []
            continue
        (schedule,) = schedules
        (function,) = of_type(result, "aws:lambda/function:Function")
        (function_arn,) = [
            r["arn"] for r in result["resources"] if r["type"] == "aws:lambda/function:Function"
        ]
        assert schedule["scheduleExpression"] == aws_rate(
            int(vectors.params["snapshot_every_seconds"])
        )
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
        assert function["reservedConcurrentExecutions"] == 1
        assert function["kmsKeyArn"].startswith("arn:aws:kms:")
        assert function["vpcConfig"]["subnetIds"]
        invoke = [
            json.loads(p["policy"])["Statement"]
            for p in of_type(result, "aws:iam/rolePolicy:RolePolicy")
            if "lambda:InvokeFunction" in p["policy"]
        ]
        assert invoke == [
            [
                {
                    "Sid": "InvokeTheTriggerOnly",
                    "Effect": "Allow",
                    "Action": ["lambda:InvokeFunction"],
                    "Resource": [function_arn],
                }
            ]
        ]
