"""Vector store on a snapshot engine (Qdrant, Weaviate, Milvus, OpenSearch): the newest snapshot in
the recovery region's bucket, its age against the RPO and the integrity of the files it wrote;
with `--scratch-url`, that snapshot restored into a scratch engine through the engine's own API
(drgen.drill.engines), timed, counted, queried with the evaluation set, and removed.

The files of the newest run are those written within one snapshot cadence before the newest
file: a full snapshot's files, or an incremental one's new segments and metadata.
"""

from __future__ import annotations

import datetime
import time
import urllib.parse
from pathlib import Path

import yaml

from drgen.drill.base import Call, Context, DrillError, Result
from drgen.drill.buckets import bucket, listing_calls, store
from drgen.drill.engines import Engine, Restored, RestoreFailedError, Snapshot, engine_for
from drgen.drill.engines.identity import engine_api, refuse_same_engine
from drgen.drill.evalset import EvalQuery, judge_recall, read_eval
from drgen.drill.models import read_calls, verify_all
from drgen.drill.store import ObjectStore
from drgen.durations import format_duration
from drgen.files import read_at_most
from drgen.plan import ComponentPlan
from drgen.stack_config import stack_file

CONFIG_MAX_BYTES = 1024 * 1024

IDENTITY_REQUESTS = {
    "qdrant": "GET /cluster, GET /telemetry",
    "weaviate": "GET /v1/nodes",
    "opensearch": "GET /",
}
"""What each engine's `identity` asks (listed by --dry-run); milvus-backup exposes none."""


def calls(ctx: Context, component: ComponentPlan) -> list[Call]:
    name = bucket(component, ctx.region)
    where = f"{name}/<files of the newest snapshot>"
    found = [listing_calls(ctx, component)[0], *read_calls(ctx, where)]
    if ctx.scratch_engine is None:
        return found
    who = IDENTITY_REQUESTS.get(str(component.engine))
    asked = (
        [Call(str(component.engine), f"{who} (identity)", f"{ctx.scratch_engine.url} and each"
              " stack's vector_store_url")]
        if who
        else []
    )  # fmt: skip
    return [*found, *asked, *engine_for(ctx, component, None).calls(name)]


def run(ctx: Context, component: ComponentPlan, result: Result) -> None:
    queries: tuple[EvalQuery, ...] = ()
    if ctx.scratch_engine is not None:  # before anything is read: never a production engine
        result.measurements["scratch_is_not_production"] = refuse_production(
            ctx, component, ctx.scratch_engine.url, ctx.scratch_engine.search_url
        )
        vectors = ctx.workload.components.vector_store
        if vectors is not None and vectors.eval is not None:
            queries = read_eval(ctx.workload_dir, vectors.eval)
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
    if mismatched:
        result.fail(f"checksum mismatch on {len(mismatched)} snapshot file(s)")
    if unverified and not verified:
        result.fail("no snapshot file carries a checksum to verify against")
    if ctx.scratch_engine is None:
        result.measurements["restore"] = (
            "files read back from the bucket; not restored into an engine (no --scratch-url)"
        )
        return
    if mismatched:
        result.measurements["restore"] = "not restored: files of the snapshot failed verification"
        return
    snapshot = Snapshot(name, tuple(objects), tuple(files))
    restore_into_scratch(ctx, component, recovery, snapshot, queries, result)


