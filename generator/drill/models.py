"""Models: stream the newest versions out of the recovery region's bucket and verify each one.

Each object is hashed while it is read (SHA-256 against the checksum stored with it) and
nothing is kept, so a 5 GB artefact costs the memory of one chunk. Data age is the newest
object in the primary's bucket against the newest in the recovery copy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from drgen.drill.base import Call, Context, Result
from drgen.drill.buckets import bucket, listing_calls, one_bucket, store
from drgen.drill.store import ObjectStore, StoredObject, stream_hash
from drgen.plan import ComponentPlan


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    where = f"{bucket(component, ctx.region)}/<each current object>"
    return [*listing_calls(ctx, component), *read_calls(ctx, where)]


def read_calls(ctx: Context, where: str) -> list[Call]:
    """The metadata and content reads that verify the objects `where` names."""
    if ctx.plan.cloud == "aws":
        return [Call("s3", "HeadObject", where), Call("s3", "GetObject", where)]
    return [Call("storage", "objects.get", where), Call("storage", "objects.get(media)", where)]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    recovery = store(ctx, ctx.region)
    name = bucket(component, ctx.region)
    objects = recovery.newest(name)
    if not objects:
        result.error(f"no objects in {name}: nothing to restore (missing recovery point)")
        return
    result.data_age_seconds = _data_age(ctx, component, objects, result)
    _, mismatched, unverified = verify_all(ctx, recovery, name, objects, result, "objects")
    if mismatched:
        result.fail(f"checksum mismatch on {len(mismatched)} object(s): {', '.join(mismatched)}")
    if unverified:
        result.fail(
            f"{len(unverified)} object(s) carry no full-object checksum to verify against"
            " (upload with ChecksumAlgorithm=SHA256 / a sha256 metadata entry)"
        )


def verify_all(
    ctx: Context,
    source: ObjectStore,
    name: str,
    objects: Sequence[StoredObject],
    result: Result,
    noun: str,
) -> tuple[int, list[str], list[str]]:
    """Stream and verify every object, timing the whole read: fills the result's bytes, rate
    and integrity (`noun` counts the objects) and returns (verified, mismatched, unverified)."""
    verified, mismatched, unverified = 0, [], []
    started = time.monotonic()
    for obj in objects:
        ctx.remaining()
        size, outcome = verify(source, name, obj, ctx)
        result.bytes += size
        if outcome == "ok":
            verified += 1
        elif outcome == "mismatch":
            mismatched.append(obj.key)
        else:
            unverified.append(f"{obj.key} ({outcome})")
    result.restore_seconds = round(time.monotonic() - started, 3)
    result.measure_rate()
    result.integrity = {
        noun: len(objects),
        "verified": verified,
        "mismatched": mismatched,
        "unverified": unverified,
    }
    return verified, mismatched, unverified


def verify(
    source: ObjectStore, name: str, obj: StoredObject, ctx: Context | None = None
) -> tuple[int, str]:
    """(bytes read, "ok" | "mismatch" | why it could not be verified) for one object version."""
    reading = source.read(name, obj)
    expected = reading.checksum
    if expected is None:
        reading.close()
        return 0, "no stored checksum"
    streamed = stream_hash(
        reading.chunks,
        expected.algorithm,
        ctx.remaining if ctx else None,
        expected.part_sizes,
    )
    if streamed.hex != expected.hex:
        return streamed.size, "mismatch"
    return streamed.size, "ok"


def _data_age(
    ctx: Context, component: ComponentPlan, recovery: list[StoredObject], result: Result
) -> float | None:
    """Newest object in the primary minus newest in the recovery copy (0 when caught up)."""
    if one_bucket(component):
        result.measurements["data_age"] = (
            "one dual-region bucket serves both regions; its replication lag is not observable"
            " through the API (turbo replication's 15-minute objective applies)"
        )
        return None
    if ctx.primary == ctx.region:
        return None
    primary = store(ctx, ctx.primary).newest(bucket(component, ctx.primary))
    if not primary:
        return 0.0
    lag = (primary[0].modified - recovery[0].modified).total_seconds()
    result.measurements["newest_primary"] = primary[0].modified.isoformat()
    result.measurements["newest_recovery"] = recovery[0].modified.isoformat()
    return max(lag, 0.0)
