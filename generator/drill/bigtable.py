"""Feature store on Bigtable: the newest backup in the recovery region restored into a scratch
instance the drill creates, then a sample of rows compared with the production table (read only).

The drill writes nothing into a production instance. RestoreTable can create its table in
another instance than the backup's ("restore a backup to a table in a different instance from
the one where the backup was created", https://cloud.google.com/bigtable/docs/backups), so every
restore goes into a one-cluster instance of its own, `drgen-drill-<run id>` (instance ids are
6-33 characters of [a-z0-9-], a letter first; cluster ids 6-30: CreateInstanceRequest,
https://cloud.google.com/bigtable/docs/reference/admin/rpc/google.bigtable.admin.v2), labelled
with the run, in the drilled region under that region's key (the stacks' key, which every stack
lets Bigtable use), and deleted with everything in it at the end unless --keep.

Which backups the recovery region has depends on the stack (patterns/gcp/feature_store.py.j2):
- backups copied to a DR instance (bigtable-backup with a secondary): the copy job keeps the
  newest READY backup in the DR instance's one cluster;
- one cluster with scheduled backups (no secondary): the primary cluster's backups;
- a replicated instance (bigtable-multi-cluster): the stack schedules none (replication is the
  recovery); the drill restores the newest backup the team keeps in the recovery region's
  cluster (automated backups are taken in every cluster of the instance) and reports an error
  when there is none. It takes no backup itself: CreateBackup adds a resource to the production
  instance, which shares physical storage with the production table (backups are incremental,
  same page) and needs bigtable.backups.create there; it reads the table, but it is a write to
  the production instance, which the drill never makes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from drgen.drill import gcp_admin
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.plan import ComponentPlan

TABLE = "features"
"""The table every stack creates in the feature store instance, and the restored table's id."""
SAMPLE = 25
"""Rows read from the scratch table and looked up in production."""
POLL_SECONDS = 10.0
EMULATOR = "BIGTABLE_EMULATOR_HOST"
INSTANCE_ID = re.compile(r"[a-z][-a-z0-9]{4,31}[a-z0-9]")
"""Instance ids: 6-33 characters (CreateInstanceRequest.instance_id)."""
ZONE_SUFFIX = "-b"
"""The zone the stacks put their clusters in (feature_store.py.j2), which every region has."""


@dataclass(frozen=True)
class Layout:
    """Where production lives and where the recovery region's backups are."""

    instance: str
    """Production instance id (its table `features` is the one compared)."""
    backup_cluster: str
    """`instances/<id>/clusters/<id>` holding the recovery region's backups."""
    primary_backups: str | None
    """`instances/<id>/clusters/-` of the primary's backups, when the restored one is a copy."""
    replicated: bool = False


def layout(ctx: Context, component: ComponentPlan) -> Layout:
    """The stack's names, as feature_store.py.j2 derives them from the workload's name."""
    workload = ctx.plan.workload
    instance = f"{workload[:24]}-features"
    if component.block == "bigtable-multi-cluster":
        role = "pri" if ctx.region == ctx.primary else "sec"
        cluster = f"instances/{instance}/clusters/{workload[:20]}-{role}"
        return Layout(instance, cluster, None, replicated=True)
    secondary = ctx.plan.secondary
    if secondary is not None and ctx.region == secondary.region:
        cluster = f"instances/{workload[:24]}-dr/clusters/{workload[:20]}-dr"
        return Layout(instance, cluster, f"instances/{instance}/clusters/-")
    return Layout(instance, f"instances/{instance}/clusters/{workload[:20]}-pri", None)


def scratch_instance(ctx: Context) -> str:
    """The scratch instance's id, checked against Bigtable's rule before anything is sent."""
    name = ctx.scratch_name()
    if not INSTANCE_ID.fullmatch(name):
        raise DrillError(f"scratch instance id {name!r} is not a valid Bigtable instance id")
    return name