def restore_into_scratch(
    ctx: Context,
    component: ComponentPlan,
    recovery: ObjectStore,
    snapshot: Snapshot,
    queries: tuple[EvalQuery, ...],
    result: Result,
) -> None:
    """Restore, time, count and query the snapshot in the scratch engine; always clean up."""
    engine = engine_for(ctx, component, recovery)
    restored = Restored()
    result.measurements["bucket_read"] = {
        "seconds": result.restore_seconds,
        "bytes": result.bytes,
        "mb_s": result.throughput_mb_s,
    }
    try:
        started = time.monotonic()
        try:
            engine.restore(snapshot, restored)
        finally:
            result.scratch += [f"{component.engine} {n}" for n in restored.names.values()]
            result.scratch += [f"{component.engine} {extra}" for extra in restored.extra]
        result.restore_seconds = round(time.monotonic() - started, 3)
        result.bytes = restored.bytes or 0
        result.throughput_mb_s = None
        result.measure_rate()
        result.measurements["restored_snapshot"] = restored.snapshot
        result.measurements["restore"] = (
            f"restored into the scratch engine through the {component.engine} API"
        )
        counts = {original: engine.count(n) for original, n in sorted(restored.names.items())}
        result.integrity["points"] = counts
        empty = [original for original, count in counts.items() if count == 0]
        if empty:
            result.fail(f"restored collection(s) hold no points: {', '.join(empty)}")
        if restored.recorded:
            result.integrity["points_in_snapshot"] = dict(sorted(restored.recorded.items()))
            short = [
                f"{name} {counts.get(name)} of {count}"
                for name, count in sorted(restored.recorded.items())
                if counts.get(name) != count
            ]
            if short:
                result.fail(f"restored counts differ from the snapshot's own: {', '.join(short)}")
        else:
            result.integrity["points_in_snapshot"] = (
                f"{component.engine} snapshots record no point counts drgen can read"
            )
        if queries:
            missing = sorted({q.table for q in queries} - set(restored.names))
            if missing:
                raise RestoreFailedError(
                    f"the evaluation set names {', '.join(missing)}, not in the restored"
                    f" snapshot ({', '.join(sorted(restored.names)) or 'nothing'})"
                )
            judge_recall(
                result, queries, lambda q: engine.search(restored.names[q.table], q), ctx.remaining
            )
        else:
            result.measurements["recall"] = "no evaluation set (components.vector_store.eval)"
    except RestoreFailedError as failure:
        result.fail(f"scratch restore: {failure}")
    except DrillError as failure:
        result.error(f"scratch restore: {failure}")
    except (KeyError, IndexError, TypeError, ValueError) as failure:
        result.error(f"scratch restore: an answer of the engine lacks {failure!r}")
    finally:
        _clean_up(ctx, engine, restored, result)


def _clean_up(ctx: Context, engine: Engine, restored: Restored, result: Result) -> None:
    if not restored.names and not restored.extra:
        return
    if ctx.keep:
        result.cleanup.append("kept (--keep): " + ", ".join(result.scratch))
        return
    try:
        result.cleanup += engine.remove(restored)
    except Exception as failure:  # recorded with what is left, never raised past the report
        result.error(f"cleanup of the scratch engine failed: {failure}; remove {result.scratch}")


def refuse_production(ctx: Context, component: ComponentPlan, *urls: str | None) -> list[str]:
    """Refuse a scratch URL that is any stack's vector_store_url (the production engines), or
    that the engines' identities or resolved addresses show to be one; the comparisons made."""
    assert ctx.scratch_engine is not None
    project = ctx.scratch_engine.project
    if project is None:
        raise DrillError(
            "--scratch-url needs --project (the rendered Pulumi project): drgen compares it"
            " with every stack's vector_store_url and never restores into a production engine"
        )
    production = {}
    for stack in ctx.plan.stacks:
        value = _stack_setting(project / stack_file(stack), "vector_store_url")
        if value:
            production[stack.region] = value
    if not production:
        files = ", ".join(stack_file(stack) for stack in ctx.plan.stacks)
        raise DrillError(
            f"--project {project}: no vector_store_url in {files}, so the production engines"
            " are unknown and the scratch URL cannot be told apart from them"
        )
    scratch = [url for url in urls if url is not None]
    for url in scratch:
        for region, value in production.items():
            if _where(url) == _where(value):
                raise DrillError(
                    f"--scratch-url {url} is {region}'s vector_store_url, a production engine:"
                    " the drill restores only into a scratch engine"
                )
    engine = str(component.engine)
    return refuse_same_engine(
        ctx,
        engine,
        [(url, engine_api(ctx, engine, url, ctx.region, scratch=True)) for url in scratch],
        {
            region: engine_api(ctx, engine, value, region, scratch=False)
            for region, value in production.items()
        },
    )


def _stack_setting(path: Path, key: str) -> str | None:
    try:
        data = yaml.safe_load(read_at_most(path, CONFIG_MAX_BYTES))
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as error:
        raise DrillError(f"{path}: cannot be read: {error}") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        return None
    for name, value in config.items():
        if (name == key or str(name).endswith(":" + key)) and isinstance(value, str):
            return value
    return None


def _where(url: str) -> tuple[str, str, int | None, str]:
    """A URL as (scheme, host, port, path), with the scheme's default port and no trailing /."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        raise DrillError(f"{url}: not a URL with a valid port") from None
    return scheme, (parts.hostname or "").lower().rstrip("."), port, parts.path.rstrip("/")
