"""Feature store on DynamoDB: point-in-time restore into a scratch table, then a sample compared.

The restore runs where the table's continuous backups are: the recovery region's replica for a
global table, the primary's table otherwise (its AWS Backup copies in the secondary are what
the stack's restore testing plan exercises). The scratch table is tagged, never protected from
deletion, and deleted at the end unless --keep.
"""

from __future__ import annotations

import time
from typing import Any

from drgen.drill.aws import client, explain
from drgen.drill.base import Call, Context, Result
from drgen.plan import ComponentPlan

SAMPLE = 25
"""Items read from the scratch table and looked up in the source."""
POLL_SECONDS = 5.0


def source_region(ctx: Context, component: ComponentPlan) -> str:
    """Where the table with continuous backups lives."""
    return ctx.region if component.block == "dynamodb-global-table" else ctx.primary


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    table, scratch = component.global_name, ctx.scratch_name("features")
    return [
        Call("dynamodb", "DescribeContinuousBackups", table),
        Call("dynamodb", "RestoreTableToPointInTime", scratch, "scratch"),
        Call("dynamodb", "DescribeTable", scratch),
        Call("dynamodb", "TagResource", scratch, "scratch"),
        Call("dynamodb", "Scan", scratch),
        Call("dynamodb", "GetItem", table),
        Call("dynamodb", "DeleteTable", scratch, "scratch"),
    ]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
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
            result.data_age_seconds = max((requested - restored_at).total_seconds(), 0.0)
            result.measurements["restore_point"] = restored_at.isoformat()
        result.bytes = int(described.get("TableSizeBytes", 0))
        result.measure_rate()
        _compare_sample(ctx, db, table, scratch, described["KeySchema"], result)
    finally:
        if ctx.keep:
            result.cleanup.append(f"kept dynamodb table {scratch} (--keep)")
        elif result.scratch:
            _delete(ctx, db, scratch, result)


def _wait_active(ctx: Context, db: Any, scratch: str) -> dict[str, Any]:
    while True:
        ctx.record("dynamodb", "DescribeTable", scratch)
        described: dict[str, Any] = db.describe_table(TableName=scratch)["Table"]
        if described["TableStatus"] == "ACTIVE":
            return described
        time.sleep(min(POLL_SECONDS, ctx.remaining()))


def _compare_sample(
    ctx: Context, db: Any, table: str, scratch: str, schema: list[dict[str, str]], result: Result
) -> None:
    keys = [k["AttributeName"] for k in schema]
    ctx.record("dynamodb", "Scan", scratch)
    items = db.scan(TableName=scratch, Limit=SAMPLE).get("Items", [])
    same, changed, missing = 0, [], []
    for item in items:
        ctx.remaining()
        key = {name: item[name] for name in keys}
        ctx.record("dynamodb", "GetItem", table)
        current = db.get_item(TableName=table, Key=key, ConsistentRead=False).get("Item")
        label = "/".join(next(iter(v.values())) for v in key.values())
        if current is None:
            missing.append(label)
        elif current == item:
            same += 1
        else:
            changed.append(label)
    result.integrity = {
        "sampled": len(items),
        "identical": same,
        "changed_since_restore_point": changed,
        "missing_from_source": missing,
    }
    if not items:
        result.fail(f"the restored table {scratch} is empty: nothing to compare")
    if missing:
        result.fail(
            f"{len(missing)} restored item(s) no longer exist in {table}: deleted since the"
            " restore point, or the restore is not of this table"
        )


def _delete(ctx: Context, db: Any, scratch: str, result: Result) -> None:
    try:
        ctx.record("dynamodb", "DeleteTable", scratch, "scratch")
        db.delete_table(TableName=scratch)
        result.cleanup.append(f"deleted dynamodb table {scratch}")
    except Exception as error:
        message = f"could not delete scratch table {scratch}: {explain(error)}; delete it by hand"
        result.cleanup.append(message)
        result.error(message)