def key_name(ctx: Context, project: str) -> str:
    """The drilled region's key, as the stacks name it (settings.key_name in
    patterns/gcp/settings.py.j2)."""
    ring = f"drgen-{ctx.plan.workload}"
    return f"projects/{project}/locations/{ctx.region}/keyRings/{ring}/cryptoKeys/data"


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    where = layout(ctx, component)
    scratch = f"instances/{ctx.scratch_name()}"
    listed = [
        Call("bigtableadmin", "ListBackups", where.backup_cluster),
        Call("bigtableadmin", "CreateInstance", scratch, "scratch"),
        Call("bigtableadmin", "GetOperation", "operations/<instance>"),
        Call("bigtableadmin", "RestoreTable", f"{scratch}/tables/{TABLE}", "scratch"),
        Call("bigtableadmin", "GetOperation", "operations/<restore>"),
        Call("bigtableadmin", "CancelOperation", f"{scratch} (at --timeout only)", "scratch"),
        Call("bigtableadmin", "GetTable", f"{scratch}/tables/{TABLE}"),
    ]
    if where.primary_backups:
        listed.append(Call("bigtableadmin", "ListBackups", where.primary_backups))
    return [
        *listed,
        Call("bigtable", "ReadRows", f"{scratch}/tables/{TABLE}"),
        Call("bigtable", "ReadRows", f"instances/{where.instance}/tables/{TABLE}"),
        Call("bigtableadmin", "DeleteInstance", scratch, "scratch"),
    ]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    try:
        from google.cloud import bigtable_admin_v2
    except ImportError as error:
        raise gcp_admin.need("google-cloud-bigtable") from error
    project = gcp_admin.project()
    admin = gcp_admin.gapic(bigtable_admin_v2.BigtableTableAdminClient, EMULATOR)
    instances = gcp_admin.gapic(bigtable_admin_v2.BigtableInstanceAdminClient, EMULATOR)
    where = layout(ctx, component)
    scratch = scratch_instance(ctx)
    full = f"projects/{project}/"
    backup = _newest_backup(ctx, admin, full + where.backup_cluster)
    if backup is None:
        more = (
            ": the stack schedules none for a replicated instance; enable automated backups on"
            f" {TABLE} (or keep on-demand ones in that cluster) to drill a restore"
            if where.replicated
            else ""
        )
        raise DrillError(
            f"no READY backup of {TABLE} in {where.backup_cluster} ({ctx.region}):"
            f" nothing to restore in the recovery region{more}"
        )
    result.measurements["backup"] = backup.name
    result.measurements["backup_start"] = backup.start_time.isoformat()
    result.measurements["backup_end"] = backup.end_time.isoformat()
    if backup.source_backup:
        result.measurements["copied_from"] = backup.source_backup
    made: dict[str, Any] = {}  # the operations creating the scratch instance and table
    try:
        _create_instance(ctx, instances, project, scratch, made, result)
        scratch_table = f"instances/{scratch}/tables/{TABLE}"
        ctx.record("bigtableadmin", "RestoreTable", scratch_table, "scratch")
        started = time.monotonic()
        made["table"] = admin.restore_table(
            request={
                "parent": f"{full}instances/{scratch}",
                "table_id": TABLE,
                "backup": backup.name,
            }
        )
        gcp_admin.wait(ctx, made["table"], "bigtableadmin", POLL_SECONDS)
        result.restore_seconds = round(time.monotonic() - started, 3)
        # The row data is no older than the backup's start (Backup.start_time): the
        # conservative age to hold against the RPO.
        result.data_age_seconds = age(ctx.now(), backup.start_time)
        result.bytes = int(backup.size_bytes)
        result.measure_rate()
        if where.primary_backups:
            _behind_primary(ctx, admin, full + where.primary_backups, backup, result)
        _check_encryption(ctx, admin, full + scratch_table, key_name(ctx, project), result)
        _compare_sample(ctx, project, where, scratch, result)
    finally:
        if made:
            _clean_up(ctx, instances, f"{full}instances/{scratch}", made, result)


def _create_instance(
    ctx: Context, instances: Any, project: str, scratch: str, made: dict[str, Any], r: Result
) -> None:
    """A one-node, one-cluster instance in the drilled region under the region's key."""
    from google.cloud.bigtable_admin_v2 import Instance, StorageType

    ctx.record("bigtableadmin", "CreateInstance", f"instances/{scratch}", "scratch")
    made["instance"] = instances.create_instance(
        request={
            "parent": f"projects/{project}",
            "instance_id": scratch,
            "instance": {
                "display_name": f"drill {ctx.run_id}"[:30],
                "type_": Instance.Type.PRODUCTION,
                # Label keys and values: lowercase letters, digits, - and _ (Instance.labels).
                "labels": {k.replace(":", "-"): v for k, v in ctx.tags.items()},
            },
            "clusters": {
                f"drill-{ctx.run_id}"[:30]: {
                    "location": f"projects/{project}/locations/{ctx.region}{ZONE_SUFFIX}",
                    "serve_nodes": 1,
                    "default_storage_type": StorageType.SSD,
                    "encryption_config": {"kms_key_name": key_name(ctx, project)},
                }
            },
        }
    )
    r.scratch.append(f"bigtable instance {scratch} ({ctx.region})")
    gcp_admin.wait(ctx, made["instance"], "bigtableadmin", POLL_SECONDS)


