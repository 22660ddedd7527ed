"""pgvector on Aurora PostgreSQL: the recovery region's newest recovery point, by AWS Backup.

This is the runbook's recovery: every Aurora stack drgen renders backs its cluster up into a
locked vault and copies each recovery point into the secondary's vault of the same name, and a
cold restore (or a corruption that replication copied) starts there. AWS Backup restores the
cluster only, into the subnet group and security groups the stack's restore testing selection
names (the ones a restore in this region needs) and under the region's key; the drill then gives
the scratch cluster its own master secret (ManageMasterUserPassword, as the runbook does) and
one instance, and measures the restore until that instance is available. It connects with the
scratch secret over TLS and runs the same checks as every pgvector drill (drgen.drill.pg_verify).
The scratch cluster and instance are named `drgen-drill-vectors-<run>`, tagged, unprotected, and
deleted without a final snapshot at the end unless --keep, whatever happened: within a cleanup
budget of their own, past --timeout, that waits out a restore job (which cannot be stopped) and
deletes only the cluster its CreatedResourceArn names when that is this run's scratch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from drgen.drill import aws_backup, pg_verify
from drgen.drill.aws import client, explain
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.plan import ComponentPlan

ENGINE = "aurora-postgresql"
POLL_SECONDS = 30
"""Between two looks at a restore job, an instance or a secret: restores take many minutes."""
SSLMODE = "require"
"""Aurora clusters drgen renders refuse connections without TLS (rds.force_ssl)."""
SELECTION = "vector_store"
"""The restore testing selection the stacks create for the vector store (backups.py)."""
_DONE = ("COMPLETED", "ABORTED", "FAILED")
CLEANUP_SECONDS = 3600.0
"""The cleanup's own time, past --timeout. A restore job cannot be stopped (the Backup API has
no Stop/Cancel for restore jobs), so after a timeout the cleanup waits for the job to end and
then deletes what it made; a restored cluster can refuse deletion while it is still finishing
(InvalidDBClusterStateFault), and is asked again until this runs out."""


def vault(component: ComponentPlan) -> str:
    """The backup vault, one name in every region (vector_database.py's BACKUP_VAULT)."""
    return component.global_name


def testing_plan(component: ComponentPlan) -> str:
    """The stack's restore testing plan: letters, digits and underscores only (backups.py)."""
    return f"{component.global_name}_semiannual".replace("-", "_")


def key_alias(ctx: Context) -> str:
    """The workload's key in every region (storage.py's KEY_ALIAS)."""
    return f"alias/drgen/{ctx.plan.workload}"


def names(ctx: Context) -> tuple[str, str]:
    """The scratch cluster and its one instance."""
    cluster = ctx.scratch_name("vectors")
    return cluster, f"{cluster}-1"


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    cluster, instance = names(ctx)
    return [
        Call("backup", "GetRestoreTestingSelection", f"{testing_plan(component)}/{SELECTION}"),
        Call("backup", "ListRecoveryPointsByBackupVault", vault(component)),
        # In the primary: the recovery point this copy was made from, which dates the data.
        Call("backup", "ListCopyJobs", vault(component)),
        Call("backup", "DescribeRecoveryPoint", vault(component)),
        Call("backup", "StartRestoreJob", cluster, "scratch"),
        Call("backup", "DescribeRestoreJob", cluster),
        Call("rds", "DescribeDBClusters (waiter db_cluster_available)", cluster),
        Call("rds", "DescribeDBClusters", cluster),
        Call("rds", "AddTagsToResource", cluster, "scratch"),
        Call(
            "rds", "ModifyDBCluster (own master secret, no deletion protection)", cluster, "scratch"
        ),
        Call("rds", "CreateDBInstance", instance, "scratch"),
        Call("rds", "DescribeDBInstances (waiter db_instance_available)", instance),
        Call("secretsmanager", "GetSecretValue", f"master secret of {cluster}"),
        *pg_verify.restored_calls(cluster),
        Call("rds", "DeleteDBInstance (skip final snapshot)", instance, "scratch"),
        Call("rds", "DeleteDBCluster (skip final snapshot)", cluster, "scratch"),
        # Only when the delete was refused for the deletion protection the source carried over.
        Call("rds", "ModifyDBCluster (no deletion protection)", cluster, "scratch"),
    ]


class _Scratch:
    """What this run created, for the cleanup."""

    def __init__(self) -> None:
        self.job: str | None = None
        self.job_status = ""
        self.created_arn: str | None = None
        self.instance = False


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    rds, backup = client("rds", ctx.region), client("backup", ctx.region)
    result.measurements["restore_method"] = "AWS Backup restore job (Aurora)"
    selection = _selection(ctx, backup, component)
    point = aws_backup.newest_point(ctx, backup, vault(component), "Aurora")
    if point is None:
        result.error(
            f"no completed Aurora recovery point in vault {vault(component)} in {ctx.region}:"
            " nothing to restore (are the backups and their copies to this region running?)"
        )
        return
    cluster, instance = names(ctx)
    scratch = _Scratch()
    try:
        _restore(ctx, rds, backup, component, selection, point, scratch, result)
        described = _secret_ready(ctx, rds, cluster)
        secret = described["MasterUserSecret"]["SecretArn"]
        ctx.record("secretsmanager", "GetSecretValue", f"master secret of {cluster}")
        login = json.loads(
            client("secretsmanager", ctx.region).get_secret_value(SecretId=secret)["SecretString"]
        )
        conninfo = _conninfo(described, login)
        try:
            pg_verify.check_restored(ctx, conninfo, cluster, result)
        except pg_verify.UnreachableError as error:
            result.error(
                f"the restore was measured, but the scratch cluster's endpoint"
                f" {described['Endpoint']}:{described['Port']} cannot be reached from here"
                f" ({error}): it sits in the stack's private subnets. Run the drill from inside"
                f" the VPC in {ctx.region} (a host or CloudShell VPC environment the security"
                " group admits) to verify the data"
            )
    except Exception as error:  # recorded before the cleanup's own messages
        result.error(pg_verify.describe(error, explain))
    finally:
        if ctx.keep and result.scratch:
            result.cleanup.append(f"kept rds cluster {cluster} and instance {instance} (--keep)")
        elif result.scratch:
            _delete(ctx, rds, backup, scratch, result)


def _selection(ctx: Context, backup: Any, component: ComponentPlan) -> dict[str, Any]:
    """The network and role the stack's own restore tests use in this region."""
    plan = testing_plan(component)
    ctx.record("backup", "GetRestoreTestingSelection", f"{plan}/{SELECTION}")
    try:
        found: dict[str, Any] = backup.get_restore_testing_selection(
            RestoreTestingPlanName=plan, RestoreTestingSelectionName=SELECTION
        )["RestoreTestingSelection"]
    except Exception as error:
        if _code(error) != "ResourceNotFoundException":
            raise
        # The stacks test-restore (and so name the network to restore into) where the copies
        # land: the recovery region, or the only region.
        home = (ctx.plan.secondary or ctx.plan.primary).region
        raise DrillError(
            f"restore testing selection {plan}/{SELECTION} not found in {ctx.region}"
            + (
                " (is the stack deployed in this region?)"
                if ctx.region == home
                else f": the stacks create it in {home}, where the copies land; drill there"
            )
        ) from None
    overrides = found.get("RestoreMetadataOverrides") or {}
    missing = [k for k in ("dbsubnetgroupname", "vpcsecuritygroupids") if not overrides.get(k)]
    if missing:
        raise DrillError(
            f"restore testing selection {plan}/{SELECTION} in {ctx.region} names no"
            f" {' or '.join(missing)}: a restore would land in the default VPC; deploy the"
            " stack with database_subnet_group and database_security_group_ids set"
        )
    return found


def _restore(
    ctx: Context,
    rds: Any,
    backup: Any,
    component: ComponentPlan,
    selection: dict[str, Any],
    point: dict[str, Any],
    scratch: _Scratch,
    result: Result,
) -> None:
    """Restore job, then the instance: timed together, as a recovery waits for both."""
    cluster, instance = names(ctx)
    overrides = selection["RestoreMetadataOverrides"]
    metadata = {
        "DBClusterIdentifier": cluster,
        "Engine": ENGINE,
        "DBSubnetGroupName": overrides["dbsubnetgroupname"],
        "VpcSecurityGroupIds": overrides["vpcsecuritygroupids"],
        "KmsKeyId": key_alias(ctx),
    }
    result.measurements["recovery_point"] = point["RecoveryPointArn"]
    taken = aws_backup.source_created(ctx, client("backup", ctx.primary), point, "Aurora", result)
    started, requested = time.monotonic(), ctx.now()
    ctx.record("backup", "StartRestoreJob", cluster, "scratch")
    result.scratch.append(f"rds cluster {cluster} ({ctx.region})")
    scratch.job = backup.start_restore_job(
        RecoveryPointArn=point["RecoveryPointArn"],
        Metadata=metadata,
        IamRoleArn=selection["IamRoleArn"],
        ResourceType="Aurora",
        CopySourceTagsToRestoredResource=False,
    )["RestoreJobId"]
    result.measurements["restore_job"] = scratch.job
    job = _wait_job(ctx, backup, scratch)
    if job["Status"] != "COMPLETED":
        raise DrillError(
            f"restore job {scratch.job} ended {job['Status']}: {job.get('StatusMessage', '')}"
        )
    if job.get("CompletionDate") and job.get("CreationDate"):
        result.measurements["restore_job_seconds"] = round(
            (job["CompletionDate"] - job["CreationDate"]).total_seconds(), 3
        )
    if taken is not None:
        result.data_age_seconds = age(requested, taken)
        result.measurements["restore_point"] = taken.isoformat()
    result.bytes = int(job.get("BackupSizeInBytes") or point.get("BackupSizeInBytes") or 0)
    # Only this run's scratch cluster is tagged, modified and deleted.
    scratch.created_arn = job.get("CreatedResourceArn") or None
    if scratch.created_arn is None or not _is_scratch(ctx, scratch.created_arn):
        raise DrillError(
            f"restore job {scratch.job} reports {scratch.created_arn or 'no'} created resource,"
            f" not the scratch cluster {cluster}: the drill does not touch it"
        )
    # A restored cluster may still be finishing (backing-up) and refuse modifications.
    ctx.record("rds", "DescribeDBClusters (waiter db_cluster_available)", cluster)
    _wait(ctx, rds, "db_cluster_available", f"cluster {cluster}", DBClusterIdentifier=cluster)
    ctx.record("rds", "AddTagsToResource", cluster, "scratch")
    rds.add_tags_to_resource(
        ResourceName=scratch.created_arn, Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()]
    )
    ctx.record(
        "rds", "ModifyDBCluster (own master secret, no deletion protection)", cluster, "scratch"
    )
    rds.modify_db_cluster(
        DBClusterIdentifier=cluster,
        ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId=key_alias(ctx),
        DeletionProtection=False,
        ApplyImmediately=True,
    )
    ctx.record("rds", "CreateDBInstance", instance, "scratch")
    scratch.instance = True
    result.scratch.append(f"rds instance {instance} ({ctx.region})")
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        DBClusterIdentifier=cluster,
        Engine=ENGINE,
        DBInstanceClass=str(component.params.get("instance_class", "db.r6g.large")),
        PubliclyAccessible=False,
        Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
    )
    ctx.record("rds", "DescribeDBInstances (waiter db_instance_available)", instance)
    _wait(ctx, rds, "db_instance_available", f"instance {instance}", DBInstanceIdentifier=instance)
    result.restore_seconds = round(time.monotonic() - started, 3)
    result.measure_rate()


