"""Feature store on DynamoDB: a restore into a scratch table, then a sample compared.

Where the recovery region has the table's continuous backups (the replica of a global table, or
a drill of the primary itself), a point-in-time restore at the latest restorable time. Where it
has only the AWS Backup copies (a table with PITR in the primary and copies to the secondary's
vault, which the stacks name after the table), an AWS Backup restore job of the newest copied
recovery point, under the region's key: the restore a regional disaster would run. The scratch
table is tagged, never protected from deletion, and deleted at the end unless --keep.
"""

from __future__ import annotations

import time
from typing import Any

from drgen.drill import aws_backup
from drgen.drill.aws import client, explain
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.plan import ComponentPlan

SAMPLE = 25
"""Items read from the scratch table and looked up in the source."""
POLL_SECONDS = 5.0
CLEANUP_SECONDS = 300.0
"""How long cleanup waits, past --timeout, for the scratch table to be deletable."""
FINISHED = ("COMPLETED", "ABORTED", "FAILED")
"""A restore job's final states (DescribeRestoreJob.Status)."""


def source_region(ctx: Context, component: ComponentPlan) -> str:
    """Where the table with continuous backups lives."""
    return ctx.region if component.block == "dynamodb-global-table" else ctx.primary


def from_copies(ctx: Context, component: ComponentPlan) -> bool:
    """Whether the drilled region holds only AWS Backup copies of the table."""
    return component.block != "dynamodb-global-table" and ctx.region != ctx.primary


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    table, scratch = component.global_name, ctx.scratch_name("features")
    if from_copies(ctx, component):
        return _copy_calls(table, scratch)
    return [
        Call("dynamodb", "DescribeContinuousBackups", table),
        Call("dynamodb", "RestoreTableToPointInTime", scratch, "scratch"),
        *_scratch_table_calls(table, scratch),
    ]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    if from_copies(ctx, component):
        _restore_copy(ctx, component.global_name, result)
        return
    region = source_region(ctx, component)
    result.region = region
    db = client("dynamodb", region)
    table, scratch = component.global_name, ctx.scratch_name("features")
    ctx.record("dynamodb", "DescribeContinuousBackups", table)
    backups = db.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        result.error(f"{table}: point-in-time recovery is not enabled, nothing to restore")
        return
    try:
        requested = ctx.now()
        started = time.monotonic()
        ctx.record("dynamodb", "RestoreTableToPointInTime", scratch, "scratch")
        result.scratch.append(f"dynamodb table {scratch} ({region})")
        db.restore_table_to_point_in_time(
            SourceTableName=table,
            TargetTableName=scratch,
            UseLatestRestorableTime=True,
            # The restore is billed per GB either way; on-demand avoids sizing the scratch.
            BillingModeOverride="PAY_PER_REQUEST",
        )
        described = _wait_active(ctx, db, scratch)
        result.restore_seconds = round(time.monotonic() - started, 3)
        arn = described["TableArn"]
        ctx.record("dynamodb", "TagResource", scratch, "scratch")
        db.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()])
        restored_at = described.get("RestoreSummary", {}).get("RestoreDateTime")
        if restored_at is not None:
            result.data_age_seconds = age(requested, restored_at)
            result.measurements["restore_point"] = restored_at.isoformat()
        result.bytes = int(described.get("TableSizeBytes", 0))
        result.measure_rate()
        compare_sample(ctx, db, db, table, scratch, described["KeySchema"], result)
    finally:
        if ctx.keep:
            result.cleanup.append(f"kept dynamodb table {scratch} (--keep)")
        elif result.scratch:
            delete(ctx, db, scratch, result)


def _wait_active(ctx: Context, db: Any, scratch: str) -> dict[str, Any]:
    while True:
        ctx.record("dynamodb", "DescribeTable", scratch)
        described: dict[str, Any] = db.describe_table(TableName=scratch)["Table"]
        if described["TableStatus"] == "ACTIVE":
            return described
        time.sleep(min(POLL_SECONDS, ctx.remaining()))


