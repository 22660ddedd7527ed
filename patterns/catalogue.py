"""The pattern catalogue: which building block implements each component, per cloud and pattern.

Rows, not branches: adding an engine or a pattern is adding entries here. Each block names the
template module that renders it (`<cloud>/<module>.py.j2`) and its fixed parameters; the plan adds
the parameters that come from the workload (regions, replication direction, retention, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Pattern = Literal["active-active", "warm-standby", "cold-restore"]
Replication = Literal[
    "bidirectional", "to-secondary", "dual-region", "multi-region", "deployed-to-each", "none"
]
ParamValue = str | int | float | bool


@dataclass(frozen=True)
class Block:
    """A building block: what is deployed, by which template module, with which fixed settings."""

    name: str
    module: str
    summary: str
    params: dict[str, ParamValue] = field(default_factory=dict)
    replication: Replication | None = None
    """How data reaches the secondary, when not the pattern's default (REPLICATION)."""


TIER_OBJECTIVES: dict[int, tuple[int | None, int]] = {
    0: (3600, 60),
    1: (4 * 3600, 15 * 60),
    2: (3 * 86400, 4 * 3600),
    3: (None, 86400),
}
"""Tier -> (RTO, RPO) in seconds when the workload declares none (dr-patterns.md, section 1)."""

PATTERN_STRENGTH: dict[Pattern, int] = {"active-active": 2, "warm-standby": 1, "cold-restore": 0}

REPLICATION: dict[Pattern, Replication] = {
    "active-active": "bidirectional",
    "warm-standby": "to-secondary",
    "cold-restore": "to-secondary",
}
"""How object data moves between the two regions (`none` when there is no secondary)."""

REPLICATED_BUCKETS = frozenset(
    {("aws", "model_store"), ("aws", "vector_snapshots"), ("aws", "audit_vault")}
)
"""(cloud, module) whose bucket has a replication rule to the peer's bucket, which must exist."""

ROUTING: dict[tuple[str, Pattern], Block] = {
    ("aws", "active-active"): Block(
        "route53-latency",
        "routing",
        "Route 53 latency records per region with HTTPS health checks",
        {"policy": "latency"},
    ),
    ("aws", "warm-standby"): Block(
        "route53-failover",
        "routing",
        "Route 53 failover PRIMARY/SECONDARY with a health check",
        {"policy": "failover"},
    ),
    ("gcp", "active-active"): Block(
        "cloud-dns-geo",
        "routing",
        "Cloud DNS geolocation routing to the nearest healthy region",
        {"policy": "geo"},
    ),
    ("gcp", "warm-standby"): Block(
        "cloud-dns-primary-backup",
        "routing",
        "Cloud DNS primary-backup routing policy",
        {"policy": "primary-backup"},
    ),
}

_LIVE: tuple[Pattern, ...] = ("active-active", "warm-standby")
_ALL: tuple[Pattern, ...] = ("active-active", "warm-standby", "cold-restore")


def _rows(
    cloud: str, component: str, variant: str, patterns: tuple[Pattern, ...], block: Block
) -> dict[tuple[str, str, str, Pattern], Block]:
    return {(cloud, component, variant, pattern): block for pattern in patterns}


_SNAPSHOT_ENGINES = ("qdrant", "weaviate", "milvus", "opensearch")

