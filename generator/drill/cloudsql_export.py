"""pgvector on Cloud SQL in the recovery region: the newest logical export imported, as the
runbook's cold restore does.

A tier 2-3 GCP plan with a secondary keeps serverless SQL exports of the primary's database in
the secondary's bucket, under the secondary's key (patterns/gcp/cloudsql_export.py.j2): the
primary's backups are encrypted with the primary's regional key and would not restore with that
region down. In the recovery region the drill therefore rehearses the runbook: the newest export
under the primary instance's prefix, the instance created as the runbook creates it (the
region's key, Enterprise edition, the declared tier and version, the primary's database flags),
the dump's owners created, the database created, `instances.import`, then the shared checks.

The runbook grants the new instance's service account read on the export bucket; the drill may
not change a production bucket's IAM policy (its guard refuses any write that is not this run's
scratch), so it copies the export server-side into a scratch bucket of its own in the recovery
region, under the same region's key, and grants read on that bucket only. The copy is timed on
its own, outside the restore time, which counts what a recovery waits for: the instance and the
import. Everything scratch (instance, bucket) is removed whatever happened, unless --keep.

API reference: https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/import
(and users.insert, databases.insert); https://cloud.google.com/storage/docs/json_api/v1/objects/rewrite.
"""

from __future__ import annotations

import datetime
import gzip
import re
import secrets
import time
from typing import Any

from drgen.drill import cloudsql, pg_verify
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.drill.gcp import GcsStore, explain
from drgen.plan import ComponentPlan

READER_ROLE = "roles/storage.objectViewer"
"""What Cloud SQL needs to import a file: storage.objects.get on it, read as the instance's
service account (https://cloud.google.com/sql/docs/postgres/import-export/import-export-sql)."""
STAMP = re.compile(r"-(\d{8}T\d{6}Z)\.sql\.gz$")
"""The export job names each export `<instance>/<database>-<UTC start>.sql.gz`."""
OWNER = re.compile(rb"\bOWNER TO ([^;]+);")
BUILT_IN = {"postgres", "cloudsqlsuperuser", "cloudsqladmin"}
"""Roles every Cloud SQL for PostgreSQL instance has (the runbook skips them too); PostgreSQL's
predefined roles (`pg_*`, such as pg_database_owner) exist everywhere and cannot be created."""


def exported(ctx: Context, component: ComponentPlan) -> bool:
    """Whether the recovery this drill rehearses imports an export: the plan keeps them, and the
    drill runs away from the primary, whose key the backups need."""
    return "export_bucket" in component.params and ctx.region != ctx.primary


def bucket_name(ctx: Context) -> str:
    """The scratch bucket (names are global, 3-63 characters: the run id makes it unique)."""
    return ctx.scratch_name("export")


def _database(component: ComponentPlan) -> str:
    """The database the job exports (components.vector_store.database): the one checked."""
    return str(component.params.get("database", cloudsql.USER))


def _prefix(component: ComponentPlan, source: str) -> str:
    return f"{source}/{_database(component)}-"


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    """Every call a run can make; an object's target is its prefix here (the export's name is
    known only once listed)."""
    source, scratch = component.names[ctx.primary], cloudsql.scratch_name(ctx)
    exports, copy = str(component.params["export_bucket"]), bucket_name(ctx)
    database = _database(component)
    return [
        Call("sqladmin", "instances.get", source),
        Call("storage", "objects.list", f"{exports}/{_prefix(component, source)}"),
        Call("storage", "objects.get (media)", f"{exports}/{_prefix(component, source)}"),
        Call("storage", "buckets.insert", copy, "scratch"),
        Call("storage", "objects.rewrite", f"{copy}/{_prefix(component, source)}", "scratch"),
        Call("storage", "buckets.getIamPolicy", copy),
        Call("storage", "buckets.setIamPolicy", copy, "scratch"),
        Call("sqladmin", "instances.insert", scratch, "scratch"),
        Call("sqladmin", "operations.get", scratch),
        Call("sqladmin", "instances.get", scratch),
        Call("sqladmin", "users.insert (the dump's owners)", scratch, "scratch"),
        *(
            [Call("sqladmin", "databases.insert", f"{scratch}/{database}", "scratch")]
            if database != cloudsql.USER
            else []
        ),
        Call("sqladmin", "instances.import", scratch, "scratch"),
        Call("sqladmin", "users.update (one-time password)", scratch, "scratch"),
        *pg_verify.restored_calls(scratch, database),
        Call("sqladmin", "operations.cancel", scratch, "scratch"),
        Call("sqladmin", "instances.delete", scratch, "scratch"),
        Call("storage", "objects.delete", f"{copy}/{_prefix(component, source)}", "scratch"),
        Call("storage", "buckets.delete", copy, "scratch"),
    ]


