"""The clouds' limits on names, tags and labels, held against every name a plan derives."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from drgen.clouds import AWS_REGIONS, GCP_REGIONS, Cloud
from drgen.limits import NAME_LIMITS, TAG_LIMITS, DerivedName, derived_names, name_problem
from drgen.plan import resolve
from tests.conftest import MINIMAL, make_workload
from tests.stacks import PROJECTS, STACKS, plan_of, run

Cli = Callable[..., Result]

NAMED_INPUTS: dict[tuple[str, str], str] = {
    ("aws:s3/bucket:Bucket", "bucket"): "aws.s3_bucket",
    ("aws:backup/vault:Vault", "name"): "aws.backup_vault",
    ("aws:backup/plan:Plan", "name"): "aws.backup_plan",
    ("aws:backup/restoreTestingPlan:RestoreTestingPlan", "name"): "aws.restore_testing_plan",
    ("aws:iam/policy:Policy", "name"): "aws.iam_policy",
    ("aws:lambda/function:Function", "name"): "aws.lambda_function",
    ("aws:cloudwatch/logGroup:LogGroup", "name"): "aws.log_group",
    ("aws:scheduler/schedule:Schedule", "name"): "aws.schedule",
    ("aws:kms/alias:Alias", "name"): "aws.kms_alias",
    ("aws:ssm/parameter:Parameter", "name"): "aws.ssm_parameter",
    ("aws:sns/topic:Topic", "name"): "aws.sns_topic",
    ("aws:dynamodb/table:Table", "name"): "aws.dynamodb_table",
    ("aws:rds/cluster:Cluster", "clusterIdentifier"): "aws.aurora_cluster",
    ("aws:rds/globalCluster:GlobalCluster", "globalClusterIdentifier"): "aws.aurora_global_cluster",
    ("aws:rds/cluster:Cluster", "globalClusterIdentifier"): "aws.aurora_global_cluster",
    ("aws:rds/clusterInstance:ClusterInstance", "identifier"): "aws.db_instance",
    ("aws:rds/cluster:Cluster", "finalSnapshotIdentifier"): "aws.db_cluster_snapshot",
    ("aws:rds/clusterParameterGroup:ClusterParameterGroup", "name"): (
        "aws.db_cluster_parameter_group"
    ),
    ("aws:sqs/queue:Queue", "name"): "aws.sqs_queue",
    ("aws:cloudwatch/eventRule:EventRule", "name"): "aws.event_rule",
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): "aws.metric_alarm",
    ("gcp:storage/bucket:Bucket", "name"): "gcp.gcs_bucket",
    ("gcp:storage/bucketIAMMember:BucketIAMMember", "bucket"): "gcp.gcs_bucket",
    ("gcp:kms/keyRing:KeyRing", "name"): "gcp.kms_key_ring",
    ("gcp:kms/cryptoKey:CryptoKey", "name"): "gcp.kms_crypto_key",
    ("gcp:sql/databaseInstance:DatabaseInstance", "name"): "gcp.sql_instance",
    ("gcp:serviceaccount/account:Account", "accountId"): "gcp.service_account",
    ("gcp:cloudrunv2/job:Job", "name"): "gcp.cloud_run_job",
    ("gcp:cloudscheduler/job:Job", "name"): "gcp.scheduler_job",
    ("gcp:bigtable/instance:Instance", "name"): "gcp.bigtable_instance",
    ("gcp:bigtable/instance:Instance", "clusters.clusterId"): "gcp.bigtable_cluster",
    ("gcp:firestore/database:Database", "name"): "gcp.firestore_database",
    ("gcp:compute/healthCheck:HealthCheck", "name"): "gcp.health_check",
    ("gcp:pubsub/topic:Topic", "name"): "gcp.pubsub_topic",
    ("gcp:projects/iAMCustomRole:IAMCustomRole", "roleId"): "gcp.iam_custom_role",
}
"""Which input of which resource carries a name drgen derives, and its row in NAME_LIMITS."""

NOT_DERIVED: dict[tuple[str, str], str] = {
    ("aws:backup/selection:Selection", "name"): "the component's fixed key (audit_log ...)",
    ("aws:backup/restoreTestingSelection:RestoreTestingSelection", "name"): "fixed key",
    ("aws:route53/record:Record", "name"): "the endpoint domain, checked as a DNS name",
    ("gcp:dns/recordSet:RecordSet", "name"): "the endpoint domain, checked as a DNS name",
    ("gcp:bigtable/table:Table", "name"): "fixed: features",
    ("gcp:cloudrunv2/jobIamMember:JobIamMember", "name"): "refers to the checked job",
    ("aws:s3/bucketObjectv2:BucketObjectv2", "key"): "a prompt file's path",
}
"""Name-like inputs that are not derived from the workload name, and why."""

_NAME_KEYS = (
    "name",
    "bucket",
    "identifier",
    "clusterIdentifier",
    "globalClusterIdentifier",
    "finalSnapshotIdentifier",
    "accountId",
    "roleId",
)


def _declared_names(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, input, value) of every literal name-like input a stack declares."""
    found = []
    for resource in result["resources"]:
        inputs = resource["inputs"]
        for key in _NAME_KEYS:
            value = inputs.get(key)
            # References to other resources resolve to mock ids ending in -id; skip those.
            if isinstance(value, str) and not value.endswith("-id"):
                found.append((resource["type"], key, value))
        for cluster in inputs.get("clusters") or []:
            found.append((resource["type"], "clusters.clusterId", cluster["clusterId"]))
    return found