BLOCKS: dict[tuple[str, str, str, Pattern], Block] = {
    # Model artefacts
    **_rows("aws", "models", "-", _LIVE, Block(
        "s3-crr-rtc", "model_store",
        "versioned SSE-KMS bucket per region, cross-region replication with S3 RTC (15 min)",
        {"replication_time_control": True},
    )),
    **_rows("aws", "models", "-", ("cold-restore",), Block(
        "s3-crr", "model_store",
        "versioned SSE-KMS bucket, replicated to the secondary (no RTC) when there is one",
        {"replication_time_control": False},
    )),
    **_rows("gcp", "models", "-", _LIVE, Block(
        "gcs-dual-region-turbo", "model_store",
        "dual-region bucket over both regions with turbo replication (15 min RPO)",
        {"turbo_replication": True},
        "dual-region",
    )),
    **_rows("gcp", "models", "-", ("cold-restore",), Block(
        "gcs-transfer-copy", "model_store",
        "regional bucket copied to the secondary by a Storage Transfer job",
        {"turbo_replication": False},
    )),
    # Vector stores
    **_rows("aws", "vector_store", "pgvector", _LIVE, Block(
        "aurora-global", "vector_database",
        "Aurora PostgreSQL global database with a cluster in each region",
        {"engine_version": "16.6", "instance_class": "db.r6g.large"},
        "to-secondary",
    )),
    **_rows("aws", "vector_store", "pgvector", ("cold-restore",), Block(
        "aurora-backup-copy", "vector_database",
        "Aurora PostgreSQL in the primary, AWS Backup with a copy to the secondary's vault",
        {"engine_version": "16.6", "instance_class": "db.r6g.large"},
    )),
    **{key: block for engine in _SNAPSHOT_ENGINES for key, block in _rows(
        "aws", "vector_store", engine, _ALL, Block(
            "s3-snapshot-schedule", "vector_snapshots",
            "snapshot bucket (replicated like models) and an EventBridge Scheduler trigger",
        )).items()},
    **_rows("gcp", "vector_store", "pgvector", _LIVE, Block(
        "cloudsql-cross-region-replica", "vector_database",
        "Cloud SQL PostgreSQL (REGIONAL) with a promotable cross-region replica",
        {"database_version": "POSTGRES_18", "tier": "db-custom-4-16384"},
        "to-secondary",
    )),
    **_rows("gcp", "vector_store", "pgvector", ("cold-restore",), Block(
        "cloudsql-backups-in-secondary", "vector_database",
        "Cloud SQL PostgreSQL with PITR and backups stored in the secondary region",
        {"database_version": "POSTGRES_18", "tier": "db-custom-4-16384"},
    )),
    **{key: block for engine in _SNAPSHOT_ENGINES[:3] for key, block in _rows(
        "gcp", "vector_store", engine, _LIVE, Block(
            "gcs-snapshot-scheduler", "vector_snapshots",
            "dual-region snapshot bucket; Cloud Scheduler runs a snapshot job in the VPC",
            replication="dual-region",
        )).items()},
    **{key: block for engine in _SNAPSHOT_ENGINES[:3] for key, block in _rows(
        "gcp", "vector_store", engine, ("cold-restore",), Block(
            "gcs-snapshot-scheduler", "vector_snapshots",
            "snapshot bucket copied to the secondary; Cloud Scheduler runs a snapshot job",
        )).items()},
    # Feature stores
    **_rows("aws", "feature_store", "dynamodb", _LIVE, Block(
        "dynamodb-global-table", "feature_store",
        "DynamoDB global table with a replica in the secondary, PITR on both",
    )),
    **_rows("aws", "feature_store", "dynamodb", ("cold-restore",), Block(
        "dynamodb-pitr-backup", "feature_store",
        "DynamoDB table with PITR and AWS Backup copies to the secondary",
    )),
    **_rows("gcp", "feature_store", "bigtable", _LIVE, Block(
        "bigtable-multi-cluster", "feature_store",
        "Bigtable instance with a cluster per region and multi-cluster routing",
        replication="bidirectional",
    )),
    **_rows("gcp", "feature_store", "bigtable", ("cold-restore",), Block(
        "bigtable-backup", "feature_store",
        "Bigtable cluster in the primary with scheduled backups",
    )),
    **_rows("gcp", "feature_store", "firestore", _LIVE, Block(
        "firestore-multi-region", "feature_store",
        "Firestore multi-region database with PITR and a daily backup schedule",
        replication="multi-region",
    )),
    **_rows("gcp", "feature_store", "firestore", ("cold-restore",), Block(
        "firestore-pitr-backup", "feature_store",
        "Firestore database in the primary with PITR and a daily backup schedule",
    )),
    # Prompts and tool definitions
    **_rows("aws", "prompts", "-", _ALL, Block(
        "s3-prompt-objects", "prompt_store",
        "prompt files as versioned objects, deployed by every region's stack",
        replication="deployed-to-each",
    )),
    **_rows("gcp", "prompts", "-", _ALL, Block(
        "gcs-prompt-objects", "prompt_store",
        "prompt files as versioned objects, deployed by every region's stack",
        replication="deployed-to-each",
    )),
    # Audit / decision logs
    **_rows("aws", "audit_log", "-", _ALL, Block(
        "s3-object-lock-vault", "audit_vault",
        "object-lock bucket in COMPLIANCE mode, replicated; AWS Backup vault with Vault Lock",
        {"lock_mode": "COMPLIANCE"},
    )),
    **_rows("gcp", "audit_log", "-", _LIVE, Block(
        "gcs-locked-retention", "audit_vault",
        "dual-region bucket with a locked retention policy and turbo replication",
        replication="dual-region",
    )),
    **_rows("gcp", "audit_log", "-", ("cold-restore",), Block(
        "gcs-locked-retention", "audit_vault",
        "bucket with a locked retention policy, copied to the secondary's locked bucket",
    )),
}  # fmt: skip
"""(cloud, component, engine or "-", pattern) -> building block."""