def compare_sample(
    ctx: Context,
    db: Any,
    source: Any,
    table: str,
    scratch: str,
    schema: list[dict[str, str]],
    result: Result,
) -> None:
    """Items of the scratch table (`db`) looked up in the production table (`source`)."""
    keys = [k["AttributeName"] for k in schema]
    ctx.record("dynamodb", "Scan", scratch)
    items = db.scan(TableName=scratch, Limit=SAMPLE).get("Items", [])
    same, changed, missing = 0, [], []
    for item in items:
        ctx.remaining()
        key = {name: item[name] for name in keys}
        ctx.record("dynamodb", "GetItem", table)
        current = source.get_item(TableName=table, Key=key, ConsistentRead=False).get("Item")
        label = "/".join(next(iter(v.values())) for v in key.values())
        if current is None:
            missing.append(label)
        elif current == item:
            same += 1
        else:
            changed.append(label)
    result.integrity.update(
        sampled=len(items),
        identical=same,
        changed_since_restore_point=changed,
        missing_from_source=missing,
    )
    if not items:
        result.fail(f"the restored table {scratch} is empty: nothing to compare")
    if missing:
        result.fail(
            f"{len(missing)} restored item(s) no longer exist in {table}: deleted since the"
            " restore point, or the restore is not of this table"
        )


def delete(ctx: Context, db: Any, scratch: str, result: Result) -> None:
    """The scratch table, its deletion protection turned off first if it has any: DeleteTable
    refuses a protected table, and a restore may carry the source's protection over."""
    try:
        ctx.record("dynamodb", "DescribeTable", scratch)
        try:
            described = db.describe_table(TableName=scratch)["Table"]
        except db.exceptions.ResourceNotFoundException:
            # The restore failed before creating it (or was refused): there is nothing to
            # remove, and saying so is not a cleanup failure.
            result.cleanup.append(f"dynamodb table {scratch} was never created: nothing to delete")
            return
        if described.get("DeletionProtectionEnabled"):
            ctx.record("dynamodb", "UpdateTable", scratch, "scratch")
            db.update_table(TableName=scratch, DeletionProtectionEnabled=False)
            _settle(ctx, db, scratch)
        ctx.record("dynamodb", "DeleteTable", scratch, "scratch")
        db.delete_table(TableName=scratch)
        result.cleanup.append(f"deleted dynamodb table {scratch}")
    except Exception as error:
        message = f"could not delete scratch table {scratch}: {explain(error)}; delete it by hand"
        result.cleanup.append(message)
        result.error(message)


def _settle(ctx: Context, db: Any, scratch: str) -> None:
    """Wait, within cleanup's own budget (--timeout may have passed), for the table to be ACTIVE
    again after an update: DeleteTable refuses a table being updated."""
    until = time.monotonic() + CLEANUP_SECONDS
    while True:
        ctx.record("dynamodb", "DescribeTable", scratch)
        if db.describe_table(TableName=scratch)["Table"]["TableStatus"] == "ACTIVE":
            return
        if time.monotonic() > until:
            raise DrillError(f"{scratch} still not ACTIVE after {CLEANUP_SECONDS:g} s of cleanup")
        time.sleep(POLL_SECONDS)


# AWS Backup copies in the secondary's vault


def _copy_calls(table: str, scratch: str) -> list[Call]:
    return [
        Call("backup", "ListRecoveryPointsByBackupVault", table),
        Call("backup", "ListCopyJobs", table),
        Call("backup", "DescribeRecoveryPoint", table),
        Call("backup", "GetRecoveryPointRestoreMetadata", table),
        Call("kms", "DescribeKey", "alias/drgen/<workload>"),
        Call("backup", "StartRestoreJob", scratch, "scratch"),
        Call("backup", "DescribeRestoreJob", scratch),
        *_scratch_table_calls(table, scratch),
    ]


def _scratch_table_calls(table: str, scratch: str) -> list[Call]:
    """What both restores do once the scratch table exists: tag it, compare a sample with the
    source, remove it."""
    return [
        Call("dynamodb", "DescribeTable", scratch),
        Call("dynamodb", "TagResource", scratch, "scratch"),
        Call("dynamodb", "Scan", scratch),
        Call("dynamodb", "GetItem", table),
        Call("dynamodb", "UpdateTable", f"{scratch} (if deletion-protected)", "scratch"),
        Call("dynamodb", "DeleteTable", scratch, "scratch"),
    ]