@pytest.mark.parametrize("project_stack", STACKS, ids=lambda s: f"{s[0].name}/{s[1]}")
def test_every_declared_name_is_derived_and_fits(project_stack: tuple[Path, str]) -> None:
    project, stack = project_stack
    derived = {(d.limit, d.name) for d in derived_names(plan_of(project))}

    for token, key, value in _declared_names(run(project, stack)):
        if (token, key) in NOT_DERIVED:
            continue
        assert (token, key) in NAMED_INPUTS, f"{token}.{key}={value!r}: add it to limits.py"
        limit = NAMED_INPUTS[(token, key)]
        assert (limit, value) in derived, f"derived_names misses {limit} {value!r}"
        assert name_problem(DerivedName(limit, value, "test")) is None


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_every_derived_name_is_declared_by_a_stack(project: Path) -> None:
    """derived_names holds no name the templates stopped giving (the golden stacks run with
    the peer deployed, so every conditional resource is declared in some region)."""
    declared = {
        (NAMED_INPUTS[(token, key)], value)
        for stack in (s.name for s in plan_of(project).stacks)
        for token, key, value in _declared_names(run(project, stack))
        if (token, key) in NAMED_INPUTS
    }
    derived = {(d.limit, d.name) for d in derived_names(plan_of(project))}

    # Health check Name tags are tags, not inputs _declared_names reads.
    assert {d for d in derived if d[0] != "aws.tag_value"} - declared == set()


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_the_golden_workloads_derive_only_valid_names(project: Path) -> None:
    problems = [name_problem(d) for d in derived_names(plan_of(project))]

    assert [p for p in problems if p] == []


def test_every_limit_cites_its_source() -> None:
    for key, limit in NAME_LIMITS.items():
        assert key.startswith(limit.cloud + ".")
        assert re.search(r"https://|pulumi_(aws|gcp)\.", limit.source), key
        assert 0 <= limit.min_length <= limit.max_length
    for limit in TAG_LIMITS.values():
        assert limit.source.startswith("https://")


# The documented limits, verified (each row's source is in limits.py):
# S3 3-63, Backup vault 2-50, restore testing plan 1-50 letters/digits/_, Lambda 64,
# Scheduler 64, KMS alias 256, Aurora cluster 63, DynamoDB 3-255, SQS queue 80, SNS topic 256,
# EventBridge rule 64, CloudWatch alarm 255 and log group 512, RDS cluster parameter group 255
# (also in botocore's service models), GCS 3-63, service account 6-30, Bigtable instance 6-33 and
# cluster 6-30, Cloud Run job 63, Pub/Sub topic 3-255.
@pytest.mark.parametrize(
    ("limit", "shortest", "longest"),
    [
        ("aws.s3_bucket", 3, 63),
        ("aws.backup_vault", 2, 50),
        ("aws.restore_testing_plan", 1, 50),
        ("aws.lambda_function", 1, 64),
        ("aws.schedule", 1, 64),
        ("aws.kms_alias", 7, 256),
        ("aws.aurora_cluster", 1, 63),
        ("aws.dynamodb_table", 3, 255),
        ("aws.sqs_queue", 1, 80),
        ("aws.sns_topic", 1, 256),
        ("aws.event_rule", 1, 64),
        ("aws.metric_alarm", 1, 255),
        ("aws.log_group", 1, 512),
        ("aws.db_cluster_parameter_group", 1, 255),
        ("gcp.gcs_bucket", 3, 63),
        ("gcp.service_account", 6, 30),
        ("gcp.bigtable_instance", 6, 33),
        ("gcp.bigtable_cluster", 6, 30),
        ("gcp.cloud_run_job", 1, 63),
        ("gcp.firestore_database", 4, 63),
        ("gcp.pubsub_topic", 3, 255),
        ("gcp.iam_custom_role", 3, 64),
    ],
)
def test_the_table_holds_the_documented_lengths(limit: str, shortest: int, longest: int) -> None:
    row = NAME_LIMITS[limit]

    assert (row.min_length, row.max_length) == (shortest, longest)