def _wait_job(ctx: Context, backup: Any, scratch: _Scratch) -> dict[str, Any]:
    while True:
        ctx.record("backup", "DescribeRestoreJob", names(ctx)[0])
        job: dict[str, Any] = backup.describe_restore_job(RestoreJobId=scratch.job)
        scratch.job_status = job["Status"]
        if job["Status"] in _DONE:
            return job
        ctx.pause(POLL_SECONDS)


def _wait(ctx: Context, rds: Any, waiter: str, what: str, **params: str) -> None:
    """One of RDS's waiters, polling no longer than what is left of --timeout."""
    from botocore.exceptions import WaiterError

    attempts = max(int(ctx.remaining() // max(POLL_SECONDS, 1)), 1)
    try:
        rds.get_waiter(waiter).wait(
            **params, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": attempts}
        )
    except WaiterError as error:
        if "Max attempts exceeded" in str(error):  # the attempts were what --timeout left
            raise DrillError(f"timed out (--timeout) waiting for {what}") from None
        raise DrillError(f"waiting for {what}: {error}") from None


def _secret_ready(ctx: Context, rds: Any, cluster: str) -> dict[str, Any]:
    """The cluster once its own master secret is active."""
    while True:
        ctx.record("rds", "DescribeDBClusters", cluster)
        described: dict[str, Any] = rds.describe_db_clusters(DBClusterIdentifier=cluster)[
            "DBClusters"
        ][0]
        if (described.get("MasterUserSecret") or {}).get("SecretStatus") == "active":
            return described
        ctx.pause(POLL_SECONDS)


def _conninfo(described: dict[str, Any], login: dict[str, Any]) -> str:
    pg = pg_verify.psycopg()
    return str(
        pg.conninfo.make_conninfo(
            host=described["Endpoint"],
            port=str(described["Port"]),
            user=login["username"],
            password=login["password"],
            sslmode=SSLMODE,
        )
    )


def _delete(ctx: Context, rds: Any, backup: Any, scratch: _Scratch, result: Result) -> None:
    """Delete what the run made, whatever state it is in, within CLEANUP_SECONDS."""
    cluster, instance = names(ctx)
    budget = time.monotonic() + CLEANUP_SECONDS
    if scratch.job is not None and scratch.job_status not in _DONE:
        try:
            job = _job_ended(ctx, backup, scratch, budget)
            why = f"was still running when the cleanup's {CLEANUP_SECONDS:.0f} s ran out"
        except Exception as error:
            job, why = None, f"could not be followed ({explain(error)})"
        if job is None:
            message = (
                f"restore job {scratch.job} {why}: once it ends, delete cluster {cluster}"
                f" by hand (aws rds delete-db-cluster --region {ctx.region}"
                f" --db-cluster-identifier {cluster} --skip-final-snapshot)"
            )
            result.cleanup.append(message)
            result.error(message)
            return
        scratch.created_arn = job.get("CreatedResourceArn") or None
    if scratch.created_arn is not None and not _is_scratch(ctx, scratch.created_arn):
        message = (
            f"restore job {scratch.job} created {scratch.created_arn}, not the scratch cluster"
            f" {cluster}: the drill leaves it alone; look at it by hand"
        )
        result.cleanup.append(message)
        result.error(message)
        return
    if scratch.instance:
        _retry(
            budget,
            result,
            f"instance {instance}",
            lambda: _delete_instance(ctx, rds, instance),
        )
    _retry(budget, result, f"cluster {cluster}", lambda: _delete_cluster(ctx, rds, cluster))


def _job_ended(
    ctx: Context, backup: Any, scratch: _Scratch, budget: float
) -> dict[str, Any] | None:
    """The restore job once it has ended, or None if it outlasts the cleanup's budget."""
    while True:
        ctx.record("backup", "DescribeRestoreJob", names(ctx)[0])
        job: dict[str, Any] = backup.describe_restore_job(RestoreJobId=scratch.job)
        scratch.job_status = job["Status"]
        if job["Status"] in _DONE:
            return job
        left = budget - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(POLL_SECONDS, left))


def _is_scratch(ctx: Context, arn: str) -> bool:
    """Whether an ARN names this run's scratch cluster in this region
    (arn:partition:rds:region:account:cluster:name)."""
    parts = arn.split(":")
    return (
        len(parts) == 7
        and parts[2] == "rds"
        and parts[3] == ctx.region
        and (parts[5:] == ["cluster", names(ctx)[0]])
    )


def _delete_instance(ctx: Context, rds: Any, instance: str) -> str:
    ctx.record("rds", "DeleteDBInstance (skip final snapshot)", instance, "scratch")
    try:
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    except Exception as error:
        if _code(error) == "DBInstanceNotFound":
            return f"rds instance {instance} was never created"
        raise
    return f"deleted rds instance {instance}"


def _delete_cluster(ctx: Context, rds: Any, cluster: str) -> str:
    """DeleteDBCluster first; the deletion protection a restore may carry over from the source
    is turned off only when the delete is refused for it."""
    ctx.record("rds", "DeleteDBCluster (skip final snapshot)", cluster, "scratch")
    try:
        rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
    except Exception as error:
        code = _code(error)
        if code == "DBClusterNotFoundFault":
            return f"rds cluster {cluster} was never created"
        # A protected cluster: InvalidParameterCombination, "Cannot delete protected Cluster,
        # please disable deletion protection and try again."
        if code != "InvalidParameterCombination" or "protect" not in str(error).lower():
            raise
        ctx.record("rds", "ModifyDBCluster (no deletion protection)", cluster, "scratch")
        rds.modify_db_cluster(
            DBClusterIdentifier=cluster, DeletionProtection=False, ApplyImmediately=True
        )
        ctx.record("rds", "DeleteDBCluster (skip final snapshot)", cluster, "scratch")
        rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
    return f"deleted rds cluster {cluster}"


_BUSY = ("InvalidDBClusterStateFault", "InvalidDBInstanceState")
"""RDS's answer while a cluster or instance is still being created, restored or modified:
the same call is accepted once it is available."""


def _retry(budget: float, result: Result, what: str, delete: Callable[[], str]) -> None:
    """One deletion, asked again while RDS answers that the resource is busy."""
    while True:
        try:
            result.cleanup.append(delete())
            return
        except Exception as error:
            left = budget - time.monotonic()
            if _code(error) in _BUSY and left > 0:
                time.sleep(min(POLL_SECONDS, left))
                continue
            _not_deleted(result, what, error)
            return


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _not_deleted(result: Result, what: str, error: Exception) -> None:
    message = f"could not delete scratch {what}: {explain(error)}; delete it by hand"
    result.cleanup.append(message)
    result.error(message)
