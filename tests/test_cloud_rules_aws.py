"""Rules of AWS and of the snapshot engines that the mock runtime cannot see.

The mocks accept any value of the right type; AWS and the engines do not. Each test holds the
golden stacks to one rule and cites where the rule is written (the AWS documentation, the
installed pulumi-aws docstring, the engine's API). Every rule tied to a defect failed on the
stacks drgen rendered before the rule was encoded.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drgen.diff import mock_run
from drgen.plan import DrPlan, resolve
from drgen.render import render
from drgen.write import write_project
from tests.conftest import make_workload
from tests.snapshot_engine import NAME, engine_of, take_snapshot
from tests.stacks import (
    PROJECTS,
    of_type,
    plan_of,
    projects_of,
    records_of_type,
    run,
    stacks_of,
    takes_snapshots,
)

AWS_STACKS = stacks_of("aws")
AWS_PROJECTS = projects_of("aws")


def _block(plan: DrPlan, component: str) -> str | None:
    found = plan.component(component)  # type: ignore[arg-type]
    return found.block if found is not None else None


def _calls(source: str, name: str) -> list[ast.Call]:
    """Every call of `<anything>.name(...)` in a generated module."""
    return [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
    ]


# DynamoDB global tables


@projects_of("aws", lambda plan: _block(plan, "feature_store") is not None)
def test_replica_keys_are_key_arns_never_alias_arns(project: Path) -> None:
    # DynamoDB stores and returns the replica's key ARN (DescribeTable, Replicas[].KMSMasterKeyId)
    # and pulumi-aws replaces a replica whose key changes ("Changing this value will recreate
    # the replica", dynamodb.Table replicas.kms_key_arn): an alias ARN replaces it on every up.
    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        keys = [
            replica.get("kmsKeyArn", "")
            for table in of_type(result, "aws:dynamodb/table:Table")
            for replica in table.get("replicas", [])
        ] + [
            r.get("kmsKeyArn", "")
            for r in of_type(result, "aws:dynamodb/tableReplica:TableReplica")
        ]
        assert all(":alias/" not in key for key in keys), keys


@projects_of("aws", lambda plan: _block(plan, "feature_store") == "dynamodb-global-table")
def test_each_region_owns_its_replica_and_the_table_ignores_replicas(project: Path) -> None:
    # pulumi-aws dynamodb.TableReplica: "Do not use the replica configuration block of
    # dynamodb.Table together with this resource as the two configuration options are mutually
    # exclusive" and "Use lifecycle ignore_changes for replica in the associated dynamodb.Table".
    # The secondary's stack owns its replica, so losing the primary region leaves it managed.
    plan = plan_of(project)
    secondary = plan.secondary
    assert secondary is not None
    (table,) = of_type(run(project, plan.primary.name), "aws:dynamodb/table:Table")
    assert table.get("replicas", []) == []
    (replica,) = of_type(run(project, secondary.name), "aws:dynamodb/tableReplica:TableReplica")
    assert replica["globalTableArn"].startswith(f"arn:aws:dynamodb:{plan.primary.region}:")
    (table_call,) = _calls((project / "feature_store.py").read_text(), "Table")
    opts = next(k.value for k in table_call.keywords if k.arg == "opts")
    assert "ignore_changes=['replicas']" in ast.unparse(opts)


# Aurora global databases


def _aurora_global(plan: DrPlan) -> bool:
    return _block(plan, "vector_store") == "aurora-global"


def _version(project: Path) -> tuple[int, ...]:
    source = (project / "vector_database.py").read_text()
    found = re.search(r'^ENGINE_VERSION = "([\d.]+)"', source, re.MULTILINE)
    assert found is not None
    return tuple(int(part) for part in found.group(1).split("."))


@projects_of("aws", lambda plan: _aurora_global(plan) and plan.pattern == "active-active")
def test_active_active_aurora_secondaries_forward_writes(project: Path) -> None:
    # A global database's secondary cluster refuses writes unless global write forwarding is on
    # (Aurora user guide, "Using write forwarding in an Aurora PostgreSQL global database"),
    # and latency routing sends that region's writes to it. Supported on every 16.x, on 15.4+
    # and on 14.9+ (same page, "Region and version availability").
    plan = plan_of(project)
    assert plan.secondary is not None
    (cluster,) = of_type(run(project, plan.secondary.name), "aws:rds/cluster:Cluster")
    assert cluster.get("enableGlobalWriteForwarding") is True
    version = _version(project)
    assert version[0] >= 16 or version >= (15, 4) or (version[0] == 14 and version >= (14, 9))


@projects_of("aws", lambda plan: _aurora_global(plan) and plan.tier == 0)
def test_tier_0_aurora_global_bounds_its_rpo(project: Path) -> None:
    # Aurora PostgreSQL's managed RPO, `rds.global_db_rpo` (seconds, at least 20), is the only
    # bound on global database lag: Aurora blocks commits on the writer when no secondary is
    # within it ("Managing RPOs for Aurora PostgreSQL-based global databases"). "Typically
    # under a second" is not a bound.
    plan = plan_of(project)
    expected = str(max(20, plan.objectives.rpo_seconds))
    for stack in plan.stacks:
        for group in of_type(
            run(project, stack.name), "aws:rds/clusterParameterGroup:ClusterParameterGroup"
        ):
            assert {"name": "rds.global_db_rpo", "value": expected} in group["parameters"]


@projects_of("aws", _aurora_global)
def test_aurora_global_members_take_their_version_from_the_global_cluster(project: Path) -> None:
    # Managed cross-region failover needs the same major, minor and patch version in every
    # region (Aurora user guide, "Performing managed failovers"). pulumi-aws GlobalCluster:
    # "By upgrading the engine version, the provider will upgrade cluster members ... use
    # ignore_changes for engine_version on the associated rds.Cluster". Members upgrading on
    # their own (auto minor upgrades) drift apart and make `pulumi up` try to downgrade.
    plan = plan_of(project)
    (global_cluster,) = of_type(
        run(project, plan.primary.name), "aws:rds/globalCluster:GlobalCluster"
    )
    assert global_cluster["engineVersion"]
    for stack in plan.stacks:
        result = run(project, stack.name)
        for cluster in of_type(result, "aws:rds/cluster:Cluster"):
            # Members are created at the global cluster's version, then ignore it.
            assert cluster["engineVersion"] == global_cluster["engineVersion"]
        for instance in of_type(result, "aws:rds/clusterInstance:ClusterInstance"):
            assert "engineVersion" not in instance
            assert instance["autoMinorVersionUpgrade"] is False
    (cluster_call,) = _calls((project / "vector_database.py").read_text(), "Cluster")
    opts = next(k.value for k in cluster_call.keywords if k.arg == "opts")
    assert "'engine_version'" in ast.unparse(opts)


# AWS Backup


def _backup_resources(project: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(stack, plan rule, selection) of every backup plan of the project."""
    for stack in plan_of(project).stacks:
        result = run(project, stack.name)
        selections = of_type(result, "aws:backup/selection:Selection")
        for backup_plan in records_of_type(result, "aws:backup/plan:Plan"):
            (rule,) = backup_plan["inputs"]["rules"]
            (selection,) = [s for s in selections if s["planId"] == backup_plan["id"]]
            yield stack.name, rule, selection


