"""What the clouds accept as names, tags and labels, and every name a plan makes them accept.

One row per resource type and cloud, each with the documentation (or SDK docstring) it comes
from. `validate` holds every name the templates derive (`derived_names`) to its row, so a
workload whose names a cloud would refuse fails in review, not in the first `pulumi up`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drgen.clouds import Cloud

if TYPE_CHECKING:
    from drgen.plan import ComponentPlan, DrPlan


@dataclass(frozen=True)
class NameLimit:
    """The length and shape a cloud accepts for one kind of resource name."""

    resource: str
    cloud: Cloud
    min_length: int
    max_length: int
    shape: str
    """Regular expression the whole name must match (length aside)."""
    rule: str
    """The shape in words, for messages."""
    source: str


_DNS_LIKE = r"[a-z]([a-z0-9-]*[a-z0-9])?"
_RDS = r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*(?<!-)"
_RDS_RULE = "letters, digits and hyphens, starting with a letter, no -- and no trailing -"

NAME_LIMITS: dict[str, NameLimit] = {
    "aws.s3_bucket": NameLimit(
        "S3 bucket", "aws", 3, 63,
        r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9](?!.*\.\.)[a-z0-9.-]*[a-z0-9]"
        r"(?<!-s3alias)(?<!--ol-s3)(?<!\.mrap)(?<!--x-s3)(?<!--table-s3)",
        "lowercase letters, digits, . and -, starting and ending with a letter or digit,"
        " no xn--/sthree- prefix or -s3alias/--ol-s3 suffix",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html;"
        " pulumi_aws.s3.Bucket `bucket`: lowercase, at most 63 characters",
    ),
    "aws.backup_vault": NameLimit(
        "AWS Backup vault", "aws", 2, 50, r"[a-zA-Z0-9_-]+",
        "letters, digits, - and _",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html"
        " (pattern ^[a-zA-Z0-9\\-\\_]{2,50}$)",
    ),
    "aws.backup_plan": NameLimit(
        "AWS Backup plan", "aws", 1, 200, r"[a-zA-Z0-9_.-]+",
        "letters, digits, - _ and .",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupPlan.html"
        " (1-200 through the API, which Pulumi uses; the console allows only 50)",
    ),
    "aws.restore_testing_plan": NameLimit(
        "AWS Backup restore testing plan", "aws", 1, 50, r"[a-zA-Z0-9_]+",
        "letters, digits and _",
        "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateRestoreTestingPlan.html;"
        " pulumi_aws.backup.RestoreTestingPlan `name`: 1-50 alphanumeric characters and"
        " underscores",
    ),
    "aws.iam_policy": NameLimit(
        "IAM policy", "aws", 1, 128, r"[\w+=,.@-]+", "letters, digits and + = , . @ _ -",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html"
        " (PolicyName 1-128, [\\w+=,.@-]+)",
    ),
    "aws.iam_role": NameLimit(
        "IAM role", "aws", 1, 64, r"[\w+=,.@-]+", "letters, digits and + = , . @ _ -",
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
        r" (RoleName 1-64, [\w+=,.@-]+); drgen's roles are named by Pulumi (tests/test_limits.py)",
    ),
    "aws.lambda_function": NameLimit(
        "Lambda function", "aws", 1, 64, r"[a-zA-Z0-9_-]+", "letters, digits, - and _",
        "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
        " (FunctionName: the name alone is 1-64 characters)",
    ),
    "aws.log_group": NameLimit(
        "CloudWatch log group", "aws", 1, 512, r"[.\-_/#A-Za-z0-9]+",
        "letters, digits and . - _ / #",
        "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"
        " (logGroupName 1-512, [\\.\\-_/#A-Za-z0-9]+, as in botocore's logs model)",
    ),
    "aws.schedule": NameLimit(
        "EventBridge Scheduler schedule", "aws", 1, 64, r"[0-9a-zA-Z_.-]+",
        "letters, digits, - _ and .",
        "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html"
        " (Name 1-64, ^[0-9a-zA-Z-_.]+$)",
    ),
    "aws.ssm_parameter": NameLimit(
        "SSM parameter", "aws", 2, 960, r"/(?![aA][wW][sS]|[sS][sS][mM])[a-zA-Z0-9_./-]+",
        "a path of letters, digits and _ . - /, not starting with aws or ssm",
        "https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html"
        " (1011 characters including the parameter's ARN, about 50 of them)",
    ),
    "aws.kms_alias": NameLimit(
        "KMS alias", "aws", 7, 256, r"alias/[a-zA-Z0-9/_-]+", "alias/ then letters, digits, / _ -",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"
        " (AliasName 1-256, ^alias/[a-zA-Z0-9/_-]+$)",
    ),
    "aws.dynamodb_table": NameLimit(
        "DynamoDB table", "aws", 3, 255, r"[a-zA-Z0-9_.-]+", "letters, digits, _ - and .",
        "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html"
        " (TableName 3-255, [a-zA-Z0-9_.-]+)",
    ),
    "aws.aurora_cluster": NameLimit(
        "Aurora cluster identifier", "aws", 1, 63, _RDS, _RDS_RULE,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html"
        " (DBClusterIdentifier: 1-63 for Aurora)",
    ),
    "aws.aurora_global_cluster": NameLimit(
        "Aurora global cluster identifier", "aws", 1, 63, _RDS, _RDS_RULE,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyGlobalCluster.html"
        " (NewGlobalClusterIdentifier: 1-63, same rules as the creating call)",
    ),
    "aws.db_instance": NameLimit(
        "RDS instance identifier", "aws", 1, 63, _RDS, _RDS_RULE,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
        " (DBInstanceIdentifier: 1-63)",
    ),
    "aws.db_cluster_snapshot": NameLimit(
        "RDS cluster snapshot identifier", "aws", 1, 255, _RDS, _RDS_RULE,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html"
        " (FinalDBSnapshotIdentifier: 1-255)",
    ),
    "aws.db_cluster_parameter_group": NameLimit(
        "RDS cluster parameter group", "aws", 1, 255, _RDS, _RDS_RULE,
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.CreatingCluster.html"
        " (1 to 255 letters, numbers or hyphens, first a letter, no trailing hyphen or two"
        " consecutive hyphens; API_CreateDBClusterParameterGroup.html stores it lowercased)",
    ),
    "aws.sqs_queue": NameLimit(
        "SQS queue", "aws", 1, 80, r"[a-zA-Z0-9_-]+", "letters, digits, - and _",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
        " (QueueName: up to 80 alphanumeric characters, hyphens and underscores; .fifo only for"
        " FIFO queues)",
    ),
    "aws.sns_topic": NameLimit(
        "SNS topic", "aws", 1, 256, r"[a-zA-Z0-9_-]+", "letters, digits, - and _",
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html (Name: ASCII letters,"
        " numbers, underscores and hyphens, 1-256 characters)",
    ),
    "aws.event_rule": NameLimit(
        "EventBridge rule", "aws", 1, 64, r"[.\-_A-Za-z0-9]+", "letters, digits and . - _",
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html"
        " (Name 1-64, [\\.\\-_A-Za-z0-9]+, as in botocore's events model)",
    ),
    "aws.metric_alarm": NameLimit(
        "CloudWatch alarm", "aws", 1, 255, r"[^\x00-\x1f\x7f]+", "no control characters",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
        " (AlarmName 1-255 UTF-8 characters, no ASCII control characters)",
    ),
    "aws.tag_value": NameLimit(
        "tag value", "aws", 0, 256, r"[\w .:/=+\-@]*",
        "letters, digits, spaces and _ . : / = + - @",
        "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html"
        " (tag values 0-256 Unicode characters)",
    ),
    "gcp.gcs_bucket": NameLimit(
        "Cloud Storage bucket", "gcp", 3, 63,
        r"(?!goog)(?!.*g[o0]{2}gle)[a-z0-9][a-z0-9_.-]*[a-z0-9]",
        "lowercase letters, digits, - _ and ., starting and ending with a letter or digit,"
        " not starting with goog and not containing google",
        "https://cloud.google.com/storage/docs/buckets#naming; pulumi_gcp.storage.Bucket `name`:"
        " lowercase, no more than 63 characters",
    ),
    "gcp.kms_key_ring": NameLimit(
        "Cloud KMS key ring", "gcp", 1, 63, r"[a-zA-Z0-9_-]+", "letters, digits, _ and -",
        "https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings/create"
        " (keyRingId: [a-zA-Z0-9_-]{1,63})",
    ),
    "gcp.kms_crypto_key": NameLimit(
        "Cloud KMS key", "gcp", 1, 63, r"[a-zA-Z0-9_-]+", "letters, digits, _ and -",
        "https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/create"
        " (cryptoKeyId: [a-zA-Z0-9_-]{1,63})",
    ),
    "gcp.sql_instance": NameLimit(
        "Cloud SQL instance", "gcp", 1, 98 - 31, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter",
        "https://cloud.google.com/sql/docs/postgres/instance-settings (instance ID: lowercase"
        " letters, numbers and hyphens, starting with a letter) and the Cloud SQL Admin API"
        " (google.cloud.sql_v1 SqlInstances*Request.instance: the total length must be 98"
        " characters or less): drgen leaves room for the longest project ID (30) and its colon",
    ),
    "gcp.service_account": NameLimit(
        "service account ID", "gcp", 6, 30, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter, not ending with -",
        "pulumi_gcp.serviceaccount.Account `account_id`: 6-30 characters, RFC1035;"
        " https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create",
    ),
    "gcp.cloud_run_job": NameLimit(
        "Cloud Run job", "gcp", 1, 63, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter, not ending with -",
        "Cloud Run Admin API: 'Resource name must use only lowercase letters, numbers and -."
        " Must begin with a letter and cannot end with a -. Maximum length is 63 characters.'"
        " (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.jobs/create)",
    ),
    "gcp.scheduler_job": NameLimit(
        "Cloud Scheduler job", "gcp", 1, 500, r"[a-zA-Z0-9_-]+", "letters, digits, - and _",
        "https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs"
        " (name: letters, numbers, hyphens, underscores; at most 500 characters)",
    ),
    "gcp.pubsub_topic": NameLimit(
        "Pub/Sub topic", "gcp", 3, 255, r"(?!goog)[a-zA-Z][a-zA-Z0-9._~+%-]*",
        "letters, digits and - _ . ~ + %, starting with a letter, not starting with goog",
        "https://cloud.google.com/python/docs/reference/pubsub/latest/google.cloud.pubsub_v1.types.Topic"
        " (name: start with a letter; letters, numbers, - _ . ~ + %; 3-255 characters; must not"
        " start with goog)",
    ),
    "gcp.bigtable_instance": NameLimit(
        "Bigtable instance", "gcp", 6, 33, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter",
        "pulumi_gcp.bigtable.Instance `name`: 6-33 characters, hyphens, lowercase letters and"
        " numbers; https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances/create",
    ),
    "gcp.bigtable_cluster": NameLimit(
        "Bigtable cluster", "gcp", 6, 30, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter",
        "pulumi_gcp.bigtable.InstanceClusterArgs `cluster_id`: 6-30 characters, hyphens,"
        " lowercase letters and numbers",
    ),
    "gcp.firestore_database": NameLimit(
        "Firestore database", "gcp", 4, 63, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter and ending with a letter or digit",
        "pulumi_gcp.firestore.Database `name`: 4-63 characters, /[a-z][0-9]-/, first a letter,"
        " last a letter or number",
    ),
    "gcp.iam_custom_role": NameLimit(
        "IAM custom role ID", "gcp", 3, 64, r"[a-zA-Z0-9_.]+", "letters, digits, _ and .",
        "https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create (roleId:"
        " [a-zA-Z0-9_\\.]{3,64}); pulumi_gcp.projects.IAMCustomRole `role_id`: cannot contain -",
    ),
    "gcp.health_check": NameLimit(
        "Compute health check", "gcp", 1, 63, _DNS_LIKE,
        "lowercase letters, digits and -, starting with a letter, not ending with -",
        "pulumi_gcp.compute.HealthCheck `name`: 1-63 characters, RFC1035",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class TagLimit:
    """How many tags (AWS) or labels (GCP) a resource takes, and how many drgen adds itself."""

    cloud: Cloud
    per_resource: int
    added_by_drgen: int
    key_max: int
    value_max: int
    source: str

    @property
    def for_the_workload(self) -> int:
        """How many the workload may declare: every resource also gets drgen's own."""
        return self.per_resource - self.added_by_drgen