def _newest_backup(ctx: Context, admin: Any, cluster: str) -> Any:
    from google.cloud.bigtable_admin_v2 import Backup

    ctx.record("bigtableadmin", "ListBackups", cluster.split("/", 2)[2])
    ready = [
        b
        for b in admin.list_backups(request={"parent": cluster})
        if b.state == Backup.State.READY and b.source_table.rsplit("/", 1)[-1] == TABLE
    ]
    return max(ready, key=lambda b: b.start_time, default=None)


def _behind_primary(ctx: Context, admin: Any, primary: str, restored: Any, r: Result) -> None:
    """How far the copy in the recovery region lags the primary's newest backup."""
    newest = _newest_backup(ctx, admin, primary)
    if newest is None:
        return
    r.measurements["primary_newest_backup_start"] = newest.start_time.isoformat()
    r.measurements["copy_behind_primary_seconds"] = age(newest.start_time, restored.start_time)


def _check_encryption(ctx: Context, admin: Any, table: str, key: str, r: Result) -> None:
    """The restored table must be under the region's customer-managed key, as the stacks'
    clusters are (EncryptionInfo.kms_key_version names a version of the key)."""
    from google.cloud.bigtable_admin_v2 import EncryptionInfo, Table

    ctx.record("bigtableadmin", "GetTable", table.split("/", 2)[2])
    described = admin.get_table(request={"name": table, "view": Table.View.ENCRYPTION_VIEW})
    found = {
        cluster: [
            (EncryptionInfo.EncryptionType(i.encryption_type).name, i.kms_key_version)
            for i in state.encryption_info
        ]
        for cluster, state in described.cluster_states.items()
    }
    r.integrity["encryption"] = {c: sorted(kind for kind, _ in i) for c, i in found.items()}
    r.integrity["kms_key"] = key
    cmek = "CUSTOMER_MANAGED_ENCRYPTION"
    plain = [
        c
        for c, infos in found.items()
        if not infos
        or any(kind != cmek or not version.startswith(key + "/") for kind, version in infos)
    ]
    if not found or plain:
        r.fail(
            f"the restored table is not under the region's key {key} in every cluster"
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
        ctx.record("bigtable", "ReadRows", f"instances/{scratch}/tables/{TABLE}")
        restored = data.get_table(scratch, TABLE).read_rows(
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
        r.fail(f"the table restored in {scratch} is empty: nothing to compare")
    if missing:
        r.fail(
            f"{len(missing)} restored row(s) no longer exist in {TABLE}: deleted since the"
            " backup, or the backup is not of this table"
        )


def _clean_up(ctx: Context, instances: Any, instance: str, made: dict[str, Any], r: Result) -> None:
    """The scratch instance, with the table restored in it, once the operations creating them
    have ended: a restore still running at --timeout is cancelled first (RestoreTable's
    operation is cancellable, https://cloud.google.com/bigtable/docs/reference/admin/rest/v2/projects.instances.tables/restore),
    and cleanup waits for both within its own budget (gcp_admin.CLEANUP_SECONDS)."""
    target = instance.split("/", 2)[2]
    if ctx.keep:
        r.cleanup.append(f"kept bigtable instance {target} (--keep)")
        return
    try:
        restoring: Any = made.get("table")
        cancelling = restoring is not None and not restoring.operation.done
        if cancelling:
            ctx.record("bigtableadmin", "CancelOperation", target, "scratch")
            # False: it had finished meanwhile (cancel() polls first) and no request was sent.
            cancelling = restoring.cancel()
        for operation in made.values():
            if not gcp_admin.settle(ctx, operation, "bigtableadmin", POLL_SECONDS):
                raise DrillError(
                    f"{operation.operation.name} still running after"
                    f" {gcp_admin.CLEANUP_SECONDS:g} s of cleanup"
                )
        if cancelling:
            # Cancellation is best effort: the operation may complete all the same
            # (google.longrunning.Operations.CancelOperation).
            r.cleanup.append(
                "cancelled the restore"
                if restoring.cancelled()
                else "the restore completed despite its cancellation"
            )
        if made["instance"].exception() is not None:
            # The creation failed: no instance came of it (a NotFound below says so as well).
            r.cleanup.append(f"bigtable instance {target} was never created: nothing to delete")
            return
        ctx.record("bigtableadmin", "DeleteInstance", target, "scratch")
        instances.delete_instance(request={"name": instance})
        r.cleanup.append(f"deleted bigtable instance {target} and the table restored in it")
    except Exception as error:
        from drgen.drill.gcp import explain

        message = f"could not delete scratch instance {target}: {explain(error)}; delete it by hand"
        r.cleanup.append(message)
        r.error(message)
