"""pgvector on Cloud SQL: the newest successful backup, restored into a scratch instance.

This is the cold restore a recovery runs: a backup restores only into an instance that exists,
so the drill creates one in the recovery region (the plan's machine tier and version, the
region's key, the source's private network, TLS only, no backups, no deletion protection,
labelled with the run), restores the primary's newest successful backup run into it
(`instances.restoreBackup`), and measures both together, as a recovery waits for both. It then
gives the scratch's `postgres` user a one-time password, connects over TLS to the private IP and
runs the same checks as every pgvector drill (drgen.drill.pg_verify). The instance is deleted at
the end unless --keep, whatever happened.

In the recovery region of a plan that keeps logical exports there (tiers 2-3 with a secondary),
the drill imports the newest export instead, as the runbook does: drgen.drill.cloudsql_export.

API reference: https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/restoreBackup
(and instances.insert, backupRuns.list, users.update, operations.get, instances.delete).
"""

from __future__ import annotations

import datetime
import os
import secrets
import time
from typing import Any

from drgen.drill import pg_verify
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.drill.gcp import explain
from drgen.plan import ComponentPlan

SCOPES = ("https://www.googleapis.com/auth/sqlservice.admin",)
POLL_SECONDS = 15
USER = "postgres"
PORT = 5432
SSLMODE = "require"
"""The stacks' instances accept TLS connections only (ssl_mode ENCRYPTED_ONLY)."""
CLEANUP_SECONDS = 1800.0
"""The cleanup's own time, past --timeout: an instance cannot be deleted while an operation on
it runs, so a run stopped during instances.insert or restoreBackup cancels that operation
(operations.cancel), waits for it to be DONE, then deletes the instance and waits for that."""


class _Pending:
    """The operation this run started and has not seen DONE, for the cleanup."""

    def __init__(self) -> None:
        self.operation: str | None = None


def key_name(ctx: Context, project: str) -> str:
    """The recovery region's key (storage.py's RegionalKey: ring drgen-<workload>, key data)."""
    return (
        f"projects/{project}/locations/{ctx.region}/keyRings/drgen-{ctx.plan.workload}"
        "/cryptoKeys/data"
    )


def scratch_name(ctx: Context) -> str:
    return ctx.scratch_name("vectors")


def labels(ctx: Context) -> dict[str, str]:
    """ctx.tags as labels: keys of lowercase letters, digits, `_` and `-` only."""
    return {key.replace(":", "-"): value for key, value in ctx.tags.items()}


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    from drgen.drill import cloudsql_export  # which imports this module

    if cloudsql_export.exported(ctx, component):
        return cloudsql_export.calls(ctx, component)
    source, scratch = component.names[ctx.primary], scratch_name(ctx)
    return [
        Call("sqladmin", "instances.get", source),
        Call("sqladmin", "backupRuns.list", source),
        Call("sqladmin", "instances.insert", scratch, "scratch"),
        Call("sqladmin", "operations.get", scratch),
        Call("sqladmin", "instances.restoreBackup", scratch, "scratch"),
        Call("sqladmin", "operations.get", scratch),
        Call("sqladmin", "users.update (one-time password)", scratch, "scratch"),
        Call("sqladmin", "instances.get", scratch),
        *pg_verify.restored_calls(scratch),
        # Only when the run stopped while an operation on the scratch was still running.
        Call("sqladmin", "operations.cancel", scratch, "scratch"),
        Call("sqladmin", "instances.delete", scratch, "scratch"),
    ]


