"""Feature store on Bigtable: the newest backup in the recovery region restored into a scratch
table, then a sample of rows compared with the production table (read only).

Where the recovery region's backups are depends on the stack (patterns/gcp/feature_store.py.j2):
- backups copied to a DR instance (bigtable-backup with a secondary): the copy job keeps the
  newest READY backup in the DR instance's one cluster; the scratch table is restored there,
  where the runbook restores in a real recovery;
- one cluster with scheduled backups (no secondary): the primary cluster's backups, restored
  into the same instance;
- a replicated instance (bigtable-multi-cluster): no scheduled backups, replication is the
  recovery; the drill takes a scratch backup stored in the recovery region's cluster
  (CreateBackupRequest.parent) and restores that, so the region's restore path is exercised
  all the same.
Scratch tables and backups are named `drgen-drill-features-<run id>`: Bigtable table and backup
ids are 1-50 characters of `[_a-zA-Z0-9][-_.a-zA-Z0-9]*` (CreateTableRequest.table_id,
CreateBackupRequest.backup_id, google.cloud.bigtable_admin_v2 types). Bigtable tables and backups
take no labels, so the name is the tag. Both are deleted at the end unless --keep.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

from drgen.drill import gcp_admin
from drgen.drill.base import Call, Context, DrillError, Result
from drgen.plan import ComponentPlan

TABLE = "features"
"""The table every stack creates in the feature store instance."""
SAMPLE = 25
"""Rows read from the scratch table and looked up in production."""
POLL_SECONDS = 10.0
SCRATCH_BACKUP_EXPIRY = datetime.timedelta(hours=6, minutes=5)
"""A backup's expire_time must be at least 6 hours after its creation (Backup.expire_time,
google.cloud.bigtable_admin_v2 types); the drill deletes its scratch backup long before."""
EMULATOR = "BIGTABLE_EMULATOR_HOST"


@dataclass(frozen=True)
class Layout:
    """Where production lives, where the recovery region's backups are, where to restore."""

    instance: str
    """Production instance id (its table `features` is the one compared)."""
    backup_cluster: str
    """`instances/<id>/clusters/<id>` holding the recovery region's backups."""
    restore_instance: str
    """Instance id the scratch table is restored into."""
    scratch_backup: bool
    """True when no scheduled backups exist and the drill takes its own."""
    primary_backups: str | None
    """`instances/<id>/clusters/-` of the primary's backups, when the restored one is a copy."""