def _restore_copy(ctx: Context, table: str, result: Result) -> None:
    """The newest completed recovery point in this region's vault (named after the table),
    restored by an AWS Backup restore job into a scratch table under the region's key."""
    backup = client("backup", ctx.region)
    db = client("dynamodb", ctx.region)
    scratch = ctx.scratch_name("features")
    point = aws_backup.newest_point(ctx, backup, table, "DynamoDB")
    if point is None:
        raise DrillError(
            f"no completed recovery point in the {table} vault of {ctx.region}: nothing to"
            " restore in the recovery region (have the copies from the primary run?)"
        )
    arn = point["RecoveryPointArn"]
    result.measurements["recovery_point"] = arn
    taken = aws_backup.source_created(ctx, client("backup", ctx.primary), point, "DynamoDB", result)
    ctx.record("backup", "GetRecoveryPointRestoreMetadata", table)
    metadata = backup.get_recovery_point_restore_metadata(
        BackupVaultName=table, RecoveryPointArn=arn
    )["RestoreMetadata"]
    alias = f"alias/drgen/{ctx.plan.workload}"
    ctx.record("kms", "DescribeKey", alias)
    key = client("kms", ctx.region).describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    # Restore metadata for DynamoDB: the new table's name and its encryption; without them
    # the restored table would take an AWS owned key
    # (https://docs.aws.amazon.com/aws-backup/latest/devguide/restoring-dynamodb.html); and no
    # deletion protection, which the source table has and DeleteTable would refuse, as AWS
    # Backup's own restore tests set it for DynamoDB
    # (https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-inferred-metadata.html).
    metadata.update(
        targetTableName=scratch,
        encryptionType="KMS",
        kmsMasterKeyArn=key,
        deletionProtection="false",
    )
    started = time.monotonic()
    running: str | None = None
    try:
        ctx.record("backup", "StartRestoreJob", scratch, "scratch")
        job = backup.start_restore_job(
            RecoveryPointArn=arn,
            Metadata=metadata,
            # The role that made the copy: IAM is global, and the stacks give it the restore
            # policy and the peer region's key.
            IamRoleArn=point["IamRoleArn"],
            ResourceType="DynamoDB",
        )["RestoreJobId"]
        result.scratch.append(f"dynamodb table {scratch} ({ctx.region})")
        result.measurements["restore_job"] = job
        running = job
        finished = _wait_job(ctx, backup, job, scratch)
        running = None
        if finished["Status"] != "COMPLETED":
            raise DrillError(
                f"restore job {job} {finished['Status']}: {finished.get('StatusMessage', '')}"
            )
        described = _wait_active(ctx, db, scratch)
        result.restore_seconds = round(time.monotonic() - started, 3)
        if taken is not None:
            result.data_age_seconds = age(ctx.now(), taken)
        result.bytes = int(finished.get("BackupSizeInBytes") or point.get("BackupSizeInBytes", 0))
        result.measure_rate()
        ctx.record("dynamodb", "TagResource", scratch, "scratch")
        db.tag_resource(
            ResourceArn=described["TableArn"],
            Tags=[{"Key": k, "Value": v} for k, v in ctx.tags.items()],
        )
        sse = described.get("SSEDescription", {})
        result.integrity["kms_key"] = sse.get("KMSMasterKeyArn")
        if sse.get("SSEType") != "KMS" or sse.get("KMSMasterKeyArn") != key:
            result.fail(f"the restored table is not under the region's key {key}")
        source = client("dynamodb", ctx.primary)
        compare_sample(ctx, db, source, table, scratch, described["KeySchema"], result)
    finally:
        if ctx.keep and result.scratch:
            result.cleanup.append(f"kept dynamodb table {scratch} (--keep)")
        elif running is not None:
            # AWS Backup has no call to stop a restore job (StopBackupJob stops backups only).
            message = (
                f"restore job {running} was still running at --timeout and cannot be stopped:"
                f" delete table {scratch} in {ctx.region} once it finishes"
            )
            result.cleanup.append(message)
            result.error(message)
        elif result.scratch:
            delete(ctx, db, scratch, result)


def _wait_job(ctx: Context, backup: Any, job: str, scratch: str) -> dict[str, Any]:
    while True:
        ctx.record("backup", "DescribeRestoreJob", scratch)
        described: dict[str, Any] = backup.describe_restore_job(RestoreJobId=job)
        if described["Status"] in FINISHED:
            return described
        time.sleep(min(POLL_SECONDS, ctx.remaining()))