@AWS_PROJECTS
def test_backup_roles_may_copy_into_the_peers_vault(project: Path) -> None:
    # The role of a backup plan performs its copy actions and needs backup:CopyIntoBackupVault
    # on the destination vault (AWS Backup developer guide, "Creating backup copies across AWS
    # Regions"); the S3 backup managed policies do not grant it.
    for stack, rule, selection in _backup_resources(project):
        result = run(project, stack)
        roles = {r["arn"]: r["id"] for r in records_of_type(result, "aws:iam/role:Role")}
        granted = [
            statement
            for policy in of_type(result, "aws:iam/rolePolicy:RolePolicy")
            if policy["role"] == roles[selection["iamRoleArn"]]
            for statement in json.loads(policy["policy"])["Statement"]
        ]
        for copy in rule.get("copyActions", []):
            assert any(
                "backup:CopyIntoBackupVault" in s["Action"]
                and s["Resource"] == [copy["destinationVaultArn"]]
                for s in granted
            ), f"{stack}: the backup role cannot copy into {copy['destinationVaultArn']}"
            # "Your IAM role must be able to access the KMS keys used to back up and restore
            # objects. Otherwise, the job succeeds but doesn't back up or restore the objects"
            # (AWS Backup developer guide, "Encryption for backups in AWS Backup").
            peer = copy["destinationVaultArn"].split(":")[3]
            assert any(
                "kms:GenerateDataKey" in s["Action"]
                and s["Resource"][0].startswith(f"arn:aws:kms:{peer}:")
                for s in granted
            ), f"{stack}: the backup role cannot use {peer}'s vault key"