def run(
    ctx: Context,
    sql: Any,
    project: str,
    component: ComponentPlan,
    original: dict[str, Any],
    result: Result,
) -> None:
    result.measurements["restore_method"] = (
        "Cloud SQL import of the newest export in the recovery region into a new instance"
    )
    source, scratch = component.names[ctx.primary], cloudsql.scratch_name(ctx)
    exports = str(component.params["export_bucket"])
    store = GcsStore(ctx)
    export = _newest_export(ctx, store, exports, _prefix(component, source))
    if export is None:
        result.error(
            f"no export of {source} in gs://{exports}/{_prefix(component, source)}*: nothing to"
            " restore (is the export job running? its alert names the failure)"
        )
        return
    copy = bucket_name(ctx)
    pending = cloudsql._Pending()
    try:
        _record_export(ctx, exports, export, result)
        owners = _owners(ctx, store, exports, export, result)
        _copy(ctx, store, exports, export, copy, project, original, result)
        _import(
            ctx, sql, project, component, original, store, export, owners, copy, result, pending
        )
        cloudsql.verify(ctx, sql, project, scratch, original, result, pending, _database(component))
    except Exception as error:  # recorded before the cleanup's own messages
        result.error(pg_verify.describe(error, explain))
    finally:
        if ctx.keep and result.scratch:
            result.cleanup.append(f"kept {', '.join(result.scratch)} (--keep)")
        else:
            if any(s.startswith("cloud sql instance") for s in result.scratch):
                cloudsql._delete(ctx, sql, project, scratch, result, pending)
            if any(s.startswith("storage bucket") for s in result.scratch):
                _delete_bucket(ctx, store, copy, result)


def _newest_export(ctx: Context, store: GcsStore, bucket: str, prefix: str) -> Any:
    """The newest export: names carry the job's UTC start, so the last name is the newest (the
    job prunes and the runbook picks by the same order)."""
    ctx.record("storage", "objects.list", f"{bucket}/{prefix}")
    name = re.compile(re.escape(prefix) + r"\d{8}T\d{6}Z\.sql\.gz")
    blobs = [b for b in store.client.list_blobs(bucket, prefix=prefix) if name.fullmatch(b.name)]
    return max(blobs, key=lambda b: str(b.name), default=None)