TAG_LIMITS: dict[Cloud, TagLimit] = {
    # drgen:workload, drgen:tier, drgen:component, and Name on the Route 53 health checks.
    "aws": TagLimit(
        "aws", 50, 4, 128, 256,
        "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html"
        " (50 user tags per resource; keys 1-128, values 0-256 Unicode characters)",
    ),
    # drgen-workload, drgen-tier, drgen-component.
    "gcp": TagLimit(
        "gcp", 64, 3, 63, 63,
        "https://cloud.google.com/resource-manager/docs/labels-overview#requirements"
        " (at most 64 labels; keys 1-63 starting with a lowercase letter, values 0-63; lowercase"
        " letters, digits, _ and -)",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class DerivedName:
    """A name drgen gives a cloud resource, and which resource gets it."""

    limit: str
    """Key of its row in `NAME_LIMITS`."""
    name: str
    what: str
    shorten: str = "the workload name (or naming.suffix)"
    """What the user shortens or changes to fix it."""
    field: tuple[str, ...] = ("name",)
    """Where in workload.yaml that is, for the message's location."""


def derived_names(plan: DrPlan) -> list[DerivedName]:
    """Every name the templates give a cloud resource for `plan`, in a stable order.

    Mirrors the templates (tests compare it with the names every golden stack declares under
    the mock runtime); names Pulumi generates itself are left out, as Pulumi fits them.
    """
    names = _aws_names(plan) if plan.cloud == "aws" else _gcp_names(plan)
    unique = {(n.limit, n.name): n for n in names}
    return list(unique.values())


def _aws_names(plan: DrPlan) -> list[DerivedName]:
    workload = plan.workload
    found = [
        DerivedName("aws.kms_alias", f"alias/drgen/{workload}", "the KMS key alias"),
        DerivedName("aws.sns_topic", f"{workload}-dr-alerts", "the alert topic"),
        DerivedName("aws.event_rule", f"{workload}-backup-failures", "the backup failure rule"),
    ]
    paired = len(plan.stacks) > 1
    for c in plan.components:
        regional = list(c.names.items())
        if c.module in ("model_store", "prompt_store", "audit_vault", "vector_snapshots"):
            found += [
                DerivedName("aws.s3_bucket", n, f"the {c.component} bucket in {r}")
                for r, n in regional
            ]
        replicated = _REPLICATED_BUCKETS.get(c.module)
        if replicated is not None and paired and c.replicate_from:
            found += [
                _alarm(workload, f"{replicated}-replication-{what}", f"{c.component} replication")
                for what in ("latency", "failures")
            ]
        if c.module == "vector_snapshots":
            found += _snapshot_names(workload, c)
        if c.module == "vector_database":
            found += _aurora_names(plan, c)
        if c.module == "feature_store":
            found.append(DerivedName("aws.dynamodb_table", c.global_name, "the feature table"))
            found += _backup_names(c.global_name, int(c.params["backup_every_hours"]))
            if c.block == "dynamodb-global-table" and paired:
                found.append(
                    _alarm(workload, "feature-store-replication-latency", "table replication")
                )
        if c.module == "audit_vault" and c.params.get("backup_vault"):
            found += _backup_names(f"{workload}-audit", 24)
    from drgen.vendors.watch import watch  # the plan module imports this one

    vendor_watch = watch(plan)
    if vendor_watch is not None:
        function = vendor_watch.function
        found += [
            DerivedName(limit, name, what)
            for limit, name, what in (
                ("aws.lambda_function", function, "the vendor watcher"),
                ("aws.schedule", function, "its schedule"),
                ("aws.log_group", f"/aws/lambda/{function}", "its log group"),
                ("aws.ssm_parameter", vendor_watch.parameter, "the vendor failover switch"),
                ("aws.sqs_queue", f"{function}-dlq", "its schedule's dead-letter queue"),
            )
        ]
        found += [
            _alarm(workload, "vendor-watch-errors", "vendor watcher errors"),
            _alarm(workload, "vendor-watch-dead-letters", "vendor watcher dead letters"),
        ]
    if plan.routing is not None:
        found += [
            DerivedName(
                "aws.tag_value",
                f"{plan.routing.domain} via {stack.region}",
                f"the Name tag of the health check in {stack.region}",
                shorten="endpoint.domain",
                field=("endpoint", "domain"),
            )
            for stack in plan.stacks
        ]
    return found


_REPLICATED_BUCKETS = {
    "model_store": "models",
    "audit_vault": "audit",
    "vector_snapshots": "vector-snapshots",
}
"""The logical name each module gives its `ReplicatedBucket` (aws/storage.py), which names the
replication alarms of its primary-to-peer copy."""


def _alarm(workload: str, name: str, what: str) -> DerivedName:
    """The CloudWatch alarm `alerts.above` / `alerts.no_success_within_rpo` names `name`."""
    return DerivedName("aws.metric_alarm", f"{workload}-{name}", f"the {what} alarm")


def _snapshot_names(workload: str, c: ComponentPlan) -> list[DerivedName]:
    """The writer policy in every region; the trigger, its schedule, log group, dead-letter
    queue and alarms where the engine serves (aws/vector_snapshots.py)."""
    found = [
        DerivedName("aws.iam_policy", f"{bucket}-writer", f"the snapshot writer policy in {r}")
        for r, bucket in c.names.items()
    ]
    for region in c.serving:
        function = f"{c.names[region]}-trigger"[:64]
        found += [
            DerivedName(limit, name, f"{what} in {region}")
            for limit, name, what in (
                ("aws.lambda_function", function, "the snapshot function"),
                ("aws.schedule", function, "the snapshot schedule"),
                ("aws.log_group", f"/aws/lambda/{function}", "its log group"),
                ("aws.sqs_queue", f"{function}-dlq"[:80], "its dead-letter queue"),
            )
        ]
    if c.serving:
        found += [
            _alarm(workload, "vector-store-snapshot-age", "snapshot age"),
            _alarm(workload, "vector-store-snapshot-dead-letters", "snapshot dead-letter"),
        ]
    return found


def _aurora_names(plan: DrPlan, c: ComponentPlan) -> list[DerivedName]:
    """The clusters and what each is named after, its backups and, for a global database, the
    lag alarm (aws/vector_database.py): a regional cluster lives in the primary only, a global
    database has a member, and parameters, in every region."""
    live = c.block == "aurora-global"
    regions = [s.region for s in plan.stacks] if live else [plan.primary.region]
    found = []
    for region in regions:
        cluster = c.names[region]
        found += [
            DerivedName(limit, name, f"{what} in {region}")
            for limit, name, what in (
                ("aws.aurora_cluster", cluster, "the Aurora cluster"),
                ("aws.db_instance", f"{cluster}-1", "its instance"),
                ("aws.db_cluster_parameter_group", f"{cluster}-parameters", "its parameters"),
                ("aws.log_group", f"/aws/rds/cluster/{cluster}/postgresql", "its log group"),
            )
        ]
    primary = plan.primary.region
    found.append(
        DerivedName(
            "aws.db_cluster_snapshot",
            f"{c.names[primary]}-final",
            f"the final snapshot in {primary}",
        )
    )
    if live:
        found.append(DerivedName("aws.aurora_global_cluster", c.global_name, "the global database"))
        if plan.secondary is not None:
            found.append(_alarm(plan.workload, "vector-store-rpo-lag", "global database lag"))
    return found + _backup_names(c.global_name, int(c.params["backup_every_hours"]))


def _backup_names(vault: str, every_hours: int) -> list[DerivedName]:
    """The names `LockedBackups` (aws/storage.py) derives from its vault's name."""
    return [
        DerivedName("aws.backup_vault", vault, "the backup vault"),
        DerivedName("aws.backup_plan", f"{vault}-every-{every_hours}h", "the backup plan"),
        DerivedName(
            "aws.restore_testing_plan",
            f"{vault}_semiannual".replace("-", "_"),
            "the restore testing plan",
        ),
    ]


def _gcp_names(plan: DrPlan) -> list[DerivedName]:
    workload = plan.workload
    found = [
        DerivedName("gcp.kms_key_ring", f"drgen-{workload}", "the KMS key ring"),
        DerivedName("gcp.kms_crypto_key", "data", "the KMS key"),
    ]
    for c in plan.components:
        regional = list(c.names.items())
        # A dual-region component has one bucket over both regions (CopiedBucket, gcp/storage.py);
        # prompts always have one bucket per region.
        if c.module in ("model_store", "audit_vault", "vector_snapshots") and (
            c.replication == "dual-region"
        ):
            where = f"the dual-region {c.component} bucket"
            found.append(DerivedName("gcp.gcs_bucket", c.global_name, where))
        elif c.module in ("model_store", "prompt_store", "audit_vault", "vector_snapshots"):
            found += [
                DerivedName("gcp.gcs_bucket", n, f"the {c.component} bucket in {r}")
                for r, n in regional
            ]
        if c.module == "vector_snapshots":
            job = f"{workload}-vector-snapshots"
            found += [
                DerivedName("gcp.cloud_run_job", job, "the snapshot job"),
                DerivedName("gcp.scheduler_job", job, "the snapshot schedule"),
            ]
            for purpose in ("job", "sched"):
                # The job and its accounts run where the engine serves.
                for role in sorted({s.role for s in plan.stacks if s.region in c.serving}):
                    found.append(
                        DerivedName(
                            "gcp.service_account",
                            f"{workload[:16]}-snap{purpose}-{role[0]}",
                            f"the snapshot {purpose} service account ({role})",
                        )
                    )
        if c.module == "vector_database":
            # A cold restore's stacks declare the primary's instance only (as on AWS).
            declared = regional if c.block == "cloudsql-cross-region-replica" else regional[:1]
            found += [
                DerivedName("gcp.sql_instance", n, f"the Cloud SQL instance in {r}")
                for r, n in declared
            ]
            if "export_every_seconds" in c.params and plan.secondary is not None:
                # The secondary's export bucket and the job that fills it (gcp/vector_database.py).
                region = plan.secondary.region
                job = f"{workload}-vectors-export"
                found += [
                    DerivedName(
                        "gcp.gcs_bucket",
                        str(c.params["export_bucket"]),
                        f"the export bucket in {region}",
                    ),
                    DerivedName("gcp.cloud_run_job", job, "the export job"),
                    DerivedName("gcp.scheduler_job", job, "the export schedule"),
                    DerivedName(
                        "gcp.iam_custom_role",
                        f"drgen_{workload.replace('-', '_')}_sql_export",
                        "the export role",
                    ),
                    *(
                        DerivedName(
                            "gcp.service_account",
                            f"{workload[:16]}-sqlexp{purpose}",
                            f"the export {purpose} service account",
                        )
                        for purpose in ("job", "sched")
                    ),
                ]
        if c.module == "feature_store" and c.engine == "bigtable":
            found.append(
                DerivedName("gcp.bigtable_instance", f"{workload[:24]}-features", "the instance")
            )
            # Only a multi-cluster instance has a cluster in the secondary too.
            multi = c.block == "bigtable-multi-cluster" and len(plan.stacks) > 1
            found += [
                DerivedName(
                    "gcp.bigtable_cluster", f"{workload[:20]}-{role}", f"the {role} cluster"
                )
                for role in (("pri", "sec") if multi else ("pri",))
            ]
            if c.block == "bigtable-backup" and len(plan.stacks) > 1:
                # The secondary's DR instance and the job copying backups into it.
                job = f"{workload}-features-copy"
                found += [
                    DerivedName("gcp.bigtable_instance", f"{workload[:24]}-dr", "the DR instance"),
                    DerivedName("gcp.bigtable_cluster", f"{workload[:20]}-dr", "the DR cluster"),
                    DerivedName("gcp.cloud_run_job", job, "the backup copy job"),
                    DerivedName("gcp.scheduler_job", job, "the backup copy schedule"),
                    *(
                        DerivedName(
                            "gcp.service_account",
                            f"{workload[:16]}-btcopy{purpose}",
                            f"the backup copy {purpose} service account",
                        )
                        for purpose in ("job", "sched")
                    ),
                ]
        if c.module == "feature_store" and c.engine == "firestore":
            found.append(DerivedName("gcp.firestore_database", c.global_name, "the database"))
    if plan.routing is not None:
        found.append(DerivedName("gcp.health_check", f"{workload}-endpoint", "the health check"))
    return found + _gcp_watcher_names(plan)


def _gcp_watcher_names(plan: DrPlan) -> list[DerivedName]:
    """The vendor watcher's job, schedule, accounts, bucket and topic (gcp/vendor_watcher.py)."""
    from drgen.vendors.watch import watch  # the plan module imports this one

    vendor_watch = watch(plan)
    if vendor_watch is None:
        return []
    job = vendor_watch.function
    found = [
        DerivedName("gcp.cloud_run_job", job, "the vendor watcher"),
        DerivedName("gcp.scheduler_job", job, "its schedule"),
    ]
    for stack in plan.stacks:
        found += [
            DerivedName(
                "gcp.gcs_bucket",
                vendor_watch.switch_buckets[stack.region],
                f"the vendor switch bucket in {stack.region}",
            ),
            DerivedName(
                "gcp.pubsub_topic",
                vendor_watch.switch_topics[stack.region],
                f"the vendor switch topic in {stack.region}",
            ),
            *(
                DerivedName(
                    "gcp.service_account",
                    f"{plan.workload[:16]}-v{purpose}-{stack.role[0]}",
                    f"the vendor {purpose} service account ({stack.role})",
                )
                for purpose in ("watch", "sched")
            ),
        ]
    return found


def name_problem(derived: DerivedName) -> str | None:
    """Why the cloud would refuse `derived`, naming it, its length and what to shorten."""
    limit = NAME_LIMITS[derived.limit]
    name, length = derived.name, len(derived.name)
    if length > limit.max_length:
        return (
            f"{limit.resource} name {name!r} ({derived.what}) has {length} characters, the limit"
            f" is {limit.max_length}: shorten {derived.shorten} by {length - limit.max_length}"
        )
    if length < limit.min_length:
        return (
            f"{limit.resource} name {name!r} ({derived.what}) has {length} characters, at least"
            f" {limit.min_length} are needed: lengthen {derived.shorten}"
        )
    if not re.fullmatch(limit.shape, name):
        return (
            f"{limit.resource} name {name!r} ({derived.what}) is refused by {limit.cloud.upper()}:"
            f" it allows {limit.rule}; change {derived.shorten}"
        )
    return None


def plan_name_problems(plan: DrPlan) -> list[str]:
    """Every derived name of `plan` its cloud would refuse, one message each."""
    return [message for _, message in located_name_problems(plan)]


def located_name_problems(plan: DrPlan) -> list[tuple[tuple[str, ...], str]]:
    """(field of workload.yaml to change, message) for every derived name the cloud refuses."""
    return [
        (derived.field, problem)
        for derived in derived_names(plan)
        if (problem := name_problem(derived)) is not None
    ]