def _service() -> tuple[Any, str]:
    """The Cloud SQL Admin API client (official, from its bundled discovery document) and the
    project, from Application Default Credentials."""
    try:
        import google.auth
        from googleapiclient import discovery
    except ImportError as error:
        raise DrillError(
            "the Cloud SQL drill needs google-api-python-client: pip install 'drgen[drill]'"
        ) from error
    credentials, found = google.auth.default(scopes=list(SCOPES))
    project = os.environ.get("GOOGLE_CLOUD_PROJECT") or found
    if not project:
        raise DrillError("no Google Cloud project: set GOOGLE_CLOUD_PROJECT")
    sql = discovery.build(
        "sqladmin", "v1", credentials=credentials, cache_discovery=False, static_discovery=True
    )
    return sql, str(project)


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    sql, project = _service()
    source, scratch = component.names[ctx.primary], scratch_name(ctx)
    ctx.record("sqladmin", "instances.get", source)
    try:
        original = sql.instances().get(project=project, instance=source).execute()
    except Exception as error:
        if getattr(error, "status_code", None) == 404:
            raise DrillError(
                f"Cloud SQL instance {source} not found in project {project}"
                " (is the stack deployed?)"
            ) from None
        raise
    from drgen.drill import cloudsql_export

    if cloudsql_export.exported(ctx, component):
        cloudsql_export.run(ctx, sql, project, component, original, result)
        return
    result.measurements["restore_method"] = "Cloud SQL backup restore into a new instance"
    backup = _newest_backup(ctx, sql, project, source)
    if backup is None:
        result.error(
            f"no successful backup of {source}: nothing to restore (are its backups running?)"
        )
        return
    pending = _Pending()
    try:
        _restore(ctx, sql, project, component, original, backup, result, pending)
        verify(ctx, sql, project, scratch, original, result, pending)
    except Exception as error:  # recorded before the cleanup's own messages
        result.error(pg_verify.describe(error, explain))
    finally:
        if ctx.keep and result.scratch:
            result.cleanup.append(f"kept cloud sql instance {scratch} (--keep)")
        elif result.scratch:
            _delete(ctx, sql, project, scratch, result, pending)


def verify(
    ctx: Context,
    sql: Any,
    project: str,
    scratch: str,
    original: dict[str, Any],
    result: Result,
    pending: _Pending,
    database: str | None = None,
) -> None:
    """A one-time password for the scratch's `postgres`, then the shared checks over TLS on its
    private IP (an unreachable IP is explained: the restore itself was measured)."""
    password = secrets.token_urlsafe(24)
    _call(
        ctx,
        sql.users().update(
            project=project,
            instance=scratch,
            name=USER,
            body={"name": USER, "password": password},
        ),
        "users.update (one-time password)",
        scratch,
        project,
        sql,
        pending,
    )
    ctx.record("sqladmin", "instances.get", scratch)
    restored = sql.instances().get(project=project, instance=scratch).execute()
    host = next(
        (a["ipAddress"] for a in restored.get("ipAddresses", []) if a.get("type") == "PRIVATE"),
        None,
    )
    if host is None:
        raise DrillError(f"the scratch instance {scratch} has no private IP address")
    conninfo = pg_verify.psycopg().conninfo.make_conninfo(
        host=host, port=str(PORT), user=USER, password=password, sslmode=SSLMODE
    )
    try:
        pg_verify.check_restored(ctx, conninfo, scratch, result, database)
    except pg_verify.UnreachableError as error:
        result.error(
            f"the restore was measured, but the scratch instance's private IP {host} cannot"
            f" be reached from here ({error}). Run the drill from inside the VPC network"
            f" {_network(original) or ''} (a VM in {ctx.region}, or through the Cloud SQL"
            " Auth Proxy) to verify the data"
        )


def _network(instance: dict[str, Any]) -> str | None:
    found = instance.get("settings", {}).get("ipConfiguration", {}).get("privateNetwork")
    return str(found) if found else None


def _newest_backup(ctx: Context, sql: Any, project: str, source: str) -> dict[str, Any] | None:
    ctx.record("sqladmin", "backupRuns.list", source)
    runs: list[dict[str, Any]] = []
    request = sql.backupRuns().list(project=project, instance=source)
    while request is not None:
        page = request.execute()
        runs += [r for r in page.get("items", []) if r.get("status") == "SUCCESSFUL"]
        request = sql.backupRuns().list_next(request, page)
    return max(runs, key=lambda r: str(r.get("endTime", "")), default=None)