@AWS_PROJECTS
def test_restore_tests_restore_the_copy_a_regional_disaster_leaves(project: Path) -> None:
    # AWS Backup restore testing restores recovery points of the vaults it includes
    # (RestoreTestingRecoveryPointSelection.IncludeVaults); the copies in the peer region are
    # what survives the primary. An Aurora restore without `dbsubnetgroupname` and
    # `vpcsecuritygroupids` overrides targets the default VPC, "if the default is not present
    # ... the restore will not be successful" (AWS Backup, "Restore testing inferred metadata").
    plan = plan_of(project)
    for stack, rule, _ in _backup_resources(project):
        peer = next(s.peer_region for s in plan.stacks if s.name == stack) or stack
        tested = run(project, peer)
        vaults = [
            vault
            for testing in of_type(tested, "aws:backup/restoreTestingPlan:RestoreTestingPlan")
            for vault in testing["recoveryPointSelection"]["includeVaults"]
        ]
        (vault_arn,) = [
            v["arn"]
            for v in records_of_type(tested, "aws:backup/vault:Vault")
            if v["inputs"]["name"] == rule["targetVaultName"]
        ]
        assert vault_arn in vaults, f"no restore test of {rule['targetVaultName']} in {peer}"
        for test in of_type(tested, "aws:backup/restoreTestingSelection:RestoreTestingSelection"):
            if test["protectedResourceType"] == "Aurora":
                overrides = {k.lower() for k in test.get("restoreMetadataOverrides", {})}
                assert {"dbsubnetgroupname", "vpcsecuritygroupids"} <= overrides


@AWS_STACKS
def test_restore_tests_keep_restored_tables_under_the_regions_key(
    project_stack: tuple[Path, str],
) -> None:
    # Restore testing infers `encryptionType` = `Default` for DynamoDB (an AWS owned key) and
    # lets `encryptionType` and `kmsMasterKeyArn` be overridden (AWS Backup, "Restore testing
    # inferred metadata",
    # https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html;
    # "KMS" with a key ARN in "Restore a DynamoDB table",
    # https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-dynamodb.html): the test
    # copy of the feature table would otherwise sit outside the customer-managed key for the
    # validation window.
    result = run(*project_stack)
    (key,) = records_of_type(result, "aws:kms/key:Key")
    for test in of_type(result, "aws:backup/restoreTestingSelection:RestoreTestingSelection"):
        if test["protectedResourceType"] == "DynamoDB":
            overrides = {k.lower(): v for k, v in test.get("restoreMetadataOverrides", {}).items()}
            assert overrides.get("encryptiontype") == "KMS", project_stack
            assert overrides.get("kmsmasterkeyarn") == key["arn"], project_stack


@projects_of(
    "aws",
    lambda plan: (
        _block(plan, "vector_store") == "aurora-global"
        or _block(plan, "feature_store") == "dynamodb-global-table"
    ),
)
def test_continuously_replicated_stores_also_keep_locked_copies(project: Path) -> None:
    # Replication is not backup: a global table or database replicates corruption and
    # deletions within seconds (AWS Well-Architected, REL09-BP01 "Identify and back up all
    # data"). Tiers 0-1 keep point-in-time copies in a locked vault of the other region too.
    plan = plan_of(project)
    backed_up = {selection["name"] for _, _, selection in _backup_resources(project)}
    for component in ("vector_store", "feature_store"):
        if _block(plan, component) in ("aurora-global", "dynamodb-global-table"):
            assert component in backed_up


