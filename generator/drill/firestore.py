"""Feature store on Firestore: the newest backup restored into a scratch database, then a sample
of documents compared with the production database (read only).

The stacks keep Firestore's daily backups in the database's own location
(patterns/gcp/feature_store.py.j2): the multi-region (nam5, eur3) for a multi-region database,
the primary region otherwise. A restore creates the database in the backup's location
(RestoreDatabaseRequest.backup), so the drill restores there and says so when that location is
a single region other than the one drilled. The scratch database is `drgen-drill-features-<run
id>`: database ids are 4-63 characters of [a-z0-9-], a letter first, a letter or digit last, not
UUID-like (RestoreDatabaseRequest.database_id,
https://cloud.google.com/firestore/docs/reference/rest/v1/projects.databases/restore). It keeps
the backup's encryption (use_source_encryption: the production database's customer-managed
key), which the drill checks against production's; it is deleted at the end unless --keep.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from drgen.drill import gcp_admin
from drgen.drill.base import Call, Context, DrillError, Result, age
from drgen.plan import ComponentPlan

SAMPLE = 25
"""Documents read from the scratch database and looked up in production."""
POLL_SECONDS = 10.0
EMULATOR = "FIRESTORE_EMULATOR_HOST"


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    database, scratch = f"databases/{component.global_name}", _scratch(ctx)
    return [
        Call("firestore", "GetDatabase", database),
        Call("firestore", "ListBackups", "locations/<the database's location>"),
        Call("firestore", "RestoreDatabase", scratch, "scratch"),
        Call("firestore", "GetOperation", "operations/<restore>"),
        Call("firestore", "ListCollectionIds", scratch),
        Call("firestore", "ListDocuments", scratch),
        Call("firestore", "GetDocument", database),
        Call("firestore", "DeleteDatabase", scratch, "scratch"),
        Call("firestore", "GetOperation", "operations/<delete>"),
    ]


def _scratch(ctx: Context) -> str:
    return f"databases/{ctx.scratch_name('features')}"


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    try:
        from google.cloud import firestore_admin_v1
        from google.cloud.firestore_v1.services.firestore import FirestoreClient
    except ImportError as error:
        raise gcp_admin.need("google-cloud-firestore") from error
    project = gcp_admin.project()
    admin = gcp_admin.gapic(firestore_admin_v1.FirestoreAdminClient, EMULATOR)
    full = f"projects/{project}/"
    database, scratch = f"databases/{component.global_name}", _scratch(ctx)
    ctx.record("firestore", "GetDatabase", database)
    production = admin.get_database(request={"name": full + database})
    location = production.location_id
    result.measurements["location"] = location
    # Regions are named with a hyphen (europe-west1); multi-regions are not (eur3, nam5).
    if "-" in location and location != ctx.region:
        raise DrillError(
            f"{component.global_name}'s backups are kept in {location}, not in {ctx.region}:"
            f" a backup restores only in its own location (drill with --region {location})"
        )
    backup = _newest_backup(ctx, admin, f"{full}locations/{location}", production.name)
    operation = None
    try:
        ctx.record("firestore", "RestoreDatabase", scratch, "scratch")
        started = time.monotonic()
        operation = admin.restore_database(
            request={
                "parent": f"projects/{project}",
                "database_id": ctx.scratch_name("features"),
                "backup": backup.name,
                "encryption_config": {"use_source_encryption": {}},
            }
        )
        result.scratch.append(f"firestore database {scratch}")
        restored = gcp_admin.wait(ctx, operation, "firestore", POLL_SECONDS)
        result.restore_seconds = round(time.monotonic() - started, 3)
        # The backup holds an externally consistent copy as of its snapshot_time.
        result.data_age_seconds = age(ctx.now(), backup.snapshot_time)
        result.bytes = int(backup.stats.size_bytes)
        result.measure_rate()
        _check_key(production, restored, result)
        client = gcp_admin.gapic(FirestoreClient, EMULATOR)
        _compare_sample(ctx, client, full + database, full + scratch, result)
    finally:
        if operation is not None:
            _delete(ctx, admin, full, scratch, operation, result)


def _newest_backup(ctx: Context, admin: Any, location: str, database: str) -> Any:
    from google.cloud.firestore_admin_v1.types import Backup

    ctx.record("firestore", "ListBackups", location.split("/", 2)[2])
    listed = admin.list_backups(request={"parent": location})
    ready = [b for b in listed.backups if b.database == database and b.state == Backup.State.READY]
    newest = max(ready, key=lambda b: b.snapshot_time, default=None)
    if newest is None:
        raise DrillError(
            f"no READY backup of {database.rsplit('/', 1)[-1]} in {location.rsplit('/', 1)[-1]}:"
            " nothing to restore (is the backup schedule deployed and a day old?)"
        )
    return newest


def _check_key(production: Any, restored: Any, r: Result) -> None:
    """The scratch database is under the same customer-managed key as production."""
    key = production.cmek_config.kms_key_name
    got = restored.cmek_config.kms_key_name
    r.integrity["kms_key"] = got or None
    if not key:
        r.fail(f"{production.name} is not under a customer-managed key, as the stack sets it")
    elif got != key:
        r.fail(f"the restored database is under {got or 'Google-managed encryption'}, not {key}")


def _compare_sample(ctx: Context, client: Any, database: str, scratch: str, r: Result) -> None:
    root = f"{scratch}/documents"
    ctx.record("firestore", "ListCollectionIds", scratch.split("/", 2)[2])
    collections = list(
        itertools.islice(client.list_collection_ids(request={"parent": root}), SAMPLE)
    )
    documents: list[Any] = []
    for collection in collections:
        ctx.record("firestore", "ListDocuments", scratch.split("/", 2)[2])
        pages = client.list_documents(
            request={"parent": root, "collection_id": collection, "page_size": SAMPLE}
        )
        documents += itertools.islice(pages, SAMPLE - len(documents))
        if len(documents) >= SAMPLE:
            break
    same, changed, missing = 0, [], []
    for document in documents:
        ctx.remaining()
        path = document.name.split("/documents/", 1)[1]
        ctx.record("firestore", "GetDocument", database.split("/", 2)[2])
        try:
            current = client.get_document(request={"name": f"{database}/documents/{path}"})
        except Exception as error:
            if type(error).__name__ != "NotFound":
                raise
            missing.append(path)
            continue
        if type(current).pb(current).fields == type(document).pb(document).fields:
            same += 1
        else:
            changed.append(path)
    r.integrity.update(
        sampled=len(documents),
        identical=same,
        changed_since_backup=changed,
        missing_from_source=missing,
    )
    if not documents:
        r.fail(f"the restored database {scratch.rsplit('/', 1)[-1]} is empty: nothing to compare")
    if missing:
        r.fail(
            f"{len(missing)} restored document(s) no longer exist in production: deleted since"
            " the backup, or the backup is not of this database"
        )


def _delete(ctx: Context, admin: Any, full: str, scratch: str, restoring: Any, r: Result) -> None:
    """The scratch database, once its restore has ended: until then it "is not readable or
    writeable" (FirestoreAdmin.RestoreDatabase), so cleanup waits for the restore within its own
    budget (gcp_admin.CLEANUP_SECONDS) rather than delete under it, then waits for the deletion's
    operation and reads its result."""
    if ctx.keep:
        r.cleanup.append(f"kept firestore {scratch} (--keep)")
        return
    try:
        if not gcp_admin.settle(ctx, restoring, "firestore", POLL_SECONDS):
            raise DrillError(
                f"its restore was still running after {gcp_admin.CLEANUP_SECONDS:g} s of cleanup"
            )
        ctx.record("firestore", "DeleteDatabase", scratch, "scratch")
        try:
            deleting = admin.delete_database(request={"name": full + scratch})
        except Exception as error:
            if restoring.exception() is not None and type(error).__name__ == "NotFound":
                r.cleanup.append(f"firestore {scratch} was never created: nothing to delete")
                return
            raise
        if not gcp_admin.settle(ctx, deleting, "firestore", POLL_SECONDS):
            raise DrillError(
                f"its deletion had not ended after {gcp_admin.CLEANUP_SECONDS:g} s of cleanup"
            )
        failed = deleting.exception()
        if failed is not None:
            raise failed
        r.cleanup.append(f"deleted firestore {scratch}")
    except Exception as error:
        from drgen.drill.gcp import explain

        message = f"could not delete scratch {scratch}: {explain(error)}; delete it by hand"
        r.cleanup.append(message)
        r.error(message)