def layout(ctx: Context, component: ComponentPlan) -> Layout:
    """The stack's names, as feature_store.py.j2 derives them from the workload's name."""
    workload = ctx.plan.workload
    instance = f"{workload[:24]}-features"
    if component.block == "bigtable-multi-cluster":
        role = "pri" if ctx.region == ctx.primary else "sec"
        cluster = f"instances/{instance}/clusters/{workload[:20]}-{role}"
        return Layout(instance, cluster, instance, True, None)
    secondary = ctx.plan.secondary
    if secondary is not None and ctx.region == secondary.region:
        dr = f"{workload[:24]}-dr"
        cluster = f"instances/{dr}/clusters/{workload[:20]}-dr"
        return Layout(instance, cluster, dr, False, f"instances/{instance}/clusters/-")
    cluster = f"instances/{instance}/clusters/{workload[:20]}-pri"
    return Layout(instance, cluster, instance, False, None)


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    where = layout(ctx, component)
    scratch = ctx.scratch_name("features")
    scratch_table = f"instances/{where.restore_instance}/tables/{scratch}"
    listed = [Call("bigtableadmin", "ListBackups", where.backup_cluster)]
    if where.scratch_backup:
        backup = f"{where.backup_cluster}/backups/{scratch}"
        listed += [
            Call("bigtableadmin", "CreateBackup", backup, "scratch"),
            Call("bigtableadmin", "GetOperation", "operations/<backup>"),
        ]
    listed += [
        Call("bigtableadmin", "RestoreTable", scratch_table, "scratch"),
        Call("bigtableadmin", "GetOperation", "operations/<restore>"),
        Call("bigtableadmin", "CancelOperation", f"{scratch_table} (at --timeout only)", "scratch"),
        Call("bigtableadmin", "GetTable", scratch_table),
    ]
    if where.primary_backups:
        listed.append(Call("bigtableadmin", "ListBackups", where.primary_backups))
    listed += [
        Call("bigtable", "ReadRows", scratch_table),
        Call("bigtable", "ReadRows", f"instances/{where.instance}/tables/{TABLE}"),
        Call("bigtableadmin", "DeleteTable", scratch_table, "scratch"),
    ]
    if where.scratch_backup:
        backup = f"{where.backup_cluster}/backups/{scratch}"
        listed.append(Call("bigtableadmin", "DeleteBackup", backup, "scratch"))
    return listed


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    try:
        from google.cloud import bigtable_admin_v2
    except ImportError as error:
        raise gcp_admin.need("google-cloud-bigtable") from error
    project = gcp_admin.project()
    admin = gcp_admin.gapic(bigtable_admin_v2.BigtableTableAdminClient, EMULATOR)
    where = layout(ctx, component)
    scratch = ctx.scratch_name("features")
    full = f"projects/{project}/"
    scratch_table = f"instances/{where.restore_instance}/tables/{scratch}"
    scratch_backup = f"{where.backup_cluster}/backups/{scratch}"
    made: dict[str, Any] = {}  # scratch requested, by kind, with the operation creating it
    try:
        if where.scratch_backup:
            backup = _take_backup(ctx, admin, full, where, scratch, made, result)
        else:
            backup = _newest_backup(ctx, admin, full + where.backup_cluster)
            if backup is None:
                raise DrillError(
                    f"no READY backup of {TABLE} in {where.backup_cluster} ({ctx.region}):"
                    " nothing to restore in the recovery region"
                )
        result.measurements["backup"] = backup.name
        result.measurements["backup_start"] = backup.start_time.isoformat()
        result.measurements["backup_end"] = backup.end_time.isoformat()
        if backup.source_backup:
            result.measurements["copied_from"] = backup.source_backup
        ctx.record("bigtableadmin", "RestoreTable", scratch_table, "scratch")
        started = time.monotonic()
        operation = admin.restore_table(
            request={
                "parent": f"{full}instances/{where.restore_instance}",
                "table_id": scratch,
                "backup": backup.name,
            }
        )
        made["table"] = operation
        result.scratch.append(f"bigtable table {where.restore_instance}/{scratch}")
        gcp_admin.wait(ctx, operation, "bigtableadmin", POLL_SECONDS)
        result.restore_seconds = round(time.monotonic() - started, 3)
        # The row data is no older than the backup's start (Backup.start_time): the
        # conservative age to hold against the RPO.
        result.data_age_seconds = gcp_admin.age(ctx.now(), backup.start_time)
        result.bytes = int(backup.size_bytes)
        result.measure_rate()
        if where.primary_backups:
            _behind_primary(ctx, admin, full + where.primary_backups, backup, result)
        _check_encryption(ctx, admin, full + scratch_table, result)
        _compare_sample(ctx, project, where, scratch, result)
    finally:
        _clean_up(ctx, admin, full, scratch_table, scratch_backup, made, result)


def _newest_backup(ctx: Context, admin: Any, cluster: str) -> Any:
    from google.cloud.bigtable_admin_v2 import Backup

    ctx.record("bigtableadmin", "ListBackups", cluster.split("/", 2)[2])
    ready = [
        b
        for b in admin.list_backups(request={"parent": cluster})
        if b.state == Backup.State.READY and b.source_table.rsplit("/", 1)[-1] == TABLE
    ]
    return max(ready, key=lambda b: b.start_time, default=None)


def _take_backup(
    ctx: Context,
    admin: Any,
    full: str,
    where: Layout,
    scratch: str,
    made: dict[str, Any],
    r: Result,
) -> Any:
    """A backup of the production table on the recovery region's cluster (replicated instance)."""
    target = f"{where.backup_cluster}/backups/{scratch}"
    ctx.record("bigtableadmin", "CreateBackup", target, "scratch")
    operation = admin.create_backup(
        request={
            "parent": full + where.backup_cluster,
            "backup_id": scratch,
            "backup": {
                "source_table": f"{full}instances/{where.instance}/tables/{TABLE}",
                "expire_time": ctx.now() + SCRATCH_BACKUP_EXPIRY,
            },
        }
    )
    made["backup"] = operation
    r.scratch.append(f"bigtable backup {target}")
    r.measurements["backup_taken_by_drill"] = (
        "a replicated instance has no scheduled backups: the drill took one, stored in the"
        " recovery region's cluster"
    )
    return gcp_admin.wait(ctx, operation, "bigtableadmin", POLL_SECONDS)


def _behind_primary(ctx: Context, admin: Any, primary: str, restored: Any, r: Result) -> None:
    """How far the copy in the recovery region lags the primary's newest backup."""
    newest = _newest_backup(ctx, admin, primary)
    if newest is None:
        return
    r.measurements["primary_newest_backup_start"] = newest.start_time.isoformat()
    r.measurements["copy_behind_primary_seconds"] = gcp_admin.age(
        newest.start_time, restored.start_time
    )


