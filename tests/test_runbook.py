"""What each generated RUNBOOK.md must say for a recovery to work (the commands themselves are
checked in test_runbook_commands.py)."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT


def runbook(project: str) -> str:
    return (ROOT / "stacks" / project / "RUNBOOK.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("project", "needed"),
    [
        # A restored DynamoDB table lacks PITR, deletion protection, stream, TTL and tags, and no
        # stack owns it (DynamoDB Developer Guide, RestoreTableToPointInTime: "You must manually
        # set up the following on the restored table").
        (
            "claims-triage",
            (
                "--recovery-point-arn",
                "update-continuous-backups",
                "--deletion-protection-enabled",
                "StreamEnabled=true",
                "update-time-to-live",
                "tag-resource",
                "pulumi import aws:dynamodb/table:Table",
            ),
        ),
        # AWS Backup restores an Aurora cluster without instances, into the default VPC unless
        # the metadata names the network (AWS Backup Developer Guide, "Restore an Aurora cluster").
        (
            "contract-review",
            (
                "DBSubnetGroupName",
                "VpcSecurityGroupIds",
                "KmsKeyId",
                "aws rds create-db-instance",
                "rds.force_ssl",
                "--deletion-protection",
                "DBClusters[0].Endpoint",
            ),
        ),
        # Writers move to the promoted cluster; switch back only once the old primary rejoined.
        (
            "fraud-scoring",
            ("Re-point every writer", "describe-global-clusters", "SynchronizationStatus"),
        ),
        # A promoted replica keeps backups off, and the stack turns them on (and owns them) once
        # told it was promoted; the old primary returns writable; its name is taken.
        (
            "patient-triage",
            (
                "pulumi config set vector_store_promoted true --stack europe-west4",
                "--activation-policy=NEVER",
                "-r2 --master-instance-name",
            ),
        ),
        # Engines fetch snapshots from a URL or a registered repository.
        ("knowledge-assistant", ("aws s3 presign", "snapshots/recover")),
        ("recommendations", ("gcloud storage sign-url", "snapshots/recover")),
        ("content-moderation", ('\\"readonly\\": true', "_restore", "--aws-sigv4")),
        ("claims-triage", ("BACKUP_S3_BUCKET", "/restore")),
        ("catalog-search", ("milvus-backup restore", "backupBucketName")),
        # Bigtable backups leave their region: the secondary's job copies them to the DR
        # instance, and the runbook restores the newest copy there.
        (
            "catalog-search",
            (
                "catalog-search-features-copy",
                "gcloud bigtable instances tables restore --source=$COPY",
                "--destination-instance=catalog-search-dr",
            ),
        ),
        # One-way replication: data written in the secondary is copied back before switching.
        ("content-moderation", ("aws s3 sync s3://content-moderation-models-us-west-2",)),
        (
            "catalog-search",
            ("gcloud transfer jobs create gs://catalog-search-models-asia-northeast1",),
        ),
    ],
)
def test_the_runbook_holds_the_steps_a_recovery_needs(
    project: str, needed: tuple[str, ...]
) -> None:
    text = runbook(project)

    for snippet in needed:
        assert snippet in text, f"{project}: {snippet}"


TWO_REGIONS = [
    p.parent.name
    for p in sorted(ROOT.glob("stacks/*/RUNBOOK.md"))
    if "| secondary |" in p.read_text(encoding="utf-8")
]


def test_most_examples_fail_over() -> None:
    assert len(TWO_REGIONS) >= 7


@pytest.mark.parametrize("project", TWO_REGIONS)
def test_dns_is_checked_at_the_authoritative_server_and_the_state_first(project: str) -> None:
    text = runbook(project)
    # The state backend must answer before any step that needs `pulumi`.
    assert text.index("pulumi stack ls") < text.index("### 3. Fail over")
    # `dig` against a caching resolver may show the old answer for the whole TTL.
    assert "@$(dig +short NS" in text
    # curl prints the address that answered, so the region is visible.
    assert "%{remote_ip}" in text
    readme = (ROOT / "stacks" / project / "README.md").read_text(encoding="utf-8")
    assert "## Where the state lives" in readme


def test_active_active_buckets_need_no_copy_back() -> None:
    # Bidirectional replication already brings the secondary's writes back.
    assert "aws s3 sync" not in runbook("fraud-scoring")