@dataclass(frozen=True)
class StackInput:
    """Config a stack needs from the team deploying it: facts of their account drgen cannot know."""

    key: str
    description: str
    example: str
    secret: bool = False
    is_list: bool = False


Where = Literal["all", "primary", "secondary", "serving"]
"""Which stacks read an input: every one, the primary's, the secondary's, or those whose
component serves."""

_SUBNET_GROUP = StackInput(
    "database_subnet_group", "DB subnet group (private subnets) of the region", "vectors-private"
)
_DATABASE_SGS = StackInput(
    "database_security_group_ids",
    "security groups that admit the application to PostgreSQL",
    '["sg-0123456789abcdef0"]',
    is_list=True,
)
_ENGINE_URL = StackInput(
    "vector_store_url", "HTTPS URL of the region's engine", "https://vectors.internal:6333"
)


def _aws_engine_url(what: str, example: str) -> StackInput:
    """The engine URL input, with the engine's own port in the example."""
    return StackInput("vector_store_url", f"URL of {what} in the region", example)


_TRIGGER_SUBNETS = StackInput(
    "vector_store_subnet_ids",
    "private subnets from which the snapshot trigger reaches the engine",
    '["subnet-0a", "subnet-0b"]',
    is_list=True,
)
_TRIGGER_SGS = StackInput(
    "vector_store_security_group_ids",
    "security groups of the snapshot trigger, admitted by the engine",
    '["sg-0123456789abcdef0"]',
    is_list=True,
)
_API_KEY_SECRET = StackInput(
    "vector_store_api_key_secret",
    "ARN of the Secrets Manager secret holding the engine's API key",
    "arn:aws:secretsmanager:<region>:<account>:secret:<name>",
)

