"""What the generated README.md and RUNBOOK.md tell the deploying team about the infrastructure
the stacks really create: each fact appears in the projects it applies to and nowhere else, and
where it quotes a number or a name, that is the one the generated program uses."""

from __future__ import annotations

import re

import pytest

from drgen.plan import resolve
from drgen.render import render
from tests.conftest import ROOT, make_workload

PROJECTS = sorted(p.parent.name for p in ROOT.glob("stacks/*/README.md"))


def read(project: str, name: str) -> str:
    return (ROOT / "stacks" / project / name).read_text(encoding="utf-8")


def has(project: str, module: str, text: str) -> bool:
    """Whether the project renders `module` and it contains `text`."""
    path = ROOT / "stacks" / project / module
    return path.exists() and text in path.read_text(encoding="utf-8")


def cloud(project: str) -> str:
    return "aws" if "on AWS." in read(project, "README.md") else "gcp"


def where(snippet: str, name: str = "README.md") -> set[str]:
    return {p for p in PROJECTS if snippet in read(p, name)}


AWS = {p for p in PROJECTS if cloud(p) == "aws"}
GCP = set(PROJECTS) - AWS


def test_both_clouds_are_covered() -> None:
    assert len(AWS) >= 4 and len(GCP) >= 3


def test_dynamodb_backup_copies_need_the_advanced_features_for_every_dynamodb_block() -> None:
    # AWS Backup copies DynamoDB backups across regions only with its advanced DynamoDB
    # features on; the global table is now backed up and copied too (backups.py).
    expected = {p for p in AWS if has(p, "feature_store.py", "LockedBackups")}
    assert expected == {"claims-triage", "fraud-scoring"}
    assert where("--resource-type-opt-in-preference DynamoDB=true") == expected


def test_the_deploying_role_covers_alerts_dead_letters_and_enhanced_monitoring() -> None:
    assert where("SNS, CloudWatch alarms, EventBridge rules") == AWS
    queues = {p for p in AWS if has(p, "vector_snapshots.py", "aws.sqs.Queue(")}
    assert queues and where("EventBridge rules, SQS") == queues
    monitored = {p for p in AWS if has(p, "vector_database.py", "AmazonRDSEnhancedMonitoringRole")}
    assert monitored == {"contract-review", "fraud-scoring"}
    assert where("IAM over the RDS enhanced-monitoring role") == monitored


@pytest.mark.parametrize(
    ("project", "port", "url", "secret"),
    [
        ("knowledge-assistant", "Qdrant: 6333", ":6333", True),
        ("claims-triage", "Weaviate: 8080", ":8080", True),
        ("research-sandbox", "the milvus-backup REST server's, 8080 by default", ":8080", False),
        # HTTPS without a port: 443.
        ("content-moderation", "OpenSearch: 443", "'https://vpc-", False),
    ],
)
def test_the_trigger_subnets_reach_the_engine_and_secrets_manager(
    project: str, port: str, url: str, secret: bool
) -> None:
    readme = read(project, "README.md")
    assert f"must reach the engine's port ({port})" in readme
    # The same port as the engine URL example the stack inputs give.
    assert url in readme.split("config set vector_store_url", 1)[1][:60]
    # Qdrant and Weaviate triggers read the API key from Secrets Manager (boto3 secretsmanager).
    assert has(project, "snapshot_trigger.py", '"secretsmanager"') is secret
    assert ("Secrets Manager VPC endpoint or a NAT gateway" in readme) is secret
    assert "dead letters need no route" in readme