def _check_encryption(ctx: Context, admin: Any, table: str, r: Result) -> None:
    """The restored table must be under a customer-managed key, as the stacks' clusters are."""
    from google.cloud.bigtable_admin_v2 import EncryptionInfo, Table

    ctx.record("bigtableadmin", "GetTable", table.split("/", 2)[2])
    described = admin.get_table(request={"name": table, "view": Table.View.ENCRYPTION_VIEW})
    kinds = {
        cluster: sorted(
            EncryptionInfo.EncryptionType(i.encryption_type).name for i in state.encryption_info
        )
        for cluster, state in described.cluster_states.items()
    }
    r.integrity["encryption"] = kinds
    cmek = "CUSTOMER_MANAGED_ENCRYPTION"
    plain = [c for c, k in kinds.items() if k != [cmek]]
    if not kinds or plain:
        r.fail(
            "the restored table is not under a customer-managed key in every cluster"
            f" ({', '.join(plain) or 'no encryption info'})"
        )


def _cells(row: Any) -> dict[tuple[str, bytes], bytes]:
    """A row's newest value per column."""
    newest: dict[tuple[str, bytes], tuple[int, bytes]] = {}
    for cell in row:
        column = (cell.family, cell.qualifier)
        if column not in newest or cell.timestamp_micros > newest[column][0]:
            newest[column] = (cell.timestamp_micros, cell.value)
    return {column: value for column, (_, value) in newest.items()}


def _compare_sample(ctx: Context, project: str, where: Layout, scratch: str, r: Result) -> None:
    from google.cloud.bigtable.data import BigtableDataClient, ReadRowsQuery

    data = BigtableDataClient(project=project)
    try:
        ctx.record("bigtable", "ReadRows", f"instances/{where.restore_instance}/tables/{scratch}")
        restored = data.get_table(where.restore_instance, scratch).read_rows(
            ReadRowsQuery(limit=SAMPLE), operation_timeout=ctx.remaining()
        )
        current: dict[bytes, Any] = {}
        if restored:
            ctx.record("bigtable", "ReadRows", f"instances/{where.instance}/tables/{TABLE}")
            rows = data.get_table(where.instance, TABLE).read_rows(
                ReadRowsQuery(row_keys=[row.row_key for row in restored]),
                operation_timeout=ctx.remaining(),
            )
            current = {row.row_key: row for row in rows}
    finally:
        data.close()
    same, changed, missing = 0, [], []
    for row in restored:
        label = row.row_key.decode("utf-8", "backslashreplace")
        if row.row_key not in current:
            missing.append(label)
        elif _cells(current[row.row_key]) == _cells(row):
            same += 1
        else:
            changed.append(label)
    r.integrity.update(
        sampled=len(restored),
        identical=same,
        changed_since_backup=changed,
        missing_from_source=missing,
    )
    if not restored:
        r.fail(f"the restored table {scratch} is empty: nothing to compare")
    if missing:
        r.fail(
            f"{len(missing)} restored row(s) no longer exist in {TABLE}: deleted since the"
            " backup, or the backup is not of this table"
        )


def _clean_up(
    ctx: Context,
    admin: Any,
    full: str,
    table: str,
    backup: str,
    made: dict[str, Any],
    r: Result,
) -> None:
    """The scratch table, then the scratch backup it was restored from; each failure is
    recorded and the next still tried. An operation still running (--timeout) is cancelled
    first: cancelling a CreateBackup stops it and deletes the backup, and a RestoreTable's
    operation is documented as cancellable
    (https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.clusters.backups/create,
    https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.tables/restore)."""
    targets = [("table", "DeleteTable", table), ("backup", "DeleteBackup", backup)]
    for kind, operation, target in targets:
        if kind not in made:
            continue
        if ctx.keep:
            r.cleanup.append(f"kept bigtable {kind} {target} (--keep)")
            continue
        try:
            cancelled = _cancel(ctx, made[kind], target)
            if cancelled and kind == "backup":
                r.cleanup.append(f"cancelled the creation of bigtable backup {target}")
                continue
            ctx.record("bigtableadmin", operation, target, "scratch")
            try:
                if kind == "table":
                    admin.delete_table(request={"name": full + target})
                else:
                    admin.delete_backup(request={"name": full + target})
            except Exception as error:
                if not (cancelled and type(error).__name__ == "NotFound"):
                    raise
            r.cleanup.append(f"deleted bigtable {kind} {target}")
        except Exception as error:
            from drgen.drill.gcp import explain

            message = (
                f"could not delete scratch {kind} {target}: {explain(error)}; delete it by hand"
            )
            r.cleanup.append(message)
            r.error(message)


def _cancel(ctx: Context, operation: Any, target: str) -> bool:
    """Cancel the operation creating a scratch resource, if it is still running."""
    if operation.operation.done:
        return False
    ctx.record("bigtableadmin", "CancelOperation", target, "scratch")
    operation.cancel()
    return True
