"""Audit log: read the newest record from the recovery copy, then prove it cannot be deleted.

The delete is asked for only once the record's lock has been read back (object lock on S3, a
locked retention policy on GCS), so the probe can remove nothing that is not already
protected; the service's refusal is the evidence that the records are immutable.
"""

from __future__ import annotations

import time

from drgen.drill.base import Call, Context, Result
from drgen.drill.buckets import EVIDENCE_PREFIX, bucket, listing_calls, one_bucket, store
from drgen.drill.models import verify
from drgen.plan import ComponentPlan

LOCKED_MODES = ("COMPLIANCE", "GOVERNANCE", "LOCKED")


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    name = bucket(component, ctx.region)
    record = f"{name}/<newest record>"
    if ctx.plan.cloud == "aws":
        reads = [
            Call("s3", "HeadObject", record),
            Call("s3", "GetObject", record),
            Call("s3", "DeleteObject", record, "refusal-probe"),
        ]
    else:
        reads = [
            Call("storage", "objects.get", record),
            Call("storage", "objects.get(media)", record),
            Call("storage", "buckets.get", name),
            Call("storage", "objects.delete", record, "refusal-probe"),
        ]
    return [*listing_calls(ctx, component), *reads]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    recovery = store(ctx, ctx.region)
    name = bucket(component, ctx.region)
    records = recovery.newest(name, exclude_prefix=EVIDENCE_PREFIX)
    if not records:
        result.error(f"no records in {name}: nothing to read back")
        return
    newest = records[0]
    result.measurements["record"] = {"key": newest.key, "version": newest.version}
    if not one_bucket(component) and ctx.primary != ctx.region:
        primary = store(ctx, ctx.primary).newest(
            bucket(component, ctx.primary), exclude_prefix=EVIDENCE_PREFIX
        )
        if primary:
            lag = (primary[0].modified - newest.modified).total_seconds()
            result.data_age_seconds = max(lag, 0.0)
    started = time.monotonic()
    size, verdict = verify(recovery, name, newest, ctx)
    result.restore_seconds = round(time.monotonic() - started, 3)
    result.bytes = size
    result.measure_rate()
    result.integrity["record_checksum"] = verdict
    if verdict == "mismatch":
        result.fail(f"{newest.key}: content does not match its stored checksum")
    lock = recovery.lock(name, newest)
    if lock is None or lock.mode not in LOCKED_MODES:
        result.fail(
            f"{newest.key} is not held by a lock ({lock.mode if lock else 'none'}): the record"
            " could be deleted; the delete was not attempted"
        )
        return
    result.integrity["lock"] = {
        "mode": lock.mode,
        "until": lock.until.isoformat() if lock.until else None,
    }
    refusal = recovery.try_delete(name, newest)
    if refusal is None:
        result.fail(
            f"DELETED {newest.key} version {newest.version}: the service accepted the delete of"
            " a record that reported a lock; the audit copy is not immutable"
        )
        return
    result.integrity["delete_refused"] = refusal