def test_engine_notes_match_the_trigger() -> None:
    # Per-collection Qdrant snapshots hold only the receiving node's shards on a cluster.
    qdrant = {p for p in PROJECTS if "vector_store (qdrant)" in read(p, "README.md")}
    assert qdrant == {"knowledge-assistant", "recommendations"}
    assert where("must reach a single-node\n  deployment") == qdrant
    waiting = {
        p
        for p in PROJECTS
        if re.search(r"vector_store \((weaviate|milvus)\)", read(p, "README.md"))
    }
    assert where("The trigger waits for each backup to finish") == waiting
    # OpenSearch snapshots are incremental: the trigger retires them, never a bucket lifecycle.
    assert where("Never add a lifecycle expiry") == {"content-moderation"}
    days = re.search(
        r"^RETENTION_DAYS = (\d+)$", read("content-moderation", "snapshot_trigger.py"), re.M
    )
    assert days and f"older than {days[1]} days" in read("content-moderation", "README.md")
    assert "`DELETE` on `_snapshot`" in read("content-moderation", "README.md")


def test_aurora_global_fails_over_and_bounds_its_rpo() -> None:
    readme = read("fraud-scoring", "README.md")
    rpo = re.search(
        r"^GLOBAL_DB_RPO_SECONDS = (\d+)$", read("fraud-scoring", "vector_database.py"), re.M
    )
    assert rpo and f"`rds.global_db_rpo` to {rpo[1]} s" in readme
    assert "enable_global_write_forwarding=True" in read("fraud-scoring", "vector_database.py")
    assert "global write forwarding" in readme and "aws rds failover-global-cluster" in readme
    assert "nothing to promote" not in readme
    assert where("global write forwarding") == {"fraud-scoring"}


def test_every_region_alerts_someone() -> None:
    for p in AWS:
        assert 'pulumi.export("alert_topic_arn"' in read(p, "__main__.py")
        runbook = read(p, "RUNBOOK.md")
        stacks = re.findall(
            r"^Pulumi\.(.+)\.yaml$",
            "\n".join(x.name for x in (ROOT / "stacks" / p).iterdir()),
            re.M,
        )
        for stack in stacks:
            assert f"aws sns subscribe --region {stack} " in runbook, (p, stack)
            assert f"alert_topic_arn --stack {stack})" in runbook, (p, stack)
    for p in GCP:
        assert 'config.require_object("alert_notification_channels")' in read(p, "__main__.py")
        assert "notification channel first" in read(p, "README.md")
    assert where("aws sns subscribe", "RUNBOOK.md") == AWS
    assert where("## Alerts", "RUNBOOK.md") == set(PROJECTS)
    assert where("notification channel first") == GCP


def test_alarm_meanings_follow_the_alarms_the_stacks_create() -> None:
    assert where("AuroraGlobalDBRPOLag", "RUNBOOK.md") == {
        p for p in AWS if has(p, "vector_database.py", '"AuroraGlobalDBRPOLag"')
    }
    assert where("**DynamoDB replication latency**", "RUNBOOK.md") == {
        p for p in AWS if has(p, "feature_store.py", '"ReplicationLatency"')
    }
    assert where("**Dead letters**", "RUNBOOK.md") == {
        p for p in AWS if has(p, "vector_snapshots.py", "dead_letter_config")
    }
    assert "restore tests\n  of the feature table and the vector database run in us-west-2" in read(
        "fraud-scoring", "RUNBOOK.md"
    )


def test_the_replica_import_note_names_the_resource_the_program_declares() -> None:
    program = read("fraud-scoring", "feature_store.py")
    table = re.search(r'^TABLE = "(.+)"$', program, re.M)
    assert table and '"features-replica",' in program
    # pulumi_aws TableReplica docstring: import ID `table-name:main-region` (the global
    # table's region, not the replica's).
    command = (
        "pulumi import aws:dynamodb/tableReplica:TableReplica features-replica"
        f" {table[1]}:us-east-1 --stack us-west-2"
    )
    assert command in read("fraud-scoring", "README.md")
    assert where("aws:dynamodb/tableReplica:TableReplica") == {"fraud-scoring"}


def test_opensearch_restores_a_successful_snapshot() -> None:
    assert where("`state` is `SUCCESS`", "RUNBOOK.md") == {"content-moderation"}