@pytest.mark.parametrize(
    ("limit", "name", "refused"),
    [
        ("aws.aurora_cluster", "a--b", True),
        ("aws.aurora_cluster", "ab-", True),
        ("aws.aurora_cluster", "1ab", True),
        ("aws.aurora_cluster", "ab-1", False),
        ("aws.restore_testing_plan", "a-b", True),
        ("aws.restore_testing_plan", "a_b", False),
        ("aws.s3_bucket", "xn--abc", True),
        ("aws.s3_bucket", "abc-s3alias", True),
        ("aws.sqs_queue", "a.fifo", True),
        ("aws.sns_topic", "a.b", True),
        ("aws.event_rule", "a.b_c-1", False),
        ("aws.event_rule", "a/b", True),
        ("aws.log_group", "/aws/rds/cluster/a-1/postgresql", False),
        ("aws.log_group", "/aws/x y", True),
        ("aws.metric_alarm", "a b/c", False),
        ("aws.metric_alarm", "a\nb", True),
        ("aws.db_cluster_parameter_group", "a-1-parameters", False),
        ("aws.db_cluster_parameter_group", "a--parameters", True),
        ("gcp.gcs_bucket", "my-google-bucket", True),
        ("gcp.gcs_bucket", "goog-x", True),
        ("gcp.service_account", "abc-d-", True),
        ("gcp.pubsub_topic", "goog-switch", True),
        ("gcp.pubsub_topic", "1-switch", True),
        ("gcp.pubsub_topic", "a-vendor-switch-europe-west1", False),
        ("gcp.iam_custom_role", "drgen_lab-notebooks_sql_export", True),
        ("gcp.iam_custom_role", "drgen_lab_notebooks_sql_export", False),
    ],
)
def test_the_shapes_the_clouds_refuse(limit: str, name: str, refused: bool) -> None:
    assert (name_problem(DerivedName(limit, name, "test")) is not None) is refused


def test_a_39_character_name_no_longer_renders_a_56_character_restore_testing_plan(
    workload_file: Callable[[str], Path], run_cli: Cli
) -> None:
    name = "a" * 39
    workload_file(
        MINIMAL.replace("demo-workload", name).replace("tier: 2", "tier: 1")
        + "endpoint:\n  domain: a.example.com\n  zone: example.com\n"
        "  targets: {us-east-1: a.example.com, us-west-2: b.example.com}\n"
    )

    result = run_cli("validate", "workload.yaml")

    assert result.exit_code == 1
    plan_name = f"{name}_audit_semiannual"
    assert (
        f"workload.yaml:1:7: name: AWS Backup restore testing plan name {plan_name!r} (the restore"
        f" testing plan) has 56 characters, the limit is 50: shorten the workload name"
        " (or naming.suffix) by 6"
    ) in result.output


@pytest.mark.parametrize("command", [("plan",), ("check",), ("render", "-o", "out")])
def test_every_command_refuses_names_the_cloud_would(
    workload_file: Callable[[str], Path], run_cli: Cli, command: tuple[str, ...]
) -> None:
    workload_file(
        MINIMAL.replace("demo-workload", "b" * 40)
        + "components:\n  feature_store: {engine: dynamodb}\n"
    )

    result = run_cli(*command, "workload.yaml")

    assert result.exit_code == 1
    assert "restore testing plan" in result.output
    assert not Path("out").exists()


def test_gcp_names_are_checked_too(workload_file: Callable[[str], Path], run_cli: Cli) -> None:
    workload_file("name: google-search\ntier: 3\ncloud: gcp\nregions: {primary: us-central1}\n")

    result = run_cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "Cloud Storage bucket name 'google-search-models-us-central1'" in result.output
    assert "not containing google" in result.output


@pytest.mark.parametrize("name", ["ab--cd", "abc-", "Abc", "a"])
def test_the_workload_name_pattern_refuses_names_no_cloud_takes(
    workload_file: Callable[[str], Path], run_cli: Cli, name: str
) -> None:
    workload_file(MINIMAL.replace("demo-workload", name))

    assert run_cli("validate", "workload.yaml").exit_code == 1