STACK_INPUTS: dict[tuple[str, str | None], tuple[tuple[StackInput, Where], ...]] = {
    ("aurora-global", None): (
        (_SUBNET_GROUP, "all"),
        (_DATABASE_SGS, "all"),
        (
            StackInput(
                "database_master_password",
                "master password of the global database (Secrets Manager cannot manage it)",
                "",
                secret=True,
            ),
            "primary",
        ),
    ),
    # The secondary test-restores the copies into its own network (and restores them there).
    ("aurora-backup-copy", None): ((_SUBNET_GROUP, "all"), (_DATABASE_SGS, "all")),
    ("s3-snapshot-schedule", None): ((_TRIGGER_SUBNETS, "serving"), (_TRIGGER_SGS, "serving")),
    ("s3-snapshot-schedule", "qdrant"): (
        (_ENGINE_URL, "serving"),
        (_API_KEY_SECRET, "serving"),
    ),
    ("s3-snapshot-schedule", "weaviate"): (
        (_aws_engine_url("Weaviate's REST API", "https://vectors.internal:8080"), "serving"),
        (_API_KEY_SECRET, "serving"),
    ),
    ("s3-snapshot-schedule", "milvus"): (
        (
            _aws_engine_url("the milvus-backup REST server", "http://milvus-backup.internal:8080"),
            "serving",
        ),
    ),
    ("s3-snapshot-schedule", "opensearch"): (
        (
            _aws_engine_url(
                "the OpenSearch Service domain's VPC endpoint",
                "https://vpc-vectors-abc123.<region>.es.amazonaws.com",
            ),
            "serving",
        ),
        (
            StackInput("opensearch_domain", "name of the OpenSearch Service domain", "vectors"),
            "serving",
        ),
    ),
}
"""(block, engine or None for every engine) -> the inputs its stacks read, and which stacks."""

_GCP_NETWORK = StackInput(
    "database_network",
    "self link of the VPC with Private Service Access, where the instance gets its private IP",
    "projects/<project>/global/networks/<vpc>",
)
_GCP_ENGINE_INPUTS: tuple[tuple[StackInput, Where], ...] = (
    (_ENGINE_URL, "serving"),
    (
        StackInput(
            "vector_store_network",
            "VPC network the snapshot job joins to reach the engine",
            "projects/<project>/global/networks/<vpc>",
        ),
        "serving",
    ),
    (
        StackInput(
            "vector_store_subnetwork",
            "subnetwork of that VPC in this region",
            "projects/<project>/regions/<region>/subnetworks/<subnet>",
        ),
        "serving",
    ),
    (
        StackInput(
            "vector_store_service_account",
            "e-mail of the service account the engine runs as (it writes the snapshots)",
            "vectors@<project>.iam.gserviceaccount.com",
        ),
        "serving",
    ),
)
_GCP_API_KEY_SECRET = StackInput(
    "vector_store_api_key_secret",
    "Secret Manager secret (ID) holding the engine's API key",
    "vectors-api-key",
)
_GCP_ZONE = StackInput(
    "dns_managed_zone", "name of the Cloud DNS managed zone that holds the domain", "example-com"
)

STACK_INPUTS.update(
    {
        ("cloudsql-cross-region-replica", None): (
            (_GCP_NETWORK, "all"),
            (
                StackInput(
                    "vector_store_promoted",
                    "true once the replica has been promoted (RUNBOOK.md): backups and PITR on",
                    "false",
                ),
                "secondary",
            ),
        ),
        ("cloudsql-backups-in-secondary", None): ((_GCP_NETWORK, "primary"),),
        ("gcs-snapshot-scheduler", None): _GCP_ENGINE_INPUTS,
        ("gcs-snapshot-scheduler", "qdrant"): ((_GCP_API_KEY_SECRET, "serving"),),
        ("gcs-snapshot-scheduler", "weaviate"): ((_GCP_API_KEY_SECRET, "serving"),),
        ("cloud-dns-geo", None): ((_GCP_ZONE, "primary"),),
        ("cloud-dns-primary-backup", None): ((_GCP_ZONE, "primary"),),
    }
)

CLOUD_INPUTS: dict[str, tuple[StackInput, ...]] = {
    "aws": (),
    "gcp": (
        StackInput("gcp:project", "ID of the Google Cloud project", "my-project"),
        StackInput(
            "alert_notification_channels",
            "Cloud Monitoring notification channels told when a copy, backup or snapshot fails",
            '["projects/<project>/notificationChannels/<id>"]',
            is_list=True,
        ),
    ),
}
"""Inputs every stack of a cloud reads."""