def _record_export(ctx: Context, bucket: str, export: Any, result: Result) -> None:
    """The export, its key and its age in the evidence. The key (the object's, as listed: the
    export bucket's default) is the recovery region's: the restore needs nothing of the primary's
    region, which is what this drill proves."""
    key = export.kms_key_name
    result.measurements["export_object"] = f"gs://{bucket}/{export.name}#{export.generation}"
    result.measurements["export_kms_key"] = key.split("/cryptoKeyVersions/")[0] if key else None
    result.measurements["export_crc32c"] = export.crc32c
    region = key.split("/locations/", 1)[1].split("/", 1)[0] if key else None
    if region == ctx.primary:
        result.fail(
            f"export {export.name} is encrypted with {key}, a key in the primary region"
            f" {ctx.primary}: this restore would not survive that region's loss"
        )
    # The job's UTC start, in every listed export's name: the dump's snapshot is taken after
    # it, so the age is an upper bound, never flattering.
    stamp = STAMP.search(str(export.name))
    if stamp is None:  # _newest_export lists only names that have one
        raise DrillError(f"export {export.name} does not name its time")
    at = datetime.datetime.strptime(stamp.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    result.measurements["restore_point"] = at.isoformat()
    result.data_age_seconds = age(ctx.now(), at)


def _owners(ctx: Context, store: GcsStore, bucket: str, export: Any, result: Result) -> list[str]:
    """The roles the dump makes owners (`ALTER ... OWNER TO`): Cloud SQL's import fails on a role
    the instance lacks, so they are created first, as the runbook does. The export is read as a
    stream and decompressed on the fly: memory stays bounded whatever its size."""
    ctx.record("storage", "objects.get (media)", f"{bucket}/{export.name}")
    found: set[str] = set()
    started = time.monotonic()
    blob = store.client.bucket(bucket).blob(export.name, generation=export.generation)
    with blob.open("rb") as raw, gzip.GzipFile(fileobj=raw) as lines:
        for line in lines:
            if line.startswith(b"ALTER "):
                found |= {m.strip().strip(b'"').decode() for m in OWNER.findall(line)}
            ctx.remaining()
    result.measurements["export_read_seconds"] = round(time.monotonic() - started, 3)
    owners = sorted(o for o in found - BUILT_IN if not o.startswith("pg_"))
    result.measurements["export_owners"] = owners
    return owners


def _copy(
    ctx: Context,
    store: GcsStore,
    exports: str,
    export: Any,
    copy: str,
    project: str,
    original: dict[str, Any],
    result: Result,
) -> None:
    """The scratch bucket (the recovery region's key, uniform access, no public access), the
    export copied into it server-side, and read on it granted to Cloud SQL's service account.
    Every instance of a project runs as the same Cloud SQL service account, so the grant goes to
    the primary's now and has the instance's creation to propagate; the scratch's own is
    checked once it exists."""
    ctx.record("storage", "buckets.insert", copy, "scratch")
    bucket = store.client.bucket(copy)
    bucket.default_kms_key_name = cloudsql.key_name(ctx, project)
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.iam_configuration.public_access_prevention = "enforced"
    bucket.labels = cloudsql.labels(ctx)
    # No soft delete (0 turns it off, https://cloud.google.com/storage/docs/soft-delete): the
    # deleted copy of the database would otherwise be kept, and billed, for a week.
    bucket.soft_delete_policy.retention_duration_seconds = 0
    store.client.create_bucket(bucket, project=project, location=ctx.region)
    result.scratch.append(f"storage bucket {copy} ({ctx.region})")
    ctx.record("storage", "objects.rewrite", f"{copy}/{export.name}", "scratch")
    started = time.monotonic()
    source = store.client.bucket(exports).blob(export.name, generation=export.generation)
    target = bucket.blob(export.name)  # under the bucket's default key: the region's
    token, _, _ = target.rewrite(source)
    while token is not None:  # a large object is copied in several calls
        ctx.remaining()
        token, _, _ = target.rewrite(source, token=token)
    result.measurements["export_copy_seconds"] = round(time.monotonic() - started, 3)
    account = original.get("serviceAccountEmailAddress")
    if account:
        _grant(ctx, bucket, str(account))


def _grant(ctx: Context, bucket: Any, account: str) -> None:
    ctx.record("storage", "buckets.getIamPolicy", bucket.name)
    policy = bucket.get_iam_policy(requested_policy_version=3)
    member = f"serviceAccount:{account}"
    if any(b["role"] == READER_ROLE and member in b["members"] for b in policy.bindings):
        return
    policy.bindings.append({"role": READER_ROLE, "members": {member}})
    ctx.record("storage", "buckets.setIamPolicy", bucket.name, "scratch")
    bucket.set_iam_policy(policy)


def _import(
    ctx: Context,
    sql: Any,
    project: str,
    component: ComponentPlan,
    original: dict[str, Any],
    store: GcsStore,
    export: Any,
    owners: list[str],
    copy: str,
    result: Result,
    pending: Any,
) -> None:
    """The instance as the runbook creates it, the owners and database, then the import: timed
    together, as a recovery waits for all of them."""
    source, scratch = component.names[ctx.primary], cloudsql.scratch_name(ctx)
    network = cloudsql._network(original)
    if network is None:
        raise DrillError(f"{source} has no private network to put the scratch instance in")
    flags = original.get("settings", {}).get("databaseFlags")
    body = cloudsql.scratch_instance(
        ctx,
        project,
        component,
        network,
        original,
        storageAutoResize=True,
        # The primary's flags, as the runbook's instance declares them (the stack's own).
        **({"databaseFlags": flags} if flags else {}),
    )
    started = time.monotonic()
    ctx.record("sqladmin", "instances.insert", scratch, "scratch")
    result.scratch.append(f"cloud sql instance {scratch} ({ctx.region})")
    _wait(ctx, sql, project, sql.instances().insert(project=project, body=body), None, pending)
    result.measurements["scratch_instance_seconds"] = round(time.monotonic() - started, 3)
    ctx.record("sqladmin", "instances.get", scratch)
    created = sql.instances().get(project=project, instance=scratch).execute()
    account = created.get("serviceAccountEmailAddress")
    if account and account != original.get("serviceAccountEmailAddress"):
        _grant(ctx, store.client.bucket(copy), str(account))
    for owner in owners:
        user = {"name": owner, "type": _user_type(owner)}
        if user["type"] == "BUILT_IN":
            # The application's own password is set by the team in a recovery; here a random
            # one, never kept: the owner only needs to exist for the dump's ALTER ... OWNER TO.
            user["password"] = secrets.token_urlsafe(24)
        request = sql.users().insert(project=project, instance=scratch, body=user)
        _wait(ctx, sql, project, request, "users.insert (the dump's owners)", pending)
    database = _database(component)
    if database != cloudsql.USER:
        ctx.record("sqladmin", "databases.insert", f"{scratch}/{database}", "scratch")
        request = sql.databases().insert(project=project, instance=scratch, body={"name": database})
        _wait(ctx, sql, project, request, None, pending)
    importing = time.monotonic()
    context = {
        "fileType": "SQL",
        "uri": f"gs://{copy}/{export.name}",
        "database": database,
        "importUser": cloudsql.USER,
    }
    request = sql.instances().import_(
        project=project, instance=scratch, body={"importContext": context}
    )
    _wait(ctx, sql, project, request, "instances.import", pending)
    result.measurements["import_seconds"] = round(time.monotonic() - importing, 3)
    result.restore_seconds = round(time.monotonic() - started, 3)
    result.bytes = int(export.size or 0)
    result.measure_rate()


def _user_type(owner: str) -> str:
    """As the runbook creates them: IAM service accounts are named without
    `.gserviceaccount.com` (ending in `.iam`), IAM users by their email."""
    if owner.endswith(".iam"):
        return "CLOUD_IAM_SERVICE_ACCOUNT"
    if "@" in owner:
        return "CLOUD_IAM_USER"
    return "BUILT_IN"


def _wait(
    ctx: Context, sql: Any, project: str, request: Any, operation: str | None, pending: Any
) -> None:
    cloudsql._call(ctx, request, operation, cloudsql.scratch_name(ctx), project, sql, pending)


def _delete_bucket(ctx: Context, store: GcsStore, name: str, result: Result) -> None:
    """Every object of the scratch bucket, then the bucket; a failure is reported with what to
    run by hand."""
    try:
        bucket = store.client.bucket(name)
        for blob in store.client.list_blobs(name):
            ctx.record("storage", "objects.delete", f"{name}/{blob.name}", "scratch")
            blob.delete()
        ctx.record("storage", "buckets.delete", name, "scratch")
        bucket.delete()
        result.cleanup.append(f"deleted storage bucket {name}")
    except Exception as error:
        why = str(error) if isinstance(error, DrillError) else explain(error)
        message = (
            f"could not delete scratch bucket {name}: {why};"
            f" delete it by hand (gcloud storage rm --recursive gs://{name})"
        )
        result.cleanup.append(message)
        result.error(message)