def scratch_instance(
    ctx: Context,
    project: str,
    component: ComponentPlan,
    network: str,
    original: dict[str, Any],
    version: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """The instances.insert body of the scratch instance: the plan's tier and `version` (else
    the plan's), the recovery region's key, the source's private network, TLS only, no backups
    or deletion protection, the run's labels; `settings` adds to its settings."""
    size = original.get("settings", {}).get("dataDiskSizeGb")
    return {
        "name": scratch_name(ctx),
        "region": ctx.region,
        "databaseVersion": str(version or component.params.get("database_version", "POSTGRES_18")),
        "diskEncryptionConfiguration": {"kmsKeyName": key_name(ctx, project)},
        "settings": {
            "tier": str(component.params.get("tier", "db-custom-4-16384")),
            # PostgreSQL 16 and later default to Enterprise Plus, which refuses db-custom tiers.
            "edition": "ENTERPRISE",
            # Zonal: the drill measures the restore, not the instance's failover.
            "availabilityType": "ZONAL",
            "dataDiskType": "PD_SSD",
            # A backup restores only into a disk at least as large as its instance's.
            **({"dataDiskSizeGb": size} if size else {}),
            **settings,
            "ipConfiguration": {
                "ipv4Enabled": False,
                "privateNetwork": network,
                "sslMode": "ENCRYPTED_ONLY",
            },
            "backupConfiguration": {"enabled": False},
            "deletionProtectionEnabled": False,
            "userLabels": labels(ctx),
        },
    }


def _restore(
    ctx: Context,
    sql: Any,
    project: str,
    component: ComponentPlan,
    original: dict[str, Any],
    backup: dict[str, Any],
    result: Result,
    pending: _Pending,
) -> None:
    """The scratch instance, then the restore into it: timed together."""
    source, scratch = component.names[ctx.primary], scratch_name(ctx)
    network = _network(original)
    if network is None:
        raise DrillError(f"{source} has no private network to put the scratch instance in")
    # A backup restores only into an instance of its own database version; the backup run
    # says which (BackupRun.databaseVersion), the plan's is the fallback.
    version = backup.get("databaseVersion")
    body = scratch_instance(ctx, project, component, network, original, version)
    result.measurements["backup_run"] = backup["id"]
    _record_encryption(ctx, backup, result)
    started, requested = time.monotonic(), ctx.now()
    ctx.record("sqladmin", "instances.insert", scratch, "scratch")
    result.scratch.append(f"cloud sql instance {scratch} ({ctx.region})")
    _call(
        ctx,
        sql.instances().insert(project=project, body=body),
        None,
        scratch,
        project,
        sql,
        pending,
    )
    result.measurements["scratch_instance_seconds"] = round(time.monotonic() - started, 3)
    restoring = time.monotonic()
    context = {"backupRunId": str(backup["id"]), "instanceId": source, "project": project}
    _call(
        ctx,
        sql.instances().restoreBackup(
            project=project, instance=scratch, body={"restoreBackupContext": context}
        ),
        "instances.restoreBackup",
        scratch,
        project,
        sql,
        pending,
    )
    result.measurements["restore_backup_seconds"] = round(time.monotonic() - restoring, 3)
    result.restore_seconds = round(time.monotonic() - started, 3)
    taken = backup.get("startTime") or backup.get("windowStartTime")
    if taken:
        at = datetime.datetime.fromisoformat(str(taken).replace("Z", "+00:00"))
        result.data_age_seconds = age(requested, at)
        result.measurements["restore_point"] = at.isoformat()
    result.bytes = int(backup.get("maxChargeableBytes") or 0)
    result.measure_rate()


def _record_encryption(ctx: Context, backup: dict[str, Any], result: Result) -> None:
    """Where the backup is kept and the key it is encrypted with, in the evidence. The primary's
    backups are encrypted with the primary's own regional key
    (https://cloud.google.com/sql/docs/postgres/cmek): a restore of one reads that key, so it
    proves a recovery of the data, not of the region; with the primary's region down it would
    fail. That is a finding the report shows, not a pass."""
    key = (backup.get("diskEncryptionConfiguration") or {}).get("kmsKeyName")
    result.measurements["backup_location"] = backup.get("location")
    result.measurements["backup_kms_key"] = key
    region = key.split("/locations/", 1)[1].split("/", 1)[0] if key else None
    if region == ctx.primary and ctx.region != ctx.primary:
        result.fail(
            f"backup run {backup['id']} is encrypted with {key}, a key in the primary region"
            f" {ctx.primary}: this restore depends on the primary's KMS and does not prove a"
            f" recovery in {ctx.region} with {ctx.primary} down"
        )


def _call(
    ctx: Context,
    request: Any,
    operation: str | None,
    target: str,
    project: str,
    sql: Any,
    pending: _Pending,
) -> None:
    """Make a write (checked by the guard first, unless `operation` is None: already recorded)
    and wait for its long-running operation."""
    if operation is not None:
        ctx.record("sqladmin", operation, target, "scratch")
    found = request.execute()
    pending.operation = found["name"]
    while found.get("status") != "DONE":
        ctx.pause(POLL_SECONDS)
        ctx.record("sqladmin", "operations.get", target)
        found = sql.operations().get(project=project, operation=found["name"]).execute()
    pending.operation = None
    _raise_errors(found, operation, target)


def _raise_errors(found: dict[str, Any], operation: str | None, target: str) -> None:
    errors = (found.get("error") or {}).get("errors") or []
    if errors:
        raise DrillError(
            f"{found.get('operationType', operation)} on {target} failed: "
            + "; ".join(str(e.get("message") or e.get("code")) for e in errors)
        )


def _done(
    ctx: Context, sql: Any, project: str, target: str, name: str, budget: float
) -> dict[str, Any] | None:
    """The operation once DONE, or None if it outlasts the cleanup's budget."""
    while True:
        ctx.record("sqladmin", "operations.get", target)
        found: dict[str, Any] = sql.operations().get(project=project, operation=name).execute()
        if found.get("status") == "DONE":
            return found
        left = budget - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(POLL_SECONDS, left))