# IAM trust


@AWS_STACKS
def test_trust_conditions_only_where_the_service_sends_the_key(
    project_stack: tuple[Path, str],
) -> None:
    # A trust-policy condition on a key the service does not send stops it assuming the role.
    # EventBridge Scheduler ("Set up the execution role") and RDS Enhanced Monitoring
    # ("Setting up and enabling Enhanced Monitoring") document aws:SourceAccount; S3
    # replication, AWS Backup, Lambda and OpenSearch snapshot roles document a bare principal.
    documented = {"scheduler.amazonaws.com", "monitoring.rds.amazonaws.com"}
    for role in of_type(run(*project_stack), "aws:iam/role:Role"):
        (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
        service = statement["Principal"]["Service"]
        assert ("Condition" in statement) == (service in documented), (service, statement)


# Snapshots, their triggers and their engines


@projects_of("aws", lambda plan: engine_of(plan) == "opensearch")
def test_opensearch_repositories_are_never_expired_by_lifecycle(project: Path) -> None:
    # OpenSearch snapshots are incremental and share files with older snapshots; "deleting
    # files from the repository's bucket ... can corrupt the repository" (OpenSearch docs,
    # "Take and restore snapshots"; Elasticsearch "Snapshot repository contents": "Don't modify
    # anything within the repository"). Only the engine may retire snapshots.
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None
    buckets = set(vectors.names.values())
    for stack in plan.stacks:
        result = run(project, stack.name)
        by_id = {
            b["id"]: b["inputs"]["bucket"] for b in records_of_type(result, "aws:s3/bucket:Bucket")
        }
        for config in of_type(
            result, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
        ):
            if by_id[config["bucket"]] in buckets:
                assert all("expiration" not in rule for rule in config["rules"]), config["rules"]


@projects_of("aws", takes_snapshots)
def test_snapshot_functions_need_no_reserved_concurrency_and_keep_dead_letters(
    project: Path,
) -> None:
    # Lambda keeps a minimum of unreserved concurrency: a reservation fails with "decreases
    # account's UnreservedConcurrentExecution below its minimum value of [10]", and new
    # accounts (quota 10) cannot reserve any (Lambda developer guide, "Configuring reserved
    # concurrency"). Failed runs must land somewhere a person sees them.
    plan = plan_of(project)
    vectors = plan.component("vector_store")
    assert vectors is not None
    for region in vectors.serving:
        result = run(project, region)
        functions = of_type(result, "aws:lambda/function:Function")
        assert all("reservedConcurrentExecutions" not in f for f in functions)
        (function,) = [f for f in functions if not f["name"].endswith("-vendor-watch")]
        assert function["timeout"] <= 900  # Lambda's maximum
        assert function["deadLetterConfig"]["targetArn"]
        (queue,) = [
            q for q in of_type(result, "aws:sqs/queue:Queue") if "vendor-watch" not in q["name"]
        ]
        assert queue["kmsMasterKeyId"].startswith("arn:aws:kms:")
        assert queue["messageRetentionSeconds"] <= 14 * 86400  # SQS maximum


@projects_of("aws", takes_snapshots)
def test_engine_url_examples_use_the_engines_own_port(project: Path) -> None:
    # Qdrant serves REST on 6333, Weaviate on 8080, milvus-backup's server on 8080 and
    # OpenSearch Service on HTTPS 443 (each engine's installation docs).
    expected = {"qdrant": ":6333", "weaviate": ":8080", "milvus": ":8080", "opensearch": ""}
    engine = engine_of(plan_of(project))
    assert engine is not None
    readme = (project / "README.md").read_text()
    urls = set(re.findall(r"pulumi config set vector_store_url '([^']+)'", readme))
    assert urls
    for url in urls:
        port = re.search(r":\d+$", url.rstrip("/"))
        assert (port.group(0) if port else "") == expected[engine], url


SNAPSHOTTING = [p for p in PROJECTS if takes_snapshots(plan_of(p))]


@pytest.mark.parametrize("project", SNAPSHOTTING, ids=lambda p: p.name)
def test_a_snapshot_run_waits_for_the_engine_to_finish(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every engine answers the snapshot request before the snapshot exists (Weaviate backups,
    # milvus-backup with "async", OpenSearch without wait_for_completion); Qdrant's full-storage
    # POST /snapshots is for single-node deployments only ("Snapshots", Qdrant docs), so each
    # collection is snapshotted. A run that returns must have a finished snapshot.
    seen = take_snapshot(project, monkeypatch, "SUCCESS")
    engine = engine_of(plan_of(project))
    paths = [path for _, path, _ in seen]
    if engine == "qdrant":
        assert "/collections/items/snapshots?wait=true" in paths
        assert "/collections/users/snapshots?wait=true" in paths
        assert "/snapshots" not in [p.split("?")[0] for p in paths]
    else:
        # Polled after the request, until the engine said it finished.
        assert len([p for method, p, _ in seen if method == "GET"]) >= 2


@pytest.mark.parametrize("project", SNAPSHOTTING, ids=lambda p: p.name)
def test_a_snapshot_the_engine_fails_fails_the_run(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run's failure is what makes Lambda (or Cloud Run) retry and, after the retries, what
    # reaches the dead-letter queue and the RPO alarm; a run that returns counts as a snapshot.
    with pytest.raises(Exception):  # noqa: B017 - HTTPError or RuntimeError, as the engine says
        take_snapshot(project, monkeypatch, "FAILED")


@projects_of("aws", lambda plan: engine_of(plan) in ("weaviate", "opensearch"))
def test_a_retried_run_follows_the_snapshot_it_already_started(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without reserved concurrency a retry may overlap; the name comes from the schedule's
    # <aws.scheduler.scheduled-time>, so a retry meets its own snapshot: Weaviate answers 422
    # ("backup ... already exists"), OpenSearch 400 (invalid_snapshot_name_exception), and the
    # run follows that snapshot to the end instead of failing or starting another.
    exists = {
        "weaviate": {("POST", "/v1/backups/s3"): [(422, {"error": [{"message": "exists"}]})]},
        "opensearch": {("PUT", f"/_snapshot/drgen/{NAME}"): [(400, {"error": "exists"})]},
    }[str(engine_of(plan_of(project)))]
    seen = take_snapshot(project, monkeypatch, "SUCCESS", script=exists)
    polls = [
        path for method, path, _ in seen if method == "GET" and "drgen-20260101-000000" in path
    ]
    assert len(polls) == 2  # in progress, then finished


@projects_of("aws", lambda plan: engine_of(plan) == "opensearch")
def test_opensearch_repository_is_registered_once_under_the_buckets_key(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenSearch refuses to modify a repository while a snapshot runs ("trying to modify or
    # unregister repository that is currently used"), so it is registered only when missing;
    # `server_side_encryption: true` asks S3 for SSE-S3 and overrides the bucket's SSE-KMS
    # default (OpenSearch repository-s3 settings; S3 "Specifying server-side encryption").
    first = take_snapshot(project, monkeypatch, "SUCCESS")
    (registration,) = [
        body for method, path, body in first if path == "/_snapshot/drgen" and method == "PUT"
    ]
    assert isinstance(registration, dict)
    assert "server_side_encryption" not in registration["settings"]
    # Old snapshots are retired through the engine, never by the bucket.
    assert ("DELETE", "/_snapshot/drgen/drgen-20250101-000000", None) in first

    registered = {("GET", "/_snapshot/drgen"): [(200, {"drgen": {"type": "s3"}})]}
    later = take_snapshot(project, monkeypatch, "SUCCESS", script=registered)
    assert [m for m, path, _ in later if path == "/_snapshot/drgen"] == ["GET"]


# Alarms


@AWS_STACKS
def test_every_alarm_reaches_the_regions_encrypted_topic(project_stack: tuple[Path, str]) -> None:
    # An RPO breach is found before the disaster only if someone is told. CloudWatch alarm
    # periods of a minute or more are multiples of 60, and period x evaluation periods is at most
    # one day for periods under an hour, seven days otherwise (CloudWatch API, PutMetricAlarm,
    # "Period"); encrypted topics need the publishers in the key
    # policy (SNS developer guide, "Encryption at rest").
    result = run(*project_stack)
    (topic,) = records_of_type(result, "aws:sns/topic:Topic")
    assert topic["inputs"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    alarms = of_type(result, "aws:cloudwatch/metricAlarm:MetricAlarm")
    for alarm in alarms:
        assert alarm["alarmActions"] == [topic["arn"]]
        assert alarm["period"] % 60 == 0
        span = alarm["period"] * alarm["evaluationPeriods"]
        assert span <= (86400 if alarm["period"] < 3600 else 7 * 86400)
    (rule,) = of_type(result, "aws:cloudwatch/eventRule:EventRule")
    assert json.loads(rule["eventPattern"])["source"] == ["aws.backup"]
    (target,) = of_type(result, "aws:cloudwatch/eventTarget:EventTarget")
    assert target["arn"] == topic["arn"]


@AWS_PROJECTS
def test_each_way_data_leaves_a_region_alarms_at_the_rpo(project: Path) -> None:
    # Per component, the metric that shows the data at risk, against the RPO: S3's
    # ReplicationLatency (seconds, S3 "Replication metrics"), DynamoDB's ReplicationLatency
    # (ms), Aurora's AuroraGlobalDBRPOLag (ms, Aurora "CloudWatch metrics"), and the trigger's
    # own count of finished snapshots over the last RPO.
    plan = plan_of(project)
    rpo = plan.objectives.rpo_seconds
    for stack in plan.stacks:
        result = run(project, stack.name)
        alarms = {
            a["metricName"]: a for a in of_type(result, "aws:cloudwatch/metricAlarm:MetricAlarm")
        }
        replications = of_type(result, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        for config in replications:
            (rule,) = config["rules"]
            assert rule["destination"]["metrics"]["status"] == "Enabled"
        if replications:
            assert alarms["ReplicationLatency"]["threshold"] in (rpo, rpo * 1000)
            assert alarms["OperationsFailedReplication"]["threshold"] == 0
        vectors = plan.component("vector_store")
        if (
            vectors is not None
            and vectors.module == "vector_snapshots"
            and stack.region in vectors.serving
        ):
            snapshots = alarms["SnapshotsSucceeded"]
            assert snapshots["treatMissingData"] == "breaching"
            assert snapshots["period"] * snapshots["evaluationPeriods"] >= min(rpo, 86400)
        if vectors is not None and vectors.block == "aurora-global" and stack.role == "secondary":
            assert alarms["AuroraGlobalDBRPOLag"]["threshold"] == rpo * 1000


# What a security scanner flags


@AWS_STACKS
def test_scanner_findings_are_fixed(project_stack: tuple[Path, str]) -> None:
    # Checkov CKV2_AWS_27 (PostgreSQL query logging), CKV_AWS_118 (enhanced monitoring),
    # CKV_AWS_338 (log groups kept at least a year), EventBridge Scheduler schedules under a
    # customer managed key ("Encryption at rest", Scheduler user guide) with a dead-letter queue
    # ("Configuring a dead-letter queue").
    result = run(*project_stack)
    for group in of_type(result, "aws:rds/clusterParameterGroup:ClusterParameterGroup"):
        names = {p["name"] for p in group["parameters"]}
        assert {"log_statement", "log_min_duration_statement"} <= names
    for instance in of_type(result, "aws:rds/clusterInstance:ClusterInstance"):
        assert instance["monitoringInterval"] > 0 and instance["monitoringRoleArn"]
    for logs in of_type(result, "aws:cloudwatch/logGroup:LogGroup"):
        assert logs["retentionInDays"] >= 365
    for schedule in of_type(result, "aws:scheduler/schedule:Schedule"):
        assert schedule["kmsKeyArn"].startswith("arn:aws:kms:")
        assert schedule["target"]["deadLetterConfig"]["arn"]


@AWS_STACKS
def test_every_function_scanners_would_flag_says_why(project_stack: tuple[Path, str]) -> None:
    # Checkov flags every Lambda function without X-Ray tracing (CKV_AWS_50, LambdaXrayEnabled)
    # or a code signing config (CKV_AWS_272, LambdaCodeSigningConfigured; bridgecrewio/checkov,
    # checkov/terraform/checks/resource/aws/); the team's rule is fixed or justified in a
    # comment of the generated code, so the module creating each function names both checks.
    project, _ = project_stack
    result = run(*project_stack)
    for function in of_type(result, "aws:lambda/function:Function"):
        if function.get("tracingConfig") and function.get("codeSigningConfigArn"):
            continue
        (module,) = [
            path
            for path in project.glob("*.py")
            if f'handler="{function["handler"]}"' in path.read_text()
        ]
        source = module.read_text()
        assert "CKV_AWS_50" in source and "CKV_AWS_272" in source, module.name


@AWS_STACKS
def test_a_vendor_poll_ends_before_the_next_begins(project_stack: tuple[Path, str]) -> None:
    # Scheduler invokes on its rate whether the last run has ended or not, and Lambda runs
    # invocations concurrently up to the account's limit (Lambda developer guide, "Understanding
    # Lambda function scaling"): a watcher that may outlive its interval lets two polls read and
    # write the switch at once, and one outage poll would count twice or not at all.
    result = run(*project_stack)
    units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}
    schedules = {s["name"]: s for s in of_type(result, "aws:scheduler/schedule:Schedule")}
    for function in of_type(result, "aws:lambda/function:Function"):
        if function["handler"] != "vendor_watcher_function.handler":
            continue
        rate = schedules[function["name"]]["scheduleExpression"]
        found = re.fullmatch(r"rate\((\d+) (\w+)\)", rate)
        assert found is not None, rate
        assert function["timeout"] < int(found[1]) * units[found[2]], rate


def test_an_rpo_beyond_a_day_is_watched_in_hourly_periods(tmp_path: Path) -> None:
    # PutMetricAlarm refuses more than a day of sub-hourly periods, and more than seven days in
    # all: a ten-day RPO is watched in hours, and alarms after seven days without a snapshot.
    sourced = make_workload(
        3,
        "aws",
        objectives={"rpo": "10d"},
        components={"vector_store": {"engine": "qdrant", "snapshot_every": "1d"}},
    )
    plan = resolve(sourced)
    write_project(render(plan), tmp_path / "project")
    result = mock_run(tmp_path / "project", plan.primary)

    (alarm,) = [
        a
        for a in of_type(result, "aws:cloudwatch/metricAlarm:MetricAlarm")
        if a["metricName"] == "SnapshotsSucceeded"
    ]
    assert (alarm["period"], alarm["evaluationPeriods"]) == (3600, 168)


@pytest.mark.parametrize(("rpo", "expected"), [("10s", 20), ("1m", 60), ("5m", 300)])
def test_the_managed_rpo_never_goes_below_auroras_minimum(rpo: str, expected: int) -> None:
    # `rds.global_db_rpo` accepts 20 seconds and more ("Managing RPOs for Aurora
    # PostgreSQL-based global databases"): a tighter objective gets the tightest bound there is.
    plan = resolve(
        make_workload(
            0, "aws", objectives={"rpo": rpo}, components={"vector_store": {"engine": "pgvector"}}
        )
    )
    vectors = plan.component("vector_store")
    assert vectors is not None
    assert vectors.params["global_db_rpo_seconds"] == expected


@AWS_STACKS
def test_a_failed_vendor_poll_is_not_retried_into_a_double_count(
    project_stack: tuple[Path, str],
) -> None:
    # Scheduler invokes asynchronously and Lambda retries a failed asynchronous invocation
    # twice unless told otherwise (pulumi_aws.lambda_.FunctionEventInvokeConfig
    # `maximum_retry_attempts`: "Valid values between 0 and 2. Defaults to 2."): a retried
    # poll would count one outage twice toward the switch.
    result = run(*project_stack)
    watchers = [
        f
        for f in of_type(result, "aws:lambda/function:Function")
        if f["handler"] == "vendor_watcher_function.handler"
    ]
    configs = of_type(result, "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    for watcher in watchers:
        (config,) = [c for c in configs if c["functionName"] == watcher["name"]]
        assert config["maximumRetryAttempts"] == 0