def test_gcp_prerequisites() -> None:
    assert where("monitoring.googleapis.com logging.googleapis.com") == GCP
    # The programs (not only Cloud Run jobs) use datetime.UTC, new in Python 3.11.
    for p in GCP:
        assert "datetime.UTC" in read(p, "storage.py")
    assert where("Python 3.11 or later") == GCP
    # Cloud DNS, "Configure DNS routing policies and health checks", Before you begin:
    # https://cloud.google.com/dns/docs/configure-routing-policies
    routed = {p for p in GCP if (ROOT / "stacks" / p / "routing.py").exists()}
    assert routed == {"patient-triage", "recommendations"}
    assert where("constraints/compute.disableInternetNetworkEndpointGroup") == routed


def test_gcp_failover_time_follows_the_health_check() -> None:
    for p in ("patient-triage", "recommendations"):
        routing = read(p, "routing.py")
        assert "CHECK_INTERVAL_SECONDS = 30" in routing and "unhealthy_threshold=3" in routing
        assert "about 150\n   seconds: 3 failed checks 30 s apart" in read(p, "RUNBOOK.md")


def test_cloud_sql_cold_restore_imports_an_export_that_needs_no_primary_key() -> None:
    """Backups are encrypted with the primary instance's key
    (https://cloud.google.com/sql/docs/postgres/cmek): the RUNBOOK imports the newest export,
    kept in the secondary under its key, and names the backup restore as the faster path only
    while that key is reachable."""
    plan = resolve(make_workload(2, "gcp", components={"vector_store": {"engine": "pgvector"}}))
    runbook = render(plan)["RUNBOOK.md"]
    assert plan.component("vector_store").block == "cloudsql-backups-in-secondary"  # type: ignore[union-attr]
    assert (
        "--disk-encryption-key=projects/$PROJECT/locations/us-east1/keyRings/drgen-demo-workload/cryptoKeys/data"
        in runbook
    )
    bucket = "gs://demo-workload-vectors-us-east1"
    assert f"EXPORT=$(gcloud storage ls {bucket}/demo-workload-vectors-us-central1/" in runbook
    assert (
        "gcloud sql import sql demo-workload-vectors-us-east1 $EXPORT --database=postgres"
        in runbook
    )
    assert "gcloud sql databases create" not in runbook  # Cloud SQL creates `postgres` itself
    assert "expected to fail today" not in runbook
    named = resolve(
        make_workload(
            2, "gcp", components={"vector_store": {"engine": "pgvector", "database": "passages"}}
        )
    )
    assert "gcloud sql databases create passages --instance=" in render(named)["RUNBOOK.md"]


def test_active_active_gcp_snapshot_engines_bootstrap_the_secondary() -> None:
    plan = resolve(
        make_workload(
            0, "gcp", pattern="active-active", components={"vector_store": {"engine": "qdrant"}}
        )
    )
    assert "pulumi config set peer_deployed false --stack us-east1" in render(plan)["README.md"]


def test_api_key_secrets_are_under_a_key_the_trigger_may_use() -> None:
    # The trigger's role may decrypt with the region's key only; Secrets Manager's AWS managed
    # key needs no grant ("Secret encryption and decryption", Secrets Manager user guide).
    keyed = {
        p for p in AWS if re.search(r"vector_store \((qdrant|weaviate)\)", read(p, "README.md"))
    }
    assert keyed
    assert where("Encrypt the engine's API-key secret with `aws/secretsmanager`") == keyed


def test_a_restored_aurora_cluster_gets_its_own_master_secret() -> None:
    # The managed master secret lived in the lost region; ModifyDBCluster's
    # ManageMasterUserPassword creates one in the cluster's region (RDS API reference).
    restored = where("--resource-type Aurora", "RUNBOOK.md")
    assert restored
    assert where("--manage-master-user-password", "RUNBOOK.md") == restored
