"""AWS Backup recovery points as the drills restore them: the newest in a vault, and the date of
the data a copy holds."""

from __future__ import annotations

import datetime
from typing import Any

from drgen.drill.aws import explain
from drgen.drill.base import Context, Result


def newest_point(
    ctx: Context, backup: Any, vault: str, resource_type: str
) -> dict[str, Any] | None:
    """The newest COMPLETED recovery point of `resource_type` in `vault`, or None."""
    ctx.record("backup", "ListRecoveryPointsByBackupVault", vault)
    pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName=vault, ByResourceType=resource_type
    )
    done = [
        point
        for page in pages
        for point in page.get("RecoveryPoints", [])
        if point.get("Status") == "COMPLETED"
    ]
    return max(done, key=lambda p: p["CreationDate"], default=None)


def source_created(
    ctx: Context, primary: Any, copy: dict[str, Any], resource_type: str, result: Result
) -> datetime.datetime | None:
    """When the primary's recovery point `copy` was copied from was created: the data's age, as
    every drill dates a recovery point (a copy's own CreationDate says when it was copied).

    The copy job, listed in the primary where it ran (`primary` is that region's Backup client),
    links the two (CopyJob.SourceRecoveryPointArn and DestinationRecoveryPointArn,
    https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListCopyJobs.html); the source's
    CreationDate comes from DescribeRecoveryPoint. None, with the reason recorded, when no copy
    job names it any more or the primary cannot be read (it may be the region that is down). A
    point in the primary's own vault is its own source."""
    if ctx.region == ctx.primary:
        created: datetime.datetime = copy["CreationDate"]
        result.measurements["source_recovery_point"] = copy["RecoveryPointArn"]
        return created
    ctx.record("backup", "ListCopyJobs", copy["BackupVaultName"])
    try:
        pages = primary.get_paginator("list_copy_jobs").paginate(
            ByDestinationVaultArn=copy["BackupVaultArn"], ByResourceType=resource_type
        )
        job = next(
            (
                j
                for page in pages
                for j in page.get("CopyJobs", [])
                if j.get("DestinationRecoveryPointArn") == copy["RecoveryPointArn"]
            ),
            None,
        )
    except Exception as error:  # the primary's region may be the one that is down
        result.measurements["source_recovery_point"] = (
            f"the copy jobs in {ctx.primary} could not be read ({explain(error)}): the data age"
            " is unknown"
        )
        return None
    if job is None:
        result.measurements["source_recovery_point"] = (
            f"no copy job in {ctx.primary} names this copy: its data age is unknown"
        )
        return None
    source_vault = job["SourceBackupVaultArn"].rsplit(":", 1)[1]
    ctx.record("backup", "DescribeRecoveryPoint", source_vault)
    try:
        created = primary.describe_recovery_point(
            BackupVaultName=source_vault, RecoveryPointArn=job["SourceRecoveryPointArn"]
        )["CreationDate"]
    except Exception as error:  # expired from the primary's vault, or the region is down
        result.measurements["source_recovery_point"] = (
            f"{job['SourceRecoveryPointArn']} could not be described ({explain(error)}): the"
            " data age is unknown"
        )
        return None
    result.measurements.update(
        source_recovery_point=job["SourceRecoveryPointArn"],
        recovery_point_created=created.isoformat(),
    )
    return created