@pytest.mark.parametrize(("cloud", "allowed"), [("aws", 46), ("gcp", 61)])
def test_tag_count_is_held_to_the_cloud_limit(
    workload_file: Callable[[str], Path], run_cli: Cli, cloud: str, allowed: int
) -> None:
    regions = "{primary: us-east-1}" if cloud == "aws" else "{primary: us-central1}"
    base = f"name: demo-workload\ntier: 3\ncloud: {cloud}\nregions: {regions}\ntags:\n"

    def with_tags(count: int) -> str:
        return base + "".join(f"  k{n}: v\n" for n in range(count))

    workload_file(with_tags(allowed))
    fits = run_cli("validate", "workload.yaml")
    workload_file(with_tags(60 if cloud == "aws" else 62))
    too_many = run_cli("validate", "workload.yaml")

    assert fits.exit_code == 0, fits.output
    assert too_many.exit_code == 1
    assert f"the limit is {allowed}" in too_many.output


def test_drgen_adds_the_tags_the_limit_reserves() -> None:
    """The reserve in TAG_LIMITS matches what the rendered settings add to every resource."""
    aws = resolve(make_workload(1, "aws"))
    gcp = resolve(make_workload(1, "gcp"))
    from drgen.render import render

    aws_settings = render(aws)["settings.py"]
    gcp_settings = render(gcp)["settings.py"]

    # drgen:workload, drgen:tier, drgen:component, plus Name on the health checks.
    assert len(re.findall(r'"drgen:\w+"', aws_settings)) + 1 == TAG_LIMITS["aws"].added_by_drgen
    assert len(re.findall(r'"drgen-\w+"', gcp_settings)) == TAG_LIMITS["gcp"].added_by_drgen


def test_the_json_schema_carries_regions_tags_and_name(run_cli: Cli) -> None:
    schema = json.loads(run_cli("schema").output)
    rules = {rule["if"]["properties"]["cloud"]["const"]: rule["then"] for rule in schema["allOf"]}

    clouds: tuple[tuple[Cloud, frozenset[str]], ...] = (("aws", AWS_REGIONS), ("gcp", GCP_REGIONS))
    for cloud, regions in clouds:
        region_rules = rules[cloud]["properties"]["regions"]["properties"]
        assert set(region_rules["primary"]["enum"]) == regions
        assert set(region_rules["secondary"]["enum"]) == regions
        assert rules[cloud]["properties"]["tags"]["maxProperties"] == (
            TAG_LIMITS[cloud].for_the_workload
        )
    assert (
        "us-central1" not in rules["aws"]["properties"]["regions"]["properties"]["primary"]["enum"]
    )
    pattern = schema["properties"]["name"]["pattern"]
    assert re.fullmatch(pattern, "fraud-scoring")
    assert not re.fullmatch(pattern, "fraud--scoring")
    assert not re.fullmatch(pattern, "Bad Name")


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_tag_keys_and_values_are_held_to_the_table(cloud: Cloud) -> None:
    from drgen.clouds import tag_problems

    limit = TAG_LIMITS[cloud]

    assert tag_problems(cloud, "k" * limit.key_max, "v" * limit.value_max) == []
    assert tag_problems(cloud, "k" * (limit.key_max + 1), "v")
    assert tag_problems(cloud, "k", "v" * (limit.value_max + 1))


def test_the_health_check_name_tag_fits_aws(
    workload_file: Callable[[str], Path], run_cli: Cli
) -> None:
    domain = ".".join(["a" * 60] * 4) + ".example.com"
    workload_file(
        MINIMAL.replace("tier: 2", "tier: 1")
        + f"endpoint:\n  domain: {domain}\n  zone: example.com\n"
        "  targets: {us-east-1: a.example.com, us-west-2: b.example.com}\n"
    )

    result = run_cli("validate", "workload.yaml")

    assert result.exit_code == 1
    assert "workload.yaml:8:11: endpoint.domain: tag value" in result.output
    assert "the Name tag of the health check in us-east-1" in result.output
    assert "shorten endpoint.domain by" in result.output


AUTONAME_SUFFIX = 8
"""Pulumi names a resource without an explicit name `<logical name>-<7 random characters>`
(https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming)."""


@pytest.mark.parametrize("project_stack", STACKS, ids=lambda s: f"{s[0].name}/{s[1]}")
def test_roles_pulumi_names_fit_iam(project_stack: tuple[Path, str]) -> None:
    """IAM roles get Pulumi's auto-names: their logical names must leave room for the suffix."""
    roles = [r for r in run(*project_stack)["resources"] if r["type"] == "aws:iam/role:Role"]

    for role in roles:
        assert "name" not in role["inputs"], "an explicit role name belongs in derived_names"
        auto_name = role["name"] + "-" + "x" * (AUTONAME_SUFFIX - 1)
        assert name_problem(DerivedName("aws.iam_role", auto_name, "test")) is None
