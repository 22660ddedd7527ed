"""Vector store on a snapshot engine (Qdrant, Weaviate, Milvus, OpenSearch): the newest snapshot in
the recovery region's bucket, its age against the RPO and the integrity of the files it wrote.

The files of the newest run are those written within one snapshot cadence before the newest
file: a full snapshot's files, or an incremental one's new segments and metadata. Restoring
them into a scratch engine through its own API is not implemented yet.
"""

from __future__ import annotations

import datetime

from drgen.drill.base import Call, Context, Result
from drgen.drill.buckets import bucket, listing_calls, store
from drgen.drill.models import read_calls, verify_all
from drgen.durations import format_duration
from drgen.plan import ComponentPlan


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    where = f"{bucket(component, ctx.region)}/<files of the newest snapshot>"
    return [listing_calls(ctx, component)[0], *read_calls(ctx, where)]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    recovery = store(ctx, ctx.region)
    name = bucket(component, ctx.region)
    objects = recovery.newest(name)
    if not objects:
        result.error(f"no snapshot in {name}: nothing to restore (missing recovery point)")
        return
    cadence = int(component.params.get("snapshot_every_seconds", 3600))
    newest = objects[0].modified
    window = newest - datetime.timedelta(seconds=cadence)
    files = [o for o in objects if o.modified > window]
    age = (ctx.now() - newest).total_seconds()
    result.data_age_seconds = max(age, 0.0)
    result.measurements["newest_snapshot_file"] = newest.isoformat()
    result.measurements["snapshot_files"] = len(files)
    rpo = ctx.plan.objectives.rpo_seconds
    if age > rpo:
        result.fail(
            f"the newest snapshot in {name} is {format_duration(int(age))} old, older than the"
            f" RPO of {format_duration(rpo)}: snapshots are not arriving"
        )
    verified, mismatched, unverified = verify_all(ctx, recovery, name, files, result, "files")
    result.measurements["restore"] = (
        "files read back from the bucket; restoring into a scratch engine through its API"
        " (--scratch-url) is not implemented yet"
    )
    if mismatched:
        result.fail(f"checksum mismatch on {len(mismatched)} snapshot file(s)")
    if unverified and not verified:
        result.fail("no snapshot file carries a checksum to verify against")