def _delete(
    ctx: Context, sql: Any, project: str, scratch: str, result: Result, pending: _Pending
) -> None:
    """Delete the scratch instance once nothing runs on it, and wait for the deletion."""
    budget = time.monotonic() + CLEANUP_SECONDS
    by_hand = f"delete it by hand (gcloud sql instances delete {scratch} --project {project})"
    try:
        if pending.operation is not None:
            name = pending.operation
            try:
                ctx.record("sqladmin", "operations.cancel", scratch, "scratch")
                sql.operations().cancel(project=project, operation=name).execute()
            except Exception as error:  # best effort: the wait below decides
                result.cleanup.append(f"could not cancel operation {name}: {explain(error)}")
            if _done(ctx, sql, project, scratch, name, budget) is None:
                raise DrillError(
                    f"operation {name} on {scratch} was still running when the cleanup's"
                    f" {CLEANUP_SECONDS:.0f} s ran out"
                )
        ctx.record("sqladmin", "instances.delete", scratch, "scratch")
        try:
            deleting = sql.instances().delete(project=project, instance=scratch).execute()
        except Exception as error:
            if type(error).__name__ == "HttpError" and getattr(error, "status_code", None) == 404:
                result.cleanup.append(f"cloud sql instance {scratch} was never created")
                return
            raise
        if deleting.get("status") != "DONE":
            finished = _done(ctx, sql, project, scratch, deleting["name"], budget)
            if finished is None:
                raise DrillError(
                    f"the deletion of {scratch} (operation {deleting['name']}) had not ended"
                    f" when the cleanup's {CLEANUP_SECONDS:.0f} s ran out"
                )
            _raise_errors(finished, "instances.delete", scratch)
        result.cleanup.append(f"deleted cloud sql instance {scratch}")
    except Exception as error:
        why = str(error) if isinstance(error, DrillError) else explain(error)
        message = f"could not delete scratch instance {scratch}: {why}; {by_hand}"
        result.cleanup.append(message)
        result.error(message)
