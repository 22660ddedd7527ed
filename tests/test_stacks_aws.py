"""AWS invariants, asserted on what each golden AWS stack declares under the mock runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drgen.mockrun import ACCOUNT_ID
from drgen.render import aws_rate
from tests.stacks import (
    STACKS,
    has_feature_store,
    of_type,
    plan_of,
    projects_of,
    records_of_type,
    run,
    settings_of,
    stacks_of,
    takes_snapshots,
    uses_pgvector,
)

AWS_STACKS = stacks_of("aws")
AWS_PROJECTS = projects_of("aws")


@AWS_STACKS
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


@AWS_STACKS
def test_keys_rotate_and_state_is_protected(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    keys = of_type(result, "aws:kms/key:Key")
    assert keys and all(k["enableKeyRotation"] is True for k in keys)
    assert all(b.get("forceDestroy") is False for b in of_type(result, "aws:s3/bucket:Bucket"))


@AWS_STACKS
def test_no_iam_policy_grants_everything(project_stack: tuple[Path, str]) -> None:
    result = run(*project_stack)

    for policy in of_type(result, "aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(policy["policy"])["Statement"]:
            action = statement["Action"]
            actions = action if isinstance(action, list) else [action]
            assert not any(a == "*" or a.endswith(":*") for a in actions), statement
            assert statement["Resource"] != "*", statement


@AWS_STACKS
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


@AWS_PROJECTS
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


@AWS_STACKS
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


@projects_of("aws", uses_pgvector)
def test_pgvector_follows_the_pattern(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None
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


@AWS_PROJECTS
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


@projects_of("aws", has_feature_store)
def test_feature_table_is_protected_and_reaches_the_secondary(project: Path) -> None:
    plan = plan_of(project)
    features = plan.component("feature_store")
    assert features is not None
    primary_result = run(project, plan.primary.name)

    (table,) = of_type(primary_result, "aws:dynamodb/table:Table")
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert table["deletionProtectionEnabled"] is True
    peer = plan.primary.peer_region
    assert table.get("replicas", []) == []
    selections = of_type(primary_result, "aws:backup/selection:Selection")
    assert any(s["name"] == "feature_store" for s in selections)
    if peer is None:
        return
    peer_result = run(project, peer)
    assert of_type(peer_result, "aws:dynamodb/table:Table") == []
    replicas = of_type(peer_result, "aws:dynamodb/tableReplica:TableReplica")
    if features.block == "dynamodb-global-table":
        (replica,) = replicas
        assert (
            replica["globalTableArn"]
            == f"arn:aws:dynamodb:{plan.primary.region}:{ACCOUNT_ID}:table/{table['name']}"
        )
        assert replica["pointInTimeRecovery"] is True
        assert replica["deletionProtectionEnabled"] is True
        assert replica["kmsKeyArn"].startswith(f"arn:aws:kms:{peer}:")
    else:
        assert replicas == []


@projects_of("aws", takes_snapshots)
def test_snapshot_triggers_are_least_privilege_functions_in_the_vpc(project: Path) -> None:
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None

    for region in vectors.serving:  # stacks are named after their region
        result = run(project, region)
        # The stack's other function is the vendor watcher (test_vendors_watcher.py).
        (schedule,) = _not_vendor_watch(of_type(result, "aws:scheduler/schedule:Schedule"))
        (function,) = _not_vendor_watch(of_type(result, "aws:lambda/function:Function"))
        (function_arn,) = [
            r["arn"]
            for r in records_of_type(result, "aws:lambda/function:Function")
            if not r["inputs"]["name"].endswith("-vendor-watch")
        ]
        assert schedule["scheduleExpression"] == aws_rate(
            int(vectors.params["snapshot_every_seconds"])
        )
        assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
        assert function["kmsKeyArn"].startswith("arn:aws:kms:")
        assert function["vpcConfig"]["subnetIds"]
        (queue_arn,) = [
            r["arn"]
            for r in records_of_type(result, "aws:sqs/queue:Queue")
            if "vendor-watch" not in r["inputs"]["name"]
        ]
        assert function["deadLetterConfig"] == {"targetArn": queue_arn}
        assert schedule["target"]["deadLetterConfig"] == {"arn": queue_arn}
        (invoke,) = [
            json.loads(p["policy"])["Statement"]
            for p in of_type(result, "aws:iam/rolePolicy:RolePolicy")
            if "lambda:InvokeFunction" in p["policy"] and "InvokeTheWatcherOnly" not in p["policy"]
        ]
        assert invoke[0] == {
            "Sid": "InvokeTheTriggerOnly",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [function_arn],
        }
        assert {
            "Sid": "DeadLetters",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [queue_arn],
        } in invoke


def _not_vendor_watch(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in inputs if not i["name"].endswith("-vendor-watch")]


@AWS_PROJECTS
def test_the_copy_a_disaster_leaves_is_restore_tested_twice_a_year(project: Path) -> None:
    plan = plan_of(project)
    results = {s.name: run(project, s.name) for s in plan.stacks}
    expected_type = {"audit_log": "S3", "vector_store": "Aurora", "feature_store": "DynamoDB"}
    token = "aws:backup/restoreTestingSelection:RestoreTestingSelection"

    for stack in plan.stacks:
        result = results[stack.name]
        for selection in of_type(result, "aws:backup/selection:Selection"):
            # The recovery points a lost region leaves are the copies in the peer's vault.
            tested_in = results[stack.peer_region or stack.name]
            tests = {t["name"]: t for t in of_type(tested_in, token)}
            test = tests[selection["name"]]
            assert test["protectedResourceType"] == expected_type[selection["name"]]
            assert test["protectedResourceArns"] == ["*"]
        for testing in of_type(result, "aws:backup/restoreTestingPlan:RestoreTestingPlan"):
            assert testing["scheduleExpression"] == "cron(0 6 1 1,7 ? *)"
            selection = testing["recoveryPointSelection"]
            assert selection["algorithm"] == "LATEST_WITHIN_WINDOW"
            (vault,) = selection["includeVaults"]
            assert vault.startswith(f"arn:aws:backup:{stack.region}:")
